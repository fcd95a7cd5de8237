"""A directory walk's writes: each page whole, with where the walk goes next, in one transaction.

`fetcher import --from-api` reads a directory's listings a page at a time. Each page is written in one
transaction with its records (packages by the catalogue's own import rules, grids and categories to their
tables), its validators and `next` (table `import_page`), and the walk's place (table `import_walk`): a walk
stopped anyhow (a failure, SIGTERM, kill -9) has written every page before the one it was on, and continues at
that one; nothing of a page is written without its place, nor a place without its page.
"""

from dataclasses import dataclass

from fetcher.store.catalogue import Catalogue, ImportResult
from fetcher.store.sql import Database

LISTINGS = ("categories", "grids", "packages")  # a walk reads them in this order
TABLES = {"grids": "grid", "categories": "category"}


@dataclass(frozen=True)
class WalkState:
    api_url: str
    started: str  # when the walk began (UTC, stored form)
    next_url: str | None  # the page to ask next; None once the walk is done
    pages: int


class Walks:
    def __init__(self, db: Database):
        self.db = db

    def state(self, api_url: str) -> WalkState | None:
        """Where the walk of this directory stands; None before its first page was written."""
        row = self.db.first("SELECT api_url, started, next_url, pages FROM import_walk WHERE api_url = ?", [api_url])
        return WalkState(**row) if row else None

    def page(self, url: str) -> dict | None:
        """The page as last read: etag, last_modified, next_url, records, walk_started; None if never read."""
        return self.db.first("SELECT * FROM import_page WHERE url = ?", [url])

    def read_in_walk(self, url: str, api_url: str, started: str) -> bool:
        """Whether the walk of `api_url` begun at `started` has already read the page at `url`."""
        return self.db.first("SELECT 1 FROM import_page WHERE url = ? AND api_url = ? AND walk_started = ?",
                             [url, api_url, started]) is not None

    def write_page(self, api_url: str, started: str, url: str, listing: str, items: list[dict] | None,
                   validators: tuple[str | None, str | None], next_url: str | None, following: str | None,
                   stamp: str) -> ImportResult | None:
        """Write one page whole and the walk's place after it, in one transaction.

        `items`: the page's checked store columns (None for a page answered 304: nothing of it is written again,
        its stored validators and `next` stand). `next_url`: the page's own `next`; `following`: the page the walk
        asks next (the next listing's first, after a listing's last page), None when the walk is done. Packages
        go in as `fetcher import FILE` takes them (the ImportResult, or None for another listing); an InputError
        (an id another slug holds) leaves nothing of the page written.
        """
        result = None
        with self.db.write():
            if items is not None:
                if listing == "packages":
                    result = Catalogue(self.db).merge(items, stamp)
                else:
                    self._upsert(TABLES[listing], items, stamp)
                etag, last_modified = validators
                self.db.upsert("import_page", ("url",), {
                    "url": url, "api_url": api_url, "listing": listing, "etag": etag, "last_modified": last_modified,
                    "next_url": next_url, "records": len(items), "walk_started": started, "read_at": stamp})
            else:
                self.db.execute("UPDATE import_page SET walk_started = ?, read_at = ? WHERE url = ?",
                                [started, stamp, url])
            self.db.execute(
                """INSERT INTO import_walk (api_url, started, next_url, pages, updated, finished)
                   VALUES (?, ?, ?, 1, ?, ?)
                   ON CONFLICT (api_url) DO UPDATE SET
                       pages = CASE WHEN import_walk.started = excluded.started THEN import_walk.pages + 1 ELSE 1 END,
                       started = excluded.started, next_url = excluded.next_url, updated = excluded.updated,
                       finished = excluded.finished""",
                [api_url, started, following, stamp, None if following else stamp],
            )
        return result

    def _upsert(self, table: str, items: list[dict], stamp: str) -> None:
        """Grids or categories by id. A grid's slug is unique: another id holding it is an old row the
        directory has since given another slug or removed, and goes."""
        for columns in items:
            if table == "grid":
                self.db.execute("DELETE FROM grid WHERE slug = ? AND id != ?", [columns["slug"], columns["id"]])
            self.db.upsert(table, ("id",), {**columns, "imported": stamp})
