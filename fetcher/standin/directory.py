"""A Django Packages-style directory's API v4: packages, grids and categories as Django REST framework serves them.

Served under ``{standin.url}/api/v4/`` when the world has a ``directory``: the API root, the listings
``packages/``, ``grids/`` and ``categories/`` in DRF's LimitOffsetPagination envelope (``count``, ``next``,
``previous``, ``results``; ``limit`` defaults to their ``PAGE_SIZE`` of 20, no maximum; ``offset``), newest id
first as their viewsets order them (``order_by("-id")``), and one record by id or slug (``packages/{id|slug}/``,
``grids/{id|slug}/``, ``categories/{id}/``: categories take no slug). ``next`` and ``previous`` are absolute URLs
of the request's own origin, as DRF builds them (the first page's ``previous`` has no ``offset``). Answers carry
DRF's ``Allow`` and ``Vary: Accept``; an unknown record is DRF's 404 ``{"detail": "Not found."}``.

The records are their documented answers (apiv4_docs.md of djangopackages/djangopackages, fields as their
serializers list them): the package records a test gives (the real ones recorded in its fixtures), category 1
("App") and grid 438 ("Health checkers") as documented, and a category and a grid for every other one those
records point to, in the same shape, listing the packages that name it. Date-times carry the offset the live API
sends (settings.TIME_ZONE is America/New_York with USE_TZ): the documentation's examples omit it.

What a test switches on, each for one page (a listing and an offset):
``foreign_next`` (its ``next`` on another origin), ``cycle`` (its ``next`` back to the listing's first page),
``malform`` (a page that is no page: ``not_json``, ``results_not_list``, ``bad_record``, ``next_not_url``,
``no_next``); and for the next requests, ``throttle`` (DRF's throttled answer: 429, ``Retry-After`` in whole
seconds, ``{"detail": "Request was throttled. Expected available in N seconds."}``). ``etags`` gives each
answer a weak ETag and answers 304 to ``If-None-Match`` (DRF sends none unless a cache or middleware adds it).
Every request is in ``requests``, with the monotonic time it came.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from fetcher.standin.answers import Answer, json_answer, not_modified

ORIGIN = "https://djangopackages.org"
PAGE_SIZE = 20  # their REST_FRAMEWORK PAGE_SIZE
LISTINGS = ("packages", "grids", "categories")
DRF_HEADERS = {"Allow": "GET, HEAD, OPTIONS", "Vary": "Accept"}
NOT_FOUND = {"detail": "Not found."}
MALFORMED = ("not_json", "results_not_list", "bad_record", "next_not_url", "no_next")

# As apiv4_docs.md documents them, with the offset the live API gives its date-times.
DOCUMENTED_CATEGORY = {
    "id": 1,
    "title": "App",
    "slug": "apps",
    "description": "Small components used to build projects. An app is anything that is installed by placing it in "
                   "settings.INSTALLED_APPS.",
    "title_plural": "Apps",
    "show_pypi": True,
    "created": "2010-08-14T22:47:52-04:00",
    "modified": "2022-03-04T21:48:41.249944-05:00",
}
DOCUMENTED_GRID = {
    "id": 438,
    "title": "Health checkers",
    "slug": "healt-checkers",
    "description": "Packages that enables Django's health check (eg: is alive, can talk to database, etc...)",
    "is_locked": False,
    "packages": [f"{ORIGIN}/api/v4/packages/{number}/" for number in (5810, 976, 3142, 5811, 5754, 2225)],
    "header": False,
    "created": "2023-12-27T12:40:58.914633-05:00",
    "modified": "2023-12-27T12:40:58.914646-05:00",
}
# PackageSerializer's fields, in its order, and what a package never fetched holds (a catalogue may leave them out).
PACKAGE_FIELDS = ("category", "grids", "id", "title", "slug", "last_updated", "last_fetched", "repo_url", "pypi_version",
                  "created", "modified", "repo_forks", "repo_description", "pypi_url", "documentation_url",
                  "repo_watchers", "commits_over_52", "participants")
NEVER_FETCHED = {"grids": [], "last_updated": None, "last_fetched": None, "repo_url": "", "pypi_version": None,
                 "created": "2026-01-05T09:00:00-05:00", "modified": "2026-01-05T09:00:00-05:00", "repo_forks": 0,
                 "repo_description": "", "pypi_url": None, "documentation_url": None, "repo_watchers": 0,
                 "commits_over_52": [], "participants": []}
_ID_IN_URL = re.compile(r"/api/v4/(grids|categories)/(\d+)/")


@dataclass(frozen=True)
class Asked:
    """One request to the directory: its path with query, the status answered, whether it was conditional."""

    target: str
    status: int
    conditional: bool
    at: float  # time.monotonic() when it came


@dataclass
class Directory:
    """The directory's records by listing (each a list of API records) and what a test switched on."""

    packages: list[dict[str, Any]]
    grids: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    etags: bool = False
    foreign_next: dict[tuple[str, int], str] = field(default_factory=dict)
    cycles: set[tuple[str, int]] = field(default_factory=set)
    malformed: dict[tuple[str, int], str] = field(default_factory=dict)
    requests: list[Asked] = field(default_factory=list)
    _throttled: list[int] = field(default_factory=list)  # Retry-After of each request still to throttle
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_records(cls, records: list[dict[str, Any]], **switches: Any) -> Directory:
        """A directory of these package records, with the documented category and grid and one of each for
        every other category and grid the records point to (its packages: those that name it)."""
        records = _complete(records)
        grids: dict[int, dict[str, Any]] = {DOCUMENTED_GRID["id"]: dict(DOCUMENTED_GRID)}
        categories: dict[int, dict[str, Any]] = {DOCUMENTED_CATEGORY["id"]: dict(DOCUMENTED_CATEGORY)}
        for record in records:
            for url in [record.get("category") or "", *record.get("grids", [])]:
                match = _ID_IN_URL.search(url)
                if match is None:
                    continue
                number = int(match[2])
                if match[1] == "categories":
                    categories.setdefault(number, _category(number))
                else:
                    grid = grids.setdefault(number, _grid(number))
                    grid["packages"] = [*grid["packages"], f"{ORIGIN}/api/v4/packages/{record['id']}/"]
        return cls(records, list(grids.values()), list(categories.values()), **switches)

    # -- what a test switches on ---------------------------------------------------------------------------------

    def cycle(self, listing: str, offset: int) -> None:
        self.cycles.add((listing, offset))

    def malform(self, listing: str, offset: int, kind: str) -> None:
        if kind not in MALFORMED:
            raise ValueError(f"unknown kind {kind!r}: one of {', '.join(MALFORMED)}")
        self.malformed[(listing, offset)] = kind

    def send_foreign_next(self, listing: str, offset: int, url: str) -> None:
        self.foreign_next[(listing, offset)] = url

    def throttle(self, times: int, retry_after: int = 1) -> None:
        """DRF's throttled answer to the next `times` requests."""
        with self._lock:
            self._throttled += [retry_after] * times

    def asked(self, listing: str | None = None) -> list[Asked]:
        """The requests so far (of one listing)."""
        with self._lock:
            return [a for a in self.requests if listing is None or a.target.startswith(f"/api/v4/{listing}/")]

    # -- answering -----------------------------------------------------------------------------------------------

    def answer(self, base_url: str, method: str, target: str, request: Mapping[str, str]) -> Answer:
        answer = self._answer(base_url, method, target, request)
        with self._lock:
            self.requests.append(Asked(target, answer.status, "if-none-match" in request, time.monotonic()))
        return answer

    def _answer(self, base_url: str, method: str, target: str, request: Mapping[str, str]) -> Answer:
        with self._lock:
            wait = self._throttled.pop(0) if self._throttled else None
        if wait is not None:
            detail = f"Request was throttled. Expected available in {wait} second{'s' if wait != 1 else ''}."
            return json_answer(429, {"detail": detail}, {**DRF_HEADERS, "Retry-After": str(wait)})
        if method not in ("GET", "HEAD"):
            return json_answer(405, {"detail": f'Method "{method}" not allowed.'}, DRF_HEADERS)
        split = urlsplit(target)
        parts = [unquote(part) for part in split.path.split("/") if part]
        if parts[:2] != ["api", "v4"]:
            return json_answer(404, NOT_FOUND, DRF_HEADERS)
        if len(parts) == 2:
            root = {listing: f"{base_url}/api/v4/{listing}/" for listing in ("packages", "search", "grids",
                                                                             "categories")}
            return self._validated(json_answer(200, root, DRF_HEADERS), request)
        listing = parts[2]
        if listing not in LISTINGS or len(parts) > 4:
            return json_answer(404, NOT_FOUND, DRF_HEADERS)
        records = sorted(getattr(self, listing), key=lambda record: record["id"], reverse=True)
        if len(parts) == 4:
            return self._validated(self._one(listing, records, parts[3]), request)
        query = parse_qsl(split.query, keep_blank_values=True)
        limit = _whole(dict(query).get("limit"), PAGE_SIZE, least=1)
        offset = _whole(dict(query).get("offset"), 0, least=0)
        page = records[offset : offset + limit]
        following = self._link(base_url, split.path, query, limit, offset + limit) \
            if offset + limit < len(records) else None
        before = None if offset <= 0 else self._link(base_url, split.path, query, limit, offset - limit)
        body: Any = {"count": len(records), "next": following, "previous": before, "results": page}
        key = (listing, offset)
        if key in self.foreign_next:
            body["next"] = self.foreign_next[key]
        if key in self.cycles:
            body["next"] = f"{base_url}{split.path}?{urlencode([(k, v) for k, v in query if k != 'offset'])}"
        if key in self.malformed:
            body = _malformed(self.malformed[key], body)
            if isinstance(body, bytes):
                return Answer(200, body, {"Content-Type": "text/html; charset=utf-8"})
        return self._validated(json_answer(200, body, DRF_HEADERS), request)

    def _one(self, listing: str, records: list[dict[str, Any]], key: str) -> Answer:
        by_id = key.isdigit()
        if not by_id and listing == "categories":
            return json_answer(404, NOT_FOUND, DRF_HEADERS)
        found = next((record for record in records
                      if (record["id"] == int(key) if by_id else record["slug"] == key)), None)
        return json_answer(200, found, DRF_HEADERS) if found else json_answer(404, NOT_FOUND, DRF_HEADERS)

    def _link(self, base_url: str, path: str, query: list[tuple[str, str]], limit: int, offset: int) -> str:
        """DRF's replace_query_param: the request's URL with `limit` and `offset` set (no offset for the first)."""
        kept = [(k, v) for k, v in query if k not in ("limit", "offset")]
        params = [*kept, ("limit", str(limit))] + ([("offset", str(offset))] if offset > 0 else [])
        return f"{base_url}{path}?{urlencode(params)}"

    def _validated(self, answer: Answer, request: Mapping[str, str]) -> Answer:
        if not self.etags or answer.status != 200:
            return answer
        etag = f'W/"{hashlib.sha256(answer.body).hexdigest()[:32]}"'
        if not_modified(request, etag, ""):
            return Answer(304, headers={"ETag": etag, **DRF_HEADERS})
        answer.headers["ETag"] = etag
        return answer


