"""The truth a full sync of a forge repository stores, computed from its commit graph, never from fetcher.

The definitions are the ones in ``fetcher.standin.forges``'s docstring.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from fetcher.standin.forges import gitlab_bodies
from fetcher.standin.forges.model import Commit, ForgeRepo

WEEKS = 52


def weekly_counts(history: Iterable[Commit], midnight: datetime) -> list[int]:
    """Non-merge commits per seven-day window by committer date, oldest first; window 51 ends at ``midnight``."""
    counts = [0] * WEEKS
    start = midnight - timedelta(weeks=WEEKS)
    for commit in history:
        if commit.is_merge or not start <= commit.committed < midnight:
            continue
        counts[(commit.committed - start) // timedelta(weeks=1)] += 1
    return counts


def author_key(commit: Commit) -> str:
    """Who a commit counts for: the linked account (Forgejo login, Bitbucket nickname), else the author's name."""
    return commit.author.login or commit.author.name


def history_participants(history: Iterable[Commit]) -> list[str]:
    """Forgejo's and Bitbucket's participants: authors by commits, most first, ties alphabetical."""
    counts = Counter(author_key(commit) for commit in history)
    return [key for key, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def participants(repo: ForgeRepo, kind: str) -> list[str]:
    """GitLab: the names of ``repository/contributors`` by commits, each once; elsewhere ``history_participants``."""
    if kind == "gitlab":
        return list(dict.fromkeys(c["name"] for c in gitlab_bodies.contributors(repo, "commits", "desc")))
    return history_participants(repo.history())
