"""Raw answers -> record fields, matching what Django Packages means by each.

Pure functions. An answer of the wrong shape is a BadResponse naming its URL,
so one odd answer fails its package instead of writing nonsense.
"""

from datetime import datetime

from fetcher.errors import BadResponse, InputError
from fetcher.github import RepoAnswers
from fetcher.interpret import Answer
from fetcher.records import parse_datetime
from fetcher.urls import RepoRef, parse_repo_url

WEEKS = 52


def repo_fields(stored_repo_url: str, answers: RepoAnswers) -> dict:
    """Fields from GitHub; commits_over_52 is left out while GitHub is still computing it."""
    fields = repository_fields(stored_repo_url, answers.repository)
    fields["participants"] = participants(answers.contributor_pages)
    fields["last_updated"] = last_updated(answers.newest_commit)
    if answers.participation is not None:
        fields["commits_over_52"] = commits_over_52(answers.participation)
    return fields


def repository_fields(stored_repo_url: str, answer: Answer) -> dict:
    repo = _object(answer)
    forks, stars = repo.get("forks_count"), repo.get("watchers_count")
    description, html_url = repo.get("description"), repo.get("html_url")
    if not (_is_count(forks) and _is_count(stars) and isinstance(html_url, str)):
        raise BadResponse(answer.url, "repository answer lacks forks_count, watchers_count or html_url")
    if description is not None and not isinstance(description, str):
        raise BadResponse(answer.url, "repository description is not a string")
    return {
        "repo_forks": forks,
        "repo_watchers": stars,  # GitHub's watchers_count is its star count
        "repo_description": description or "",
        "repo_url": canonical_repo_url(stored_repo_url, html_url),
    }


def canonical_repo_url(stored: str, html_url: str) -> str:
    """Keep the URL as the catalogue wrote it unless the repository now lives elsewhere."""
    try:
        moved = not parse_repo_url(stored).same_repo(parse_repo_url(html_url))
    except InputError:
        moved = True
    return html_url.rstrip("/") if moved else stored


def participants(pages: list[Answer]) -> list[str]:
    """Contributor logins in GitHub's order, each once; bots are contributors too."""
    logins: dict[str, None] = {}
    for page in pages:
        if not isinstance(page.data, list):
            raise BadResponse(page.url, "contributors answer is not a list")
        for contributor in page.data:
            login = contributor.get("login") if isinstance(contributor, dict) else None
            if isinstance(login, str) and login:
                logins.setdefault(login)
    return list(logins)


def commits_over_52(answer: Answer) -> list[int]:
    """The 52 weekly commit counts, oldest week first; [] for an empty repository (204)."""
    if answer.status == 204:
        return []
    weeks = answer.data.get("all") if isinstance(answer.data, dict) else None
    if not (isinstance(weeks, list) and len(weeks) == WEEKS and all(_is_count(w) for w in weeks)):
        raise BadResponse(answer.url, f"participation answer lacks {WEEKS} weekly counts under 'all'")
    return weeks


def last_updated(answer: Answer | None) -> datetime | None:
    """The committer date of the newest commit on the default branch; None for an empty repository."""
    if answer is None:
        return None
    try:
        text = answer.data[0]["commit"]["committer"]["date"]
        return parse_datetime(text)
    except (LookupError, TypeError, ValueError):
        raise BadResponse(answer.url, "commits answer lacks the newest commit's committer date") from None


def pypi_fields(answer: Answer) -> dict:
    info = _object(answer).get("info")
    version = info.get("version") if isinstance(info, dict) else None
    if not isinstance(version, str) or not version:
        raise BadResponse(answer.url, "PyPI answer lacks info.version")
    return {"pypi_version": version}


def _object(answer: Answer) -> dict:
    if not isinstance(answer.data, dict):
        raise BadResponse(answer.url, "answer is not a JSON object")
    return answer.data


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
