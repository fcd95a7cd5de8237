"""The progress bar as a terminal receives it: drawn, counted, erased, and out of the way of log lines."""

import io
import logging

from fetcher.show.progress import ERASE_LINE, SHOW_CURSOR, progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_counts_packages_and_failures_and_is_erased():
    screen = Terminal()

    with progress(3, "sync", stream=screen) as done:
        for outcome in ("synced", "failed", "unchanged"):
            done(outcome)

    drawn = screen.getvalue()
    assert "sync  [------------------------]  0/3" in drawn
    assert "sync  [########################]  3/3" in drawn and ", 1 failed" in drawn
    assert drawn.endswith(ERASE_LINE + SHOW_CURSOR)


def test_nothing_at_all_without_a_terminal_or_when_not_shown():
    pipe = io.StringIO()
    with progress(3, "sync", stream=pipe) as done:
        assert done is None
    with progress(3, "sync", shown=False, stream=Terminal()) as done:
        assert done is None
    assert pipe.getvalue() == ""


def test_a_line_logged_meanwhile_starts_on_a_cleared_line():
    screen = Terminal()
    handler = logging.StreamHandler(screen)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with progress(2, "sync", stream=screen) as done:
            done("synced")
            logging.getLogger("fetcher.net.client").warning("waiting 300s for the rate limit to reset")
            done("synced")
        logging.getLogger("fetcher.net.client").warning("after the run")
    finally:
        root.removeHandler(handler)

    drawn = screen.getvalue()
    assert ERASE_LINE + "waiting 300s for the rate limit to reset\n" in drawn
    assert drawn.endswith(ERASE_LINE + SHOW_CURSOR + "after the run\n")  # the filter left with the bar
