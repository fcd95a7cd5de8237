"""pacing: requests spaced under GitHub's secondary limits, per endpoint, on a fake clock."""

import asyncio
from bisect import bisect_left

import pytest

from fetcher.hosts.github.pacing import GRAPHQL_POINTS_PER_MINUTE, HEADROOM, MAX_CONCURRENT, REST_POINTS_PER_MINUTE, Pacer

REST_INTERVAL = 60 / (900 * 0.9)  # 0.0740… s: 810 a minute
GRAPHQL_INTERVAL = 60 / (2000 * 0.9)  # 0.0333… s: 1,800 a minute


class FakeTime:
    """A clock that moves only when told to, and a sleep that records how long it was asked for."""

    def __init__(self, advance_on_sleep: bool):
        self.now = 0.0
        self.slept: list[float] = []
        self.advance_on_sleep = advance_on_sleep

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.advance_on_sleep:
            self.now += seconds


def run(coro):
    return asyncio.run(coro)


def most_in_any_window(starts: list[float], window: float = 60.0) -> int:
    """The most start times that fall in any half-open window [t, t + window)."""
    starts = sorted(starts)
    # The busiest window can always be slid right until it opens on a start.
    return max(bisect_left(starts, s + window) - i for i, s in enumerate(starts))


def test_published_limits():
    assert (REST_POINTS_PER_MINUTE, GRAPHQL_POINTS_PER_MINUTE, HEADROOM, MAX_CONCURRENT) == (900, 2000, 0.9, 100)


def test_rest_requests_to_one_endpoint_are_spaced_at_90_percent_of_900_a_minute():
    time = FakeTime(advance_on_sleep=True)
    pacer = Pacer(time.sleep, time.clock)

    async def five():
        starts = []
        for _ in range(5):
            await pacer.wait_turn("repo")
            starts.append(time.now)
        return starts

    starts = run(five())
    assert time.slept == pytest.approx([REST_INTERVAL] * 4, rel=1e-12)
    assert starts == pytest.approx([0, REST_INTERVAL, 2 * REST_INTERVAL, 3 * REST_INTERVAL, 4 * REST_INTERVAL],
                                   rel=1e-12)
    assert REST_INTERVAL == pytest.approx(0.074074074, rel=1e-8)


def test_graphql_queries_are_spaced_at_90_percent_of_2000_a_minute():
    time = FakeTime(advance_on_sleep=True)
    pacer = Pacer(time.sleep, time.clock)

    async def four():
        for _ in range(4):
            await pacer.wait_turn("graphql")

    run(four())
    assert time.slept == pytest.approx([GRAPHQL_INTERVAL] * 3, rel=1e-12)
    assert GRAPHQL_INTERVAL == pytest.approx(1 / 30, rel=1e-12)


def test_concurrent_callers_each_get_the_next_slot():
    time = FakeTime(advance_on_sleep=False)  # the clock stands still: all ask at the same instant
    pacer = Pacer(time.sleep, time.clock)

    async def together():
        await asyncio.gather(*(pacer.wait_turn("contributors") for _ in range(4)))

    run(together())
    assert sorted(time.slept) == pytest.approx([REST_INTERVAL, 2 * REST_INTERVAL, 3 * REST_INTERVAL], rel=1e-12)


def test_separate_endpoints_do_not_wait_for_each_other():
    time = FakeTime(advance_on_sleep=False)
    pacer = Pacer(time.sleep, time.clock)

    async def one_each():
        for endpoint in ("repo", "contributors", "participation", "commits", "graphql"):
            await pacer.wait_turn(endpoint)

    run(one_each())
    assert time.slept == []

    async def second_round():
        await pacer.wait_turn("graphql")
        await pacer.wait_turn("repo")
        await pacer.wait_turn("commits")

    run(second_round())
    assert time.slept == pytest.approx([GRAPHQL_INTERVAL, REST_INTERVAL, REST_INTERVAL], rel=1e-12)


