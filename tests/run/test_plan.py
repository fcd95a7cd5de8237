"""A run that fits its budget: the most overdue packages the pool can pay for, the rest deferred (exit 0);
`[sync] reserve` never spent by a sync."""

import asyncio
import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import respx

from fetcher.config import load
from fetcher.hosts.base import Capacity
from fetcher.hosts.github.budget import COLD_POINTS, RATE_LIMIT_BODY_MAX, GitHubPlan, read_rate_limit
from fetcher.hosts.github.rules import GitHubService
from fetcher.hosts.github.tokens import TokenPool
from fetcher.net.client import Client
from fetcher.run.plan import affordable
from tests.conftest import pypi_route
from fetcher.standin import StandIn, World

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
TOKENS = {"POOL_ONE": "ghp_pool_token_one_AAAAAAAA", "POOL_TWO": "ghp_pool_token_two_BBBBBBBB",
          "POOL_THREE": "ghp_pool_token_three_CCCCCC"}


def row(env, remaining, reset, of=5000):
    return {"token_env": env, "resource": "core", "budget": of, "remaining": remaining, "reset": reset}


def test_capacity_is_each_tokens_points_left_less_the_reserve_and_a_next_window_only_within_the_wait():
    wait = timedelta(minutes=15)
    rows = [row("A", 1000, NOW + timedelta(minutes=40)),  # resets after the wait: what is left
            row("B", 50, NOW + timedelta(minutes=10)),  # resets within it: what is left and a whole window
            row("C", 0, NOW - timedelta(minutes=1))]  # reset already: a whole window
    def plan(envs):
        return GitHubPlan(None, None, "https://api.github.com", envs, 100, wait)

    assert plan(["A", "B", "C"]).capacity(rows, NOW) == Capacity(900 + 0 + 4900 + 4900, 3)
    assert plan(["A", "D"]).capacity(rows, NOW) is None  # D never seen: nothing to plan with


def test_the_most_overdue_that_fit_are_taken_and_the_first_that_does_not_fit_ends_the_taking():
    def github(*costs):
        return [("github", cost) for cost in costs]

    assert affordable(github(3, 3, 1, 5, 1), {"github": 7}) == (3, 5, "github", 13 - 7)
    assert affordable(github(8, 1), {"github": 7}) == (0, 2, "github", 9)  # a cheap one never jumps ahead
    assert affordable([], {"github": 7}) == (0, 0, None, 0)
    assert affordable(github(3, 3), {"github": 7}) == (2, 2, None, 0)
    # A package another host answers for costs GitHub nothing, and is taken while GitHub's fit.
    assert affordable([("github", 3), (None, 0), ("github", 3), (None, 0)], {"github": 6}) == (4, 4, None, 0)
    assert affordable([("github", 3), (None, 0), ("github", 4), (None, 0)], {"github": 6}) == (2, 4, "github", 4)
    plan = GitHubPlan(None, None, "https://api.github.com", ["A"], 100, timedelta(minutes=15))
    assert [plan.cost(None), plan.cost(0), plan.cost(5)] == [COLD_POINTS, 0, 5]


@pytest.fixture
def world(tmp_path):
    world, records = World.generate(20, seed=5, renamed=0, missing=0, empty=0, max_contributors=3, cold_stats=0)
    (tmp_path / "catalog.json").write_text(json.dumps(records))
    return world


def write_config(tmp_path, standin, extra=""):
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\npath = "store.db"\n[github]\napi_url = "{standin.url}"\ngraphql_url = "{standin.url}/graphql"\n'
        f'token_env = ["POOL_ONE", "POOL_TWO", "POOL_THREE"]\npace = false\n[pypi]\nurl = "{standin.url}"\n'
        f'[http]\nbackoff = 0\n[sync]\n{extra}'
    )
    return config


@pytest.fixture
def pool(world, tmp_path, run_cli, monkeypatch):
    """open_pool(budgets by variable, [sync] settings): the stand-in with the three tokens of those budgets,
    fetcher configured for it and the catalogue imported; yields (stand-in, config)."""
    for env, value in TOKENS.items():
        monkeypatch.setenv(env, value)

    @contextmanager
    def open_pool(budgets: dict[str, int], sync: str):
        with StandIn(world, tokens={TOKENS[env]: points for env, points in budgets.items()}, stats_delay=0) as standin:
            config = write_config(tmp_path, standin, sync)
            run_cli(config, "import", str(tmp_path / "catalog.json"))
            yield standin, config

    return open_pool


