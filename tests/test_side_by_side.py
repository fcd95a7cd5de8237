"""Steps side by side: results in order, the gravest failure raised, and a cancellation from outside kept one."""

import asyncio
from datetime import datetime, timezone

import pytest

from fetcher.errors import RateLimited, Transient
from fetcher.side_by_side import first_failure_wins, nothing

RESET = datetime(2026, 1, 1, tzinfo=timezone.utc)


async def fail_after(ticks: int, failure: BaseException):
    for _ in range(ticks):
        await asyncio.sleep(0)
    raise failure


async def value_after(ticks: int, value):
    for _ in range(ticks):
        await asyncio.sleep(0)
    return value


def test_every_result_in_the_order_of_the_steps():
    results = asyncio.run(first_failure_wins(value_after(3, "slow"), value_after(0, "quick"), nothing()))

    assert results == ["slow", "quick", None]


def test_a_failure_cancels_the_other_steps_and_the_gravest_failure_is_raised():
    cancelled = []

    async def slow():
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append("slow")
            raise

    limited = RateLimited("https://api.github.com/x", RESET, secondary=False, ends_run=True)
    with pytest.raises(RateLimited) as caught:
        asyncio.run(first_failure_wins(fail_after(1, Transient("u", "blip")), fail_after(1, limited), slow()))

    assert caught.value is limited
    assert cancelled == ["slow"]


def test_cancelled_from_outside_as_a_step_fails_it_stays_cancelled_and_does_not_become_that_failure():
    # The run's group cancels a worker (another task stopped the run) in the same turn as one of the worker's
    # steps fails. A nested TaskGroup reported the step's failure instead, and the worker went on to wait for a
    # next package that never came: the run hung.
    went_on = []

    async def worker():
        try:
            await first_failure_wins(fail_after(3, Transient("u", "blip")), asyncio.Event().wait())
        except Transient:
            went_on.append("as if one package had failed")

    async def run():
        async with asyncio.TaskGroup() as group:
            group.create_task(worker())
            group.create_task(fail_after(3, RuntimeError("the run stops")))

    with pytest.raises(ExceptionGroup) as caught:
        asyncio.run(run())

    assert [type(exc) for exc in caught.value.exceptions] == [RuntimeError]
    assert went_on == []