def _complete(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each record with the 18 fields the API always sends, in their order: a catalogue's record may leave some
    out (an id among them: the next free one), and the API gives what a package never fetched holds."""
    next_id = max((record["id"] for record in records if isinstance(record.get("id"), int)), default=0) + 1
    completed = []
    for record in records:
        if not isinstance(record.get("id"), int):
            record, next_id = {**record, "id": next_id}, next_id + 1
        defaults = {**NEVER_FETCHED, "category": f"{ORIGIN}/api/v4/categories/1/", "title": record["slug"]}
        completed.append({name: record.get(name, defaults.get(name)) for name in PACKAGE_FIELDS})
    return completed


def _category(number: int) -> dict[str, Any]:
    return {**DOCUMENTED_CATEGORY, "id": number, "title": f"Category {number}", "slug": f"category-{number}",
            "description": f"Packages of category {number}.", "title_plural": f"Categories {number}"}


def _grid(number: int) -> dict[str, Any]:
    return {**DOCUMENTED_GRID, "id": number, "title": f"Grid {number}", "slug": f"grid-{number}",
            "description": f"A comparison grid ({number}).", "packages": []}


def _whole(text: str | None, default: int, *, least: int) -> int:
    """DRF's _positive_int: a malformed or missing value is the default."""
    try:
        value = int(text or "")
    except ValueError:
        return default
    return value if value >= least else default


def _malformed(kind: str, body: dict[str, Any]) -> Any:
    if kind == "not_json":
        return b"<!DOCTYPE html><html><body>Server Error (500)</body></html>"
    if kind == "results_not_list":
        return {**body, "results": {"oops": body["results"]}}
    if kind == "next_not_url":
        return {**body, "next": 42}
    if kind == "no_next":
        return {key: value for key, value in body.items() if key != "next"}
    results = [dict(record) for record in body["results"]]  # bad_record: the last record's id is no id
    results[-1]["id"] = "many"
    return {**body, "results": results}
