"""The fleet's budget ledger: a request's points reserved only while the window less what live workers hold keeps the
reserve; a dead worker's holds counted no more; answers' budgets kept in rate_limit as they come, the newest
window's lowest count winning."""

from datetime import datetime, timedelta, timezone

import pytest

from fetcher.errors import RunStopped
from fetcher.store import open_store
from fetcher.store.ledger import View, decide, newer
from fetcher.store.workers import LEASE
from tests.conftest import BOTH_BACKENDS

pytestmark = BOTH_BACKENDS

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
RESET = NOW + timedelta(minutes=30)


def window(remaining, reset=RESET, budget=60):
    return {"budget": budget, "remaining": remaining, "reset": reset}


# -- the decision, over values -------------------------------------------------------


def test_a_reservation_is_granted_while_the_window_less_the_held_less_the_points_keeps_the_reserve():
    assert decide(window(60), 0, 50, 10, NOW) == View(True, 60, 60, RESET, 0)
    assert decide(window(60), 49, 1, 10, NOW) == View(True, 60, 60, RESET, 49)
    assert decide(window(60), 50, 1, 10, NOW) == View(False, 60, 60, RESET, 50)
    assert decide(window(11), 0, 1, 10, NOW) == View(True, 60, 11, RESET, 0)
    assert decide(window(10), 0, 1, 10, NOW) == View(False, 60, 10, RESET, 0)  # down to the reserve
    assert decide(window(10), 0, 1, 0, NOW) == View(True, 60, 10, RESET, 0)  # a refresh keeps none
    assert decide(window(1), 0, 1, 0, NOW).granted and not decide(window(0), 0, 1, 0, NOW).granted
    assert decide(window(40), 0, 5, 10, NOW).granted and not decide(window(40), 26, 5, 10, NOW).granted


def test_an_unknown_window_is_granted_and_one_past_its_reset_counts_whole_less_the_held():
    assert decide(None, 0, 1, 10, NOW) == View(True, None, None, None, 0)
    assert decide(None, 500, 1, 10, NOW).granted  # nothing to check against
    past = NOW - timedelta(seconds=1)
    assert decide(window(0, past), 0, 1, 10, NOW) == View(True, 60, 60, past, 0)
    assert decide(window(0, past), 50, 1, 10, NOW) == View(False, 60, 60, past, 50)
    assert decide(window(0, NOW), 0, 1, 10, NOW).granted  # a reset at this very moment has come


def test_the_newest_windows_lowest_count_is_the_one_kept():
    assert newer(None, window(59))
    assert newer(window(59), window(58)) and newer(window(59), window(59))
    assert not newer(window(58), window(59))  # an answer overtaken by a later one: it says more was left
    assert newer(window(3), window(59, RESET + timedelta(hours=1)))  # a new window
    assert not newer(window(3, RESET + timedelta(hours=1)), window(0))  # the old window's last answer


# -- on the store --------------------------------------------------------------------


@pytest.fixture
def store(store_at):
    with open_store(store_at) as store:
        yield store


def seen(store, token_env="T", resource="core"):
    return [(row["remaining"], row["reset"], row["seen_at"]) for row in store.runs.budgets()
            if (row["token_env"], row["resource"]) == (token_env, resource)]


