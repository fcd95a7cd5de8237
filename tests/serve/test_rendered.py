"""Printed records kept by their stored row: a row changed in any column is printed anew."""

from pathlib import Path

from dateutil import tz

from fetcher.record import to_columns
from fetcher.serve.rendered import Rendered
from fetcher.show import api
from tests.conftest import api_record

ROW = to_columns(api_record("django-todo"))


def test_a_kept_printing_is_the_printing_and_a_changed_row_is_printed_anew():
    rendered = Rendered(tz.UTC, Path("store.db"), size=2)
    assert rendered.line(ROW) == api.export_line(api.stored_record(ROW, tz.UTC, Path("store.db")), Path("store.db"))
    assert rendered.show(ROW) == api.show_text(api.stored_record(ROW, tz.UTC, Path("store.db")), Path("store.db"))
    assert rendered.line(dict(ROW)) is rendered.line(ROW)  # kept
    starred = {**ROW, "repo_watchers": ROW["repo_watchers"] + 1}
    assert '"repo_watchers": 846' in rendered.line(starred)
    assert '"repo_watchers": 845' in rendered.line(ROW)


def test_no_more_than_its_size_are_kept():
    rendered = Rendered(tz.UTC, Path("store.db"), size=3)
    for watchers in range(10):
        rendered.line({**ROW, "repo_watchers": watchers})
    assert len(rendered._kept) == 3
    nothing = Rendered(tz.UTC, Path("store.db"), size=0)
    nothing.line(ROW)
    assert nothing._kept == {}
