"""Answers -> pieces -> record fields, meaning what Django Packages means by each field.

Pure functions. An answer of the wrong shape is a BadResponse naming its URL,
so one odd answer fails its package instead of writing nonsense.
"""

import re

from fetcher.errors import BadResponse, InputError
from fetcher.net.answer import Answer
from fetcher.record import parse_datetime
from fetcher.links import parse_repo_url

WEEKS = 52


def repo_piece(answer: Answer) -> dict:
    """GET /repos/{owner}/{name} -> what the record needs of it, plus pushed_at."""
    repo = _object(answer)
    forks, stars = repo.get("forks_count"), repo.get("watchers_count")
    description, html_url = repo.get("description"), repo.get("html_url")
    if not (_is_count(forks) and _is_count(stars) and isinstance(html_url, str)):
        raise BadResponse(answer.url, "repository answer lacks forks_count, watchers_count or html_url")
    if description is not None and not isinstance(description, str):
        raise BadResponse(answer.url, "repository description is not a string")
    if not all(v is None or isinstance(v, str) for v in (repo.get("full_name"), repo.get("pushed_at"))):
        raise BadResponse(answer.url, "repository full_name or pushed_at is not a string")
    return {
        "full_name": repo.get("full_name") or "",
        "html_url": html_url,
        "forks": forks,
        "stars": stars,  # GitHub's watchers_count is its star count
        "description": description,
        "pushed_at": repo.get("pushed_at"),
        "archived": bool(repo.get("archived")),
    }


def newest_commit_date(answer: Answer | None) -> str | None:
    """The committer date of the newest commit on the default branch; None for an empty repository."""
    if answer is None:
        return None
    try:
        return parse_datetime(answer.data[0]["commit"]["committer"]["date"]).isoformat()
    except (LookupError, TypeError, ValueError):
        raise BadResponse(answer.url, "commits answer lacks the newest commit's committer date") from None


def contributor_logins(page: Answer) -> list[str]:
    if not isinstance(page.data, list):
        raise BadResponse(page.url, "contributors answer is not a list")
    return [c["login"] for c in page.data if isinstance(c, dict) and isinstance(c.get("login"), str) and c["login"]]


def participation_weeks(answer: Answer) -> list[int]:
    """The 52 weekly commit counts, oldest week first; [] for an empty repository (204)."""
    if answer.status == 204:
        return []
    weeks = answer.data.get("all") if isinstance(answer.data, dict) else None
    if not (isinstance(weeks, list) and len(weeks) == WEEKS and all(_is_count(w) for w in weeks)):
        raise BadResponse(answer.url, f"participation answer lacks {WEEKS} weekly counts under 'all'")
    return weeks


def pypi_version(answer: Answer) -> str:
    info = _object(answer).get("info")
    version = info.get("version") if isinstance(info, dict) else None
    if not isinstance(version, str) or not version:
        raise BadResponse(answer.url, "PyPI answer lacks info.version")
    return version


def repo_fields(
    stored_repo_url: str,
    repo: dict,
    last_updated: str | None,
    contributor_pages: list[list[str]],
    weeks: list[int] | None,
) -> dict:
    """The GitHub fields of a record; commits_over_52 is left out when `weeks` is None (still computing)."""
    fields = {
        "repo_forks": repo["forks"],
        "repo_watchers": repo["stars"],
        "repo_description": repo["description"] or "",
        "repo_url": canonical_repo_url(stored_repo_url, repo["full_name"], repo["html_url"]),
        "participants": participants(contributor_pages),
        "last_updated": parse_datetime(last_updated) if last_updated else None,
    }
    if weeks is not None:
        fields["commits_over_52"] = weeks
    return fields


def canonical_repo_url(stored: str, full_name: str, html_url: str) -> str:
    """The repo_url to keep: as the catalogue wrote it, unless GitHub confirmed a rename.

    A rename is confirmed when the answer's full name is another repository than the one
    the stored URL names, and its html_url is exactly https://HOST/Owner/Name for that full
    name on the stored URL's host. Anything else (an empty, odd or foreign html_url) keeps
    the person's URL: an answer never wipes it or points it at another host.
    """
    try:
        asked = parse_repo_url(stored)
    except InputError:
        return stored
    match = _PLAIN_REPO_URL.fullmatch(html_url)
    if match is None or match["name"].lower() != full_name.lower() or asked.full_name.lower() == full_name.lower():
        return stored
    if match["host"].lower().removeprefix("www.") != asked.host.removeprefix("www."):
        return stored
    return f"https://{match['host'].lower()}/{match['name']}"


# https://HOST/Owner/Name and nothing more, in the characters GitHub allows in owner and repository names.
_PLAIN_REPO_URL = re.compile(r"https://(?P<host>[A-Za-z0-9.-]+)/(?P<name>[A-Za-z0-9-]+/[A-Za-z0-9._-]+)/?")


def participants(pages: list[list[str]]) -> list[str]:
    """Contributor logins in GitHub's order, each once; bots are contributors too."""
    return list(dict.fromkeys(login for page in pages for login in page))


def _object(answer: Answer) -> dict:
    if not isinstance(answer.data, dict):
        raise BadResponse(answer.url, "answer is not a JSON object")
    return answer.data


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