def test_workers_together_never_hold_past_the_window_less_the_reserve(store):
    one = store.workers.begin("sync", NOW)["id"]
    two = store.workers.begin("sync", NOW)["id"]
    store.runs.save_budgets("T", [dict(resource="core", **window(60))], NOW)
    ledger = store.ledger
    assert ledger.reserve(one, "T", "core", 30, 10, NOW).granted
    assert ledger.reserve(two, "T", "core", 20, 10, NOW) == View(True, 60, 60, RESET, 30)
    refused = ledger.reserve(two, "T", "core", 1, 10, NOW)
    assert refused == View(False, 60, 60, RESET, 50)  # the fleet's view: 60 left, 50 of it held
    assert ledger.reserve(two, "T", "core", 1, 0, NOW).granted  # a refresh may spend the reserve
    assert ledger.held(NOW) == {("T", "core"): 51}
    assert ledger.reserve(one, "T", "graphql", 5, 10, NOW).granted  # another window: unknown, granted

    # An answer to a request of two's: its hold released, the window it reported kept at once.
    ledger.settle(two, "T", "core", 20, window(39), NOW + timedelta(seconds=1))
    assert seen(store) == [(39, RESET, NOW + timedelta(seconds=1))]
    assert ledger.held(NOW) == {("T", "core"): 31, ("T", "graphql"): 5}
    assert ledger.reserve(two, "T", "core", 1, 10, NOW) == View(False, 60, 39, RESET, 31)  # 39 - 31 - 1 < 10
    # An answer that was overtaken (it says more was left) changes nothing but the holds.
    ledger.settle(one, "T", "core", 30, window(45), NOW + timedelta(seconds=2))
    assert seen(store) == [(39, RESET, NOW + timedelta(seconds=1))]
    assert ledger.held(NOW) == {("T", "core"): 1, ("T", "graphql"): 5}
    assert ledger.reserve(two, "T", "core", 28, 10, NOW).granted  # 39 - 1 - 28 = 10
    # A failure settles without a budget: the hold goes, the window stays as last reported.
    ledger.settle(two, "T", "core", 29, None, NOW)
    ledger.settle(one, "T", "graphql", 5, None, NOW)
    assert ledger.held(NOW) == {}
    with store.db.reading():
        assert store.db.one("SELECT sum(points) FROM budget_hold") == 0  # rows at 0 go with their worker


def test_a_dead_workers_holds_count_no_more_once_its_lease_has_passed(store):
    dead = store.workers.begin("sync", NOW)["id"]
    store.runs.save_budgets("T", [dict(resource="core", **window(60, NOW + timedelta(hours=1)))], NOW)
    assert store.ledger.reserve(dead, "T", "core", 45, 10, NOW).granted
    later = NOW + LEASE - timedelta(seconds=1)
    live = store.workers.begin("sync", later)["id"]
    assert not store.ledger.reserve(live, "T", "core", 10, 10, later).granted  # the first still lives
    past = NOW + LEASE + timedelta(seconds=1)  # the first never renewed: its requests are gone with it
    store.workers.renew(live, past)
    assert store.ledger.held(past) == {}
    assert store.ledger.reserve(live, "T", "core", 50, 10, past) == View(True, 60, 60, NOW + timedelta(hours=1), 0)
    assert store.workers.begin("sync", past)  # the next to begin deletes the dead row, and its holds
    with store.db.reading():
        assert store.db.select("SELECT worker_id, points FROM budget_hold") == [{"worker_id": live, "points": 50}]


def test_a_worker_whose_row_another_ended_reserves_nothing(store):
    gone = store.workers.begin("sync", NOW)["id"]
    store.workers.end(gone)
    with pytest.raises(RunStopped, match="lease passed"):
        store.ledger.reserve(gone, "T", "core", 1, 10, NOW)


def test_a_runs_budgets_saved_at_its_end_never_go_over_a_newer_lower_count(store):
    store.runs.save_budgets("T", [dict(resource="core", **window(20))], NOW)
    store.runs.save_budgets("T", [dict(resource="core", **window(35))], NOW + timedelta(seconds=5))
    assert seen(store) == [(20, RESET, NOW)]  # another worker's answers came later and said less
    later = RESET + timedelta(hours=1)
    store.runs.save_budgets("T", [dict(resource="core", **window(5000, later, budget=5000))], RESET)
    assert seen(store) == [(5000, later, RESET)]


def test_a_window_another_program_stored_unreadably_or_resetting_past_any_answers_is_unknown_and_replaced(store):
    worker = store.workers.begin("sync", NOW)["id"]
    for reset in ("tomorrow", "9999-12-31T00:00:00+00:00"):
        with store.db.write():
            store.db.execute("DELETE FROM rate_limit")
            store.db.execute("INSERT INTO rate_limit VALUES ('T', 'core', 60, 0, ?, ?)", [reset, NOW.isoformat()])
        assert store.ledger.reserve(worker, "T", "core", 1, 10, NOW) == View(True, None, None, None, 0)
        store.ledger.settle(worker, "T", "core", 1, window(59), NOW)
        assert seen(store) == [(59, RESET, NOW)]


def test_the_ledgers_plausible_reset_is_the_answers():
    from fetcher.net.answer import PLAUSIBLE_WAIT
    from fetcher.store.ledger import PLAUSIBLE_RESET

    assert PLAUSIBLE_RESET == PLAUSIBLE_WAIT
