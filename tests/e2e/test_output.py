"""What a run prints: the progress bar on a terminal only, --quiet under cron, --log-format json for machines."""

import json
import re
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

from fetcher.standin import StandIn, World, add_catalog
from tests.conftest import ROOT

CATALOG = ROOT / "examples" / "packages.json"
TOKEN = "ghp_output_token_0123456789"
COUNT = len(json.loads(CATALOG.read_text()))  # every package syncs: GitHub's and the other forges'


def catalogue_world(seed: int) -> World:
    """The example catalogue's repositories, GitHub's and the other forges' (served under the stand-in's /_forge/)."""
    records = json.loads(CATALOG.read_text())
    world = World.from_catalog(records, seed=seed)
    add_catalog(world, records, seed=seed)
    return world


@pytest.fixture
def standin():
    with StandIn(catalogue_world(5), token=TOKEN, stats_delay=0) as server:
        yield server


@pytest.fixture
def config(standin, tmp_path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[store]\npath = "store.db"\n[github]\napi_url = "{standin.url}"\n'
                    f'graphql_url = "{standin.url}/graphql"\npace = false\n[pypi]\nurl = "{standin.url}"\n'
                    f'[http]\nbackoff = 0\ntimeout = 5\n\n{standin.hosts_config()}')  # fmt: skip
    assert fetcher(path, "import", str(CATALOG)).returncode == 0
    return path


