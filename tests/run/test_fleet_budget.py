"""Two workers on one store share one token's budget through the store's ledger: together they never spend past the
window less sync.reserve, rate_limit says what the answers reported while they run, and a refresh may then spend
the reserve (counted at a mock GitHub, respx, that keeps the token's window); a plan counts what live workers hold
as spent."""

import re
import threading
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import respx

from fetcher.config import load
from fetcher.hosts.base import Capacity
from fetcher.hosts.github.budget import GitHubPlan
from fetcher.record import validate
from fetcher.run import loop, plan
from fetcher.store import open_store
from fetcher.store.workers import LEASE
from tests.conftest import BOTH_BACKENDS, POSTGRESQL_ONLY, commits_body, contributor_objects, repo_body

pytestmark = BOTH_BACKENDS

TOKEN_ENV, TOKEN = "FLEET_TOKEN", "ghp_fleet_token_DDDDDDDDDDDD"
BUDGET, RESERVE = 60, 10
PACKAGES = 30  # 4 REST points each without GraphQL: far more than the window, for each worker alone


def record(number: int) -> dict:
    return {"slug": f"pkg{number}", "title": f"pkg{number}", "repo_url": f"https://github.com/owner/pkg{number}",
            "pypi_url": "", "created": "2020-01-01T00:00:00+00:00", "modified": "2020-01-01T00:00:00+00:00"}


class GitHub:
    """GitHub's REST answers for any owner/pkgN, each charged to one window of BUDGET points, as GitHub's headers
    say; GET /rate_limit free. Answers come from two workers' threads at once."""

    def __init__(self, on_charge):
        self.lock = threading.Lock()
        self.spent = 0
        self.reset = int((datetime.now(timezone.utc) + timedelta(hours=1)).timestamp())
        self.on_charge = on_charge  # called with each charged request's number, before it is answered

    def headers(self, remaining: int) -> dict:
        return {"x-ratelimit-limit": str(BUDGET), "x-ratelimit-remaining": str(remaining),
                "x-ratelimit-reset": str(self.reset), "x-ratelimit-resource": "core"}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        path = request.url.path
        if path == "/rate_limit":
            with self.lock:
                left = BUDGET - self.spent
            window = {"limit": BUDGET, "remaining": left, "reset": self.reset}
            return httpx.Response(200, json={"resources": {"core": window, "graphql": window}})
        with self.lock:
            if self.spent == BUDGET:
                return httpx.Response(403, json={"message": "API rate limit exceeded"}, headers=self.headers(0))
            self.spent += 1
            number, left = self.spent, BUDGET - self.spent
        self.on_charge(number)
        full_name = re.match(r"/repos/([^/]+/[^/]+)", path).group(1)
        if path.endswith("/contributors"):
            body = contributor_objects(["alice"])
        elif path.endswith("/stats/participation"):
            body = {"all": [1] * 52, "owner": [0] * 52}
        elif path.endswith("/commits"):
            body = commits_body("2026-02-11T13:53:49Z")
        else:
            body = repo_body(full_name, forks=1, stars=2, description="A package.")
        return httpx.Response(200, json=body, headers=self.headers(left))


@pytest.fixture
def fleet(config_file, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    config = load(str(config_file(
        f'[sync]\nreserve = {RESERVE}\nmax_rate_limit_wait = "1s"\nconcurrency = 2\n',
        github=f'token_env = ["{TOKEN_ENV}"]\ngraphql = false\n')))
    with open_store(config.store) as store:
        store.catalogue.import_records([validate(record(n), "test") for n in range(PACKAGES)],
                                       datetime.now(timezone.utc))
    return config


def window_left(location) -> int | None:
    """What rate_limit says the token's core window has left, as another worker would read it now."""
    with open_store(location, read_only=True) as store:
        return next((row["remaining"] for row in store.runs.budgets()
                     if (row["token_env"], row["resource"]) == (TOKEN_ENV, "core")), None)


# Several workers at once: a SQLite store has one run at a time (its flock), and a worker row found there is a
# dead run's.
@POSTGRESQL_ONLY
def test_two_workers_never_spend_past_the_window_less_the_reserve_together(fleet):
    config = fleet
    with open_store(config.store) as watcher:
        seen_meanwhile: list = []
        github = GitHub(lambda number: seen_meanwhile.append((number, window_left(config.store))))
        start = threading.Barrier(2, timeout=120)
        reports: list = [None, None]

        def worker(index: int) -> None:
            try:
                with open_store(config.store) as store:
                    due = store.schedule.due(None, None)
                    start.wait()
                    reports[index] = loop.run(store, due, config, "sync", fit_budget=True)
            except Exception as exc:  # said below, rather than lost in the thread
                reports[index] = exc

        with respx.mock(assert_all_called=False) as mock:
            mock.route(host="api.github.com").mock(side_effect=github)
            threads = [threading.Thread(target=worker, args=(index,)) for index in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            synced_spent = github.spent
            after_syncs = window_left(config.store)
            with watcher.db.reading():
                runs = watcher.db.select("SELECT worker_id, stopped FROM sync_run ORDER BY id")
                holds = watcher.db.one("SELECT coalesce(sum(points), 0) FROM budget_hold")

            # A person's refresh may spend the reserve the syncs kept.
            with open_store(config.store) as store:
                refreshed = loop.run(store, store.catalogue.packages(["pkg0"]), config, "refresh")

    # Together, never past the window less the reserve; and each alone wanted more than that, so they spent it all.
    assert synced_spent == BUDGET - RESERVE
    # Each ended by the rate limit, or (started after the other had spent it) by a plan that found nothing to take.
    assert all(isinstance(report, loop.RunReport) and report.stopped for report in reports), reports
    assert after_syncs == RESERVE
    assert len(runs) == 2 and runs[0]["worker_id"] != runs[1]["worker_id"]
    assert holds == 0  # every hold settled, or gone with its worker
    # rate_limit said what the answers reported while the workers ran, not only at their end.
    assert any(left is not None and left < BUDGET - 5 for number, left in seen_meanwhile if number <= synced_spent)
    assert refreshed.stopped is None and refreshed.failures == [] and sum(refreshed.outcomes.values()) == 1
    assert github.spent > BUDGET - RESERVE and window_left(config.store) == BUDGET - github.spent


def test_a_plan_counts_what_live_workers_hold_as_spent(store_at):
    now = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
    reset = now + timedelta(minutes=40)
    with open_store(store_at) as store:
        store.runs.save_budgets("A", [{"resource": "core", "budget": 5000, "remaining": 1000, "reset": reset}], now)
        store.runs.save_budgets("B", [{"resource": "core", "budget": 5000, "remaining": 300, "reset": reset}], now)
        one = store.workers.begin("sync", now)["id"]
        two = store.workers.begin("sync", now)["id"]
        for worker, env, points in ((one, "A", 30), (two, "A", 12), (two, "B", 250)):
            assert store.ledger.reserve(worker, env, "core", points, 0, now).granted
        budgets = plan.believed(store, now)
        after_lease = plan.believed(store, now + LEASE)  # both stopped renewing: their holds count no more

    assert [(row["token_env"], row["remaining"], row["held"]) for row in budgets] == [("A", 1000, 42), ("B", 300, 250)]
    github = GitHubPlan(None, None, "https://api.github.com", ["A", "B"], 100, timedelta(minutes=15))
    assert github.capacity(budgets, now) == Capacity(1000 - 42 - 100 + 0, 2)  # B: 300 - 250 is under the reserve
    assert [row["held"] for row in after_lease] == [0, 0]
    assert github.capacity(after_lease, now) == Capacity(900 + 200, 2)
