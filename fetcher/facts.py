"""The facts a directory shows beside the record: derived, scored, stored, printed, imported. Pure functions.

A fact is kept in the `facts` table, never among the 18 API fields. Each is
read (by the host or index whose answer has it: hosts/github/answers.py,
hosts/forge.py, hosts/pypi.py) from the cheapest answer that has it: the
repository's metadata (archived, archived_at, commit_count), PyPI's JSON API
(license, Python support, classifiers, the latest release) and PyPI's JSON
Index API (the PEP 792 project status). Here they are derived from those
readings (Python 3 support, Django versions, the score) and shaped for the
store, for printing, and from an imported record.
"""

import json
import math
from datetime import datetime, timezone
from functools import lru_cache

from dateutil.relativedelta import relativedelta
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from fetcher.compat import FETCHER, Profile
from fetcher.errors import InputError
from fetcher.record import in_zone, is_utf8, parse_datetime, to_stored_datetime

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

MAX_COUNT = 2**53  # larger is no real count; it would not even fit SQLite's INTEGER beyond 2**63
SHORT_LICENSE = 100  # longer, or more than one line, is a license text pasted into the field
SCORE_FLOOR = -500
PYTHON3_PENALTY_CAP = 1000

# The Python 3 releases a `requires_python` is read against: each ended series up to the last release it had
# (3.8 ended at 3.8.20), every other one, and those to come up to 3.39, up to a generous 3.M.50. Patch versions
# count: `==3.8.5` admits Python 3 as surely as `>=3.8` does. Newest first, since most specifiers admit the newest.
ENDED_SERIES = {0: 1, 1: 5, 2: 6, 3: 7, 4: 10, 5: 10, 6: 15, 7: 17, 8: 20}  # 3.M -> its last patch release
LAST_MINOR = 39
OPEN_SERIES_PATCHES = 50
PYTHON3_RELEASES = tuple(
    Version(f"3.{minor}.{patch}")
    for minor in range(LAST_MINOR, -1, -1)
    for patch in range(ENDED_SERIES.get(minor, OPEN_SERIES_PATCHES), -1, -1)
)


# -- deriving -------------------------------------------------------------------


def license_names(license_field: str | None, classifiers: list[str]) -> list[str]:
    """A short `license` (not a whole license text pasted there) as one name, else the License classifiers' names."""
    text = (license_field or "").strip()
    if text and "\n" not in text and len(text) <= SHORT_LICENSE and text.upper() not in ("UNKNOWN", "NONE"):
        return [text]
    names = [c.split("::")[-1].strip() for c in classifiers if c.startswith("License ::")]
    return list(dict.fromkeys(name for name in names if name and name != "OSI Approved"))


def choose_license(expression: str | None, names: list[str]) -> str | list[str] | None:
    """The license fact: PEP 639's expression, a string (a real SPDX expression), else the names, a list.

    Names are never joined into one string: "MIT License OR Apache Software License" would read
    like an SPDX expression and be none (and a project listing two licenses may mean AND as well as OR).
    """
    if expression and expression.strip():
        return expression.strip()
    return list(names) or None


def supports_python3(requires_python: str | None, classifiers: list[str]) -> bool | None:
    """From `requires_python` where it says, else the `Programming Language :: Python :: 3` classifiers."""
    admits = admits_python3(requires_python) if requires_python else None
    if admits is not None:
        return admits
    pythons = [c for c in classifiers if c.startswith("Programming Language :: Python ::")]
    if any(c.startswith("Programming Language :: Python :: 3") for c in pythons):  # 3, 3.12, 3 :: Only
        return True
    if any(c.startswith("Programming Language :: Python :: 2") for c in pythons):
        return False
    return None


@lru_cache(maxsize=4096)  # a directory's packages share a few hundred specifiers
def admits_python3(requires_python: str) -> bool | None:
    """Whether a PEP 440 specifier set admits some Python 3 release (None: it is no specifier set, or an empty one).

    Read against every Python 3 release, patch versions included (PYTHON3_RELEASES), and against the
    Python 3 pre-releases the specifier itself names: PEP 440 admits a pre-release only where it is named,
    and `==3.13.0b1` is a Python 3 all the same.
    """
    try:
        specifiers = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return None
    if not len(specifiers):
        return None
    named = []
    for specifier in specifiers:
        try:
            version = Version(specifier.version)
        except InvalidVersion:  # a wildcard (3.8.*) or an === string names no pre-release
            continue
        if version.is_prerelease and version.release[0] == 3 and version.epoch == 0:
            named.append(version)
    return any(specifiers.contains(version, prereleases=True) for version in (*PYTHON3_RELEASES, *named))


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


def probed_python3(requires_python: str | None, classifiers: list[str], probe: tuple[str, ...]) -> bool | None:
    """Python 3 support as Django Packages decides it (PyPIPackage.supports_python3 in package/pypi.py of
    djangopackages/djangopackages): `requires_python` admits one of the `probe` versions (3.0 to 3.14, no
    patch release: `==3.8.5` admits none); without one, or with one that is no specifier set, true with a
    Python 3 classifier, else unknown (never false from the classifiers)."""
    python3 = any(c.startswith("Programming Language :: Python :: 3") for c in classifiers)
    if requires_python:
        try:
            specifiers = SpecifierSet(requires_python)
        except InvalidSpecifier:
            return True if python3 else None
        return any(specifiers.contains(version, prereleases=True) for version in probe)
    return True if python3 else None


