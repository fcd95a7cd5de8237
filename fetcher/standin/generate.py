"""Seeded generation: repositories with realistic spreads, PyPI versions and catalogue records.

One seed always builds the same world: dates count back from a fixed ``ANCHOR``.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

from fetcher.standin.dates import utc_text
from fetcher.standin.repo import WEEKS, Repo

# The "now" of generated worlds: a fixed instant, so one seed always builds the same world.
ANCHOR = datetime(2026, 2, 15, tzinfo=timezone.utc)

FIRST_REPO_ID = 10_000_000
_MAIN_BRANCH_SINCE = datetime(2020, 10, 1, tzinfo=timezone.utc)
_CATALOG_CREATED = "2020-01-01T09:00:00-05:00"
_CATALOG_MODIFIED = "2024-01-01T09:00:00-05:00"


def random_repo(
    rng: random.Random,
    owner: str,
    name: str,
    repo_id: int,
    max_contributors: int,
    *,
    empty: bool = False,
    description: str | None = None,
    pending_asks: int = 0,
) -> Repo:
    """A repository with realistic spreads: log-normal stars, a long tail of contributors, quiet years."""
    created = ANCHOR - timedelta(days=rng.randint(400, 4400), seconds=rng.randrange(86400))
    stars = int(rng.lognormvariate(4.0, 1.8))
    owner_type = "Organization" if rng.random() < 0.3 else "User"
    participation = [0] * WEEKS if empty else _random_participation(rng)
    if empty:
        newest, contributors, commit_count = None, [], 0
    else:
        newest = _random_newest_commit(rng, participation, created)
        count = min(max_contributors, int(rng.paretovariate(1.2)))
        contributors = _random_logins(rng, owner if owner_type == "User" else None, count)
        commit_count = sum(participation) + int(rng.lognormvariate(4.0, 1.5)) + 1
    if description is None and rng.random() >= 0.05:
        description = f"{name.replace('-', ' ').title()}: a reusable Django app."
    return Repo(
        owner=owner,
        name=name,
        id=repo_id,
        forks=int(stars * rng.uniform(0.05, 0.35)),
        stars=stars,
        description=description,
        default_branch="main" if created >= _MAIN_BRANCH_SINCE else "master",
        contributors=contributors,
        participation=participation,
        newest_commit_date=newest,
        archived=not empty and not any(participation) and rng.random() < 0.15,
        owner_type=owner_type,
        created_at=utc_text(created),
        homepage=f"https://{name}.readthedocs.io/" if rng.random() < 0.3 else None,
        open_issues=int(rng.lognormvariate(1.0, 1.2)),
        subscribers=max(1, stars // rng.randint(5, 20)),
        commit_count=commit_count,
        pending_asks=pending_asks,
    )


def _random_participation(rng: random.Random) -> list[int]:
    """Weekly commits: four repositories in ten were quiet all year, the rest commit at their own rate."""
    if rng.random() < 0.4:
        return [0] * WEEKS
    rate = rng.uniform(0.05, 0.9)
    rolls = [rng.random() for _ in range(WEEKS)]
    return [int(roll / rate * 12) + 1 if roll < rate else 0 for roll in rolls]


def _random_newest_commit(rng: random.Random, participation: list[int], created: datetime) -> str:
    """The newest commit falls in the last active week, or before the year shown for quiet repositories."""
    active = [week for week, count in enumerate(participation) if count]
    if active:
        weeks_ago = WEEKS - 1 - active[-1]
        moment = ANCHOR - timedelta(weeks=weeks_ago, seconds=rng.randrange(1, 7 * 86400))
    else:
        quiet_since = ANCHOR - timedelta(weeks=WEEKS + 1)
        moment = created + (quiet_since - created) * rng.random()
    return utc_text(moment)


def _random_logins(rng: random.Random, owner: str | None, count: int) -> list[str]:
    """Contributor logins, owner first when a user owns the repository, sometimes with bots."""
    logins = [owner] if owner else []
    logins += [f"dev{number}" for number in rng.sample(range(1, 200_000), count)]
    if count >= 3 and rng.random() < 0.35:
        logins.insert(rng.randrange(1, count), "dependabot[bot]")
    if count >= 8 and rng.random() < 0.2:
        logins.insert(rng.randrange(1, count), "pre-commit-ci[bot]")
    return list(dict.fromkeys(logins))[:count]


def random_version(rng: random.Random) -> str:
    return f"{rng.randint(0, 5)}.{rng.randint(0, 20)}.{rng.randint(0, 10)}"


def pypi_url(i: int, slug: str) -> str:
    """Rotate through the PyPI URL forms found in the catalog; every tenth name is unnormalized."""
    name = slug.replace("-", "_").title() if i % 10 == 0 else slug
    forms = (
        f"https://pypi.org/project/{name}/",
        f"http://pypi.python.org/pypi/{name}",
        f"https://pypi.org/pypi/{name}",
    )
    return forms[i % len(forms)]


def catalog_record(i: int, slug: str, repo_url: str, pypi_url: str) -> dict[str, Any]:
    """A never-fetched package record with the catalog API's fields, in its order."""
    return {
        "category": None,
        "grids": [],
        "id": i + 1,
        "title": slug,
        "slug": slug,
        "last_updated": None,
        "last_fetched": None,
        "repo_url": repo_url,
        "pypi_version": "",
        "created": _CATALOG_CREATED,
        "modified": _CATALOG_MODIFIED,
        "repo_forks": 0,
        "repo_description": "",
        "pypi_url": pypi_url,
        "documentation_url": "",
        "repo_watchers": 0,
        "commits_over_52": [],
        "participants": [],
    }