def fetcher(config: Path, *args: str, token: str | None = TOKEN, **options) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "FETCHER_CONFIG")}
    if token:
        env["GITHUB_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "fetcher", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, **options)  # fmt: skip


def fetcher_with_a_terminal(config: Path, *args: str) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal; (exit code, stdout, what the terminal showed)."""
    env = {k: v for k, v in os.environ.items() if k != "FETCHER_CONFIG"}
    env.update(GITHUB_TOKEN=TOKEN, COLUMNS="100")
    controller, terminal = os.openpty()
    process = subprocess.Popen([sys.executable, "-m", "fetcher", "--config", str(config), *args],
                               stdout=subprocess.PIPE, stderr=terminal, env=env, cwd=ROOT)  # fmt: skip
    os.close(terminal)
    shown = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal's other end closed: the process is done with it
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    stdout = process.stdout.read().decode()
    process.stdout.close()
    return process.wait(timeout=30), stdout, shown.decode()


def test_the_progress_bar_is_drawn_on_a_terminal_and_erased_at_the_end(config):
    code, stdout, shown = fetcher_with_a_terminal(config, "sync")

    assert code == 0
    assert "sync  [" in shown and f"0/{COUNT}" in shown and f"{COUNT}/{COUNT}" in shown  # label, bar, packages done of all
    assert "0 failed" in shown and "/s" in shown  # failures so far, rate
    assert shown.rstrip().endswith("\r\x1b[2K\x1b[?25h")  # erased: nothing of the bar stays on screen
    assert f"{COUNT} of {COUNT} packages" in stdout  # the summary stands alone
    assert TOKEN not in shown


def test_no_progress_output_when_stderr_is_not_a_terminal(config):
    result = fetcher(config, "sync")

    assert result.returncode == 0
    assert result.stderr == ""
    assert f"{COUNT} of {COUNT} packages" in result.stdout


def test_the_summary_says_when_its_run_started(config):
    summary = fetcher(config, "sync").stdout

    assert summary.startswith(f"sync: {COUNT} of {COUNT} packages in ")
    assert ", started 20" in summary and f" UTC: {COUNT} synced, 0 unchanged, 0 failed, 0 skipped" in summary


def test_quiet_prints_nothing_on_success(config):
    imported = fetcher(config, "--quiet", "import", str(CATALOG))
    synced = fetcher(config, "--quiet", "sync")

    assert (imported.returncode, imported.stdout, imported.stderr) == (0, "", "")
    assert (synced.returncode, synced.stdout, synced.stderr) == (0, "", "")


def test_quiet_still_reports_a_failure_and_the_summary_on_stderr(config, standin):
    standin.fail_next("/repos/django-crispy-forms/django-crispy-forms/stats", 404, times=10)

    result = fetcher(config, "--quiet", "sync")

    assert result.returncode == 1
    assert result.stdout == ""
    assert "failed django-crispy-forms: not found" in result.stderr
    assert f"sync: {COUNT} of {COUNT} packages" in result.stderr and "1 failed" in result.stderr


def test_quiet_reports_why_a_run_stopped(config):
    result = fetcher(config, "--quiet", "sync", token="ghp_rejected_token_0000")

    assert result.returncode == 2
    assert result.stdout == ""
    assert "GitHub rejected the token" in result.stderr


def test_every_json_log_line_parses_and_none_holds_the_token(config, standin):
    standin.fail_next("/repos/django-crispy-forms/django-crispy-forms/stats", 404, times=10)
    standin.fail_next("/repos/jazzband/django-debug-toolbar/contributors", 502, times=1)

    result = fetcher(config, "--log-format", "json", "sync")

    assert result.returncode == 1
    assert TOKEN not in result.stderr + result.stdout
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert all({"time", "level", "event", "message"} <= event.keys() for event in events)
    by_event = {}
    for event in events:
        by_event.setdefault(event["event"], []).append(event)
    outcomes = {event["slug"]: event["outcome"] for event in by_event["package"]}
    assert len(outcomes) == COUNT and outcomes["django-crispy-forms"] == "failed"
    assert outcomes["django-debug-toolbar"] == "synced"
    (retried,) = [retry for retry in by_event["retry"] if retry["reason"].startswith("server error 502")]
    assert retried["url"].endswith("/repos/jazzband/django-debug-toolbar/contributors?per_page=100")
    assert by_event["failure"] == [{**by_event["failure"][0], "level": "warning", "slug": "django-crispy-forms"}]
    assert by_event["failure"][0]["reason"].startswith("not found")
    (run,) = by_event["run"]
    assert (run["command"], run["packages"], run["failed"], run["exit_code"]) == ("sync", COUNT, 1, 1)
    assert run["message"].startswith(f"sync: {COUNT} of {COUNT} packages")


def test_json_errors_are_json_too_and_scrubbed(config):
    token = "ghp_rejected_token_0000"
    result = fetcher(config, "--log-format", "json", "sync", token=token)

    assert result.returncode == 2
    (line,) = [json.loads(line) for line in result.stderr.splitlines() if '"error"' in line]
    assert line["level"] == "error" and "GitHub rejected the token" in line["message"]
    assert token not in result.stderr


def test_quiet_still_says_why_a_run_stopped_early(tmp_path):
    world = catalogue_world(5)
    with StandIn(world, token=TOKEN, stats_delay=0, rate_limit=4, graphql_rate_limit=4) as scarce:
        config = tmp_path / "config.toml"
        config.write_text(f'[store]\npath = "store.db"\n[github]\napi_url = "{scarce.url}"\n'
                          f'graphql_url = "{scarce.url}/graphql"\npace = false\n[pypi]\nurl = "{scarce.url}"\n'
                          f'[sync]\nmax_rate_limit_wait = "1s"\nreserve = 0\n[http]\nbackoff = 0\n\n'
                          f'{scarce.hosts_config()}')  # fmt: skip
        assert fetcher(config, "--quiet", "import", str(CATALOG)).returncode == 0
        # No budget to plan with (a GitHub Enterprise Server without rate limits says so), so the run meets the limit.
        scarce.fail_next("/rate_limit", 404, body={"message": "Rate limiting is not enabled."})
        result = fetcher(config, "--quiet", "sync")

    assert result.returncode == 75
    assert result.stdout == ""
    assert "stopped early: GitHub rate limit exhausted until" in result.stderr
    assert "beyond sync.max_rate_limit_wait (1s)" in result.stderr


def documented_events() -> dict[str, set[str]]:
    """The events docs/operations.md lists for --log-format json, each with the facts it names."""
    text = (ROOT / "docs" / "operations.md").read_text()
    table = text.split("| event | facts |", 1)[1].split("\n\n", 1)[0]
    events = {}
    for line in table.splitlines()[2:]:
        name, facts = line.split("|")[1:3]
        events[name.strip().strip("`")] = set(re.findall(r"`(\w+)`", facts))
    return events


@pytest.mark.parametrize("verbose", [False, True])
def test_json_lines_hold_only_documented_events_with_json_values(config, standin, verbose):
    standin.fail_next("/repos/jazzband/django-debug-toolbar/contributors", 502, times=1)

    result = fetcher(config, "--log-format", "json", *(["--verbose"] if verbose else []), "sync")

    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines()]
    documented = documented_events()
    assert {event["event"] for event in events} <= documented.keys() - {"log"}
    (run,) = [event for event in events if event["event"] == "run"]
    assert isinstance(run["tokens"], dict) and run["tokens"]["GITHUB_TOKEN"]["rejected"] is False
    assert isinstance(run["tokens"]["GITHUB_TOKEN"]["core"]["spent"], int)
    requests = [event for event in events if event["event"] == "request"]
    if verbose:  # httpx's own line for each request, as an event of its own
        assert requests and {"method", "url", "status"} <= requests[0].keys()
        assert isinstance(requests[0]["status"], int)
    else:
        assert requests == []


def test_without_a_token_a_github_that_wants_one_is_said_to_want_one(config):
    result = fetcher(config, "sync", token=None)

    assert result.returncode == 2
    assert "rejected" not in result.stderr
    assert "fetcher: GitHub asks for a token (401) and none is set: set GITHUB_TOKEN (github.token_env)" in result.stderr


def test_the_only_token_rejected_stops_the_run_saying_so_and_nothing_of_going_on_without_it(config):
    result = fetcher(config, "sync", token="ghp_rejected_token_0000")

    assert result.returncode == 2
    assert "left out for the rest of the run" not in result.stderr
    assert ("fetcher: GitHub rejected the token in $GITHUB_TOKEN (401 Bad credentials), the only token set: "
            "check it or unset it") in result.stderr
