"""A loopback stand-in for GitHub (REST and GraphQL), PyPI, GitLab, Forgejo and Bitbucket, to try fetcher offline.

The tests and the benchmark run against it; ``fetcher-standin`` serves it from the command line.
"""

from fetcher.standin import forges
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
