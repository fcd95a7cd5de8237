"""`fetcher sync` through the CLI against a stand-in whose chosen resources answer what no honest server would.

Each hostile package must fail alone (old values kept, its failure recorded)
while the others are written; the run ends with its documented code; and the
token shows nowhere: not on stdout or stderr (verbose logs included), not in
any file under the store's directory.
"""

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from fetcher.net.client import DEADLINE_TIMEOUTS
from fetcher.store.shape import shape
from fetcher.standin import Hostile, StandIn, World
from fetcher.standin.hostile import ESCAPES
from tests.conftest import ROOT, BOTH_BACKENDS, raw_store

TOKEN = "ghp_hostile_token_0123456789abcdef"
FETCHED = ("repo_forks", "repo_watchers", "repo_description", "participants", "commits_over_52", "pypi_version",
           "repo_url", "last_fetched")
OLD = {"repo_forks": 11, "repo_watchers": 22, "repo_description": "old description", "participants": ["old-person"],
       "commits_over_52": [1] * 52, "pypi_version": "0.0.1", "last_fetched": "2020-01-01T00:00:00Z"}
# seconds: so generous no honest answer (nor a redirect chain, nor a bomb inflating) runs out of time on a busy
# machine; only the trickle, in a test of its own with TRICKLE_TIMEOUT, is meant to.
TIMEOUT = 10.0
TRICKLE_TIMEOUT = 1.0

# kind -> (the resource it spoils, what the package's recorded failure says)
FAILING = {
    "wrong_types": ("repo", "repository answer lacks forks_count, watchers_count or html_url"),
    "big_number": ("repo", "number out of range in the answer: 18446744073709551616"),
    "lone_surrogate": ("repo", "invalid Unicode (a lone surrogate) in the answer"),
    "deep_nesting": ("repo", "JSON nested too deeply in the answer"),
    "absurd_retry_after": ("repo", "implausible Retry-After '99999999999999999999'"),
    "absurd_reset": ("repo", "implausible X-RateLimit-Reset '1" + "0" * 29 + "'"),
    "redirect_loop": ("repo", "more than 5 redirects (a redirect loop?)"),
    "gzip_bomb": ("repo", "answer larger than http.max_body (1048576 bytes)"),
    "invalid_link": ("contributors", 'contributors Link rel="next" is not a valid URL'),
    "foreign_link": ("contributors", 'contributors Link rel="next" points outside the API (http://127.0.0.1:'),
    "link_cycle": ("contributors", 'contributors Link rel="next" leads back to a page already read'),
    "pypi_401": ("pypi", "PyPI answered HTTP 401: Unauthorized"),
    "pypi_429": ("pypi", "PyPI rate limit until"),
    "cross_origin_redirect": ("participation", "redirected off the API's origin (http://127.0.0.1:"),
}
SYNCED = {"too_large": "contributors"}


def fetcher(config: Path, *args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "FETCHER_CONFIG")}
    if token:
        env["GITHUB_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "fetcher", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def write_config(tmp_path: Path, api: str, pypi: str, graphql: bool = False, timeout: float = TIMEOUT,
                 store: str = 'path = "store.db"') -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\n{store}\n[github]\napi_url = "{api}"\ngraphql_url = "{api}/graphql"\n'
        f'graphql = {str(graphql).lower()}\npace = false\n[pypi]\nurl = "{pypi}"\n'
        f'[sync]\nconcurrency = 8\nmax_rate_limit_wait = "10s"\n'
        f'[http]\ntimeout = {timeout}\nbackoff = 0\nretries = 0\nmax_body = 1048576\n'
    )
    return config


def catalogue(tmp_path: Path, n: int) -> tuple[World, list[dict]]:
    """n generated packages, each with old fetched values to keep, imported into the store."""
    world, records = World.generate(n, seed=11, renamed=0, missing=0, empty=0, cold_stats=0)
    records = [{**record, **OLD} for record in records]
    (tmp_path / "catalog.json").write_text(json.dumps(records))
    return world, records


def export(config: Path) -> dict[str, dict]:
    result = fetcher(config, "export")
    assert result.returncode == 0, result.stderr
    return {record["slug"]: record for record in json.loads(result.stdout)}


def fetch_state(store) -> dict[str, tuple[str | None, str | None]]:
    with raw_store(store) as db:
        return {slug: (error, note) for slug, error, note in db.execute(
            "SELECT slug, last_error, note FROM fetch_state JOIN package ON package.id = package_id")}


