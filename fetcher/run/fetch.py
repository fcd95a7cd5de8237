"""Fetching one package: its host and PyPI asked side by side, and what they gave made into one record to write."""

from dataclasses import dataclass

from fetcher import facts
from fetcher.hosts.base import Later
from fetcher.hosts.pypi import PyPI
from fetcher.run.work import WorkItem
from fetcher.side_by_side import first_failure_wins, nothing
from fetcher.store.fetched import FetchedRecord


@dataclass(frozen=True)
class Fetch:
    record: FetchedRecord
    skipped: str | None  # the repository was not asked, and why
    later: Later | None  # a part the host was still computing, asked again later in the run


async def fetch(item: WorkItem, pypi: PyPI, before: dict, now) -> Fetch:
    """Everything a package's record needs, or the Failure (or InputError) that stops it being written.

    `before`: its stored facts; `now`: the time the facts and the score are reckoned at."""
    if item.link_error is not None:
        raise item.link_error
    repo_step = item.host.fetch(item.links.repo_url, item.repo, item.batched, item.cache)
    project_step = pypi.project(item.pypi, item.cache.get("pypi")) if item.pypi else nothing()
    status_step = pypi.status(item.pypi, item.cache.get("pypi_status")) if item.pypi else nothing()
    repo, project, status = await first_failure_wins(repo_step, project_step, status_step)
    fields, updates = dict(repo.fields), dict(repo.updates)
    if project is not None:
        fields["pypi_version"] = project.value["version"]
        updates["pypi"] = project
        if project.value["documentation_url"] and not item.row["documentation_url"]:
            fields["documentation_url"] = project.value["documentation_url"]
    if status is not None:
        updates["pypi_status"] = status
    found = facts.established(item.row, fields, repo.meta if not repo.skipped else None,
                              project.value if project is not None else None,
                              status.value["status"] if status is not None else None, before, now)
    record = FetchedRecord(fields, updates, repo.note, found, pending=repo.later is not None or repo.continues)
    return Fetch(record, repo.skipped, repo.later)
