"""The run's request slots: at most so many requests in flight, the ones the run would otherwise wait on first.

A request made while `first_in_line` is set takes the next free slot ahead of the requests already waiting:
the run's reading ahead (each chunk's batch step, and the weekly counts asked early) and GitHub's weekly counts
asked again on their backoff after a 202. They are few, but behind the queue of every worker's next request each
came seconds late, the waits of one repository's asks added up, and the run ended waiting for its last packages'
counts with its other slots idle. Otherwise slots go in the order asked.
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import AsyncIterator

first_in_line: ContextVar[bool] = ContextVar("first_in_line", default=False)


class Slots:
    def __init__(self, size: int) -> None:
        self._free = size
        self._first: deque[asyncio.Future] = deque()
        self._rest: deque[asyncio.Future] = deque()

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        await self._acquire()
        try:
            yield
        finally:
            self._release()

    async def _acquire(self) -> None:
        if self._free > 0 and not self._first and not self._rest:
            self._free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        (self._first if first_in_line.get() else self._rest).append(waiter)
        try:
            await waiter  # a slot is handed over by _release, never freed in between
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed a slot as it was cancelled: pass it on
            else:
                for waiters in (self._first, self._rest):
                    if waiter in waiters:  # a release may have passed over it already
                        waiters.remove(waiter)
            raise

    def _release(self) -> None:
        for waiters in (self._first, self._rest):
            while waiters:
                waiter = waiters.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._free += 1

    @property
    def waiting(self) -> int:
        return len(self._first) + len(self._rest)
