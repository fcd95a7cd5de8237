"""The facts beside a record and the day-by-day history of tracked values: written with the record they go with."""

from datetime import datetime

from fetcher.facts import utc_day
from fetcher.store.sql import Database
from fetcher.store.stored import COLUMNS, decoded, package

# The values `history` tracks, as the package and facts rows hold them.
TRACKED = ("stars", "forks", "participants", "commit_count", "pypi_version", "archived")


def save_facts(db: Database, package_id: int, columns: dict, stamp: str) -> bool:
    """Upsert the facts given (columns), leaving the others; True when a value changed."""
    before = db.first("SELECT * FROM facts WHERE package_id = ?", [package_id]) or {}
    changed = {name: value for name, value in columns.items() if before.get(name) != value}
    if not changed and before:
        return False
    db.upsert("facts", ("package_id",), {"package_id": package_id, **changed, "modified": stamp})
    return bool(changed)


def track(db: Database, package_id: int, row: dict, at: datetime) -> None:
    """Write the day's history row when a tracked value differs from the newest row (or there is none).

    `row`: the package's columns as they will be stored; its values and the facts are read through
    store/stored.py (UnreadableValue for one another program wrote, and nothing is written)."""
    where = package(row["slug"])
    known = db.first("SELECT commit_count, archived FROM facts WHERE package_id = ?", [package_id]) or {}
    known = decoded(db.path, where, COLUMNS["facts"], known)
    record = decoded(db.path, where, COLUMNS["package"],
                     {name: row[name] for name in ("repo_watchers", "repo_forks", "participants", "pypi_version")})
    values = {
        "stars": record["repo_watchers"],
        "forks": record["repo_forks"],
        "participants": len(record["participants"]),
        "commit_count": known.get("commit_count"),
        "pypi_version": record["pypi_version"],
        "archived": None if known.get("archived") is None else int(known["archived"]),
    }
    last = db.first(f"SELECT {', '.join(TRACKED)} FROM history WHERE package_id = ? ORDER BY date DESC LIMIT 1",
                    [package_id])
    if last == values:
        return
    db.upsert("history", ("package_id", "date"), {"package_id": package_id, "date": utc_day(at), **values})
