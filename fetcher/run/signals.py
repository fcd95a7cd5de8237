"""SIGTERM and SIGINT: stop asking, keep what is written, say why.

While a command runs, the first signal is noted. Inside a fetch run it cancels
the run at its next await: package writes are synchronous, so none is ever cut
in half; the run is recorded with why it stopped. Outside a run (opening the
store, waiting for the run lock) there is nothing to finish, so it raises
Interrupted where it lands. A second signal does not wait for anything.
"""

import contextlib
import signal
from typing import Callable, Iterator

from fetcher.errors import Interrupted

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def exit_code(signum: int) -> int:
    """130 for Ctrl-C, as shells report a command it stopped; 75 (re-run later) for SIGTERM."""
    return 128 + signal.SIGINT if signum == signal.SIGINT else 75


def interrupted(signum: int) -> Interrupted:
    return Interrupted(signal.Signals(signum).name, exit_code(signum))


class StopSignals:
    """Catch SIGTERM and SIGINT for the life of a command; the handlers it replaced come back after."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._deferring = False
        self._on_stop: Callable[[], None] | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "StopSignals":
        for signum in SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    @contextlib.contextmanager
    def deferred(self, on_stop: Callable[[], None] | None = None) -> Iterator[None]:
        """Within: a first signal calls on_stop (if any) instead of raising; the caller winds down."""
        before = self._deferring, self._on_stop
        self._deferring, self._on_stop = True, on_stop
        try:
            yield
        finally:
            self._deferring, self._on_stop = before

    def _handle(self, signum: int, frame) -> None:
        if self.received is not None or not self._deferring:
            self.received = self.received or signum
            raise interrupted(self.received)
        self.received = signum
        if self._on_stop is not None:
            self._on_stop()
