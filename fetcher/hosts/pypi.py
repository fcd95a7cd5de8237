"""PyPI: a project's latest version and facts, read from its two free, conditional answers.

- the JSON API (`GET /pypi/NAME/json`): the version, license, Python support, classifiers,
  the latest release's upload time and yank, the documentation URL;
- the JSON Index API (`GET /simple/NAME/`, PEP 691, `Accept: application/vnd.pypi.simple.v1+json`):
  the PEP 792 project status, which the JSON API does not carry.

Both are asked side by side. A quarantined project is hidden from the JSON API (404) while the
index still names it with its status: the index's answer explains the 404, so the status is kept
and the project's last known version and facts stand; the package does not fail.

Names are PEP 503-normalized before asking, or PyPI redirects. PyPI publishes no budget and takes
no token: its refusals and its rate limit fail the package that asked, never the run.
"""

import string
from urllib.parse import urlsplit

from fetcher.cache import Cached, revalidated
from fetcher.errors import BadResponse, Failure, NotFound, Unreachable
from fetcher.facts import license_names
from fetcher.hosts.base import UNREACHABLE, Check
from fetcher.hosts.read import MAX_TEXT, body_object, checked_text, optional_text, text_list
from fetcher.links import normalize_pypi_name
from fetcher.net.answer import Answer
from fetcher.net.client import Client
from fetcher.net.request import Request
from fetcher.net.service import Service
from fetcher.record import parse_datetime, to_stored_datetime
from fetcher.side_by_side import first_failure_wins

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
MAX_URL = 2000
MAX_CLASSIFIERS = 1000
DOC_LABELS = ("documentation", "docs")
# The project URL labels Django Packages takes documentation from, exactly as written, in this order
# (package/pypi.py of djangopackages/djangopackages, PyPIPackage.docs_url).
EXACT_DOC_LABELS = ("Documentation", "Docs", "docs", "documentation")
# What the kept answer of a project holds beside its version, each read from the JSON API.
PIECE_KEYS = frozenset({"classifiers", "license_names", "documentation_url", "documentation_url_exact"})
# `fetcher check` asks the JSON API for a project it surely has.
PROBE_PROJECT = "pip"
# PEP 792: an index "MUST NOT offer any distributions of the project for download" while it is quarantined, and
# PyPI's JSON API answers 404 for it (warehouse excludes `quarantine-enter` projects from it).
HIDDEN = frozenset({"quarantined"})


class PyPIService(Service):
    name = "pypi"
    label = "PyPI"


class PyPI:
    def __init__(self, client: Client, url: str):
        self.client = client
        self.url = url
        self.service = PyPIService()

    async def project(self, name: str, cached: Cached | None) -> Cached:
        """The project's version with its facts; a 304 keeps last time's."""
        name = normalize_pypi_name(name)
        # An answer kept before facts were read holds no facts, one kept before the license's names were a list
        # holds them joined into one string, or lacks the documentation URL as Django Packages finds it:
        # ask afresh once, unconditionally.
        if cached is not None and (cached.value.get("name") != name or not PIECE_KEYS <= cached.value.keys()):
            cached = None

        def read(answer: Answer) -> dict:
            return {"name": name, "version": version(answer), **project_facts(answer)}

        return await revalidated(self.client, self.service, Request(f"{self.url}/pypi/{name}/json", "pypi"),
                                 cached, read)

    async def status(self, name: str, cached: Cached | None) -> Cached:
        """The PEP 792 status from the JSON Index API; a 304 keeps last time's."""
        name = normalize_pypi_name(name)
        if cached is not None and cached.value.get("name") != name:
            cached = None
        request = Request(f"{self.url}/simple/{name}/", "pypi", headers={"Accept": SIMPLE_JSON})
        return await revalidated(self.client, self.service, request, cached,
                                 lambda answer: {"name": name, "status": project_status(answer)})

    async def project_and_status(self, name: str, cached_project: Cached | None,
                                 cached_status: Cached | None) -> tuple[Cached | None, Cached]:
        """The project (None when the index's status explains why the JSON API has none) and its status.

        Asked side by side, with no request more than before: any failure of either but a not-found
        still fails the package at once; a not-found waits for the other answer. A project neither
        knows, or one the index does not know, is not found."""

        async def or_missing(step):
            try:
                return await step
            except NotFound as missing:
                return missing

        project, status = await first_failure_wins(or_missing(self.project(name, cached_project)),
                                                   or_missing(self.status(name, cached_status)))
        if isinstance(project, NotFound):
            if isinstance(status, NotFound) or not explains_missing(status.value["status"]):
                raise project
            return None, status
        if isinstance(status, NotFound):
            raise status
        return project, status

    async def check(self) -> list[Check]:
        """One project's JSON: the API answers (a 404, from a mirror that lacks the project, is an answer too)."""
        name = f"PyPI {self.url}"
        try:
            await self.client.send(self.service, Request(f"{self.url}/pypi/{PROBE_PROJECT}/json", "pypi", once=True))
        except NotFound:
            return [Check(name, True, f"answers (no project {PROBE_PROJECT!r})")]
        except Unreachable as exc:
            return [Check(name, False, f"cannot reach it: {exc}", UNREACHABLE)]
        except Failure as exc:
            return [Check(name, False, f"does not answer as PyPI does: {exc}", UNREACHABLE)]
        return [Check(name, True, f"answers (project {PROBE_PROJECT!r} found)")]


# -- reading PyPI's answers -----------------------------------------------------------------


