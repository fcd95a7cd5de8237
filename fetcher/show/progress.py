"""The live progress bar of `sync` and `refresh`, on a terminal only.

Drawn by click's progress bar on stderr: packages done of all, rate, time
left, failures so far. It is redrawn at most a few times a second, whatever
the pace of the run, and erased when the run ends so the summary line stands
alone. Without a terminal there is no bar and nothing is written.
"""

import logging
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO

import click

REDRAW_EVERY = 0.2  # seconds
ERASE_LINE = "\r\033[2K"
SHOW_CURSOR = "\033[?25h"  # click hides the cursor while it draws


@contextmanager
def progress(
    total: int, label: str, shown: bool = True, stream: TextIO | None = None
) -> Iterator[Callable[[str], None] | None]:
    """Yields what to tell of each package's outcome, or None when not `shown` or `stream` is not a terminal."""
    stream = stream or sys.stderr
    if not shown or not total or not stream.isatty():
        yield None
        return
    state = {"done": 0, "failed": 0, "shown": 0, "drawn": 0.0}
    began = time.monotonic()

    def detail(_item) -> str:
        elapsed = max(time.monotonic() - began, 1e-9)
        return f"{state['done'] / elapsed:.1f}/s, {state['failed']} failed"

    clear = _ClearsTheBar(stream)
    bar = click.progressbar(
        length=total, label=label, file=stream, show_pos=True, show_eta=True, item_show_func=detail, width=24
    )

    def done(outcome: str) -> None:
        state["done"] += 1
        state["failed"] += outcome == "failed"
        now = time.monotonic()
        if now - state["drawn"] >= REDRAW_EVERY or state["done"] == total:
            bar.update(state["done"] - state["shown"])
            state["shown"], state["drawn"] = state["done"], now

    try:
        for handler in logging.getLogger().handlers:
            handler.addFilter(clear)
        bar.render_progress()  # drawn at once, not only after the first package
        yield done
    finally:
        for handler in logging.getLogger().handlers:
            handler.removeFilter(clear)
        stream.write(ERASE_LINE + SHOW_CURSOR)
        stream.flush()


class _ClearsTheBar(logging.Filter):
    """A line logged while the bar is drawn (a rate-limit wait, --verbose) starts on a cleared line."""

    def __init__(self, stream: TextIO):
        super().__init__()
        self.stream = stream

    def filter(self, record: logging.LogRecord) -> bool:
        self.stream.write(ERASE_LINE)
        return True
