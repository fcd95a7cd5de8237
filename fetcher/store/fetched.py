"""What a fetch writes: one package's fetched fields, facts, history and cached answers, in one transaction.

Every write here checks, inside its transaction, that the package's catalogue links are still
the ones it was fetched for (`_links_hold`): a person's edit made during the run is never
overwritten, and the package stays due. A fetch writes only fetched fields; the catalogue is
the person's.
"""

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from fetcher.cache import Cached
from fetcher import facts
from fetcher.errors import UnreadableValue
from fetcher.links import Links, same_repo_url
from fetcher.record import FETCHED_FIELDS, to_columns, to_stored_datetime
from fetcher.store.facts import save_facts, track
from fetcher.store.sql import Database
from fetcher.store.stored import COLUMNS, decoded, lenient, package

log = logging.getLogger(__name__)
PACKAGE, CACHE, FACTS = COLUMNS["package"], COLUMNS["resource_cache"], COLUMNS["facts"]
BUT_LAST_FETCHED = {name: column for name, column in PACKAGE.items() if name != "last_fetched"}

# What `save` did.
CHANGED, UNCHANGED, EDITED = "changed", "unchanged", "edited"


@dataclass(frozen=True)
class FetchedRecord:
    """Everything one fetch of a package gave, to be written whole or not at all."""

    fields: dict  # record fields (API values)
    updates: dict[str, Cached]  # resource -> answer to keep
    note: str | None = None  # what was kept as it was, and why, for a person
    facts: dict | None = None
    points: int | None = None  # what the fetch cost: the next run's estimate
    pending: bool = False  # a part the host was still computing is not written yet
    # The documentation_url replaces the stored one (the djangopackages profile), not only fills an empty one.
    replaces_documentation_url: bool = False