def test_a_request_after_an_idle_spell_does_not_wait():
    time = FakeTime(advance_on_sleep=True)
    pacer = Pacer(time.sleep, time.clock)

    async def spell():
        await pacer.wait_turn("repo")
        await pacer.wait_turn("repo")
        time.now += 100
        await pacer.wait_turn("repo")

    run(spell())
    assert time.slept == pytest.approx([REST_INTERVAL], rel=1e-12)


def test_a_request_that_comes_after_its_slot_does_not_wait():
    time = FakeTime(advance_on_sleep=False)
    pacer = Pacer(time.sleep, time.clock)

    async def late():
        await pacer.wait_turn("repo")
        time.now = REST_INTERVAL * 1.5  # later than the reserved next slot
        await pacer.wait_turn("repo")
        await pacer.wait_turn("repo")  # its slot is one interval after the previous start

    run(late())
    assert time.slept == pytest.approx([REST_INTERVAL], rel=1e-9)


def test_window_counter_sees_a_burst():
    # The check below would catch unpaced starts.
    assert most_in_any_window([0.0] * 2000) == 2000
    assert most_in_any_window([0.0, 59.999, 60.0]) == 2


def simulate(endpoint: str, arrivals: list[float]) -> list[float]:
    """Each call arrives at its time (the clock stands there) and starts when its sleep would end."""
    time = FakeTime(advance_on_sleep=False)
    pacer = Pacer(time.sleep, time.clock)
    starts = []

    async def calls():
        for arrival in arrivals:
            time.now = arrival
            before = len(time.slept)
            await pacer.wait_turn(endpoint)
            starts.append(arrival + (time.slept[-1] if len(time.slept) > before else 0.0))

    run(calls())
    return starts


@pytest.mark.parametrize(
    "arrivals",
    [
        [0.0] * 2000,  # everything at once
        [i * 0.01 for i in range(2000)],  # steadily faster than allowed
        [(i // 500) * 30.0 for i in range(2000)],  # bursts of 500 every 30 s
        [(i // 100) * 7.5 + (i % 100) * 0.001 for i in range(2000)],  # short bursts
    ],
)
def test_no_60_second_window_has_more_than_900_rest_requests(arrivals):
    starts = simulate("repo", arrivals)
    assert len(starts) == 2000
    assert all(start >= arrival for start, arrival in zip(starts, arrivals))
    busiest = most_in_any_window(starts)
    assert busiest <= 900
    assert busiest <= 811  # 90% of the limit, give or take the window's edge
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert min(gaps) == pytest.approx(REST_INTERVAL, rel=1e-9)


def test_all_at_once_2000_rest_requests_take_as_long_as_the_pace_says():
    starts = simulate("repo", [0.0] * 2000)
    assert starts[0] == 0.0
    assert starts[-1] == pytest.approx(1999 * REST_INTERVAL, rel=1e-9)  # about 164.5 s
    assert most_in_any_window(starts) in (810, 811)


def test_graphql_window_stays_under_2000():
    starts = simulate("graphql", [0.0] * 4000)
    assert most_in_any_window(starts) in (1800, 1801)


def test_two_endpoints_at_full_tilt_each_keep_their_own_limit():
    time = FakeTime(advance_on_sleep=False)  # 4,000 calls at the same instant, interleaved
    pacer = Pacer(time.sleep, time.clock)
    starts: dict[str, list[float]] = {"repo": [], "contributors": []}

    async def call(endpoint):
        before = len(time.slept)
        await pacer.wait_turn(endpoint)
        starts[endpoint].append(time.slept[-1] if len(time.slept) > before else 0.0)

    async def both():
        for _ in range(2000):
            await call("repo")
            await call("contributors")

    run(both())
    for endpoint in ("repo", "contributors"):
        assert starts[endpoint][:3] == pytest.approx([0.0, REST_INTERVAL, 2 * REST_INTERVAL], rel=1e-12)
        assert starts[endpoint][-1] == pytest.approx(1999 * REST_INTERVAL, rel=1e-9)
        assert most_in_any_window(starts[endpoint]) in (810, 811)