def assert_token_nowhere(tmp_path: Path, *results: subprocess.CompletedProcess) -> None:
    for result in results:
        assert TOKEN not in result.stdout + result.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path.name


def path_of(record: dict, resource: str) -> str:
    full_name = record["repo_url"].removeprefix("https://github.com/")
    return {
        "repo": f"/repos/{full_name}",
        "contributors": f"/repos/{full_name}/contributors",
        "participation": f"/repos/{full_name}/stats/participation",
        "pypi": f"/pypi/{record['slug']}/json",
    }[resource]


@BOTH_BACKENDS
def test_every_hostile_answer_fails_its_package_alone_and_the_token_stays_home(tmp_path, store_at, store_toml):
    kinds = [*FAILING, *SYNCED]
    world, records = catalogue(tmp_path, len(kinds) + 3)
    by_kind = dict(zip(kinds, records))
    healthy = records[len(kinds):]
    resources = {kind: FAILING[kind][0] if kind in FAILING else SYNCED[kind] for kind in kinds}
    hostile = Hostile({path_of(by_kind[kind], resources[kind]): kind for kind in kinds})
    with StandIn(world, token=TOKEN, stats_delay=0, hostile=hostile) as standin:
        config = write_config(tmp_path, standin.url, standin.url, store=store_toml)
        assert fetcher(config, "import", str(tmp_path / "catalog.json")).returncode == 0
        before = export(config)

        synced = fetcher(config, "--verbose", "sync", "--all")

        after = export(config)
        port = standin.url.rsplit(":", 1)[1]

    assert synced.returncode == 1, synced.stderr[-3000:]
    state = fetch_state(store_at)
    for kind, (_, reason) in FAILING.items():
        slug = by_kind[kind]["slug"]
        assert {f: after[slug][f] for f in FETCHED} == {f: before[slug][f] for f in FETCHED}, kind
        error, _ = state[slug]
        assert error is not None and reason in error, (kind, error)
        assert f"failed {slug}: " in synced.stderr
    assert "GitHub" not in state[by_kind["pypi_401"]["slug"]][0] + state[by_kind["pypi_429"]["slug"]][0]

    # Too large: the stored participants stand, noted; everything else is updated.
    too_large = by_kind["too_large"]
    expected = world.expected_fields(too_large)
    assert after[too_large["slug"]]["participants"] == ["old-person"]
    assert after[too_large["slug"]]["repo_watchers"] == expected["repo_watchers"]
    assert after[too_large["slug"]]["pypi_version"] == expected["pypi_version"]
    assert state[too_large["slug"]] == (
        None, "participants not updated: GitHub will not list contributors of a repository this large")

    # A redirect to another origin is not followed: nothing at all goes there.
    redirected = by_kind["cross_origin_redirect"]
    sent = {(seen.host.split(":")[0], seen.path.split("?")[0]): seen.authorized for seen in hostile.seen}
    assert sent[("127.0.0.1", path_of(redirected, "participation"))] is True
    assert not any(seen.host == f"localhost:{port}" and "weeks" in seen.path for seen in hostile.seen)
    # A Link to another origin is not followed at all.
    assert not any(seen.host == f"localhost:{port}" and "contributors" in seen.path for seen in hostile.seen)

    for record in healthy:
        expected = world.expected_fields(record)
        got = after[record["slug"]]
        assert {f: got[f] for f in expected if f != "last_updated"} == \
            {f: v for f, v in expected.items() if f != "last_updated"}, record["slug"]
        assert state[record["slug"]] == (None, None)
    assert_token_nowhere(tmp_path, synced)
    with raw_store(store_at) as db:  # a PostgreSQL store is no file in tmp_path: its every row is read
        assert not any(TOKEN in str(row) for table in shape().tables
                       for row in db.execute(f"SELECT * FROM {table}").fetchall())


def test_a_retired_api_version_stops_the_run_with_exit_2_saying_what_to_change(tmp_path):
    world, records = catalogue(tmp_path, 3)
    hostile = Hostile({path_of(records[0], "repo"): "api_version"})
    with StandIn(world, token=TOKEN, stats_delay=0, hostile=hostile) as standin:
        config = write_config(tmp_path, standin.url, standin.url)
        assert fetcher(config, "import", str(tmp_path / "catalog.json")).returncode == 0
        before = export(config)
        synced = fetcher(config, "sync", "--all")
        after = export(config)

    assert synced.returncode == 2, synced.stderr
    assert "GitHub no longer supports REST API version 2022-11-28 (HTTP 410" in synced.stderr
    assert "upgrade fetcher to a release that sends a supported X-GitHub-Api-Version" in synced.stderr
    refused = records[0]["slug"]
    assert {f: after[refused][f] for f in FETCHED} == {f: before[refused][f] for f in FETCHED}
    # The refusal is the run's, not the package's: nothing is recorded as its failure.
    assert fetch_state(tmp_path / "store.db").get(refused, (None, None))[0] is None
    with sqlite3.connect(tmp_path / "store.db") as db:
        [(stopped,)] = db.execute("SELECT stopped FROM sync_run WHERE command = 'sync'").fetchall()
    assert stopped.startswith("GitHub no longer supports REST API version 2022-11-28")
    assert_token_nowhere(tmp_path, synced)


