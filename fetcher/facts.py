"""The facts a directory shows beside the record: read from answers, derived, scored. Pure functions.

A fact is kept in the `facts` table, never among the 18 API fields. Each is
read from the cheapest answer that has it (see the README's table): the
repository piece (GraphQL batch, REST repo or commits page, any host that
fills the optional keys `archived`, `archived_at`, `commit_count`), PyPI's
JSON API (license, Python support, classifiers, the latest release) and
PyPI's JSON Index API (the PEP 792 project status). An answer whose fact has
the wrong type is a BadResponse: its package fails and keeps what it had.
"""

import json
import string
from datetime import datetime, timezone
from fractions import Fraction
from urllib.parse import parse_qs, urlsplit

from dateutil.relativedelta import relativedelta
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from fetcher.errors import BadResponse, InputError
from fetcher.net.answer import Answer
from fetcher.record import parse_datetime, to_stored_datetime

# The facts, in the order `show --facts` prints them; their names are the API's.
FACT_NAMES = (
    "archived",
    "archived_at",
    "commit_count",
    "license",
    "requires_python",
    "supports_python3",
    "django_versions",
    "classifiers",
    "latest_release_at",
    "latest_release_yanked",
    "pypi_status",
    "score",
)
BOOLEAN_FACTS = frozenset({"archived", "supports_python3", "latest_release_yanked"})
DATETIME_FACTS = frozenset({"archived_at", "latest_release_at"})
LIST_FACTS = frozenset({"django_versions", "classifiers"})
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"

MAX_COUNT = 2**53  # larger is no real count; it would not even fit SQLite's INTEGER beyond 2**63
MAX_TEXT = 200  # a license name, a version specifier, a classifier, a status: all far shorter
MAX_URL = 2000
MAX_CLASSIFIERS = 1000
SHORT_LICENSE = 100  # longer, or more than one line, is a license text pasted into the field
SCORE_FLOOR = -500
PYTHON3_PENALTY_CAP = 1000
DOC_LABELS = ("documentation", "docs")


# -- reading answers ------------------------------------------------------------


def pypi_facts(answer: Answer) -> dict:
    """PyPI's JSON API answer -> the facts it holds (and the docs URL), as the `pypi` piece keeps them."""
    body = answer.data if isinstance(answer.data, dict) else None
    info = body.get("info") if body else None
    if not isinstance(info, dict):
        raise BadResponse(answer.url, "PyPI answer lacks info")
    try:
        classifiers = _text_list(info.get("classifiers"), MAX_CLASSIFIERS)
        version = info.get("version")
        released_at, yanked = latest_release(body, version)
        return {
            "license": choose_license(
                _optional_text(info.get("license_expression"), MAX_TEXT),
                _optional_text(info.get("license"), None),
                classifiers,
            ),
            "requires_python": _optional_text(info.get("requires_python"), MAX_TEXT) or None,
            "classifiers": classifiers,
            "latest_release_at": released_at,
            "latest_release_yanked": yanked,
            "documentation_url": documentation_url(info.get("docs_url"), info.get("project_urls")),
        }
    except (TypeError, ValueError) as exc:
        raise BadResponse(answer.url, f"PyPI answer: {exc}") from None


def project_status(answer: Answer) -> str:
    """PyPI's JSON Index API project page -> its PEP 792 status; none said is `active`."""
    body = answer.data if isinstance(answer.data, dict) else None
    if body is None or not isinstance(body.get("name"), str):
        raise BadResponse(answer.url, "JSON Index API answer is not a project page")
    marker = body.get("project-status")
    if marker is None:
        return "active"
    status = marker.get("status", "active") if isinstance(marker, dict) else None
    try:
        status = _text(status, MAX_TEXT)
    except (TypeError, ValueError):
        raise BadResponse(answer.url, "project-status.status is not a short string") from None
    # PEP 792 names active, archived, quarantined and deprecated; an index may add more, so any word is kept.
    if not status.isascii() or not status.isidentifier():
        raise BadResponse(answer.url, f"project-status.status {status[:40]!r} is not a status word")
    return status


def commit_count(answer: Answer) -> int:
    """`commits?per_page=1` -> the default branch's commit count: the `last` page of `Link`, else the list's length."""
    for part in answer.headers.get("link", "").split(","):
        url, _, params = part.partition(";")
        if 'rel="last"' in params.replace(" ", ""):
            page = parse_qs(urlsplit(url.strip(" <>")).query).get("page", [""])[0]
            if page.isdigit() and 0 < int(page) <= MAX_COUNT:
                return int(page)
            raise BadResponse(answer.url, "commits Link header has no usable last page")
    if not isinstance(answer.data, list):
        raise BadResponse(answer.url, "commits answer is not a list")
    return min(len(answer.data), 1)


