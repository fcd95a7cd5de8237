"""A loopback stand-in for GitHub (REST and GraphQL), PyPI, GitLab, Forgejo and Bitbucket, to try fetcher offline.

The tests and the benchmark run against it; ``fetcher-standin`` (or ``python -m
fetcher.standin``) serves it from the command line. Build a ``World`` (from a
catalogue or generated), serve it with ``StandIn``, point fetcher at it with
``config_for(standin.url)``::

    world, records = World.generate(100, seed=0)
    with StandIn(world) as standin:
        ...  # fetcher with config_for(standin.url), GitHub token of any value

The modules, one job each: ``names`` and ``dates`` (how the APIs spell names
and instants), ``repo``, ``generate`` and ``world`` (what is served),
``answers`` (the answer type, validators, paging numbers), ``github_bodies``
and ``github`` (REST), ``graphql``, ``pypi`` and ``facts`` (PyPI's metadata and
the JSON Index API), ``budgets`` (rate limits), ``canned`` (answers set by a
test), ``faults`` and ``hostile`` (bad networks and bad servers), ``handler``
(HTTP), ``server`` (``StandIn``), ``in_flight`` (requests being answered over
time) and ``vary`` (a seeded variation of latencies and sizes), for the
benchmarks, ``fetcher_config``, ``cli`` and ``detach`` (the command),
``forges`` (GitLab, Forgejo and Bitbucket hosts, also served in-process by
``forges.ForgeTransport``) and ``directory`` (a Django Packages-style API v4
of packages, grids and categories, for ``fetcher import --from-api``).
Nothing of fetcher itself is
used but its config loader, to check a printed config.
"""

from fetcher.standin import forges
from fetcher.standin.directory import Directory
from fetcher.standin.facts import SIMPLE_JSON, ProjectFacts, facts_for
from fetcher.standin.faults import KINDS as FAULT_KINDS
from fetcher.standin.faults import FaultPlan
from fetcher.standin.fetcher_config import config_for, fetcher_reads
from fetcher.standin.forges.generate import add_catalog
from fetcher.standin.forges.world import Forges
from fetcher.standin.hostile import Hostile
from fetcher.standin.names import github_full_name, normalize_name, pypi_project
from fetcher.standin.repo import Repo
from fetcher.standin.server import Logged, StandIn
from fetcher.standin.world import World

__all__ = [
    "FAULT_KINDS",
    "Directory",
    "SIMPLE_JSON",
    "FaultPlan",
    "Forges",
    "Hostile",
    "Logged",
    "ProjectFacts",
    "Repo",
    "StandIn",
    "World",
    "add_catalog",
    "config_for",
    "facts_for",
    "fetcher_reads",
    "forges",
    "github_full_name",
    "normalize_name",
    "pypi_project",
]
