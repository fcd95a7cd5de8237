"""The token pool with the fleet's ledger: each request's points reserved before it is sent and settled with the
budget its answer reported; a refusal taken as the pool's view, the token waiting while workers hold points of it
or resting until its reset when it is down to the reserve with nothing held."""

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from fetcher.errors import RateLimited, RunStopped, StoreUnavailable
from fetcher.hosts.github.tokens import AllRested, TokenPool
from fetcher.net.answer import Budget
from fetcher.net.request import Request
from fetcher.store.ledger import decide
from tests.conftest import Clock

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
RESET = NOW + timedelta(minutes=40)
URL = "https://api.github.com/repos/o/r"


class Ledger:
    """A ledger of values: one window per (token, resource), the points other workers hold, each call kept."""

    def __init__(self, windows: dict, others: int = 0):
        self.windows = windows
        self.others = others  # points other workers hold of every window
        self.mine: dict = {}
        self.calls: list[tuple] = []

    def reserve(self, token_env, resource, points, keep, now):
        key = (token_env, resource)
        view = decide(self.windows.get(key), self.others + self.mine.get(key, 0), points, keep, now)
        self.calls.append(("reserve", token_env, resource, points, keep, view.granted))
        if view.granted:
            self.mine[key] = self.mine.get(key, 0) + points
        return view

    def settle(self, token_env, resource, points, seen, now):
        key = (token_env, resource)
        self.calls.append(("settle", token_env, resource, points, seen and seen["remaining"]))
        self.mine[key] -= points
        if seen is not None:
            self.windows[key] = seen


class FakeClient:
    def __init__(self, max_wait: timedelta = timedelta(seconds=1)):
        self.clock = Clock(NOW)
        self.max_wait = max_wait

    async def wait_until(self, until, failure):
        if until - self.clock() > self.max_wait:
            raise failure
        self.clock.now = until


def answering(pool, remaining, sent: list, resource="core"):
    """An attempt that answers with `remaining` left in the window, as GitHub's headers say."""
    async def attempt(credential):
        sent.append(credential.token.env)
        await asyncio.sleep(0)
        credential.observe(200, Budget(resource, 60, remaining, RESET), 1, False)
        return credential.token.env

    return attempt


def window(remaining, budget=60, reset=RESET):
    return {"budget": budget, "remaining": remaining, "reset": reset}


def test_a_request_is_reserved_before_it_is_sent_and_settled_with_what_its_answer_reported():
    ledger = Ledger({("ONE", "core"): window(60)})
    pool = TokenPool([("ONE", "ghp_one")], reserve=10, ledger=ledger)
    sent: list = []
    client = FakeClient()
    assert asyncio.run(pool.send(Request(URL, "repo"), answering(pool, 57, sent), "core", client)) == "ONE"
    assert ledger.calls == [("reserve", "ONE", "core", 1, 10, True), ("settle", "ONE", "core", 1, 57)]
    assert ledger.mine == {("ONE", "core"): 0} and pool.tokens[0].in_flight["core"] == 0

    # A GraphQL query is reserved at what the last one reported it cost.
    pool.spend("ONE", "graphql", 7)
    asyncio.run(pool.send(Request(URL, "graphql"), answering(pool, 40, sent, "graphql"), "graphql", client))
    assert ledger.calls[2:] == [("reserve", "ONE", "graphql", 7, 10, True), ("settle", "ONE", "graphql", 7, 40)]


def test_a_failure_settles_the_hold_without_a_budget():
    ledger = Ledger({})
    pool = TokenPool([("ONE", "ghp_one")], reserve=0, ledger=ledger)

    async def failing(credential):
        raise OSError("reset by peer")

    with pytest.raises(OSError):
        asyncio.run(pool.send(Request(URL, "repo"), failing, "core", FakeClient()))
    assert ledger.calls == [("reserve", "ONE", "core", 1, 0, True), ("settle", "ONE", "core", 1, None)]


