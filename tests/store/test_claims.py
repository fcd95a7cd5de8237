"""Claims: packages taken in due order by one worker at a time, released, and a dead worker's taken once its lease
has passed (store/claims.py), on both backends; PostgreSQL's claimers skip rows another holds, never waiting."""

from datetime import datetime, timedelta, timezone

import pytest

from fetcher.record import validate
from fetcher.store import Store, open_store
from fetcher.store.postgres import connect
from tests.conftest import BOTH_BACKENDS, POSTGRESQL_ONLY

pytestmark = BOTH_BACKENDS

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
LEASE = timedelta(seconds=90)


def record(slug: str) -> dict:
    return validate({"slug": slug, "title": slug, "repo_url": f"https://github.com/o/{slug}", "pypi_url": ""}, "t")


@pytest.fixture
def store(store_at):
    store = open_store(store_at)
    store.catalogue.import_records([record(f"p{n}") for n in range(10)], NOW)
    yield store
    store.close()


def ids(store: Store) -> list[int]:
    return [row["id"] for row in store.schedule.walk()]


def claims(store: Store) -> dict[int, tuple[int, str, int]]:
    return {row["package_id"]: (row["claimed_by"], row["claimed_until"], row["points"])
            for row in store.db.select("SELECT * FROM claim")}


def test_claims_are_taken_in_the_order_given_and_two_workers_get_disjoint_sets(store):
    first, second = store.workers.begin("sync", NOW)["id"], store.workers.begin("sync", NOW)["id"]
    every = ids(store)

    taken = store.claims.take(first, [(package, 3) for package in every[:6]], NOW, LEASE)
    rest = store.claims.take(second, [(package, 1) for package in every], NOW, LEASE)

    assert taken == every[:6]
    assert rest == every[6:]
    held = claims(store)
    assert {package: by for package, (by, _, _) in held.items()} == {
        **dict.fromkeys(every[:6], first), **dict.fromkeys(every[6:], second)}
    assert {points for _, _, points in held.values()} == {3, 1}
    assert held[every[0]][1] == "2026-12-07T12:01:30.000000+00:00"  # now + the lease
    assert store.db.one("SELECT claimed FROM worker WHERE id = ?", [first]) == 6
    assert (store.claims.held(first), store.claims.others(first)) == (6, 4)
    assert store.claims.others_points(second, NOW) == 18  # the first worker's, live: what the fleet plan leaves it


def test_a_claim_whose_lease_has_passed_is_taken_by_another_worker(store):
    dead = store.workers.begin("sync", NOW)["id"]
    every = ids(store)
    assert store.claims.take(dead, [(package, 0) for package in every[:3]], NOW, LEASE) == every[:3]
    later = NOW + LEASE
    other = store.workers.begin("sync", later - timedelta(seconds=1))["id"]

    assert store.claims.take(other, [(package, 0) for package in every[:3]], later - timedelta(seconds=1),
                             LEASE) == []  # still held
    assert store.claims.holder(every[:3], other, later - timedelta(seconds=1))["pid"] > 0
    assert store.claims.take(other, [(package, 0) for package in every[:3]], later, LEASE) == every[:3]
    assert {by for by, _, _ in claims(store).values()} == {other}
    assert store.claims.others_points(other, later) == 0  # the dead worker's expect nothing of the budgets


def test_a_package_attempted_in_the_pass_is_not_claimed_again(store):
    worker = store.workers.begin("sync", NOW)["id"]
    every = ids(store)
    store.db.execute("INSERT INTO fetch_state (package_id, last_attempt) VALUES (?, ?)",
                     [every[0], "2026-12-07T12:00:05.000000+00:00"])
    store.db.execute("INSERT INTO fetch_state (package_id, last_attempt) VALUES (?, ?)",
                     [every[1], "2026-12-07T11:59:59.000000+00:00"])

    taken = store.claims.take(worker, [(package, 0) for package in every[:3]], NOW, LEASE, begun=NOW)

    assert taken == every[1:3]  # the first was attempted after the pass began: by another worker, in this pass