def due_order(db) -> list[str]:
    return [slug for (slug,) in db.execute("SELECT slug FROM package ORDER BY coalesce(last_fetched, ''), id")]


def test_a_run_with_budget_for_half_syncs_the_most_overdue_half_defers_the_rest_and_the_next_finishes(
    pool, tmp_path, run_cli
):
    budgets = {"POOL_ONE": 5000, "POOL_TWO": 3000, "POOL_THREE": 1000}
    with pool(budgets, 'reserve = 100\nmax_rate_limit_wait = "15m"\n') as (standin, config):
        first = run_cli(config, "sync")  # every package's cost is learnt, and each token's budget seen
        store = tmp_path / "store.db"
        with sqlite3.connect(store) as db:
            costs = dict(db.execute("SELECT slug, last_points FROM fetch_state JOIN package ON id = package_id"))
            order = due_order(db)
            half = sum(costs[slug] for slug in order[:10])
            # The pool, as the last run saw it: half the due packages' cost left above the reserves,
            # the reset an hour away (beyond max_rate_limit_wait).
            later = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
            left = {"POOL_ONE": 100 + half - 2, "POOL_TWO": 101, "POOL_THREE": 101}
            for env, remaining in left.items():
                db.execute("UPDATE rate_limit SET remaining = ?, reset = ? WHERE token_env = ? AND resource = 'core'",
                           [remaining, later, env])  # fmt: skip
        second = run_cli(config, "sync", "--stale-after", "0s")
        status = run_cli(config, "status")
        with sqlite3.connect(store) as db:
            fetched = {slug for (slug,) in db.execute(
                "SELECT slug FROM package JOIN sync_run ON sync_run.id = 2 WHERE last_fetched >= sync_run.started")}
            deferred = db.execute("SELECT deferred, packages FROM sync_run WHERE id = 2").fetchone()
            # The reset has come: the next run takes the rest.
            past = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()
            db.execute("UPDATE rate_limit SET reset = ?", [past])
        third = run_cli(config, "sync", "--stale-after", "0s")
        with sqlite3.connect(store) as db:
            fetched_third = {slug for (slug,) in db.execute(
                "SELECT slug FROM package JOIN sync_run ON sync_run.id = 3 WHERE last_fetched >= sync_run.started")}

    assert first.exit_code == 0 and all(points is not None and points >= 2 for points in costs.values())
    assert second.exit_code == 0, second.output
    assert fetched == set(order[:10])  # the most overdue half
    assert deferred == (10, 10)
    assert "10 unchanged, 0 failed, 0 skipped; 1 points; 10 deferred (the tokens' budget)" in status.output
    assert "10 of 10 packages" in second.output and "; 10 deferred to the next run: about " in second.output
    assert f"more than the {half} the pool's 3 tokens can spend before sync.max_rate_limit_wait (15m)" \
        in second.output
    assert third.exit_code == 0 and "20 of 20 packages" in third.output and "deferred" not in third.output
    assert fetched_third >= set(order[10:])  # the deferred ones, most overdue now, done


def test_a_sync_never_spends_the_reserve_and_a_refresh_may(pool, tmp_path, run_cli):
    budgets = {"POOL_ONE": 110, "POOL_TWO": 112, "POOL_THREE": 105}
    with pool(budgets, 'reserve = 100\nmax_rate_limit_wait = "1s"\nconcurrency = 4\n') as (standin, config):
        planned = run_cli(config, "sync")  # planned from what each token has left: what fits, the rest deferred
        after_plan = {env: standin.token_remaining(TOKENS[env])[0] for env in TOKENS}
        with sqlite3.connect(tmp_path / "store.db") as db:
            # A plan that believes every package free: the pool itself must stop at the reserves.
            db.execute("INSERT INTO fetch_state (package_id, last_points) SELECT id, 0 FROM package WHERE true "
                       "ON CONFLICT (package_id) DO UPDATE SET last_points = 0")
        unplanned = run_cli(config, "sync", "--all")
        kept = {env: standin.token_remaining(TOKENS[env])[0] for env in TOKENS}
        refreshed = run_cli(config, "refresh", "django-pkg19")
        after_refresh = sum(standin.token_remaining(TOKENS[env])[0] for env in TOKENS)

    # 27 points above the reserves pay for 9 of the 20 packages at 3 points each (never fetched).
    assert planned.exit_code == 0, planned.output
    assert "9 of 9 packages" in planned.output and "; 11 deferred to the next run" in planned.output
    assert all(left >= 100 for left in after_plan.values()), after_plan
    assert unplanned.exit_code == 75, unplanned.output  # the packages cost more than was left above the reserves
    assert kept == {"POOL_ONE": 100, "POOL_TWO": 100, "POOL_THREE": 100}
    assert refreshed.exit_code == 0, refreshed.output
    assert after_refresh < 300  # the person's refresh spent from the reserve