def test_a_token_other_workers_hold_points_of_waits_for_them_then_goes_on():
    ledger = Ledger({("ONE", "core"): window(30)}, others=20)  # 30 - 20 - 1 < 10: refused while they hold
    pool = TokenPool([("ONE", "ghp_one")], reserve=10, ledger=ledger)
    asked: list = []
    real = ledger.reserve

    def reserve(*args):
        view = real(*args)
        asked.append(view.granted)
        if not view.granted:
            ledger.others = 0  # the other workers' answers come in (they settle)
        return view

    ledger.reserve = reserve
    sent: list = []
    assert asyncio.run(pool.send(Request(URL, "repo"), answering(pool, 28, sent), "core", FakeClient())) == "ONE"
    assert asked == [False, True] and sent == ["ONE"]  # asked again after the poll, then sent once
    token = pool.tokens[0]
    assert token.budgets["core"] == Budget("core", 60, 28, RESET) and not token.held_elsewhere


def test_a_refused_token_down_to_the_reserve_with_nothing_held_rests_until_its_reset_within_the_allowed_wait():
    ledger = Ledger({("ONE", "core"): window(10)})  # another worker's answers brought it down to the reserve
    pool = TokenPool([("ONE", "ghp_one")], reserve=10, ledger=ledger)
    pool.saw(pool.tokens[0], Budget("core", 60, 45, RESET), charged=1, refused=False)  # this worker's last answer
    sent: list = []
    with pytest.raises(RateLimited) as limited:  # its reset is 40 minutes away, beyond the allowed wait
        asyncio.run(pool.send(Request(URL, "repo"), answering(pool, 9, sent), "core", FakeClient()))
    assert limited.value.reset_at == RESET and sent == []
    token = pool.tokens[0]
    assert token.budgets["core"].remaining == 10 and token.resting_until["core"] == RESET  # the fleet's view
    with pytest.raises(AllRested):
        pool.choose("core", NOW)

    # Within the allowed wait, it waits for the reset and goes on in the new window.
    client = FakeClient(max_wait=timedelta(hours=1))
    assert asyncio.run(pool.send(Request(URL, "repo"), answering(pool, 59, sent), "core", client)) == "ONE"
    assert client.clock() == RESET and sent == ["ONE"]


def test_a_refresh_keeps_no_reserve_of_the_fleets_windows():
    ledger = Ledger({("ONE", "core"): window(10)})
    pool = TokenPool([("ONE", "ghp_one")], reserve=0, ledger=ledger)
    sent: list = []
    asyncio.run(pool.send(Request(URL, "repo"), answering(pool, 9, sent), "core", FakeClient()))
    assert sent == ["ONE"] and ledger.calls[0] == ("reserve", "ONE", "core", 1, 0, True)


def test_a_whole_window_that_cannot_pay_a_request_stops_the_run_rather_than_waiting_for_ever():
    ledger = Ledger({("ONE", "graphql"): window(0, budget=12, reset=NOW - timedelta(seconds=1))})
    pool = TokenPool([("ONE", "ghp_one")], reserve=10, ledger=ledger)
    pool.spend("ONE", "graphql", 5)
    with pytest.raises(RunStopped, match=r"whole graphql window of \$ONE \(12 points\) cannot pay 5 points"):
        asyncio.run(pool.send(Request(URL, "graphql"), answering(pool, 0, [], "graphql"), "graphql", FakeClient()))


def test_a_reservation_the_store_cannot_make_leaves_nothing_in_flight():
    class Unavailable(Ledger):
        def reserve(self, *args):
            raise StoreUnavailable("store: cannot write the store: locked")

    pool = TokenPool([("ONE", "ghp_one")], reserve=10, ledger=Unavailable({}))
    with pytest.raises(StoreUnavailable):
        asyncio.run(pool.send(Request(URL, "repo"), answering(pool, 50, []), "core", FakeClient()))
    assert pool.tokens[0].in_flight["core"] == 0