def graphql_repo_facts(node: dict) -> dict:
    """The archive state and commit count of a GraphQL repository node; ValueError when of the wrong type."""
    archived_at = node.get("archivedAt")
    if archived_at is not None:
        archived_at = to_stored_datetime(parse_datetime(_text(archived_at, MAX_TEXT)))
    branch = node.get("defaultBranchRef")
    if branch is None:
        count = 0  # an empty repository has no default branch yet
    else:
        target = (branch.get("target") if isinstance(branch, dict) else None) or {}
        history = target.get("history", {}) if isinstance(target, dict) else -1
        count = history.get("totalCount") if isinstance(history, dict) else -1
        if count is not None and not _is_count(count):
            raise ValueError("history.totalCount is not a count")
    archived = node.get("isArchived", False)
    if not isinstance(archived, bool):
        raise ValueError("isArchived is not a boolean")
    return {"archived": archived, "archived_at": archived_at, "commit_count": count}


# -- deriving -------------------------------------------------------------------


def choose_license(expression: str | None, license_field: str | None, classifiers: list[str]) -> str | None:
    """PEP 639's expression, else a short `license` (not a whole license text), else the License classifiers."""
    if expression and expression.strip():
        return expression.strip()
    text = (license_field or "").strip()
    if text and "\n" not in text and len(text) <= SHORT_LICENSE and text.upper() not in ("UNKNOWN", "NONE"):
        return text
    names = [c.split("::")[-1].strip() for c in classifiers if c.startswith("License ::")]
    names = [name for name in names if name and name != "OSI Approved"]
    return " OR ".join(dict.fromkeys(names)) or None


def supports_python3(requires_python: str | None, classifiers: list[str]) -> bool | None:
    """From `requires_python` where it says, else the `Programming Language :: Python :: 3` classifiers."""
    if requires_python:
        try:
            specifiers = SpecifierSet(requires_python)
        except InvalidSpecifier:
            specifiers = None
        if specifiers is not None and len(specifiers):
            candidates = (Version(f"3.{minor}.{patch}") for minor in range(0, 40) for patch in (0, 99))
            return any(specifiers.contains(v, prereleases=True) for v in candidates)
    pythons = [c for c in classifiers if c.startswith("Programming Language :: Python ::")]
    if any(c.startswith("Programming Language :: Python :: 3") for c in pythons):  # 3, 3.12, 3 :: Only
        return True
    if any(c.startswith("Programming Language :: Python :: 2") for c in pythons):
        return False
    return None


def django_versions(classifiers: list[str]) -> list[str]:
    """The `Framework :: Django :: X.Y` versions, sorted as versions (4.2 before 4.10), each once."""
    found = {}
    for classifier in classifiers:
        parts = [part.strip() for part in classifier.split("::")]
        if len(parts) == 3 and parts[:2] == ["Framework", "Django"]:
            try:
                found.setdefault(parts[2], Version(parts[2]))
            except InvalidVersion:
                continue
    return sorted(found, key=found.__getitem__)


def latest_release(body: dict, version) -> tuple[str | None, bool | None]:
    """When the files of `version` were first uploaded, and whether that release is yanked."""
    files = body.get("urls")
    if not files and isinstance(version, str) and isinstance(body.get("releases"), dict):
        files = body["releases"].get(version)
    if files is None:
        files = []
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        raise ValueError("release files are not a list of objects")
    if not files:
        return None, None
    times = [parse_datetime(_text(f.get("upload_time_iso_8601"), MAX_TEXT)) for f in files]
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


def repo_facts(repo: dict, before: dict, now: datetime) -> dict:
    """archived, archived_at, commit_count from a repository piece's optional keys; unsaid ones keep `before`.

    A host that does not say when a repository was archived gets the time
    fetcher first saw it archived; an unarchived repository has no archived_at.
    """
    facts = {}
    if "commit_count" in repo and repo["commit_count"] is not None:
        facts["commit_count"] = repo["commit_count"]
    if "archived" in repo and repo["archived"] is not None:
        archived = bool(repo["archived"])
        facts["archived"] = archived
        if not archived:
            facts["archived_at"] = None
        elif repo.get("archived_at"):
            facts["archived_at"] = repo["archived_at"]
        elif before.get("archived") and before.get("archived_at"):
            facts["archived_at"] = before["archived_at"]
        else:
            facts["archived_at"] = to_stored_datetime(now)
    return facts


def pypi_derived(piece: dict) -> dict:
    """The PyPI facts of a `pypi` piece, Python 3 support and Django versions derived."""
    classifiers = piece.get("classifiers") or []
    return {
        "license": piece.get("license"),
        "requires_python": piece.get("requires_python"),
        "supports_python3": supports_python3(piece.get("requires_python"), classifiers),
        "django_versions": django_versions(classifiers),
        "classifiers": classifiers,
        "latest_release_at": piece.get("latest_release_at"),
        "latest_release_yanked": piece.get("latest_release_yanked"),
    }


