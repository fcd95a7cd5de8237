"""GitHub's answers -> what is kept of them -> record fields and facts, meaning what Django Packages means.

Pure functions. An answer of the wrong shape is a BadResponse naming its URL,
so one odd answer fails its package instead of writing nonsense.
"""

import re
from urllib.parse import parse_qs, urlsplit

from fetcher.errors import BadResponse
from fetcher.facts import MAX_COUNT
from fetcher.hosts.read import MAX_TEXT, body_object, checked_text, is_count
from fetcher.links import RepoRef
from fetcher.net.answer import Answer, header_number
from fetcher.record import parse_datetime, to_stored_datetime

WEEKS = 52


def read_repo(answer: Answer) -> dict:
    """GET /repos/{owner}/{name} -> what the record needs of it, plus pushed_at."""
    repo = body_object(answer)
    forks, stars = repo.get("forks_count"), repo.get("watchers_count")
    description, html_url = repo.get("description"), repo.get("html_url")
    if not (is_count(forks) and is_count(stars) and isinstance(html_url, str)):
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
    if not (isinstance(weeks, list) and len(weeks) == WEEKS and all(is_count(w) for w in weeks)):
        raise BadResponse(answer.url, f"participation answer lacks {WEEKS} weekly counts under 'all'")
    return weeks


def repo_fields(
    stored_repo_url: str,
    asked: RepoRef,
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
        "repo_url": canonical_repo_url(stored_repo_url, asked, repo["full_name"], repo["html_url"]),
        "participants": participants(contributor_pages),
        "last_updated": parse_datetime(last_updated) if last_updated else None,
    }
    if weeks is not None:
        fields["commits_over_52"] = weeks
    return fields


def canonical_repo_url(stored: str, asked: RepoRef, full_name: str, html_url: str) -> str:
    """The repo_url to keep: as the catalogue wrote it (`stored`, naming `asked`), unless GitHub confirmed a rename.

    A rename is confirmed when the answer's full name is another repository than the one
    the stored URL names, and its html_url is exactly https://HOST/Owner/Name for that full
    name on the stored URL's host. Anything else (an empty, odd or foreign html_url) keeps
    the person's URL: an answer never wipes it or points it at another host.
    """
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



def commit_count(answer: Answer) -> int:
    """`commits?per_page=1` -> the default branch's commit count: the `last` page of `Link`, else the list's length."""
    for part in answer.headers.get("link", "").split(","):
        url, _, params = part.partition(";")
        if 'rel="last"' in params.replace(" ", ""):
            page = header_number(parse_qs(urlsplit(url.strip(" <>")).query).get("page", [""])[0])
            if page is not None and 0 < page <= MAX_COUNT:
                return page
            raise BadResponse(answer.url, "commits Link header has no usable last page")
    if not isinstance(answer.data, list):
        raise BadResponse(answer.url, "commits answer is not a list")
    return min(len(answer.data), 1)


def graphql_repo_facts(node: dict) -> dict:
    """The archive state and commit count of a GraphQL repository node; ValueError when of the wrong type."""
    archived_at = node.get("archivedAt")
    if archived_at is not None:
        archived_at = to_stored_datetime(parse_datetime(checked_text(archived_at, MAX_TEXT)))
    branch = node.get("defaultBranchRef")
    if branch is None:
        count = 0  # an empty repository has no default branch yet
    else:
        target = (branch.get("target") if isinstance(branch, dict) else None) or {}
        history = target.get("history", {}) if isinstance(target, dict) else -1
        count = history.get("totalCount") if isinstance(history, dict) else -1
        if count is not None and not (is_count(count) and count <= MAX_COUNT):
            raise ValueError("history.totalCount is not a count")
    archived = node.get("isArchived", False)
    if not isinstance(archived, bool):
        raise ValueError("isArchived is not a boolean")
    return {"archived": archived, "archived_at": archived_at, "commit_count": count}
