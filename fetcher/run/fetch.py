"""Fetching one package: its host and PyPI asked side by side, and what they gave made into one record to write."""

from dataclasses import dataclass, replace

from fetcher import facts
from fetcher.compat import FETCHER, Profile
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


async def fetch(item: WorkItem, pypi: PyPI, before: dict, now, profile: Profile = FETCHER) -> Fetch:
    """Everything a package's record needs, or the Failure (or InputError, or UnreadableValue) that stops it being
    written.

    `before`: its stored facts; `now`: the time the facts and the score are reckoned at; `profile`: what
    the fields mean (fetcher.compat)."""
    if item.error is not None:
        raise item.error
    repo_step = item.host.fetch(item.links.repo_url, item.repo, item.batched, item.cache)
    pypi_step = (pypi.project_and_status(item.pypi, item.cache.get("pypi"), item.cache.get("pypi_status"))
                 if item.pypi else nothing())
    repo, asked = await first_failure_wins(repo_step, pypi_step)
    project, status = asked or (None, None)
    fields, updates = dict(repo.fields), dict(repo.updates)
    note, later = repo.note, repo.later
    if project is None and status is not None:
        # The index says why the JSON API has no project: its version and facts stand, and it is no failure.
        kept = f"PyPI version and facts kept: the project is {status.value['status']} on PyPI"
        note = _joined(note, kept)
        if later is not None:  # the note the record keeps once the later part is written says so too
            later = replace(later, note_after=_joined(later.note_after, kept))
    if project is not None:
        fields["pypi_version"] = project.value["version"]
        updates["pypi"] = project
        if profile.documentation_url == "whenever pypi has one":
            if project.value["documentation_url_exact"]:
                fields["documentation_url"] = project.value["documentation_url_exact"]
        elif project.value["documentation_url"] and not item.row["documentation_url"]:
            fields["documentation_url"] = project.value["documentation_url"]
    if status is not None:
        updates["pypi_status"] = status
    found = facts.established(item.row, fields, repo.meta if not repo.skipped else None,
                              project.value if project is not None else None,
                              status.value["status"] if status is not None else None, before, now, profile)
    record = FetchedRecord(fields, updates, note, found, pending=later is not None or repo.continues,
                           replaces_documentation_url=profile.documentation_url == "whenever pypi has one")
    return Fetch(record, repo.skipped, later)


def _joined(*notes: str | None) -> str:
    return "; ".join(filter(None, notes))
