"""The JSON fetcher prints for programs: a record (from its row as the store reads it) as `show` and `export` print it, with or without its facts,
`history --json` and `trending --json`.

One function for each, used by the commands and by `fetcher serve` alike, so that what the server answers is,
byte for byte, what the command prints. Pure functions.
"""

import json
from datetime import tzinfo
from pathlib import Path
from typing import Iterator

from fetcher import facts
from fetcher.errors import StoreError
from fetcher.record import to_api
from fetcher.store.stored import read_package


def record(row: dict, zone: tzinfo, store_path: Path) -> dict:
    """The record as the API serves it, from the package row as the store reads it (store/stored.py: lists as
    lists, date-times as date-times); what still cannot be printed is named, not a crash."""
    try:
        return to_api(row, zone)
    except (ValueError, TypeError) as exc:
        raise StoreError(f"{store_path}: package {row['slug']!r} cannot be printed: {exc}") from None


def stored_record(row: dict, zone: tzinfo, store_path: Path) -> dict:
    """`record` from the package row as it is stored (the server keeps its printings by that row): each value read
    by its column's kind first, one another program stored unreadably an UnreadableValue naming it."""
    return record(read_package(store_path, row), zone, store_path)


def with_facts(printed: dict, facts_row: dict | None, zone: tzinfo, store_path: Path) -> dict:
    """The record with its `"facts"` object after the 18 fields, as `--facts` prints it."""
    try:
        return {**printed, "facts": facts.to_api(facts_row, zone)}
    except (ValueError, TypeError) as exc:
        raise StoreError(f"{store_path}: package {printed['slug']!r} cannot be printed: {exc}") from None


def show_text(printed: dict, store_path: Path) -> str:
    """What `fetcher show SLUG` prints: the record, indented, and its line ending."""
    return _json(printed, store_path, indent=2) + "\n"


def export_line(printed: dict, store_path: Path) -> str:
    """One record of `fetcher export`: on one line, without its line ending (the array's commas go between)."""
    return _json(printed, store_path)


def _json(printed: dict, store_path: Path, indent: int | None = None) -> str:
    """JSON, or a StoreError naming the package: an infinite number another program stored is not JSON."""
    try:
        return json.dumps(printed, indent=indent, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:
        raise StoreError(f"{store_path}: package {printed['slug']!r} cannot be printed: {exc}") from None


def listing_text(rows: list[dict]) -> str:
    """What `history --json` and `trending --json` print: the list, indented, and its line ending."""
    return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"


def export_lines(reads, zone: tzinfo, store_path: Path, facts_too: bool) -> Iterator[str]:
    """Each record's line of `export`, by slug, its facts too if asked for.

    Every record is made printable before the first is given, both walks in one read transaction: what was
    checked is what prints, and a value another program stored unreadably stops it before anything is out.
    """
    with reads.snapshot():
        for row in reads.records(facts_too):
            _export_line(row, zone, store_path, facts_too)
        for row in reads.records(facts_too):
            yield _export_line(row, zone, store_path, facts_too)


def _export_line(row: dict, zone: tzinfo, store_path: Path, facts_too: bool) -> str:
    printed = record(row, zone, store_path)
    if facts_too:
        printed = with_facts(printed, row["facts"], zone, store_path)
    return export_line(printed, store_path)