def test_a_rate_limit_answer_gives_core_and_graphql_and_leaves_out_what_is_doubtful():
    body = {  # GitHub's documented example of GET /rate_limit
        "resources": {
            "core": {"limit": 5000, "remaining": 4999, "reset": 1372700873, "used": 1},
            "search": {"limit": 30, "remaining": 18, "reset": 1372697452, "used": 12},
            "graphql": {"limit": 5000, "remaining": 4993, "reset": 1372700389, "used": 7},
        },
        "rate": {"limit": 5000, "remaining": 4999, "reset": 1372700873, "used": 1},
    }
    assert read_rate_limit(body, NOW) == [
        {"resource": "core", "budget": 5000, "remaining": 4999,
         "reset": datetime.fromtimestamp(1372700873, timezone.utc)},
        {"resource": "graphql", "budget": 5000, "remaining": 4993,
         "reset": datetime.fromtimestamp(1372700389, timezone.utc)},
    ]  # fmt: skip
    doubtful = {"resources": {
        "core": {"limit": 5000, "remaining": -1, "reset": 1372700873},
        "graphql": {"limit": 5000, "remaining": True, "reset": 1372700389},
    }}  # fmt: skip
    in_two_days = int((datetime.now(timezone.utc) + timedelta(days=2)).timestamp())
    far = {"resources": {"core": {"limit": 5000, "remaining": 10, "reset": in_two_days}}}
    huge = {"resources": {"core": {"limit": 5000, "remaining": 10, "reset": 10**30}}}
    assert read_rate_limit(doubtful, NOW) == []
    assert read_rate_limit(far, NOW) == []  # a reset days away is no budget to plan with
    assert read_rate_limit(huge, NOW) == []
    assert read_rate_limit({"resources": {"core": {"limit": 10, "remaining": 99, "reset": 0}}}, NOW)[0][
        "remaining"] == 10  # never more left than the window holds
    assert [read_rate_limit(body, NOW) for body in ([], None, {"resources": []}, {"resources": {"core": 1}})] \
        == [[], [], [], []]


def ask_unseen(tmp_path, api: str, tokens: list[tuple[str, str]], now: datetime) -> dict:
    """What GitHubPlan.ask_unseen finds, through a run's own client, with these tokens never seen before."""
    path = tmp_path / "c.toml"
    path.write_text("[http]\nbackoff = 0\ntimeout = 5\n")

    async def go():
        client = Client(load(str(path)))
        service = GitHubService(TokenPool(tokens, api_urls=(api,)), client, pace=False)
        try:
            return await GitHubPlan(client, service, api, [env for env, _ in tokens], 0, timedelta(minutes=15)) \
                .ask_unseen([], now)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_each_unseen_token_is_asked_its_budget_with_itself_and_a_bad_answer_leaves_it_out(respx_mock, tmp_path):
    now = datetime.now(timezone.utc)
    reset = int(now.timestamp()) + 1800
    good = {"resources": {"core": {"limit": 5000, "remaining": 1234, "reset": reset}}}
    answers = {"Bearer tok-one": httpx.Response(200, json=good),
               "Bearer tok-two": httpx.Response(401, json={"message": "Bad credentials"}),
               "Bearer tok-three": httpx.Response(200, content=b" " * (RATE_LIMIT_BODY_MAX + 1)),
               "Bearer tok-four": httpx.Response(302, headers={"Location": "https://elsewhere.example/"}),
               "Bearer tok-five": httpx.Response(200, content=b'{"resources": {"core": "\xff\xfe"}}'),
               "Bearer tok-six": httpx.Response(200, content=b'{"resources": {"core": {"limit": 1e999}}}')}
    route = respx_mock.get("https://api.example.com/rate_limit").mock(
        side_effect=lambda request: answers[request.headers["Authorization"]])
    tokens = [("ONE", "tok-one"), ("TWO", "tok-two"), ("THREE", "tok-three"), ("FOUR", "tok-four"),
              ("FIVE", "tok-five"), ("SIX", "tok-six")]

    found = ask_unseen(tmp_path, "https://api.example.com", tokens, now)

    assert found == {"ONE": [{"resource": "core", "budget": 5000, "remaining": 1234,
                              "reset": datetime.fromtimestamp(reset, timezone.utc)}]}
    assert [call.request.headers["Authorization"] for call in route.calls] == [f"Bearer {t}" for _, t in tokens]
    assert len(respx_mock.calls) == 6  # the redirect off the API's origin was not followed