class Fetched:
    def __init__(self, db: Database):
        self.db = db

    def save(self, package_id: int, fetched_for: Links, record: FetchedRecord, fetched_at: datetime) -> str:
        """Write one package's fetch. CHANGED or UNCHANGED (a field or a fact); EDITED when the package's links
        are no longer the ones it was fetched for (or it was removed) while the fetch was in flight: then
        nothing is written, and the package stays due.

        A documentation_url is taken only while the record has none, unless the record replaces it: by default
        one a person set is never overwritten.
        The day's history row is written when a tracked value moved.
        """
        stamp = to_stored_datetime(fetched_at)
        with self.db.write():
            current = self._links_hold(package_id, fetched_for)
            if current is None:
                return EDITED
            fetched = to_columns({k: v for k, v in record.fields.items() if k in FETCHED_FIELDS
                                  or (k == "documentation_url" and (record.replaces_documentation_url
                                                                    or not current["documentation_url"]))})
            changes = {k: v for k, v in fetched.items() if current[k] != v}
            update = {**changes, "last_fetched": stamp}
            if changes:
                update["modified"] = stamp
            self.db.update("package", {"id": package_id}, update)
            self._remember_what_the_catalogue_gave_way_to(package_id, current, changes, stamp)
            self.db.execute(
                """INSERT INTO fetch_state (package_id, last_attempt, last_error, last_error_at, consecutive_failures,
                                            note, last_points, pending)
                   VALUES (?, ?, NULL, NULL, 0, ?, ?, ?)
                   ON CONFLICT (package_id) DO UPDATE SET
                       last_attempt = excluded.last_attempt, last_error = NULL, last_error_at = NULL,
                       consecutive_failures = 0, note = excluded.note, failing_since = NULL,
                       last_points = coalesce(excluded.last_points, fetch_state.last_points),
                       pending = excluded.pending""",
                [package_id, stamp, record.note, record.points, int(record.pending)],
            )
            for resource, answer in record.updates.items():
                self._save_cached(package_id, resource, answer)
            facts_changed = bool(record.facts) and save_facts(self.db, package_id, facts.to_columns(record.facts), stamp)
            track(self.db, package_id, {**current, **changes}, fetched_at)
        return CHANGED if changes or facts_changed else UNCHANGED

    def _remember_what_the_catalogue_gave_way_to(self, package_id: int, current: dict, changes: dict,
                                                 stamp: str) -> None:
        """A confirmed move and a documentation_url filled from PyPI, written into the person's fields: kept, so
        that importing the catalogue again (the old URL, no documentation_url) does not undo them."""
        if "repo_url" in changes and current["repo_url"]:
            # Moved back to a URL it once left: that one is no old URL any more.
            for row in self.db.select("SELECT old_url FROM repo_move WHERE package_id = ?", [package_id]):
                if same_repo_url(row["old_url"], changes["repo_url"]):
                    self.db.execute("DELETE FROM repo_move WHERE package_id = ? AND old_url = ?",
                                    [package_id, row["old_url"]])
            self.db.upsert("repo_move", ("package_id", "old_url"), {
                "package_id": package_id, "old_url": current["repo_url"], "new_url": changes["repo_url"],
                "moved_at": stamp})
        if changes.get("documentation_url"):
            self.db.upsert("filled_documentation", ("package_id",), {
                "package_id": package_id, "url": changes["documentation_url"], "filled_at": stamp})

    def save_later(self, package_id: int, fetched_for: Links, fields: dict, updates: dict[str, Cached],
                   note: str | None, points: int, fetched_at: datetime) -> bool:
        """Write the part that came after the rest of the record (its fields and cached answers), clear the
        package's pending state and set its note; the points it cost are added to the package's. False, and
        nothing written, when the package's links changed (or it was removed) meanwhile."""
        stamp = to_stored_datetime(fetched_at)
        with self.db.write():
            current = self._links_hold(package_id, fetched_for)
            if current is None:
                return False
            changes = {k: v for k, v in to_columns(fields).items() if current[k] != v}
            if changes:
                self.db.update("package", {"id": package_id}, {**changes, "modified": stamp})
            self.db.execute("UPDATE fetch_state SET note = ?, pending = 0, last_points = coalesce(last_points, 0) + ? "
                            "WHERE package_id = ?", [note, points, package_id])
            for resource, answer in updates.items():
                self._save_cached(package_id, resource, answer)
        return True

    def record_failure(self, package_id: int, fetched_for: Links, message: str, at: datetime) -> bool:
        """Keep every field as it was; note the error and count it.

        False, and nothing noted, when the package's links changed (or it was removed) while
        it was in flight: the failure was the old link's, not the package's.
        """
        stamp = to_stored_datetime(at)
        with self.db.write():
            if self._links_hold(package_id, fetched_for) is None:
                return False
            self.db.execute(
                """INSERT INTO fetch_state
                       (package_id, last_attempt, last_error, last_error_at, consecutive_failures, note, failing_since)
                   VALUES (?, ?, ?, ?, 1, NULL, ?)
                   ON CONFLICT (package_id) DO UPDATE SET
                       last_attempt = excluded.last_attempt, last_error = excluded.last_error,
                       last_error_at = excluded.last_error_at,
                       consecutive_failures = fetch_state.consecutive_failures + 1,
                       failing_since = CASE WHEN fetch_state.consecutive_failures = 0 THEN excluded.failing_since
                                            ELSE COALESCE(fetch_state.failing_since, excluded.failing_since) END""",
                [package_id, stamp, message, stamp, stamp],
            )
        return True

    def record(self, row: dict) -> dict:
        """The package row as a fetch reads it, every value through store/stored.py; UnreadableValue for one
        another program wrote that is not of its kind: the package fails, naming it, and nothing of it is
        written. An unreadable last_fetched only decided when the package was due: it reads as never fetched,
        and the fetch writes a good one."""
        where = package(row["slug"])
        values, _ = lenient(self.db.path, where, {"last_fetched": PACKAGE["last_fetched"]}, row)
        return decoded(self.db.path, where, BUT_LAST_FETCHED, values)

    def cached(self, package_id: int, resources: tuple[str, ...] | None = None) -> dict[str, Cached]:
        """What each resource answered this package last time, by resource name; only `resources` when given. An
        answer another program stored that cannot be read (its value not a JSON object, its time not a
        date-time) is left out: the resource is asked afresh, and the fresh answer replaces it."""
        sql = ("SELECT resource_cache.*, package.slug AS of_slug FROM resource_cache JOIN package "
               "ON package.id = package_id WHERE package_id = ?")
        params: list = [package_id]
        if resources is not None:
            if not resources:
                return {}
            sql += f" AND resource IN ({', '.join('?' for _ in resources)})"
            params += list(resources)
        answers = {}
        for row in self.db.rows(sql, params):
            try:
                row = decoded(self.db.path, package(row.pop("of_slug")), CACHE, row)
            except UnreadableValue as unreadable:
                log.info("%s; asked afresh", unreadable)
                continue
            answers[row["resource"]] = Cached(row["value"], row["fetched_at"], row["etag"], row["last_modified"],
                                              row["token_env"])
        return answers

    def facts(self, package_id: int) -> dict | None:
        """The package's facts row, read through store/stored.py, or None before any was written; UnreadableValue
        for a value that is not of its kind (the package fails, naming it)."""
        row = self.db.first("SELECT facts.*, package.slug AS of_slug FROM facts JOIN package ON package.id = "
                            "facts.package_id WHERE package_id = ?", [package_id])
        return None if row is None else decoded(self.db.path, package(row.pop("of_slug")), FACTS, row)

    def _links_hold(self, package_id: int, fetched_for: Links) -> dict | None:
        """The package's row, while its links are still the ones the fetch was made for; else None."""
        with self.db.tolerant():  # as the package was read for its fetch (store/schedule.py)
            current = self.db.first("SELECT * FROM package WHERE id = ?", [package_id])
        return current if current is not None and Links.of(current) == fetched_for else None

    def _save_cached(self, package_id: int, resource: str, answer: Cached) -> None:
        self.db.upsert("resource_cache", ("package_id", "resource"), {
            "package_id": package_id, "resource": resource, "etag": answer.etag,
            "last_modified": answer.last_modified, "value": json.dumps(answer.value, ensure_ascii=False),
            "fetched_at": to_stored_datetime(answer.fetched_at), "token_env": answer.token_env,
        })
