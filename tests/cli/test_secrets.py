"""The token never shows, and bad input is one clear line with nothing written."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys

import httpx
import pytest
import respx

from tests.conftest import API, FIXTURES, GitHubRepo, ROOT, pypi_route

TOKEN = "ghp_0123456789abcdefSECRETSECRET"
TODO = str(FIXTURES / "api-v4-django-todo.json")
LDAP = str(FIXTURES / "api-v4-django-auth-ldap.json")


@respx.mock
def test_the_token_shows_nowhere_even_verbose_and_on_errors(config_file, run_cli, respx_mock, monkeypatch, tmp_path):
    config = config_file(github="graphql = false")
    run_cli(config, "import", TODO, LDAP)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    # An error whose message would carry the request's headers, were anything to print them.
    respx_mock.get(f"{API}/repos/shacker/django-todo").mock(
        side_effect=httpx.ConnectError(f"refused (Authorization: Bearer {TOKEN})"))
    GitHubRepo(respx_mock, "django-auth-ldap/django-auth-ldap")
    pypi_route(respx_mock, "django-auth-ldap", "5.3.0")
    pypi_route(respx_mock, "django-todo", "2.5.0")
    # What the token has left, asked before the run is planned: a GitHub Enterprise without rate limits.
    respx_mock.get(f"{API}/rate_limit").mock(return_value=httpx.Response(404, json={"message": "Not Found"}))

    result = run_cli(config, "--verbose", "sync")

    assert result.exit_code == 1, result.stderr[-2000:]
    assert "failed django-todo: cannot connect: refused (Authorization: Bearer ***)" in result.stderr
    assert "HTTP Request: GET" in result.stderr  # verbose really logged the requests
    assert TOKEN not in result.output
    assert TOKEN not in "\n".join(sqlite3.connect(tmp_path / "test.db").iterdump())
    assert any(call.request.headers.get("Authorization") == f"Bearer {TOKEN}" for call in respx_mock.calls)


def test_an_internal_error_with_verbose_is_logged_scrubbed(config_file, run_cli, monkeypatch):
    from fetcher import cli

    config = config_file()
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)

    def explode(*args, **kwargs):
        raise RuntimeError(f"boom with {TOKEN}")

    monkeypatch.setattr(cli, "open_store", explode)
    result = run_cli(config, "--verbose", "export")

    assert result.exit_code == 70
    assert "Traceback" in result.stderr and "RuntimeError: boom with ***" in result.stderr
    assert TOKEN not in result.output


def test_an_internal_error_without_verbose_is_one_line(config_file, run_cli, monkeypatch):
    from fetcher import cli

    monkeypatch.setattr(cli, "open_store", lambda path, create, read_only: 1 / 0)
    result = run_cli(config_file(), "export")

    assert result.exit_code == 70
    assert result.stderr == "fetcher: internal error: ZeroDivisionError: division by zero (--verbose shows where)\n"


def test_a_corrupt_database_is_refused_and_left_as_it_was(config_file, run_cli, tmp_path):
    config = config_file()
    corrupt = tmp_path / "test.db"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    before = corrupt.read_bytes()

    result = run_cli(config, "import", TODO)

    assert result.exit_code == 2
    assert result.stderr.startswith(f"fetcher: {corrupt}: the store is damaged (file is not a database); ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert corrupt.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "test.db"]


def test_a_store_in_a_missing_directory_is_refused(config_file, run_cli, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[store]\npath = "no/such/dir/packages.db"\n')

    result = run_cli(config, "import", TODO)

    assert result.exit_code == 2
    assert "does not exist" in result.stderr and not (tmp_path / "no").exists()


def _as_nobody() -> list[str]:
    """A command prefix that drops root, so file permissions apply to the process under test."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("running as root needs setpriv (util-linux) to test an unwritable store")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_an_unwritable_store_is_one_line_naming_it_and_exit_75(shared_tmp):
    tmp_path = shared_tmp
    store = tmp_path / "packages.db"
    with sqlite3.connect(store) as db:
        db.execute("CREATE TABLE keep (x)")
    store.chmod(0o444)
    config = tmp_path / "config.toml"
    config.write_text('[store]\npath = "packages.db"\n')
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"slug": "x", "repo_url": "https://github.com/o/x"}))
    for path in (config, catalog):
        path.chmod(0o644)
    before = store.read_bytes()

    result = subprocess.run(
        [*_as_nobody(), sys.executable, "-m", "fetcher", "--config", str(config), "import", str(catalog)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )

    assert result.returncode == 75, result.stderr
    assert result.stderr.startswith(f"fetcher: {store}: cannot write the store: the store is read-only; ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert store.read_bytes() == before


@pytest.mark.parametrize("token", [TOKEN, TOKEN + "\r", TOKEN + "\n", " " + TOKEN + "\t", TOKEN + "\x00é"])
def test_redaction_covers_the_token_however_a_message_spells_it(token):
    from urllib.parse import quote

    from fetcher.logs import redact

    for spelled in (token, repr(token), json.dumps(token), quote(token, safe=""), str(token.encode()),
                    f"Bearer {token.strip()}", ascii(token)):
        text = redact(f"before {spelled} after", [token])
        assert "SECRETSECRET" not in text and "***" in text, spelled
