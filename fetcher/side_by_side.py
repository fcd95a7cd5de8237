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
    """Run steps concurrently; on a failure cancel the rest and raise the gravest failure."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(step) for step in steps]
    except ExceptionGroup as failures:
        raise min(_leaves(failures), key=_rank) from None
    return [task.result() for task in tasks]


def _leaves(group: BaseExceptionGroup):
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


def _rank(exc: BaseException) -> int:
    for rank, kind in enumerate(_SEVERITY):
        if isinstance(exc, kind):
            return rank
    return len(_SEVERITY)
