"""Read catalogue files: package records in the API v4 shape, checked before anything is written.

A file holds one record, a list of records, or one API page
({"count": ..., "next": ..., "results": [...]}). `-` is standard input.
"""

import json
import sys
from dataclasses import dataclass

from fetcher import facts
from fetcher.errors import InputError
from fetcher.record import validate


@dataclass(frozen=True)
class CatalogueFile:
    records: list[dict]  # store columns, checked
    next_page: str | None = None  # an API page's `next`: the listing goes on there
    # (slug, first record number, later record number): a slug given again, with the same id, merged into one
    # package (the later record's fields over the first's); the command says so.
    merged: tuple[tuple[str, int, int], ...] = ()


def read_catalogue(name: str) -> CatalogueFile:
    """Every record of one file as store columns; InputError naming the file and record otherwise."""
    label = "<stdin>" if name == "-" else name
    try:
        text = sys.stdin.read() if name == "-" else open(name, encoding="utf-8").read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{label}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{label}: not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise InputError(f"{label}: JSON nested too deeply to be a catalogue") from None
    records = _records_of(document, label)
    checked = [check_record(record, f"{label}: record {number}") for number, record in enumerate(records, start=1)]
    merged = refuse_duplicates(checked, label)
    return CatalogueFile(checked, _next_page(document, label), merged)


def _next_page(document, label: str) -> str | None:
    if not (isinstance(document, dict) and "results" in document and "slug" not in document):
        return None
    following = document.get("next")
    if following is not None and not isinstance(following, str):
        raise InputError(f"{label}: 'next' must be a URL or null")
    return following or None


def check_record(record, where: str) -> dict:
    """One record's store columns; a "facts" object beside the 18 fields is checked and kept under "facts"."""
    if not (isinstance(record, dict) and "facts" in record):
        return validate(record, where)
    columns = validate({name: value for name, value in record.items() if name != "facts"}, where)
    if record["facts"] is not None:  # null: no facts given, as when the key is left out
        columns["facts"] = facts.check(record["facts"], f"{where} (slug {record['slug']!r})")
    return columns


def _records_of(document, label: str) -> list:
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and "results" in document and "slug" not in document:
        if not isinstance(document["results"], list):
            raise InputError(f"{label}: 'results' must be a list of records")
        return document["results"]
    if isinstance(document, dict):
        return [document]
    raise InputError(f"{label}: expected a record, a list of records or an API page, not {type(document).__name__}")


def refuse_duplicates(records: list[dict], label: str | None) -> tuple[tuple[str, int, int], ...]:
    """The same slug twice is merged when the records agree on the id (which is returned, to be said); else which
    one wins is a guess, and the file (named by `label`, if any) is refused."""
    label = f"{label}: " if label else ""
    seen: dict[str, tuple[int, dict]] = {}
    merged = []
    for number, record in enumerate(records, start=1):
        first_number, first = seen.setdefault(record["slug"], (number, record))
        if first is record:
            continue
        if first.get("id") != record.get("id"):
            raise InputError(
                f"{label}record {number}: slug {record['slug']!r} appears twice with different ids "
                f"({first.get('id')} and {record.get('id')})"
            )
        merged.append((record["slug"], first_number, number))
    ids: dict[int, str] = {}
    for number, record in enumerate(records, start=1):
        if "id" in record and ids.setdefault(record["id"], record["slug"]) != record["slug"]:
            raise InputError(
                f"{label}record {number}: id {record['id']} is given to both "
                f"{ids[record['id']]!r} and {record['slug']!r}"
            )
    return tuple(merged)


def merged_warning(label: str, slug: str, first: int, later: int) -> str:
    """What the command says of a slug given twice in one file."""
    return (f"{label}: slug {slug!r} is given twice, by records {first} and {later}: merged into one package, "
            f"record {later}'s fields over record {first}'s")
