"""The catalogue's writes: packages imported, added and removed, all or nothing.

The catalogue is the person's: title, category, grids, the links. Fetched values come in with
an imported record only when it was fetched later than the store's; a changed or cleared link
clears what was fetched from it, and the package is due at once.
"""

from dataclasses import dataclass
from datetime import datetime

from fetcher.errors import InputError, UnknownPackage
from fetcher.links import same_pypi_project, same_repo_url
from fetcher.record import IMPORTED_FETCHED_FIELDS, is_utf8, to_stored_datetime
from fetcher.store.facts import save_facts
from fetcher.store.sql import Database, in_chunks, marks

# What a fetch clears when the link it came from is changed or cleared: the record's repository
# fields (and every cached answer but PyPI's), or its PyPI version (and the PyPI answer).
REPO_CLEARED = {
    "repo_forks": 0, "repo_watchers": 0, "repo_description": "", "participants": "[]",
    "commits_over_52": "[]", "last_updated": None,
}
PYPI_CLEARED = {"pypi_version": None}


@dataclass(frozen=True)
class ImportResult:
    inserted: int
    updated: int
    unchanged: int
    kept_fetched: int = 0  # records whose fetched values were older than the store's, so not taken


class Catalogue:
    def __init__(self, db: Database):
        self.db = db

    def import_records(self, records: list[dict], now: datetime) -> ImportResult:
        """Upsert validated records by slug, all or nothing.

        Catalogue fields (title, category, grids, the links) are taken as given. Fetched
        fields are taken only from a record fetched later than the stored one, so an old
        file never puts stale stars or versions back. A changed or cleared link clears what
        was fetched from it, and the package is due at once. Fields a record leaves out are
        kept (or defaulted on a new row); `modified` moves when a value changed and the
        record did not give it.
        """
        with self.db.write():
            return self.merge(records, to_stored_datetime(now))

    def merge(self, records: list[dict], stamp: str) -> ImportResult:
        """`import_records` inside a transaction the caller holds (a walk's page writes its place with it)."""
        inserted = updated = kept = 0
        for columns in records:
            columns = dict(columns)
            given_facts = columns.pop("facts", None)
            existing = self.package_where("slug = ?", columns["slug"])
            self._check_id_free(columns, existing)
            if existing is None:
                package_id = self.db.insert("package", {"created": stamp, "modified": stamp, **columns})
                inserted += 1
                if given_facts:
                    save_facts(self.db, package_id, given_facts, stamp)
                continue
            newer = columns.get("last_fetched") is not None and (
                existing["last_fetched"] is None or columns["last_fetched"] > existing["last_fetched"]
            )
            given = {k: v for k, v in columns.items() if newer or k not in IMPORTED_FETCHED_FIELDS}
            if any(existing[k] != v for k, v in columns.items() if k not in given):
                kept += 1
            given = self._without_what_a_sync_settled(existing, given)
            cleared = self._cleared_by_new_links(existing, given)
            if cleared:
                given = {**cleared, **given} if newer else {**given, **cleared}
            changes = {k: v for k, v in given.items() if existing[k] != v}
            if changes:
                changes.setdefault("modified", stamp)
                self.db.update("package", {"id": existing["id"]}, changes)
            # Facts are fetched data too: an older file does not put stale ones back over a newer sync's.
            has_facts = self.db.first("SELECT 1 FROM facts WHERE package_id = ?", [existing["id"]]) is not None
            facts_changed = bool(given_facts) and (newer or not has_facts) and \
                save_facts(self.db, existing["id"], given_facts, stamp)
            if changes or facts_changed:
                updated += 1
        return ImportResult(inserted, updated, len(records) - inserted - updated, kept)

    def _without_what_a_sync_settled(self, existing: dict, given: dict) -> dict:
        """`given` less what would undo a sync's confirmed knowledge: an old repo_url of a repository its host
        confirmed moved (the same repository), and an empty documentation_url where PyPI's fills it. A
        documentation_url the catalogue does give is the person's, and PyPI's is forgotten."""
        given = dict(given)
        package_id = existing["id"]
        if "repo_url" in given and given["repo_url"] and not same_repo_url(existing["repo_url"], given["repo_url"]):
            old_urls = [row["old_url"] for row in
                        self.db.rows("SELECT old_url FROM repo_move WHERE package_id = ?", [package_id])]
            if any(same_repo_url(old, given["repo_url"]) for old in old_urls):
                del given["repo_url"]
        if "documentation_url" in given and given["documentation_url"] != existing["documentation_url"]:
            filled = self.db.first("SELECT url FROM filled_documentation WHERE package_id = ?", [package_id])
            if not given["documentation_url"] and filled and filled["url"] == existing["documentation_url"]:
                del given["documentation_url"]
            elif filled:
                self.db.execute("DELETE FROM filled_documentation WHERE package_id = ?", [package_id])
        return given

    def _cleared_by_new_links(self, existing: dict, given: dict) -> dict:
        """The fetched columns a changed repo_url or pypi_url voids; their cached answers go too."""
        cleared = {}
        if "repo_url" in given and not same_repo_url(existing["repo_url"], given["repo_url"]):
            cleared.update(REPO_CLEARED)
            self.db.execute("DELETE FROM resource_cache WHERE package_id = ? AND resource != 'pypi'", [existing["id"]])
            # Another repository: the moves of the one before are no knowledge of this one's.
            self.db.execute("DELETE FROM repo_move WHERE package_id = ?", [existing["id"]])
        if "pypi_url" in given and not same_pypi_project(existing["pypi_url"], given["pypi_url"]):
            cleared.update(PYPI_CLEARED)
            self.db.execute("DELETE FROM resource_cache WHERE package_id = ? AND resource = 'pypi'", [existing["id"]])
        if cleared:
            # A new link is a fresh start: due at once, and no rest earned by the old link's failures.
            cleared["last_fetched"] = None
            self.db.execute("DELETE FROM fetch_state WHERE package_id = ?", [existing["id"]])
        return cleared

    def _check_id_free(self, columns: dict, existing: dict | None) -> None:
        if "id" not in columns:
            return
        holder = self.package_where("id = ?", columns["id"])
        if holder is not None and holder["slug"] != columns["slug"]:
            raise InputError(f"id {columns['id']} of slug {columns['slug']!r} already belongs to {holder['slug']!r}")
        if existing is not None and existing["id"] != columns["id"]:
            raise InputError(f"slug {columns['slug']!r} is stored with id {existing['id']}, not {columns['id']}")

    def add(self, slug: str, repo_url: str, pypi_url: str, title: str, now: datetime) -> None:
        stamp = to_stored_datetime(now)
        with self.db.write():
            if self.package_where("slug = ?", slug) is not None:
                raise InputError(f"a package with slug {slug!r} already exists")
            self.db.insert("package", {"slug": slug, "title": title, "repo_url": repo_url, "pypi_url": pypi_url,
                                       "created": stamp, "modified": stamp})

    def remove(self, slugs: list[str]) -> list[str]:
        """Delete these packages with their fetch state and cached answers, all or none; the slugs removed."""
        with self.db.write():
            rows = self.packages(slugs)  # UnknownPackage, before anything is deleted
            for ids in in_chunks([row["id"] for row in rows]):
                # fetch_state, resource_cache, facts and history follow by ON DELETE CASCADE (foreign_keys is on).
                self.db.execute(f"DELETE FROM package WHERE id IN ({marks(len(ids))})", ids)
        return [row["slug"] for row in rows]

    def packages(self, slugs: list[str]) -> list[dict]:
        """The package rows of these slugs, in their order, each once; UnknownPackage naming any missing."""
        rows = {row["slug"]: row for chunk in in_chunks([slug for slug in slugs if is_utf8(slug)])
                for row in self.db.rows(f"SELECT * FROM package WHERE slug IN ({marks(len(chunk))})", chunk)}
        missing = [slug for slug in slugs if slug not in rows]
        if missing:
            raise UnknownPackage(missing)
        return [rows[slug] for slug in dict.fromkeys(slugs)]

    def package_where(self, where: str, value) -> dict | None:
        return self.db.first(f"SELECT * FROM package WHERE {where}", [value])