def test_a_graphql_secondary_limit_in_a_200_is_waited_out_by_its_retry_after(tmp_path):
    world, records = catalogue(tmp_path, 3)
    hostile = Hostile({"/graphql": "graphql_secondary"})
    with StandIn(world, token=TOKEN, stats_delay=0, hostile=hostile) as standin:
        config = write_config(tmp_path, standin.url, standin.url, graphql=True)
        assert fetcher(config, "import", str(tmp_path / "catalog.json")).returncode == 0
        synced = fetcher(config, "sync", "--all")
        after = export(config)
        queries = [entry for entry in standin.requests if entry.path == "/graphql"]

    assert synced.returncode == 0, synced.stderr
    assert "3 synced" in synced.stdout and "1 retries" in synced.stdout
    assert len(hostile.seen) == 1 and len(queries) == 1  # the limited query, then the one that ran
    for record in records:
        assert after[record["slug"]]["repo_watchers"] == world.expected_fields(record)["repo_watchers"]
    assert_token_nowhere(tmp_path, synced)


def test_github_unreachable_while_pypi_answers_stops_with_75_naming_it_and_fails_nothing(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    world, records = catalogue(tmp_path, 4)
    with StandIn(world, stats_delay=0) as standin:
        config = write_config(tmp_path, f"http://127.0.0.1:{closed}", standin.url)
        assert fetcher(config, "import", str(tmp_path / "catalog.json")).returncode == 0
        before = export(config)
        synced = fetcher(config, "sync", "--all", token=None)
        after = export(config)

    assert synced.returncode == 75, synced.stdout + synced.stderr
    assert f"stopped early: http://127.0.0.1:{closed} has not answered in this run" in synced.stdout
    assert all(error is None for error, _ in fetch_state(tmp_path / "store.db").values())
    for record in records:
        assert {f: after[record["slug"]][f] for f in FETCHED} == {f: before[record["slug"]][f] for f in FETCHED}


@pytest.mark.parametrize("token", [TOKEN + "\r", "ghp_with space_0123456789"])
def test_a_token_with_whitespace_or_control_characters_is_a_config_error_naming_the_variable(tmp_path, token):
    world, _ = catalogue(tmp_path, 1)
    config = write_config(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9")
    assert fetcher(config, "import", str(tmp_path / "catalog.json")).returncode == 0

    synced = fetcher(config, "--verbose", "sync", "--all", token=token)

    assert synced.returncode == 2, synced.stderr
    assert "$GITHUB_TOKEN holds whitespace or control characters" in synced.stderr
    assert token.strip() not in synced.stdout + synced.stderr
    assert "ghp_with" not in synced.stdout + synced.stderr
    with sqlite3.connect(tmp_path / "store.db") as db:
        assert db.execute("SELECT count(*) FROM sync_run").fetchone() == (0,)  # no run was started


def test_a_body_trickling_past_the_whole_requests_deadline_fails_its_package_alone(tmp_path):
    world, records = catalogue(tmp_path, 2)
    trickled, healthy = records
    hostile = Hostile({path_of(trickled, "repo"): "trickle"})
    with StandIn(world, token=TOKEN, stats_delay=0, hostile=hostile) as standin:
        config = write_config(tmp_path, standin.url, standin.url, timeout=TRICKLE_TIMEOUT)
        assert fetcher(config, "import", str(tmp_path / "catalog.json")).returncode == 0
        synced = fetcher(config, "sync", "--all")
        after = export(config)

    assert synced.returncode == 1, synced.stderr
    error, _ = fetch_state(tmp_path / "store.db")[trickled["slug"]]
    assert error.startswith(f"no complete answer within {TRICKLE_TIMEOUT * DEADLINE_TIMEOUTS:g}s")
    assert after[trickled["slug"]]["repo_watchers"] == OLD["repo_watchers"]
    assert after[healthy["slug"]]["repo_watchers"] == world.expected_fields(healthy)["repo_watchers"]


@pytest.mark.parametrize("kind", ["past_reset", "retry_after_zero"])
def test_a_refusal_saying_ask_again_at_once_is_asked_again_a_few_times_spaced_then_the_run_stops_with_75(
    tmp_path, kind
):
    # A client clock ahead of GitHub's sees the reset in the past; a Retry-After of 0 says the same. Asked again
    # at once, each refusal would be the next request's: a storm. Every wait is at least a second, and a limit
    # still there after a few waits stops the run, naming it; the refused package keeps its values, unfailed.
    world, records = catalogue(tmp_path, 3)
    refused = records[0]
    hostile = Hostile({path_of(refused, "repo"): kind})
    with StandIn(world, token=TOKEN, stats_delay=0, hostile=hostile) as standin:
        config = write_config(tmp_path, standin.url, standin.url)
        assert fetcher(config, "import", str(tmp_path / "catalog.json")).returncode == 0
        before = export(config)
        synced = fetcher(config, "sync", "--all")
        after = export(config)

    asked = [seen for seen in hostile.seen if seen.path == path_of(refused, "repo")]
    assert synced.returncode == 75, synced.stdout + synced.stderr
    assert "stopped early: GitHub " in synced.stdout and "rate limit" in synced.stdout
    assert 2 <= len(asked) <= 8, len(asked)
    assert {f: after[refused["slug"]][f] for f in FETCHED} == {f: before[refused["slug"]][f] for f in FETCHED}
    assert fetch_state(tmp_path / "store.db").get(refused["slug"], (None, None))[0] is None
    assert_token_nowhere(tmp_path, synced)


def test_header_numbers_no_server_means_end_in_a_wait_or_in_nothing_never_in_a_crash(tmp_path):
    # "²" is a digit to str.isdigit() and none to int(); 5,000 digits are past Python's int conversion limit.
    world, records = catalogue(tmp_path, 4)
    limited, endless = records[0], records[1]
    hostile = Hostile({path_of(limited, "pypi"): "unicode_retry_after", path_of(endless, "repo"): "endless_digits"})
    with StandIn(world, token=TOKEN, stats_delay=0, hostile=hostile) as standin:
        config = write_config(tmp_path, standin.url, standin.url)
        assert fetcher(config, "import", str(tmp_path / "catalog.json")).returncode == 0
        synced = fetcher(config, "sync", "--all")
        after = export(config)

    assert synced.returncode == 1, synced.stdout + synced.stderr  # one failed package, not 70
    reasons = {slug: error for slug, (error, _) in fetch_state(tmp_path / "store.db").items() if error}
    # An unreadable Retry-After is the default minute, past max_rate_limit_wait (10s): PyPI's limit, the package's.
    assert list(reasons) == [limited["slug"]] and reasons[limited["slug"]].startswith("PyPI rate limit until")
    for record in records[1:]:
        assert after[record["slug"]]["repo_watchers"] == world.expected_fields(record)["repo_watchers"]


def test_nothing_a_server_sends_reaches_the_terminal_raw_and_json_stays_exact(tmp_path):
    world, records = catalogue(tmp_path, 3)
    described, refusing = records[0], records[1]
    hostile = Hostile({path_of(described, "repo"): "terminal_escapes",
                       path_of(refusing, "pypi"): "terminal_escapes_error"})
    with StandIn(world, token=TOKEN, stats_delay=0, hostile=hostile) as standin:
        config = write_config(tmp_path, standin.url, standin.url)
        assert fetcher(config, "import", str(tmp_path / "catalog.json")).returncode == 0
        synced = fetcher(config, "--verbose", "sync", "--all")
        pretty = fetcher(config, "show", described["slug"], "--pretty")
        status = fetcher(config, "status")
        shown = fetcher(config, "show", described["slug"])

    printed = [synced.stdout, synced.stderr, pretty.stdout, status.stdout]
    assert synced.returncode == 1 and pretty.returncode == 0 and shown.returncode == 0
    assert not any(character in text for text in printed for character in "\x1b\x07\x9b")
    assert "Looks harmless\\x1b]52;c;ZmV0Y2hlcg==\\x07\\x1b[2J\\x1b[H\\x9b31m until printed" in pretty.stdout
    assert f"failed {refusing['slug']}: PyPI answered HTTP 418: I'm a teapot\\x1b]52" in synced.stderr
    assert "I'm a teapot\\x1b]52" in status.stdout
    assert json.loads(shown.stdout)["repo_description"] == f"Looks harmless{ESCAPES} until printed"
