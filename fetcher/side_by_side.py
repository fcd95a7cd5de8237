"""Steps run side by side: the first failure cancels the others and the gravest one is raised."""

import asyncio
from typing import Awaitable

from fetcher.errors import RateLimited, RunRefused, Unreachable


async def nothing() -> None:
    """A step with nothing to do."""
    return None


# Failures that end the run outrank those that end one package.
_SEVERITY = (RunRefused, RateLimited, Unreachable)


async def first_failure_wins(*steps: Awaitable) -> list:
    """Run steps concurrently; on a failure cancel the rest and raise the gravest failure.

    Not a TaskGroup: one nested in a task that the run's own group cancels, at the moment one of its steps fails,
    turns that cancellation into the step's failure (CPython 3.11 to 3.13), and the worker would go on to wait
    for a next package that never comes. Here a cancellation from outside always stays a cancellation.
    """
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        failures = [task.exception() for task in tasks if not task.cancelled() and task.exception() is not None]
    if failures:
        raise min(failures, key=_rank)
    return [task.result() for task in tasks]


def _rank(exc: BaseException) -> int:
    for rank, kind in enumerate(_SEVERITY):
        if isinstance(exc, kind):
            return rank
    return len(_SEVERITY)