def pypi_derived(piece: dict, profile: Profile = FETCHER) -> dict:
    """The PyPI facts of a `pypi` piece, Python 3 support (as the profile decides it) and Django versions derived."""
    classifiers = piece.get("classifiers") or []
    requires = piece.get("requires_python")
    return {
        "license": choose_license(piece.get("license_expression"), piece.get("license_names") or []),
        "requires_python": requires,
        "supports_python3": supports_python3(requires, classifiers) if profile.python3 == "releases" else
        probed_python3(requires, classifiers, profile.python3_probe),
        "django_versions": django_versions(classifiers),
        "classifiers": classifiers,
        "latest_release_at": piece.get("latest_release_at"),
        "latest_release_yanked": piece.get("latest_release_yanked"),
    }


def established(row: dict, fields: dict, repo: dict | None, pypi: dict | None, status: str | None,
                before: dict, now: datetime, profile: Profile = FETCHER) -> dict:
    """The facts one fetch established for the package `row` (its row and `before` its facts, as the store
    reads them: fetcher/store/stored.py):
    from the repository as the host reported it, PyPI's project and its status, each where it was asked;
    the score from the record as it will be. What the fetch did not reach keeps its stored value, and so
    does a Python 3 support the profile's probe cannot tell (Django Packages keeps it too)."""
    found = repo_facts(repo, before, now) if repo is not None else {}
    if pypi is not None:
        found.update(pypi_derived(pypi, profile))
        if profile.python3 == "probe" and found["supports_python3"] is None:
            del found["supports_python3"]
    if status is not None:
        found["pypi_status"] = status
    python3 = found["supports_python3"] if "supports_python3" in found else before.get("supports_python3")
    stars = fields.get("repo_watchers", row["repo_watchers"])
    last_updated = fields["last_updated"] if "last_updated" in fields else row["last_updated"]
    found["score"] = score(stars, last_updated, None if python3 is None else bool(python3), now)
    return found


def score(stars: int, last_updated: datetime | None, python3: bool | None, now: datetime) -> int:
    """Django Packages' score, computed as they compute it, so that a directory moving from there ranks the same.

    Their `_calculate_score` (package/scores.py of djangopackages/djangopackages), operation for operation in
    floating point: stars, less a tenth of them per whole three months from the last commit to now (a last
    commit in the future makes that a bonus, as there), less 30% of them, at most 1000, without Python 3
    support (unknown counts as none), truncated toward zero, never below −500; with no last commit, less a
    tenth of them. Months are whole calendar months in UTC (relativedelta), as their stored dates are UTC.
    """
    if last_updated:
        delta = relativedelta(now.astimezone(timezone.utc), last_updated.astimezone(timezone.utc))
        months = delta.years * 12 + delta.months
        stale = math.modf(months / 3)[1] * stars / 10
    else:
        stale = stars / 10
    penalty = 0 if python3 else min(stars * 30 / 100, PYTHON3_PENALTY_CAP)
    return max(SCORE_FLOOR, int(stars - stale - penalty))


def utc_day(moment: datetime) -> str:
    """The UTC date of a moment, as history rows are keyed."""
    return moment.astimezone(timezone.utc).date().isoformat()


# -- storing, printing, importing ---------------------------------------------------


def to_columns(facts: dict) -> dict:
    """Fact values -> `facts` table columns (booleans 0/1, lists as JSON: a license's names too)."""
    columns = {}
    for name, value in facts.items():
        if (name in LIST_FACTS or name == "license") and isinstance(value, list):
            value = json.dumps(value, ensure_ascii=False)
        elif name in BOOLEAN_FACTS and value is not None:
            value = int(value)
        elif name in DATETIME_FACTS and isinstance(value, datetime):  # one the store read, kept
            value = to_stored_datetime(value)
        columns[name] = value
    return columns


def to_api(row: dict | None, zone) -> dict:
    """A `facts` row as the store reads it (lists as lists, flags as booleans, date-times as date-times:
    fetcher/store/stored.py), or None -> the `facts` object: every name, null when unknown."""
    row = row or {}
    printed = {}
    for name in FACT_NAMES:
        value = row.get(name)
        if value is not None:
            if name == "license":
                value = stored_license(value)
            elif name in DATETIME_FACTS:
                value = in_zone(value, zone).isoformat()
        printed[name] = value
    return printed


def stored_license(text: str) -> str | list[str]:
    """The license column: a JSON list of names, else an SPDX expression (which never begins with `[`).

    A license stored before names were kept as a list (the classifiers' names joined with " OR ") reads
    as the string it is, until the package's next sync stores its names.
    """
    if text.startswith("["):
        try:
            names = json.loads(text)
        except (ValueError, RecursionError):  # another program's text, nested past the decoder's depth too
            return text
        if isinstance(names, list) and all(isinstance(name, str) and is_utf8(name) for name in names):
            return names
    return text


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
        ok = isinstance(value, list) and all(isinstance(v, str) and is_utf8(v) for v in value)
        return None if ok else "must be a list of strings or null"
    if name == "license":
        names = isinstance(value, list) and all(isinstance(v, str) and is_utf8(v) for v in value)
        expression = isinstance(value, str) and is_utf8(value) and not value.startswith("[")
        return None if names or expression else "must be a list of names, an SPDX expression or null"
    if name in DATETIME_FACTS:
        if not isinstance(value, str):
            return "must be an ISO 8601 date-time string or null"
        try:
            parse_datetime(value)
        except ValueError as exc:
            return str(exc)
        return None
    return None if isinstance(value, str) and is_utf8(value) else "must be a string or null"
