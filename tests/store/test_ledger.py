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


# -- a worker's blocks ---------------------------------------------------------------


def hold(store, worker):
    with store.db.reading():
        return store.db.one("SELECT coalesce(sum(points), 0) FROM budget_hold WHERE worker_id = ?", [worker])


def test_a_worker_takes_a_block_of_points_and_grants_its_next_requests_from_it_without_asking_the_store(store):
    from fetcher.store.ledger import SETTLE_AFTER

    worker = store.workers.begin("sync", NOW)["id"]
    store.runs.save_budgets("T", [dict(resource="core", **window(100))], NOW)
    mine = store.ledger.bound(worker, block=5)
    assert mine.reserve("T", "core", 1, 10, NOW).granted
    assert hold(store, worker) == 6 and mine.unspent == {("T", "core"): 5}
    for _ in range(5):  # granted from the block: the store holds the same points
        assert mine.reserve("T", "core", 1, 10, NOW).granted
    assert hold(store, worker) == 6 and mine.unspent == {("T", "core"): 0}

    # Settlements wait for the next transaction: the points stay held and rate_limit unwritten meanwhile.
    mine.settle("T", "core", 1, window(99), NOW)
    mine.settle("T", "core", 1, window(98), NOW + SETTLE_AFTER / 2)
    assert hold(store, worker) == 6 and seen(store) == [(100, RESET, NOW)]
    # The seventh request asks the store: the two settled in the same transaction, and another block taken.
    assert mine.reserve("T", "core", 1, 10, NOW + SETTLE_AFTER / 2).granted
    assert hold(store, worker) == 6 - 2 + 6 and seen(store) == [(98, RESET, NOW + SETTLE_AFTER / 2)]
    # Or an answer settled once the oldest waiting has waited SETTLE_AFTER.
    mine.settle("T", "core", 1, window(97), NOW + SETTLE_AFTER)
    mine.settle("T", "core", 1, window(96), NOW + 2 * SETTLE_AFTER)
    assert hold(store, worker) == 8 and seen(store) == [(96, RESET, NOW + 2 * SETTLE_AFTER)]


def test_blocks_near_the_reserve_shrink_to_the_request_and_the_workers_together_spend_to_the_reserve(store):
    one = store.workers.begin("sync", NOW)["id"]
    two = store.workers.begin("sync", NOW)["id"]
    store.runs.save_budgets("T", [dict(resource="core", **window(40))], NOW)
    first, second = store.ledger.bound(one, block=20), store.ledger.bound(two, block=20)
    assert first.reserve("T", "core", 1, 10, NOW).granted and hold(store, one) == 21  # 40 - 21 >= 10
    assert second.reserve("T", "core", 1, 10, NOW).granted and hold(store, two) == 1  # 40 - 21 - 21 < 10: alone
    granted = 2
    for worker in [second] * 8 + [first] * 25:
        granted += worker.reserve("T", "core", 1, 10, NOW).granted
    assert granted == 40 - 10 and hold(store, one) + hold(store, two) == 30  # not one point past the reserve


def test_a_refused_worker_gives_back_the_unspent_points_of_that_window(store):
    one = store.workers.begin("sync", NOW)["id"]
    two = store.workers.begin("sync", NOW)["id"]
    store.runs.save_budgets("T", [dict(resource="graphql", **window(30))], NOW)
    first = store.ledger.bound(one, block=5)
    assert first.reserve("T", "graphql", 4, 10, NOW).granted and hold(store, one) == 9
    assert store.ledger.reserve(two, "T", "graphql", 10, 10, NOW).granted  # 30 - 9 - 10 >= 10: the other's
    first.settle("T", "graphql", 4, window(26), NOW)
    # 5 unspent cannot pay 7, and 26 - (5 + 10) - 2 < 10: refused, and the 5 released with the settled 4.
    assert first.reserve("T", "graphql", 7, 10, NOW) == View(False, 60, 26, RESET, 10)
    assert hold(store, one) == 0 and first.unspent == {("T", "graphql"): 0}