def test_when_github_cannot_be_reached_the_budgets_are_asked_once_not_per_token(respx_mock, tmp_path):
    route = respx_mock.get("https://api.example.com/rate_limit").mock(side_effect=httpx.ConnectTimeout("timed out"))

    found = ask_unseen(tmp_path, "https://api.example.com", [("ONE", "a"), ("TWO", "b"), ("THREE", "c")],
                       datetime.now(timezone.utc))

    assert found == {} and route.call_count == 1


def test_a_first_run_asks_each_tokens_budget_and_fits_it(pool, tmp_path, run_cli):
    # Three tokens of different budgets, never seen by this store: the first sync asks what each has left
    # (GET /rate_limit, free), takes the most overdue packages that fits, defers the rest and exits 0;
    # after the reset the next run takes the rest.
    above = {"POOL_ONE": 16, "POOL_TWO": 9, "POOL_THREE": 5}  # 30 points above the reserves: 10 cold packages
    budgets = {env: 100 + points for env, points in above.items()}
    with pool(budgets, 'reserve = 100\nmax_rate_limit_wait = "15m"\n') as (standin, config):
        with sqlite3.connect(tmp_path / "store.db") as db:
            order = due_order(db)
        first = run_cli(config, "sync")
        kept = {env: standin.token_remaining(TOKENS[env])[0] for env in TOKENS}
        asked = [entry.path for entry in standin.requests if entry.path == "/rate_limit"]
        with sqlite3.connect(tmp_path / "store.db") as db:
            fetched = {slug for (slug,) in db.execute("SELECT slug FROM package WHERE last_fetched IS NOT NULL")}
            run = db.execute("SELECT packages, deferred, stopped FROM sync_run").fetchone()
            standin.refill()
            past = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()
            db.execute("UPDATE rate_limit SET reset = ?", [past])  # the hour has passed, as the refill says
        second = run_cli(config, "sync")
        with sqlite3.connect(tmp_path / "store.db") as db:
            never = db.execute("SELECT count(*) FROM package WHERE last_fetched IS NULL").fetchone()[0]

    assert first.exit_code == 0, first.output
    assert len(asked) == 3  # one GET /rate_limit per token, before anything else
    assert run == (10, 10, None)
    assert fetched == set(order[:10])  # the most overdue (here: the first imported) half
    assert "10 of 10 packages" in first.output and "; 10 deferred to the next run: about 30 points more than the " \
        "30 the pool's 3 tokens can spend" in first.output
    assert all(left >= 100 for left in kept.values()), kept  # the reserves kept
    assert second.exit_code == 0, second.output
    assert "10 of 10 packages" in second.output and "deferred" not in second.output
    assert never == 0


def test_packages_github_is_not_asked_about_cost_its_tokens_nothing(pool, tmp_path, run_cli):
    # Twenty PyPI-only packages, never fetched, and 3 points above the reserves: a plan charging each the
    # 3 points of a cold GitHub package would take one; GitHub is asked about none of them, so all are taken.
    catalogue = tmp_path / "catalog.json"
    catalogue.write_text(json.dumps([{**record, "repo_url": ""} for record in json.loads(catalogue.read_text())]))
    budgets = {"POOL_ONE": 101, "POOL_TWO": 101, "POOL_THREE": 101}
    with pool(budgets, 'reserve = 100\nmax_rate_limit_wait = "15m"\n') as (standin, config):
        synced = run_cli(config, "sync")
        github = [entry.path for entry in standin.requests if not entry.path.startswith(("/pypi/", "/simple/"))]

    assert synced.exit_code == 0, synced.output
    assert "20 of 20 packages" in synced.output and "deferred" not in synced.output
    assert github == ["/rate_limit"] * 3  # each token asked what it has left (free), and nothing else


