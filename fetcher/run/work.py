"""The unit of work: one package, its links read once, its host, and what it carries from step to step.

A work item is made when the package is taken from the due list, and goes with it through the
batch step, the fetch and the write: its repository and PyPI project are parsed here and nowhere
else, and its writes are checked against the links it was made with.
"""

from dataclasses import dataclass, field
from typing import Callable

from fetcher.cache import Cached
from fetcher.errors import Failure, InputError, UnreadableValue
from fetcher.hosts.base import Host
from fetcher.hosts.registry import UNSUPPORTED, Hosts
from fetcher.links import Links, RepoRef, normalize_pypi_name, pypi_name


@dataclass
class WorkItem:
    row: dict  # the package row as the store read it (its values through store/stored.py)
    links: Links  # its catalogue links as stored: what its answers are written against
    host: Host  # who answers for its repository (the null host: nobody, and why)
    repo: RepoRef | None  # the repository, as its host reads the repo_url
    pypi: str | None  # the PyPI project, PEP 503-normalized
    # A link, or a value of the package's another program stored, that cannot be read: the package fails,
    # nothing is asked.
    error: InputError | UnreadableValue | None = None
    cache: dict[str, Cached] = field(default_factory=dict)  # what each resource answered last time
    batched: dict | Failure | None = None  # what the host's batch step gave, if it has one
    points: list[int] = field(default_factory=lambda: [0])  # what its requests cost, asked early ones included

    @property
    def id(self) -> int:
        return self.row["id"]

    @property
    def slug(self) -> str:
        return self.row["slug"]


def work_item(row: dict, hosts: Hosts, read: Callable[[dict], dict]) -> WorkItem:
    """The package's row read (`read`: as the store reads it for a fetch) and its links read once: a value or a
    link that cannot be read is kept as the item's error, not raised."""
    links = Links.of(row)  # as stored: what its writes are checked against
    try:
        row = read(row)
    except UnreadableValue as error:
        return WorkItem(row, links, UNSUPPORTED, None, None, error=error)
    try:
        host, repo = hosts.for_url(links.repo_url)
    except InputError as error:
        return WorkItem(row, links, UNSUPPORTED, None, None, error=error)
    try:
        name = pypi_name(links.pypi_url)
    except InputError as error:
        return WorkItem(row, links, host, repo, None, error=error)
    return WorkItem(row, links, host, repo, normalize_pypi_name(name) if name else None)
