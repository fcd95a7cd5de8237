"""Everything the stand-in knows of GitHub and PyPI: repositories, renames, blocks, versions; generated worlds."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from fetcher.standin.dates import utc_text
from fetcher.standin.facts import ProjectFacts
from fetcher.standin.generate import FIRST_REPO_ID, catalog_record, pypi_url, random_repo, random_version
from fetcher.standin.names import github_full_name, normalize_name, pypi_project
from fetcher.standin.repo import Repo


@dataclass
class World:
    """Everything the stand-in knows: repositories, renames, blocks and PyPI versions.

    ``repos``, ``renames`` and ``blocked`` are keyed by lowercase "owner/name";
    ``pypi`` by PEP 503 normalized name. A name in ``repos`` wins over the
    same old name in ``renames``, as a new repository would on GitHub.
    """

    repos: dict[str, Repo] = field(default_factory=dict)
    renames: dict[str, int] = field(default_factory=dict)
    pypi: dict[str, str] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)
    # PEP 503 name -> what PyPI says of it beside the version; unset ones are seeded from the name
    pypi_facts: dict[str, ProjectFacts] = field(default_factory=dict)
    # GitLab, Forgejo and Bitbucket hosts (fetcher.standin.forges.Forges), served under /_forge/{host}/
    forges: Any = None
    # A Django Packages-style directory's API v4 (fetcher.standin.directory.Directory), served under /api/v4/
    directory: Any = None
    _by_id: dict[int, Repo] = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id = {repo.id: repo for repo in self.repos.values()}

    def add_repo(self, repo: Repo) -> Repo:
        other = self._by_id.get(repo.id)
        if other is not None and other is not repo:
            raise ValueError(f"repository id {repo.id} already belongs to {other.full_name}")
        self.repos[repo.key] = repo
        self._by_id[repo.id] = repo
        return repo

    def remove(self, full_name: str) -> Repo:
        """Take the repository called ``full_name`` out of the world (its name, its id); KeyError if none."""
        repo = self.repos.pop(full_name.lower())
        del self._by_id[repo.id]
        return repo

    def rename(self, old_full_name: str, repo: Repo) -> None:
        """Make the old name answer 301 to ``/repositories/{id}``; the repo must be added first."""
        if self._by_id.get(repo.id) is not repo:
            raise ValueError(f"add_repo({repo.full_name}) before renaming it")
        self.renames[old_full_name.lower()] = repo.id

    def block(self, full_name: str) -> None:
        """Make a name answer 451, whether or not a repository exists under it."""
        self.blocked.add(full_name.lower())

    def add_pypi(self, name: str, version: str) -> None:
        self.pypi[normalize_name(name)] = version

    def repo(self, full_name: str) -> Repo:
        """The repository now or formerly called ``full_name``; KeyError if none."""
        key = full_name.lower()
        found = self.repos.get(key)
        if found is None and key in self.renames:
            found = self._by_id.get(self.renames[key])
        if found is None:
            raise KeyError(full_name)
        return found

    def repo_by_id(self, repo_id: int) -> Repo | None:
        return self._by_id.get(repo_id)

    def push(
        self, full_name: str, commits: int = 1, when: str | None = None, author: str | None = None
    ) -> Repo:
        """Simulate a push: new commits this week, a new newest commit, statistics cold again.

        The commits are counted to ``author`` (a new contributor if unknown;
        by default the top contributor, or the owner of a repository without
        any), so the contributors list, its order and its ETag change as on
        GitHub.
        """
        repo = self.repo(full_name)
        moment = when or utc_text(datetime.now(timezone.utc))
        with self._lock:
            repo.apply_push(commits, moment, author)
        return repo

    def expected_fields(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """What a fully synced record of a generated catalogue says, by this world's own data.

        For the fields fetcher writes; ``last_updated`` as GitHub spells it.
        An empty repository's statistics answer 204: no weeks at all.
        """
        if self.forges is not None and self.forges.knows(record["repo_url"]):
            fields = self.forges.expected(record["repo_url"])
            return {**fields, "pypi_version": self.pypi[normalize_name(pypi_project(record["pypi_url"]) or "")]}
        repo = self.repo(github_full_name(record["repo_url"]) or "")
        return {
            "repo_forks": repo.forks,
            "repo_watchers": repo.stars,
            "repo_description": repo.description or "",
            "participants": [] if repo.empty else list(repo.contributors),
            "commits_over_52": [] if repo.empty else list(repo.participation),
            "pypi_version": self.pypi[normalize_name(pypi_project(record["pypi_url"]) or "")],
            "repo_url": f"https://github.com/{repo.full_name}",
            "last_updated": repo.newest_commit_date,
        }

    def stats_ready(self, repo: Repo, delay: float = 0.0) -> bool:
        """Count one ask for the repository's statistics; True once they are computed (see ``Repo.count_stats_ask``)."""
        with self._lock:
            return repo.count_stats_ask(time.monotonic(), delay)

    def contributors(self, repo: Repo) -> tuple[list[str], list[int]]:
        """The repository's contributors and their counts, as one consistent pair: a push replaces both."""
        with self._lock:
            return repo.contributors, repo.contributions

    @classmethod
    def from_catalog(
        cls,
        records: Iterable[Mapping[str, Any]],
        seed: int = 0,
        max_contributors: int = 600,
        stats_asks: int = 2,
    ) -> World:
        """A deterministic world for catalog records (Django Packages API shape).

        Every github.com ``repo_url`` gets a repository with seeded random
        values (the record's ``repo_description`` is kept when present), every
        PyPI ``pypi_url`` a version. Repository ids count up from 10,000,000
        in record order. Statistics are count-based: each repository answers
        202 to its first ``stats_asks`` asks (and again after a push), however
        fast they come; 0 makes them time-based and warm.
        """
        rng = random.Random(seed)
        world = cls()
        for record in records:
            full_name = github_full_name(record.get("repo_url") or "")
            if full_name and full_name.lower() not in world.repos:
                owner, name = full_name.split("/")
                repo_id = FIRST_REPO_ID + len(world._by_id)
                description = record.get("repo_description") or None
                world.add_repo(
                    random_repo(
                        rng, owner, name, repo_id, max_contributors, description=description, pending_asks=stats_asks
                    )
                )
            project = pypi_project(record.get("pypi_url") or "")
            if project and normalize_name(project) not in world.pypi:
                world.add_pypi(project, random_version(rng))
        return world

    @classmethod
    def generate(
        cls,
        n: int,
        seed: int = 0,
        renamed: float = 0.02,
        missing: float = 0.01,
        empty: float = 0.01,
        max_contributors: int = 600,
        cold_stats: float = 0.3,
        stats_asks: int = 0,
    ) -> tuple[World, list[dict[str, Any]]]:
        """``n`` synthetic packages for benchmarks: the world and its catalog records.

        Exactly ``round(n * share)`` packages are renamed (their repo_url uses
        the old name, the repository lives on as jazzband/SLUG), missing (the
        repo_url answers 404) and empty (no commits). Every package has a PyPI
        project; every tenth URL spells its name unnormalized, so PyPI answers 301.
        Statistics are time-based: ``round(share * non-empty repositories)`` of
        them start cold (202 until the stand-in's ``stats_delay`` has passed
        since the first ask), the rest warm, as if somebody asked recently.
        With ``stats_asks`` above 0 the cold ones are count-based instead: each
        answers 202 to its first 1 to ``stats_asks`` asks (seeded), however fast
        they come, and as many again after a push.
        """
        rng = random.Random(seed)
        counts = [round(n * share) for share in (renamed, missing, empty)]
        chosen = rng.sample(range(n), sum(counts))
        renamed_at = set(chosen[: counts[0]])
        missing_at = set(chosen[counts[0] : counts[0] + counts[1]])
        empty_at = set(chosen[counts[0] + counts[1] :])
        owners = max(1, n // 4)
        world = cls()
        records = []
        for i in range(n):
            slug = f"django-pkg{i}"
            owner = f"owner{rng.randrange(owners)}"
            repo_id = FIRST_REPO_ID + i
            if i in renamed_at:
                moved = world.add_repo(random_repo(rng, "jazzband", slug, repo_id, max_contributors))
                world.rename(f"{owner}/{slug}", moved)
            elif i not in missing_at:
                world.add_repo(
                    random_repo(rng, owner, slug, repo_id, max_contributors, empty=i in empty_at)
                )
            world.add_pypi(slug, random_version(rng))
            records.append(catalog_record(i, slug, f"https://github.com/{owner}/{slug}", pypi_url(i, slug)))
        # A generator of its own, so the share asked for leaves the rest of the world as it was.
        stats_rng = random.Random(f"cold-stats:{seed}")
        computed = [repo for repo in world.repos.values() if not repo.empty]
        for repo in stats_rng.sample(computed, round(len(computed) * cold_stats)):
            if stats_asks:
                repo.count_stats_by_asks(stats_rng.randint(1, stats_asks))
            else:
                repo.stats_cold = True
        return world, records