def score(stars: int, last_updated: datetime | None, python3: bool | None, now: datetime) -> int:
    """Django Packages' score: stars, less a tenth of them per whole three months unchanged, less the Python 3 penalty.

    stars − ⌊months / 3⌋ × stars / 10 − (0 if python3 is True else min(0.3 × stars, 1000)),
    truncated, never below −500; with no last_updated the middle term is stars / 10.
    Exact fractions, so no float rounding moves a boundary.
    """
    if last_updated is None:
        stale = Fraction(stars, 10)
    else:
        delta = relativedelta(now, last_updated)
        months = max(delta.years * 12 + delta.months, 0)
        stale = Fraction((months // 3) * stars, 10)
    penalty = 0 if python3 is True else min(Fraction(3 * stars, 10), PYTHON3_PENALTY_CAP)
    return max(int(stars - stale - penalty), SCORE_FLOOR)


def utc_day(moment: datetime) -> str:
    """The UTC date of a moment, as history rows are keyed."""
    return moment.astimezone(timezone.utc).date().isoformat()


# -- storing, printing, importing ---------------------------------------------------


def to_columns(facts: dict) -> dict:
    """Fact values -> `facts` table columns (booleans 0/1, lists as JSON)."""
    columns = {}
    for name, value in facts.items():
        if name in LIST_FACTS and value is not None:
            value = json.dumps(value, ensure_ascii=False)
        elif name in BOOLEAN_FACTS and value is not None:
            value = int(value)
        columns[name] = value
    return columns


def to_api(row: dict | None, zone) -> dict:
    """A `facts` row (or None) -> the `facts` object: every name, null when unknown."""
    row = row or {}
    printed = {}
    for name in FACT_NAMES:
        value = row.get(name)
        if value is not None:
            if name in LIST_FACTS:
                value = json.loads(value)
            elif name in BOOLEAN_FACTS:
                value = bool(value)
            elif name in DATETIME_FACTS:
                value = parse_datetime(value).astimezone(zone).isoformat()
        printed[name] = value
    return printed


def check(given: object, where: str) -> dict:
    """An imported `facts` object -> columns; InputError naming `where` and the fact otherwise."""
    if not isinstance(given, dict):
        raise InputError(f"{where}: facts must be a JSON object, not {type(given).__name__}")
    unknown = sorted(set(given) - set(FACT_NAMES))
    if unknown:
        raise InputError(f"{where}: unknown fact {', '.join(unknown)}")
    for name, value in given.items():
        problem = _problem(name, value)
        if problem:
            raise InputError(f"{where}: facts.{name} {problem}, got {json.dumps(value)[:60]}")
    normalized = {
        name: to_stored_datetime(parse_datetime(value)) if name in DATETIME_FACTS and value is not None else value
        for name, value in given.items()
    }
    return to_columns(normalized)


def _problem(name: str, value) -> str | None:
    if value is None:
        return None
    if name in BOOLEAN_FACTS:
        return None if isinstance(value, bool) else "must be true, false or null"
    if name in ("commit_count", "score"):
        low = SCORE_FLOOR if name == "score" else 0
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= MAX_COUNT
        return None if ok else f"must be an integer from {low} to {MAX_COUNT} or null"
    if name in LIST_FACTS:
        ok = isinstance(value, list) and all(isinstance(v, str) and _utf8(v) for v in value)
        return None if ok else "must be a list of strings or null"
    if name in DATETIME_FACTS:
        if not isinstance(value, str):
            return "must be an ISO 8601 date-time string or null"
        try:
            parse_datetime(value)
        except ValueError as exc:
            return str(exc)
        return None
    return None if isinstance(value, str) and _utf8(value) else "must be a string or null"


# -- checking what an answer says ---------------------------------------------------


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT


def _utf8(text: str) -> bool:
    """False for strings SQLite cannot store: lone surrogates from a JSON \\ud800 escape."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(value, limit: int | None) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    if not _utf8(value):
        raise ValueError("a string is not valid Unicode")
    if limit is not None and len(value) > limit:
        raise ValueError(f"a string is longer than {limit} characters")
    return value


def _optional_text(value, limit: int | None) -> str | None:
    return None if value is None else _text(value, limit)


def _text_list(value, limit: int) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > limit:
        raise ValueError(f"expected a list of at most {limit} strings")
    return [_text(item, MAX_TEXT) for item in value]


def _url(value) -> str | None:
    """An http(s) URL as given; None for anything else (a docs link one cannot open is no docs link)."""
    url = _text(value, MAX_URL).strip()
    return url if urlsplit(url).scheme in ("http", "https") else None
