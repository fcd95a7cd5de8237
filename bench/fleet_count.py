"""What the stand-in saw of a fleet pass: the packages fetched more than once, and each token's lowest remaining.

The counting of bench/fleet.py, apart so that it can be checked over a recorded request log.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

from bench.run import UNLIMITED
from fetcher.standin import Logged, StandIn, World
from fetcher.standin.names import github_full_name, normalize_name, pypi_project
from fetcher.standin.vary import route_kind

# Answers a client rightly asks the same thing again after: statistics being computed, a redirect to follow,
# a rate limit or a server error to wait out.
RE_ASK_AFTER = frozenset({202, 301, 302, 307, 308, 403, 429, 500, 502, 503, 504})


# --- what the stand-in saw: packages fetched more than once ------------------------------------------------


@dataclass
class Duplicates:
    repositories: int = 0  # repositories with a resource asked for more than once (re-asks left out)
    projects: int = 0  # PyPI projects likewise
    packages: int = 0  # the packages they belong to
    requests: int = 0  # the asks beyond the first, all together
    excused: int = 0  # of `packages`, those a killed worker had in hand (asked before the kill, not written then)
    examples: list[str] = field(default_factory=list)  # a few of the packages fetched twice, the excused left out


class Names:
    """Which package a repository or PyPI project of the request log belongs to, renames followed."""

    def __init__(self, world: World, records: list[dict[str, Any]]):
        self.world = world
        self.repos: dict[str, str] = {}
        self.projects: dict[str, str] = {}
        for record in records:
            full = github_full_name(record.get("repo_url") or "")
            if full:
                self.repos[self.repo(full)] = record["slug"]
            project = pypi_project(record.get("pypi_url") or "")
            if project:
                self.projects[normalize_name(project)] = record["slug"]

    def repo(self, full_name: str) -> str:
        """A repository's key: its id where the world knows it (old and new names meet), else its name."""
        try:
            return f"#{self.world.repo(full_name).id}"
        except (KeyError, LookupError):
            return full_name.lower()

    def repo_by_id(self, repo_id: int) -> str:
        return f"#{repo_id}"


def ask_key(entry: Logged, names: Names) -> tuple[str, str, str] | None:
    """(what, resource, variant) one request asked for: a repository's or a PyPI project's resource, and the page
    or query that makes a different ask of it. None for requests of no package (rate_limit, GraphQL)."""
    split = urlsplit(entry.path)
    parts = [unquote(part) for part in split.path.split("/")[1:]]
    kind = route_kind(entry.method, entry.path)
    query = dict(parse_qsl(split.query, keep_blank_values=True))
    if parts[:1] == ["pypi"] and len(parts) >= 2:
        return f"pypi:{normalize_name(parts[1])}", "json", ""
    if parts[:1] == ["simple"] and len(parts) >= 2:
        return f"pypi:{normalize_name(parts[1])}", "simple", ""
    if len(parts) >= 3 and parts[0] == "repos":
        what = names.repo(f"{parts[1]}/{parts[2]}")
    elif len(parts) >= 2 and parts[0] == "repositories" and parts[1].isdigit():
        what = names.repo_by_id(int(parts[1]))
    else:
        return None
    variant = "&".join(f"{k}={v}" for k, v in sorted(query.items()) if k != "per_page")
    return f"repo:{what}", kind, variant


def count_duplicates(
    entries: Iterable[Logged], graphql_asked: Iterable[tuple[tuple[str, ...], bool]], names: Names,
    in_hand: set[str] = frozenset(),
) -> Duplicates:  # fmt: skip
    """The repositories and PyPI projects the log shows asked for more than once.

    A request asks again what an earlier one asked (the same resource of the same repository or project, the same
    page) unless the answer before it was one a client rightly asks again after (RE_ASK_AFTER). A GraphQL query
    asks each repository it names once; a repository named by two queries of the same kind was asked twice.
    `in_hand`: packages whose second asks are excused (a killed worker's, taken again by another).
    """
    last: dict[tuple[str, str, str], int] = {}
    extra: Counter[str] = Counter()
    for entry in entries:
        key = ask_key(entry, names)
        if key is None:
            continue
        if key in last and last[key] not in RE_ASK_AFTER:
            extra[key[0]] += 1
        last[key] = entry.status
    seen: set[tuple[str, bool]] = set()
    for repositories, with_counts in graphql_asked:
        for full_name in repositories:
            key = (f"repo:{names.repo(full_name)}", with_counts)
            if key in seen:
                extra[key[0]] += 1
            seen.add(key)
    packages: set[str] = set()
    for what in extra:
        kind, _, name = what.partition(":")
        slug = (names.repos if kind == "repo" else names.projects).get(name)
        packages.add(slug or what)
    return Duplicates(
        repositories=sum(1 for what in extra if what.startswith("repo:")),
        projects=sum(1 for what in extra if what.startswith("pypi:")),
        packages=len(packages),
        requests=sum(extra.values()),
        excused=len(packages & set(in_hand)),
        examples=sorted(packages - set(in_hand))[:5],
    )


def asked_packages(entries: Iterable[Logged], graphql_asked: Iterable[tuple[tuple[str, ...], bool]],
                   names: Names) -> set[str]:  # fmt: skip
    """The packages some request of `entries`, or some GraphQL query of `graphql_asked`, asked about."""
    whats = [key[0] for key in (ask_key(entry, names) for entry in entries) if key]
    whats += [f"repo:{names.repo(full_name)}" for repositories, _ in graphql_asked for full_name in repositories]
    out = set()
    for what in whats:
        kind, _, name = what.partition(":")
        slug = (names.repos if kind == "repo" else names.projects).get(name)
        if slug:
            out.add(slug)
    return out


# --- the spend -----------------------------------------------------------------------------------------------


@dataclass
class TokenSpend:
    variable: str
    budget: int  # points each of REST and GraphQL, for the pass (the window does not refill within it)
    lowest_core: int  # the stand-in's lowest remaining over the pass
    lowest_graphql: int


@dataclass
class Spend:
    reserve: int
    tokens: list[TokenSpend]
    runs: int  # sync_run rows of the pass
    run_points: int  # their points, summed
    standin_points: int  # what the stand-in charged, REST and GraphQL
    kept: bool  # every token's lowest remaining at or above the reserve, REST and GraphQL


class Lowest:
    """Each pool token's lowest remaining (REST, GraphQL), sampled while a pass runs."""

    def __init__(self, standin: StandIn, tokens: dict[str, str]):
        self.standin, self.tokens = standin, tokens  # variable -> token
        self.lowest = {variable: (UNLIMITED, UNLIMITED) for variable in tokens}

    def sample(self) -> None:
        for variable, token in self.tokens.items():
            core, graphql = self.standin.token_remaining(token)
            low = self.lowest[variable]
            self.lowest[variable] = (min(low[0], core), min(low[1], graphql))


def spend_of(lowest: dict[str, tuple[int, int]], budget: int, reserve: int, runs: int, run_points: int,
             standin_points: int) -> Spend:  # fmt: skip
    tokens = [TokenSpend(variable, budget, core, graphql) for variable, (core, graphql) in sorted(lowest.items())]
    kept = all(t.lowest_core >= reserve and t.lowest_graphql >= reserve for t in tokens)
    return Spend(reserve, tokens, runs, run_points, standin_points, kept)
