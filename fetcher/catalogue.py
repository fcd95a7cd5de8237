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
    checked = [_checked(record, f"{label}: record {number}") for number, record in enumerate(records, start=1)]
    _refuse_duplicates(checked, label)
    return CatalogueFile(checked, _next_page(document, label))


def _next_page(document, label: str) -> str | None:
    if not (isinstance(document, dict) and "results" in document and "slug" not in document):
        return None
    following = document.get("next")
    if following is not None and not isinstance(following, str):
        raise InputError(f"{label}: 'next' must be a URL or null")
    return following or None


def _checked(record, where: str) -> dict:
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


def _refuse_duplicates(records: list[dict], label: str) -> None:
    """The same slug twice is fine when the records agree on the id; else which one wins is a guess."""
    seen: dict[str, dict] = {}
    for number, record in enumerate(records, start=1):
        first = seen.setdefault(record["slug"], record)
        if first is not record and first.get("id") != record.get("id"):
            raise InputError(
                f"{label}: record {number}: slug {record['slug']!r} appears twice with different ids "
                f"({first.get('id')} and {record.get('id')})"
            )
    ids: dict[int, str] = {}
    for number, record in enumerate(records, start=1):
        if "id" in record and ids.setdefault(record["id"], record["slug"]) != record["slug"]:
            raise InputError(
                f"{label}: record {number}: id {record['id']} is given to both "
                f"{ids[record['id']]!r} and {record['slug']!r}"
            )
