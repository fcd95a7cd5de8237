"""Seeded forge worlds: hosts, repositories whose histories straddle every window edge, catalogue records."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any
from urllib.parse import urlsplit

from fetcher.standin.forges.model import ForgeRepo, Person, make_commit, today_midnight
from fetcher.standin.forges.truth import WEEKS
from fetcher.standin.forges.world import Forges
from fetcher.standin.generate import catalog_record, random_version

# The hosts of a generated world: each kind on its public host and self-hosted.
DEFAULT_HOSTS = {
    "gitlab.com": "gitlab",
    "gitlab.example.org": "gitlab",
    "codeberg.org": "forgejo",
    "git.example.org": "forgejo",
    "bitbucket.org": "bitbucket",
}


def add_generated(forges: Forges, rng: random.Random, host: str, path: str, *, quiet: bool = False) -> ForgeRepo:
    """A repository with seeded counts and history (see ``generate_history``); ``quiet`` ones are archived."""
    kind = forges.hosts[host].kind
    stars = int(rng.lognormvariate(3.0, 1.5))
    repo = ForgeRepo(
        host=host,
        path=path,
        id=500_000 + len(forges.repos) + len(forges.moved),
        stars=stars,
        forks=int(stars * rng.uniform(0.05, 0.4)),
        description=f"{path.rsplit('/', 1)[-1].replace('-', ' ').title()}: a Django app.",
        created=today_midnight(forges.now()) - timedelta(days=rng.randint(500, 3000), seconds=rng.randrange(86400)),
        default_branch=rng.choice(["main", "master", "develop"]),
        watchers=max(1, stars // 7),
    )
    repo.people = _people(rng, host, rng.randint(2, 7))
    # Bitbucket shows one date per commit, so its commits are never rebased: that date is unambiguous.
    generate_history(rng, repo, forges.now(), active=not quiet, rebased=0.0 if kind == "bitbucket" else 0.125)
    if quiet:
        repo.archived, repo.archived_at = True, repo.newest
    return forges.add_repo(repo)


_FIRST_NAMES = [
    "Ada",
    "Grace",
    "Linus",
    "Margaret",
    "Guido",
    "Barbara",
    "Ken",
    "Frances",
    "Dennis",
    "Radia",
    "Alan",
    "Edsger",
]
_LAST_NAMES = [
    "Lovelace",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "van Rossum",
    "Liskov",
    "Thompson",
    "Allen",
    "Ritchie",
    "Perlman",
]


def _people(rng: random.Random, host: str, count: int) -> list[Person]:
    """Authors: most linked to an account, some not, one with a second email (GitLab lists them twice), a bot."""
    people = []
    domain = "users.noreply." + host
    for number in range(count):
        name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)} {number}"
        handle = name.split()[0].lower() + str(number)
        linked = number == 0 or rng.random() < 0.6
        people.append(
            Person(
                name,
                f"{handle}@{domain if linked else 'example.com'}",
                handle if linked else None,
                rng.choice([-5, -4, 0, 1, 2, 9]),
            )
        )
    if people:
        first = people[0]
        people.append(Person(first.name, f"{first.login}@work.example", first.login, first.utc_offset_hours))
    people.append(Person("Weblate", "noreply@weblate.org"))
    return people


def generate_history(
    rng: random.Random, repo: ForgeRepo, now: datetime, *, active: bool = True, rebased: float = 0.125
) -> None:
    """A history whose commits fall on both sides of every window edge, with merges and rebased commits.

    Active repositories commit through the year, with commits exactly at the
    first window's start, one second before it, at a boundary between two
    windows, one second before today's midnight and exactly at it (the head:
    today, in no window yet); quiet ones stopped more than a year ago. The same seed and day give the same history.
    """
    midnight = today_midnight(now)
    start = midnight - timedelta(weeks=WEEKS)
    times: set[datetime] = set()
    if active:
        times |= {start, start - timedelta(seconds=1), midnight - timedelta(weeks=26), midnight - timedelta(seconds=1)}
        times.add(midnight)  # today: in no window yet
        for _ in range(rng.randint(25, 90)):
            times.add(start + timedelta(seconds=rng.randrange(int((midnight - start).total_seconds()))))
        begin = repo.created
    else:
        begin = repo.created
        quiet_since = start - timedelta(days=rng.randint(10, 400))
        times.add(quiet_since)
    end = min(times) if times else midnight
    for _ in range(rng.randint(10, 40)):
        span = max(1, int((end - begin).total_seconds()))
        times.add(begin + timedelta(seconds=rng.randrange(span)))
    ordered = sorted(moment.replace(microsecond=0) for moment in times)
    # Most commits by the first few people, Zipf-like.
    weights = list(accumulate(1 / (rank + 1) for rank in range(len(repo.people))))
    index = 0
    while index < len(ordered):
        person = rng.choices(repo.people, cum_weights=weights)[0]
        remaining = len(ordered) - index
        if remaining >= 4 and rng.random() < 0.12:
            # A topic branch of one to three commits merged with a merge commit.
            side = min(rng.randint(1, 3), remaining - 1)
            base = repo.head
            tip = base
            for _ in range(side):
                at = ordered[index]
                author = rng.choices(repo.people, cum_weights=weights)[0]
                commit = make_commit(repo, (tip,) if tip else (), author, at, at, f"Topic work {index}")
                repo.commits[commit.sha] = commit
                tip = commit.sha
                index += 1
            at = ordered[index]
            repo.add_commit(
                make_commit(repo, (base, tip) if base else (tip,), person, at, at, f"Merge branch 'topic-{index}'")
            )
        else:
            at = ordered[index]
            # Some commits were rebased: written days before they were committed.
            authored = at - timedelta(days=rng.randint(1, 20)) if rng.random() < rebased else at
            parents = (repo.head,) if repo.head else ()
            repo.add_commit(make_commit(repo, parents, person, authored, at, f"Change {index}"))
        index += 1


def generate(
    seed: int = 0,
    per_host: int = 3,
    hosts: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> tuple[Forges, list[dict[str, Any]]]:
    """A forge world and the catalogue's repository URLs: ``per_host`` repositories on every host,

    plus, per host, one moved repository (the catalogue names its old path) and
    one missing (404). GitLab paths nest groups (``group/sub/project``); one
    repository per host stopped committing more than a year ago. Returns the
    world and, per repository, ``{"repo_url": ..., "slug": ...}`` for catalogue records.
    """
    forges = Forges(now)
    rng = random.Random(f"forges:{seed}")
    entries = []
    for host_name, kind in (hosts or DEFAULT_HOSTS).items():
        forges.add_host(host_name, kind)
        label = host_name.split(".")[0]
        for number in range(per_host + 1):
            repo = add_generated(forges, rng, host_name, _path(kind, label, number), quiet=number == 2)
            if number == 1:
                repo.description = None
            slug = f"{host_name.replace('.', '-')}-{repo.name}"
            if number == per_host:  # the last one was moved: the catalogue still names its old path
                old = f"{repo.owner}/{repo.name}-old" if kind != "gitlab" else f"old-{label}/{repo.name}"
                forges.move(old, repo, repo.path)
                repo_url = f"https://{host_name}/{old}"
            else:
                repo_url = repo.url
            entries.append({"slug": slug, "repo_url": repo_url})
        entries.append(
            {
                "slug": f"{host_name.replace('.', '-')}-gone",
                "repo_url": f"https://{host_name}/{_missing_path(kind, label)}",
            }
        )
    return forges, entries


def _path(kind: str, label: str, number: int) -> str:
    greek = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"][number % 8]
    name = f"django-{label}-{greek}{number // 8 or ''}"
    if kind == "gitlab":
        depth = number % 3  # a user namespace, a group, a group with subgroups
        groups = ["Jazz-Band", "apps", "contrib"][: depth + 1] if depth else [f"user{number}"]
        return "/".join([*groups, name])
    owner = f"Org{number}" if kind == "forgejo" else f"workspace{number}"
    return f"{owner}/{name}"


def _missing_path(kind: str, label: str) -> str:
    return "ghost/group/nothing-here" if kind == "gitlab" else f"ghost/{label}-nothing-here"


def add_to_world(
    world: Any,
    seed: int = 0,
    per_host: int = 3,
    hosts: Mapping[str, str] | None = None,
    now: datetime | None = None,
    first_index: int = 100_000,
) -> list[dict[str, Any]]:
    """Give ``world`` (a ``fetcher.standin.World``) generated forge hosts; their catalogue records, a PyPI project each.

    Record ids start at ``first_index + 1``, clear of a generated GitHub catalogue.
    """
    forges, entries = generate(seed, per_host, hosts, now)
    world.forges = forges
    rng = random.Random(f"forge-pypi:{seed}")
    records = []
    for offset, entry in enumerate(entries):
        world.add_pypi(entry["slug"], random_version(rng))
        pypi_url = f"https://pypi.org/project/{entry['slug']}/"
        records.append(catalog_record(first_index + offset, entry["slug"], entry["repo_url"], pypi_url))
    return records


def add_catalog(
    world: Any, records: Iterable[Mapping[str, Any]], seed: int = 0, hosts: Mapping[str, str] | None = None
) -> Forges:
    """Serve the forge repositories a catalogue names (``https://HOST/PATH`` on ``hosts``), generated from ``seed``.

    For a world from ``World.from_catalog``, which serves the GitHub ones and
    every PyPI project; ``.git``, a trailing slash, GitLab's ``/-/...`` and what
    follows ``owner/name`` elsewhere are dropped from the path. Returns the forges, also set as ``world.forges``.
    """
    kinds = dict(hosts or DEFAULT_HOSTS)
    forges = world.forges or Forges()
    for name, kind in kinds.items():
        if name not in forges.hosts:
            forges.add_host(name, kind)
    rng = random.Random(f"forge-catalog:{seed}")
    for record in records:
        url = (record.get("repo_url") or "").strip()
        host = (urlsplit(url).hostname or "").lower()
        if host not in kinds or forges.key(url) in forges.repos:
            continue
        # The path as the catalogue spells it, cut where the key is cut.
        path = urlsplit(url).path.strip("/")[: len(forges.key(url)) - len(host) - 1]
        if "/" in path:
            add_generated(forges, rng, host, path)
    world.forges = forges
    return forges
