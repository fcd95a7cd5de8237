"""GitHub's weekly counts for one repository, asked until GitHub has computed them.

GitHub computes a repository's statistics when they are first asked for, answering 202 until they are ready
("wait a moment, then submit the request again"). So the first ask is made as early as the run can: as soon as
the batch step says the repository was pushed since the counts were kept, well before the package's turn. The
asks after a 202 follow the backoff (http.backoff, doubling, http.retries of them) in a task of their own, which
holds no worker: the package is written without its sparkline meanwhile, and the counts are written when they
come. The last packages of a run then no longer make it wait through their whole backoff.
"""

import asyncio
from collections.abc import Awaitable, Callable

from fetcher.cache import Cached
from fetcher.net.retry import backoff_delay
from fetcher.net.slots import first_in_line


class Asking:
    """The asks for one repository's weekly counts: `first()` is the first answer (the counts, or None for a
    202), `final()` the counts, or None once given up; a failure of an ask is raised by both."""

    def __init__(self, ask: Callable[[], Awaitable[Cached | None]], retries: int, backoff: float,
                 sleep: Callable[[float], Awaitable[None]]):
        self.asks = 0
        self._first: asyncio.Future = asyncio.get_running_loop().create_future()
        self._task = asyncio.ensure_future(self._ask_until_ready(ask, retries, backoff, sleep))
        # Whoever awaits neither (a run stopped first) must not leave a failure unretrieved to be logged.
        self._first.add_done_callback(_retrieved)
        self._task.add_done_callback(_retrieved)

    async def _ask_until_ready(self, ask, retries, backoff, sleep) -> Cached | None:
        for attempt in range(retries + 1):
            if attempt:
                await sleep(backoff_delay(attempt, backoff))
                first_in_line.set(True)  # this task's asks from now on: its backoff was its wait
            self.asks += 1
            try:
                weeks = await ask()
            except Exception as failure:
                if not self._first.done():
                    self._first.set_exception(failure)
                raise
            if not self._first.done():
                self._first.set_result(weeks)
            if weeks is not None:
                return weeks
        return None

    async def first(self) -> Cached | None:
        # Shielded: a package whose fetch is cancelled does not take the asking down with it (aclose does).
        return await asyncio.shield(self._first)

    async def final(self) -> Cached | None:
        return await asyncio.shield(self._task)

    def final_done(self, callback: Callable[["Asking"], None]) -> None:
        """Call `callback(self)` once the asking is over, however it ended."""
        self._task.add_done_callback(lambda _: callback(self))

    def cancel(self) -> None:
        self._task.cancel()
        if not self._first.done():
            self._first.cancel()

    async def stopped(self) -> None:
        """Cancelled, and done."""
        self.cancel()
        await asyncio.wait([self._task])


def _retrieved(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()
