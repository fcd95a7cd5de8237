"""Three tokens of different budgets, end to end: `fetcher` processes against the stand-in's per-token budgets."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from fetcher.standin import StandIn, World
from tests.conftest import ROOT

TOKENS = {"POOL_ONE": "ghp_pool_token_one_AAAAAAAA", "POOL_TWO": "ghp_pool_token_two_BBBBBBBB",
          "POOL_THREE": "ghp_pool_token_three_CCCCCC"}
BUDGETS = {"POOL_ONE": 5000, "POOL_TWO": 40, "POOL_THREE": 2000}
WRONG = "ghp_not_a_token_of_the_pool_ZZ"


def fetcher(config: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "FETCHER_CONFIG", *TOKENS)}
    return subprocess.run([sys.executable, "-m", "fetcher", "--config", str(config), *args],
                          capture_output=True, env={**base, **env}, cwd=ROOT, timeout=120)


@pytest.fixture
def pool(tmp_path):
    world, records = World.generate(12, seed=11, renamed=0, missing=0, empty=0, max_contributors=3, cold_stats=0)
    (tmp_path / "catalog.json").write_text(json.dumps(records))
    budgets = {TOKENS[env]: points for env, points in BUDGETS.items()}
    with StandIn(world, tokens=budgets, stats_delay=0) as standin:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[store]\npath = "store.db"\n[github]\napi_url = "{standin.url}"\ngraphql_url = "{standin.url}/graphql"\n'
            f'token_env = ["POOL_ONE", "POOL_TWO", "POOL_THREE"]\npace = false\n[pypi]\nurl = "{standin.url}"\n'
            '[http]\nbackoff = 0\n'
        )
        assert fetcher(config, "import", str(tmp_path / "catalog.json"), env={}).returncode == 0
        yield standin, config


def leaked(outputs: list[subprocess.CompletedProcess], store_dir: Path) -> list[str]:
    """Every token value found in the bytes of any output, log line or store file."""
    blobs = [result.stdout + result.stderr for result in outputs]
    blobs += [path.read_bytes() for path in store_dir.glob("store.db*")]
    return [value for value in (*TOKENS.values(), WRONG) for blob in blobs if value.encode() in blob]


def test_three_tokens_share_the_run_each_budget_its_own_and_every_one_shown_by_name_never_by_value(pool, tmp_path):
    standin, config = pool
    synced = fetcher(config, "--verbose", "sync", env=TOKENS)
    status = fetcher(config, "status", "--json", env=TOKENS)
    checked = fetcher(config, "check", env=TOKENS)
    again = fetcher(config, "--log-format", "json", "sync", "--all", env=TOKENS)

    assert synced.returncode == 0, synced.stderr
    summary = synced.stdout.decode()
    assert "12 of 12 packages" in summary
    with sqlite3.connect(tmp_path / "store.db") as db:
        rows = {env: (spent, remaining) for env, spent, remaining in db.execute(
            "SELECT token_env, spent, remaining FROM run_token WHERE run_id = 1 AND resource = 'core'")}
        (tokens,) = db.execute("SELECT tokens FROM sync_run WHERE id = 1").fetchone()
    # The run's own row says the same, per token variable.
    assert {env: (token["core"]["spent"], token["core"]["left"]) for env, token in json.loads(tokens).items()} \
        == rows
    assert not any(token["rejected"] for token in json.loads(tokens).values())
    # Each token's spend and what is left, as the stand-in charged its own budget.
    for env, value in TOKENS.items():
        assert env in rows
        spent, remaining = rows[env]
        assert f"${env} {spent} spent, {remaining} left" in summary
        assert remaining is None or remaining <= BUDGETS[env]
    assert sum(spent for spent, _ in rows.values()) == standin.points_charged - _charged_in(again)
    # The fullest first: the small budget pays the least.
    assert rows["POOL_TWO"][0] <= min(rows["POOL_ONE"][0], rows["POOL_THREE"][0])
    limits = json.loads(status.stdout)["rate_limits"]
    assert set(limits) == set(TOKENS)
    lines = checked.stdout.decode().splitlines()
    for env in TOKENS:
        accepted = f"✓ GitHub {standin.url} ${env}: token from {env} accepted; core "
        assert any(line.startswith(accepted) for line in lines)
    assert again.returncode == 0, again.stderr
    assert leaked([synced, status, checked, again], tmp_path) == []


def _charged_in(result: subprocess.CompletedProcess) -> int:
    """REST points the second (JSON-logged) run spent, from its own run line."""
    for line in result.stderr.decode().splitlines():
        record = json.loads(line)
        if record["event"] == "run":
            return record["points"] - record["graphql_points"]
    raise AssertionError("no run line")


def test_a_rejected_token_is_dropped_named_by_its_variable_and_the_run_goes_on(pool, tmp_path):
    _, config = pool
    synced = fetcher(config, "sync", env={**TOKENS, "POOL_TWO": WRONG})

    assert synced.returncode == 0, synced.stderr
    warnings = [line for line in synced.stderr.decode().splitlines() if "rejected" in line]
    assert len(warnings) == 1 and "GitHub rejected the token in $POOL_TWO (401)" in warnings[0]
    assert "12 synced" in synced.stdout.decode() and "$POOL_TWO rejected" in synced.stdout.decode()
    with sqlite3.connect(tmp_path / "store.db") as db:
        # A row per budget it was tried on (requests in flight may have tried it on both): each one rejected.
        rows = db.execute("SELECT resource, rejected FROM run_token WHERE token_env = 'POOL_TWO'").fetchall()
        (tokens,) = db.execute("SELECT tokens FROM sync_run").fetchone()
    assert rows and {rejected for _, rejected in rows} == {1}, rows
    assert {env: token["rejected"] for env, token in json.loads(tokens).items()} == {
        "POOL_ONE": False, "POOL_TWO": True, "POOL_THREE": False}
    assert leaked([synced], tmp_path) == []


def test_every_token_rejected_stops_the_run_with_exit_2(pool, tmp_path):
    _, config = pool
    synced = fetcher(config, "sync", env={env: WRONG + env for env in TOKENS})

    assert synced.returncode == 2
    stderr = synced.stderr.decode()
    # Each but the last is left out with a warning while the others go on; the last one's rejection ends the run.
    warned = [line for line in stderr.splitlines() if "left out for the rest of the run" in line]
    assert len(warned) == len(TOKENS) - 1, stderr
    assert ("GitHub rejected every token of the pool (401 Bad credentials): $POOL_ONE, $POOL_TWO, $POOL_THREE: "
            "check them or unset them") in stderr
    with sqlite3.connect(tmp_path / "store.db") as db:
        assert db.execute("SELECT count(*) FROM package WHERE last_fetched IS NOT NULL").fetchone() == (0,)
    assert not any((WRONG + env).encode() in synced.stdout + synced.stderr for env in TOKENS)


def test_a_token_rejected_is_sent_once_and_the_answers_pinned_to_it_go_to_a_live_token(pool, tmp_path):
    # Every answer kept is pinned to POOL_TWO (its ETag goes back with the token that made it); then POOL_TWO
    # turns out to be wrong. The run sends it once, gets its 401, and asks everything else with the others:
    # repeated bad credentials from one address are what GitHub's abuse detection punishes.
    standin, config = pool
    # REST for the metadata too: each repository's answer is asked again conditionally, with its pinned token.
    config.write_text(config.read_text().replace("pace = false\n", "pace = false\ngraphql = false\n"))
    assert fetcher(config, "sync", env=TOKENS).returncode == 0
    with sqlite3.connect(tmp_path / "store.db") as db:
        pinned = db.execute("UPDATE resource_cache SET token_env = 'POOL_TWO' WHERE etag IS NOT NULL").rowcount
        slugs = [slug for (slug,) in db.execute("SELECT slug FROM package")]
    asked = len(standin.requests)

    # A refresh may spend every token down to nothing (no reserve kept): POOL_TWO is one to ask with.
    again = fetcher(config, "refresh", *slugs, env={**TOKENS, "POOL_TWO": WRONG})

    refused = [entry for entry in standin.requests[asked:] if entry.status == 401]
    assert pinned >= 12 and again.returncode == 0, again.stderr
    assert "12 of 12 packages" in again.stdout.decode() and "$POOL_TWO rejected" in again.stdout.decode()
    assert len(refused) == 1, refused