def test_releases_give_up_the_workers_own_claims_only_and_its_end_all_of_them(store):
    first, second = store.workers.begin("sync", NOW)["id"], store.workers.begin("sync", NOW)["id"]
    every = ids(store)
    store.claims.take(first, [(package, 0) for package in every[:4]], NOW, LEASE)
    store.claims.take(second, [(package, 0) for package in every[4:6]], NOW, LEASE)

    store.claims.release(first, [every[0], every[1], every[4]])  # every[4] is the second's: left alone
    assert sorted(claims(store)) == [every[2], every[3], every[4], every[5]]
    store.claims.release_all(first)
    assert sorted(claims(store)) == [every[4], every[5]]
    store.workers.end(second)
    assert claims(store) == {}


def test_a_workers_own_claim_is_renewed_not_counted_twice(store):
    worker = store.workers.begin("sync", NOW)["id"]
    every = ids(store)
    store.claims.take(worker, [(every[0], 0)], NOW, LEASE)

    assert store.claims.take(worker, [(every[0], 5), (every[1], 0)], NOW + LEASE, LEASE) == every[:2]

    assert claims(store)[every[0]] == (worker, "2026-12-07T12:03:00.000000+00:00", 5)
    assert store.db.one("SELECT claimed FROM worker WHERE id = ?", [worker]) == 2


def test_a_removed_package_is_not_claimed_and_its_claim_goes_with_it(store):
    worker = store.workers.begin("sync", NOW)["id"]
    every = ids(store)
    store.claims.take(worker, [(every[0], 0)], NOW, LEASE)
    store.catalogue.remove(["p0", "p1"])

    assert store.claims.take(worker, [(every[1], 0), (every[2], 0)], NOW, LEASE) == [every[2]]
    assert list(claims(store)) == [every[2]]


@POSTGRESQL_ONLY  # SQLite's claimers take the store's write lock, one after another
def test_on_postgresql_a_claimer_holding_its_transaction_open_blocks_no_other(store):
    other = Store(connect(store.db.location))
    # Were the second claimer to wait for the first's rows, it would fail after a second, not hang the suite.
    other.db.execute("SELECT set_config('lock_timeout', '1s', false)")
    first, second = store.workers.begin("sync", NOW)["id"], store.workers.begin("sync", NOW)["id"]
    every = ids(store)
    try:
        with store.db.claiming():
            held = store.claims._take(first, [(package, 0) for package in every[:5]], NOW, LEASE, None)
            # Its transaction is open, its claims not yet committed: the other skips those rows, waiting for none.
            rest = other.claims.take(second, [(package, 0) for package in every], NOW, LEASE)
            assert other.claims.take(second, [(every[0], 0)], NOW, LEASE) == []
        assert held == every[:5]
        assert rest == every[5:]
        # Committed now: the first's claims hold against the second.
        assert other.claims.take(second, [(package, 0) for package in every[:5]], NOW, LEASE) == []
        # A package's write holds its row: a claimer passes it over rather than wait behind the write.
        with store.db.write():
            store.db.execute("UPDATE package SET title = 'x' WHERE id = ?", [every[0]])
            assert other.claims.take(second, [(every[0], 0)], NOW + 2 * LEASE, LEASE) == []
        assert other.claims.take(second, [(every[0], 0)], NOW + 2 * LEASE, LEASE) == [every[0]]
    finally:
        other.close()


def test_a_workers_pass_began_with_the_first_of_the_live_workers_never_earlier(store):
    hour = timedelta(hours=1)
    first = store.workers.begin("sync", NOW, hour)
    second = store.workers.begin("sync", NOW + timedelta(minutes=10), hour)
    store.workers.end(first["id"])
    third = store.workers.begin("sync", NOW + timedelta(minutes=20), hour)

    assert first["pass_started"] == second["pass_started"] == "2026-12-07T12:00:00.000000+00:00"
    # The second's start, not the pass it joined: workers that overlap one after another do not hold one pass for
    # ever (what the first fetched would never be taken again, however due).
    assert third["pass_started"] == "2026-12-07T12:10:00.000000+00:00"