def version(answer: Answer) -> str:
    info = body_object(answer).get("info")
    found = info.get("version") if isinstance(info, dict) else None
    if not isinstance(found, str) or not found:
        raise BadResponse(answer.url, "PyPI answer lacks info.version")
    return found


def project_facts(answer: Answer) -> dict:
    """The JSON API's answer -> the facts it holds (and the docs URL), as the `pypi` resource keeps them."""
    body = answer.data if isinstance(answer.data, dict) else None
    info = body.get("info") if body else None
    if not isinstance(info, dict):
        raise BadResponse(answer.url, "PyPI answer lacks info")
    try:
        classifiers = text_list(info.get("classifiers"), MAX_CLASSIFIERS)
        released_at, yanked = latest_release(body, info.get("version"))
        return {
            "license_expression": (optional_text(info.get("license_expression"), MAX_TEXT) or "").strip() or None,
            "license_names": license_names(optional_text(info.get("license"), None), classifiers),
            "requires_python": optional_text(info.get("requires_python"), MAX_TEXT) or None,
            "classifiers": classifiers,
            "latest_release_at": released_at,
            "latest_release_yanked": yanked,
            "documentation_url": documentation_url(info.get("docs_url"), info.get("project_urls")),
            "documentation_url_exact": documentation_url_exact(info.get("docs_url"), info.get("project_urls")),
        }
    except (TypeError, ValueError) as exc:
        raise BadResponse(answer.url, f"PyPI answer: {exc}") from None


def project_status(answer: Answer) -> str:
    """The JSON Index API's project page -> its PEP 792 status; none said is `active`.

    Two forms are read. PyPI (warehouse `_simple_detail`) and PEP 792's example send a top-level object,
    `"project-status": {"status": "quarantined"}` (PEP 792's text names the key `state`: read too); the
    simple repository API spec on packaging.python.org printed it as a string in `meta`,
    `"meta": {"project-status": "quarantined", ...}`, before an erratum moved it, and an index may
    follow that. The top-level object wins when both are sent.
    """
    body = answer.data if isinstance(answer.data, dict) else None
    if body is None or not isinstance(body.get("name"), str):
        raise BadResponse(answer.url, "JSON Index API answer is not a project page")
    marker = body.get("project-status")
    meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
    if isinstance(marker, dict):
        key = "state" if "state" in marker and "status" not in marker else "status"
        where, status = f"project-status.{key}", marker.get(key, "active")
    elif marker is None:
        where, status = "meta.project-status", meta.get("project-status")
        if status is None:
            return "active"
    else:
        where, status = "project-status", None  # neither form: refused below
    try:
        status = checked_text(status, MAX_TEXT)
    except (TypeError, ValueError):
        raise BadResponse(answer.url, f"{where} is not a short string") from None
    # PEP 792 names active, archived, quarantined and deprecated; an index may add more, so any word is kept.
    if not status.isascii() or not status.isidentifier():
        raise BadResponse(answer.url, f"{where} {status[:40]!r} is not a status word")
    return status


def explains_missing(status: str) -> bool:
    """Whether a project of this status is one the JSON API is expected to answer 404 for."""
    return status in HIDDEN


def latest_release(body: dict, release) -> tuple[str | None, bool | None]:
    """When the files of the release were first uploaded, and whether that release is yanked."""
    files = body.get("urls")
    if not files and isinstance(release, str) and isinstance(body.get("releases"), dict):
        files = body["releases"].get(release)
    if files is None:
        files = []
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        raise ValueError("release files are not a list of objects")
    if not files:
        return None, None
    times = [parse_datetime(checked_text(f.get("upload_time_iso_8601"), MAX_TEXT)) for f in files]
    yanked = [f.get("yanked", False) for f in files]
    if not all(isinstance(y, bool) for y in yanked):
        raise ValueError("a release file's yanked is not a boolean")
    # PyPI yanks a release as a whole: every file of it says so.
    return to_stored_datetime(min(times)), all(yanked)


_LABEL_DROP = str.maketrans("", "", string.punctuation + string.whitespace)


def normalize_label(label: str) -> str:
    """PEP 753: drop ASCII punctuation and whitespace, lowercase."""
    return label.translate(_LABEL_DROP).lower()


def documentation_url(docs_url, project_urls) -> str | None:
    """PyPI's `docs_url`, else the project URL whose label normalizes to `documentation` or `docs`."""
    if docs_url and (url := _url(docs_url)):
        return url
    if project_urls is None:
        return None
    if not isinstance(project_urls, dict):
        raise ValueError("project_urls is not an object")
    labelled = (_url(url) for label, url in project_urls.items() if normalize_label(label) in DOC_LABELS)
    return next((url for url in labelled if url), None)


def documentation_url_exact(docs_url, project_urls) -> str | None:
    """As Django Packages finds it: `docs_url`, else the project URL labelled exactly Documentation, Docs, docs or
    documentation, the first of them that is set; taken only if it is an http(s) URL."""
    if project_urls is not None and not isinstance(project_urls, dict):
        raise ValueError("project_urls is not an object")
    found = docs_url or next(filter(None, ((project_urls or {}).get(label) for label in EXACT_DOC_LABELS)), None)
    return _url(found) if found else None


def _url(value) -> str | None:
    """An http(s) URL as given; None for anything else (a docs link one cannot open is no docs link)."""
    url = checked_text(value, MAX_URL).strip()
    return url if urlsplit(url).scheme in ("http", "https") else None