@respx.mock
def test_rate_limit_headers_on_a_pypi_answer_are_never_a_github_budget(config_file, run_cli, respx_mock, tmp_path):
    config = config_file()
    assert run_cli(config, "add", "solo", "--repo-url", "", "--pypi-url", "https://pypi.org/project/solo/").exit_code == 0
    route = pypi_route(respx_mock, "solo", "1.0")
    reset = int((datetime.now(timezone.utc) + timedelta(minutes=30)).timestamp())
    limits = {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset),
              "X-RateLimit-Resource": "core"}
    route.mock(return_value=httpx.Response(200, json=route.return_value.json(), headers=limits))

    synced = run_cli(config, "sync")

    assert synced.exit_code == 0, synced.output
    assert "REST points left" not in synced.output
    with sqlite3.connect(tmp_path / "test.db") as db:
        assert db.execute("SELECT token_env, resource FROM rate_limit").fetchall() == []


def small_window(tmp_path, world, run_cli, monkeypatch, sync: str, **standin):
    """A store of the generated world, one token of a 40-point window (a small GitHub Enterprise), sync settings."""
    monkeypatch.setenv("POOL_ONE", TOKENS["POOL_ONE"])
    server = StandIn(world, token=TOKENS["POOL_ONE"], rate_limit=40, stats_delay=0, **standin)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\npath = "store.db"\n[github]\napi_url = "{server.url}"\ngraphql_url = "{server.url}/graphql"\n'
        f'token_env = "POOL_ONE"\npace = false\n[pypi]\nurl = "{server.url}"\n[http]\nbackoff = 0\n[sync]\n{sync}'
    )
    assert run_cli(config, "import", str(tmp_path / "catalog.json")).exit_code == 0
    return server, config


def test_a_plan_that_can_take_no_package_at_all_stops_the_sync_with_75_saying_why(tmp_path, world, run_cli, monkeypatch):
    # Its whole window (40) is no larger than the reserve (100): nothing a sync may spend, so nothing fits.
    server, config = small_window(tmp_path, world, run_cli, monkeypatch, "reserve = 100\n")
    with server:
        synced = run_cli(config, "sync")
        asked = [entry.path for entry in server.requests]

    assert synced.exit_code == 75, synced.output
    assert "0 of 20 packages" in synced.output
    assert "stopped early: none of the 20 due packages fits the budget: about 60 points more than the 0 the " \
        "pool's 1 token can spend" in synced.output
    assert asked == ["/rate_limit"]  # asked what it has left (free), and nothing else


def test_a_stored_budget_is_believed_until_its_reset_then_asked_again(tmp_path, world, run_cli, monkeypatch):
    server, config = small_window(tmp_path, world, run_cli, monkeypatch, "reserve = 0\n")
    with server:
        with sqlite3.connect(tmp_path / "store.db") as db:  # a run long ago saw the token spent to its reserve
            db.execute("INSERT INTO rate_limit VALUES ('POOL_ONE', 'core', 40, 0, '2020-01-01T00:00:00+00:00', "
                       "'2020-01-01T00:00:00+00:00')")
        synced = run_cli(config, "sync", "--limit", "5")
        asked = [entry.path for entry in server.requests if entry.path == "/rate_limit"]

    assert synced.exit_code == 0, synced.output
    assert asked == ["/rate_limit"] and "5 of 5 packages" in synced.output and "deferred" not in synced.output


def test_a_window_no_larger_than_the_reserve_passing_its_reset_mid_run_stops_the_run_never_waits_for_ever(
    tmp_path, world, run_cli, monkeypatch
):
    # No budget to plan with (a GitHub Enterprise without rate limits says so), a window of 40 points that resets
    # every 2 seconds, and a reserve of 100: once its reset passes, the token counts as full (40) and still not
    # above the reserve. The run stops with 75 saying so, instead of waiting for an answer that never comes.
    server, config = small_window(tmp_path, world, run_cli, monkeypatch, 'reserve = 100\nmax_rate_limit_wait = "10s"\n',
                                  reset_in=2.0)
    with server:
        server.fail_next("/rate_limit", 404, body={"message": "Rate limiting is not enabled."})
        synced = run_cli(config, "sync")

    assert synced.exit_code == 75, synced.output
    assert "every GitHub token's core window is no larger than sync.reserve (100)" in synced.output
