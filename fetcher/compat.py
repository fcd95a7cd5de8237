"""What each fetched field means: by default as faithfully as its host allows, or as Django Packages' updater means it.

`[compat] profile = "djangopackages"` makes every field mean what Django Packages' updater
(djangopackages/djangopackages: package/repos/*.py, package/pypi.py) means by it, for a directory
moving from there that wants its numbers unchanged. A Profile is plain data: each host, PyPI and
the facts read the decisions that are theirs from it, and nothing else knows which profile runs.
docs/compat.md has the table, field by field, with where each meaning comes from.
"""

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Profile:
    name: str
    # repo_watchers on a Forgejo (Codeberg, Gitea): the repository's `stars_count`, or its `watchers_count`
    # (the people watching it, not its stars), as Django Packages reads it since their #1444.
    forgejo_watchers: Literal["stars_count", "watchers_count"] = "stars_count"
    # participants on a Forgejo: the default branch's authors, or none written (the stored list is kept).
    forgejo_participants: Literal["authors", "kept"] = "authors"
    # repo_watchers and repo_forks on Bitbucket: the `size` of /watchers and /forks (every one), or how many
    # their first page holds (Bitbucket's default page: at most 10).
    bitbucket_counts: Literal["size", "first page"] = "size"
    # participants on Bitbucket: the main branch's authors, or the workspace the repo_url names.
    bitbucket_participants: Literal["authors", "workspace"] = "authors"
    # participants on GitLab: every contributor, most commits first, each name once; or the first page GitLab
    # lists without parameters (fewest commits first, 20), names as listed, each split at commas.
    gitlab_participants: Literal["every", "first page"] = "every"
    # supports_python3 (and so the score): over every Python 3 release, patch releases included; or over the
    # `python3_probe` versions alone, unknown keeping what was stored.
    python3: Literal["releases", "probe"] = "releases"
    python3_probe: tuple[str, ...] = ()
    # documentation_url: PyPI's (its docs_url, else a project URL labelled documentation or docs, PEP 753)
    # filled in only while the record has none; or PyPI's (docs_url, else the label Documentation, Docs, docs
    # or documentation, exactly) whenever PyPI gives one, replacing what was there.
    documentation_url: Literal["while empty", "whenever pypi has one"] = "while empty"


FETCHER = Profile("fetcher")

DJANGOPACKAGES = Profile(
    "djangopackages",
    forgejo_watchers="watchers_count",  # package/repos/forgejo.py: repo_watchers = repo.watchers_count
    forgejo_participants="kept",  # package/repos/forgejo.py sets no participants
    bitbucket_counts="first page",  # package/repos/bitbucket.py: len(get_json(".../watchers/")["values"])
    bitbucket_participants="workspace",  # package/repos/bitbucket.py: repo_url.split("/")[3]
    gitlab_participants="first page",  # package/repos/gitlab.py: repo.repository_contributors(), one page
    python3="probe",  # package/pypi.py: PyPIPackage.supports_python3 over _PY3_PROBE_VERSIONS
    python3_probe=tuple(f"3.{minor}" for minor in range(14, -1, -1)),
    documentation_url="whenever pypi has one",  # package/pypi.py: PyPIPackage.docs_url, set when truthy
)

PROFILES = {profile.name: profile for profile in (FETCHER, DJANGOPACKAGES)}


def split_participants(names: list[str]) -> list[str]:
    """Names as Django Packages stores and prints them: joined with commas, split at commas, stripped, none empty
    (their Package.participants and participant_list), so "Doe, Jane" is two participants there."""
    return [part.strip() for part in ",".join(names).split(",") if part.strip()]
