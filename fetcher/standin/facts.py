"""What the stand-in serves for the facts beside the record: PyPI's metadata, the JSON Index API, archive dates.

Every PyPI project of a world has facts: the ones a test set in
``World.pypi_facts``, else seeded ones drawn from the project's name (so
generated worlds stay as they were). The stand-in dresses its JSON API
answer with them, serves ``/simple/NAME/`` (PEP 691 JSON, API version 1.4,
the PEP 792 ``project-status`` when one is set) from here, and adds
``archivedAt`` and the default branch's ``history { totalCount }`` to
GraphQL repository nodes.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
_LICENSES = ("MIT", "BSD-3-Clause", None, "Apache License 2.0", "GPL-3.0-or-later")
_LICENSE_CLASSIFIERS = {
    "MIT": "License :: OSI Approved :: MIT License",
    "BSD-3-Clause": "License :: OSI Approved :: BSD License",
    None: "License :: OSI Approved :: BSD License",
    "Apache License 2.0": "License :: OSI Approved :: Apache Software License",
    "GPL-3.0-or-later": "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)",
}
_DJANGO = ("3.2", "4.0", "4.1", "4.2", "5.0", "5.1", "5.2")
_REQUIRES = (">=3.8", ">=3.10", None, "<3", ">=2.7, !=3.0.*")


@dataclass
class ProjectFacts:
    """What PyPI says of one project beside its version."""

    license: str | None = None  # info.license
    license_expression: str | None = None  # PEP 639
    requires_python: str | None = None
    classifiers: list[str] = field(default_factory=list)
    docs_url: str | None = None  # info.docs_url (pythonhosted.org docs)
    project_urls: dict[str, str] | None = None
    uploaded_at: str = "2024-03-01T12:00:00.000000Z"  # the first file of the latest version
    yanked: bool = False
    status: str | None = None  # PEP 792; None: not said (active); quarantined: no JSON API answer (404)


def seeded(name: str) -> ProjectFacts:
    """Facts drawn from the name: a mix of licenses, Python support, Django versions, docs URLs and statuses."""
    h = zlib.crc32(f"facts:{name}".encode())
    license_ = _LICENSES[h % len(_LICENSES)]
    first = (h >> 4) % len(_DJANGO)
    django = list(_DJANGO[first : first + 1 + (h >> 8) % 3])
    requires = _REQUIRES[(h >> 12) % len(_REQUIRES)]
    classifiers = ["Framework :: Django"] + [f"Framework :: Django :: {v}" for v in django]
    classifiers.append(_LICENSE_CLASSIFIERS[license_])
    if (h >> 16) % 3:
        classifiers.append("Programming Language :: Python :: 3")
    else:
        classifiers.append("Programming Language :: Python :: 2.7")
    urls = {"Homepage": f"https://github.com/{name}"}
    if (h >> 18) % 2:
        urls["Documentation"] = f"https://{name}.readthedocs.io/"
    uploaded = datetime(2020, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=(h >> 3) % (4 * 365 * 86400))
    return ProjectFacts(
        license=license_,
        requires_python=requires,
        classifiers=sorted(classifiers),
        project_urls=urls,
        uploaded_at=uploaded.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        yanked=(h >> 20) % 10 == 0,
        status=(None, None, None, "archived", "deprecated", "active")[(h >> 22) % 6],
    )


def facts_for(world, name: str) -> ProjectFacts:
    return world.pypi_facts.get(name) or seeded(name)


def _files(name: str, version: str, facts: ProjectFacts) -> list[dict[str, Any]]:
    uploaded = datetime.fromisoformat(facts.uploaded_at.replace("Z", "+00:00"))
    files = []
    for offset, (kind, filename) in enumerate(
        (("sdist", f"{name}-{version}.tar.gz"), ("bdist_wheel", f"{name.replace('-', '_')}-{version}-py3-none-any.whl"))
    ):
        moment = uploaded + timedelta(seconds=offset)
        files.append({
            "filename": filename,
            "packagetype": kind,
            "python_version": "source" if kind == "sdist" else "py3",
            "upload_time": moment.strftime("%Y-%m-%dT%H:%M:%S"),
            "upload_time_iso_8601": moment.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "url": f"https://files.pythonhosted.org/packages/{filename}",
            "yanked": facts.yanked,
            "yanked_reason": "broken" if facts.yanked else None,
        })
    return files


def dress_pypi(body: dict[str, Any], world, name: str, version: str) -> dict[str, Any]:
    """Fill a JSON API answer's info, urls and releases with the project's facts."""
    facts = facts_for(world, name)
    files = _files(name, version, facts)
    body["info"].update({
        "license": facts.license,
        "license_expression": facts.license_expression,
        "requires_python": facts.requires_python,
        "classifiers": list(facts.classifiers),
        "docs_url": facts.docs_url,
        "project_urls": facts.project_urls,
        "yanked": facts.yanked,
    })
    body["urls"] = files
    body["releases"] = {version: files}
    return body


def simple_page(world, name: str, version: str) -> bytes:
    """The JSON Index API project page: PEP 691 files, PEP 700 versions, PEP 792 status.

    As warehouse builds it (``_simple_detail`` in warehouse/packaging/utils.py): ``project-status`` is an object
    with ``status`` alone (PyPI sends no reason), and a quarantined project's files and versions are left out."""
    facts = facts_for(world, name)
    hidden = facts.status == "quarantined"
    files = [
        {"filename": f["filename"], "url": f["url"], "hashes": {}, "upload-time": f["upload_time_iso_8601"],
         "yanked": "broken" if facts.yanked else False}
        for f in _files(name, version, facts)
    ]
    page: dict[str, Any] = {
        "meta": {"api-version": "1.4", "_last-serial": zlib.crc32(name.encode()) % 20_000_000},
        "name": name,
        "versions": [] if hidden else [version],
        "files": [] if hidden else files,
    }
    if facts.status is not None:
        page["project-status"] = {"status": facts.status}
    return json.dumps(page, separators=(",", ":")).encode()


def archived_at(repo) -> str | None:
    """When an archived repository was archived: as set, else a day after its newest commit."""
    if not repo.archived:
        return None
    if repo.archived_at:
        return repo.archived_at
    moment = repo.newest_commit_date or repo.created_at
    return (datetime.fromisoformat(moment.replace("Z", "+00:00")) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
