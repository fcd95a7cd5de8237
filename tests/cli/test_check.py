"""`fetcher check` against the loopback stand-in: a good token, a rejected one, a host that cannot be reached."""

import gzip
import json
import os
import socket
from pathlib import Path

import httpx
import pytest
import respx

from fetcher.config import load
from fetcher.check import check_config, check_store
from fetcher.standin import StandIn, World
from tests.conftest import ROOT

CATALOG = ROOT / "examples" / "packages.json"
TOKEN = "ghp_check_token_0123456789"


@pytest.fixture(scope="module")
def standin():
    with StandIn(World.from_catalog(json.loads(CATALOG.read_text()), seed=3), token=TOKEN, rate_limit=300) as server:
        yield server


def config_for(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[store]\npath = "store.db"\n[github]\napi_url = "{url}"\ngraphql_url = "{url}/graphql"\n'
                    f'[pypi]\nurl = "{url}"\n[http]\ntimeout = 5\n')  # fmt: skip
    return path


def test_all_pass_with_a_good_token_and_the_budget_is_shown_for_free(standin, tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    spent = standin.points_charged

    result = run_cli(config_for(tmp_path, standin.url), "check")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"✓ config: read {tmp_path / 'config.toml'}"
    assert lines[1] == f"✓ store: {tmp_path / 'store.db'} does not exist yet; the first import creates it"
    assert lines[2].startswith(f"✓ GitHub {standin.url}: token from GITHUB_TOKEN accepted; core 300 of 300 left")
    assert "graphql 5000 of 5000 left" in lines[2]
    assert lines[3] == f"✓ PyPI {standin.url}: answers (no project 'pip')"
    assert standin.points_charged == spent  # GET /rate_limit costs nothing
    assert not (tmp_path / "store.db").exists()  # checking creates nothing
    assert TOKEN not in result.output


def test_a_rejected_token_fails_its_check_with_exit_2(standin, tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_not_the_right_one_42")

    result = run_cli(config_for(tmp_path, standin.url), "check")

    assert result.exit_code == 2
    rejected = f"✗ GitHub {standin.url}: the token in GITHUB_TOKEN was rejected (401): check it or unset it"
    assert rejected in result.stdout
    assert "ghp_not_the_right_one_42" not in result.output


def test_a_host_that_cannot_be_reached_fails_with_exit_75(tmp_path, run_cli):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]

    result = run_cli(config_for(tmp_path, f"http://127.0.0.1:{port}"), "check")

    assert result.exit_code == 75
    assert f"✗ GitHub http://127.0.0.1:{port}: cannot reach it: cannot connect" in result.stdout
    assert f"✗ PyPI http://127.0.0.1:{port}: cannot reach it" in result.stdout


def test_an_existing_store_is_named_with_its_packages(standin, tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    config = config_for(tmp_path, standin.url)
    assert run_cli(config, "import", str(CATALOG)).exit_code == 0

    result = run_cli(config, "check")

    count = len(json.loads(CATALOG.read_text()))
    assert f"✓ store: {tmp_path / 'store.db'}: {count} packages, schema current" in result.stdout


def test_a_bad_config_is_the_one_failed_check(tmp_path, run_cli):
    config = tmp_path / "config.toml"
    config.write_text("[sync]\nconcurency = 4\n")

    result = run_cli(config, "check")

    assert result.exit_code == 2
    assert result.stdout.startswith("✗ config: ") and "unknown key sync.concurency" in result.stdout
    assert len(result.stdout.splitlines()) == 1


def test_quiet_prints_only_the_checks_that_failed(tmp_path, run_cli, monkeypatch):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]

    result = run_cli(config_for(tmp_path, f"http://127.0.0.1:{port}"), "--quiet", "check")

    assert result.exit_code == 75
    assert [line[:1] for line in result.stdout.splitlines()] == ["✗", "✗"]


def test_without_a_config_file_the_defaults_are_named(tmp_path, run_cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FETCHER_CONFIG", raising=False)

    config_check, config = check_config(lambda: load(None))

    assert config_check.line() == (
        "✓ config: no config file: built-in defaults (the values of the shipped config.toml)"
    )
    assert config.github_api_url == "https://api.github.com"


def test_a_store_that_cannot_be_created_fails_its_check(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        result = check_store(folder / "store.db")
    finally:
        folder.chmod(0o700)

    if os.geteuid() == 0:  # root writes anywhere: the check rightly passes
        assert result.ok
    else:
        assert not result.ok and result.exit_code == 2 and "is not writable" in result.detail


def test_a_github_enterprise_without_rate_limiting_passes(standin, tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    standin.fail_next("/rate_limit", 404, body={"message": "Rate limiting is not enabled."})

    result = run_cli(config_for(tmp_path, standin.url), "check")

    assert result.exit_code == 0
    assert f"✓ GitHub {standin.url}: answers; rate limiting is not enabled there" in result.stdout


def test_check_reads_its_answers_within_the_body_cap_of_every_request(tmp_path, run_cli, monkeypatch):
    # A small gzip body that inflates past http.max_body: check reads it as a sync would, a slice at a time,
    # and stops at the cap instead of holding the whole of it.
    bomb = gzip.compress(b" " * (16 * 1024 * 1024))
    with respx.mock(assert_all_mocked=False) as mock:
        mock.get("https://api.example.com/rate_limit").mock(
            return_value=httpx.Response(200, content=bomb, headers={"Content-Encoding": "gzip"}))
        mock.get("https://pypi.example.com/pypi/pip/json").respond(404, json={"message": "Not Found"})
        config = tmp_path / "config.toml"
        config.write_text('[store]\npath = "store.db"\n[github]\napi_url = "https://api.example.com"\n'
                          '[pypi]\nurl = "https://pypi.example.com"\n[http]\nmax_body = 65536\n')
        result = run_cli(config, "check")

    assert result.exit_code == 75
    assert ("✗ GitHub https://api.example.com: does not answer as GitHub does: answer larger than http.max_body "
            "(65536 bytes)") in result.stdout
