"""PyPI as the stand-in serves it: the JSON API (``/pypi/NAME/json``) and the JSON Index API (``/simple/NAME/``).

Names are looked up normalized: unknown ones answer 404, known ones spelled otherwise 301 to the normalized spelling.
A quarantined project (PEP 792) answers as warehouse does: 404 from the JSON API, whatever the spelling (its
lookup leaves quarantined projects out), while the index still serves its page, with the status and no files.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from fetcher.standin.answers import Answer, json_answer, revalidate
from fetcher.standin.facts import SIMPLE_JSON, dress_pypi, facts_for, simple_page
from fetcher.standin.names import normalize_name
from fetcher.standin.world import World

_NOT_FOUND = {"message": "Not Found"}
_LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT"


def _last_serial(name: str) -> int:
    return zlib.crc32(name.encode()) % 20_000_000 + 1_000_000


def _pypi_body(name: str, version: str) -> dict[str, Any]:
    project = f"https://pypi.org/project/{name}/"
    return {
        "info": {
            "author": "",
            "author_email": "",
            "classifiers": ["Framework :: Django"],
            "description": "",
            "home_page": None,
            "license": None,
            "name": name,
            "package_url": project,
            "project_url": project,
            "project_urls": None,
            "release_url": f"{project}{version}/",
            "requires_python": ">=3.8",
            "summary": f"{name} for Django",
            "version": version,
            "yanked": False,
            "yanked_reason": None,
        },
        "last_serial": _last_serial(name),
        "releases": {version: []},
        "urls": [],
        "vulnerabilities": [],
    }


def _project(world: World, base: str, parts: list[str], last: str) -> tuple[str, str] | Answer:
    """The project ``/ROOT/NAME/LAST`` names, as (normalized name, version); else its answer.

    PyPI looks names up normalized: unknown names are 404, known ones spelled otherwise 301.
    """
    if len(parts) != 3 or parts[2] != last:
        return json_answer(404, _NOT_FOUND)
    canonical = normalize_name(parts[1])
    version = world.pypi.get(canonical)
    if version is None:
        return json_answer(404, _NOT_FOUND)
    if parts[1] != canonical:
        return Answer(301, headers={"Location": f"{base}/{parts[0]}/{canonical}/{last}"})
    return canonical, version


def json_api_answer(world: World, base: str, parts: list[str], request: Mapping[str, str]) -> Answer:
    """PyPI's JSON API project page, ``/pypi/NAME/json``; 404 for a quarantined project."""
    if len(parts) == 3 and _quarantined(world, normalize_name(parts[1])):
        return json_answer(404, _NOT_FOUND)
    project = _project(world, base, parts, "json")
    if isinstance(project, Answer):
        return project
    canonical, version = project
    serial = {"X-PyPI-Last-Serial": str(_last_serial(canonical))}
    body = dress_pypi(_pypi_body(canonical, version), world, canonical, version)
    answer = json_answer(200, body, serial)
    return revalidate(answer, _LAST_MODIFIED, request)


def simple_answer(world: World, base: str, parts: list[str], request: Mapping[str, str]) -> Answer:
    """PyPI's JSON Index API project page, ``/simple/NAME/``."""
    project = _project(world, base, parts, "")
    if isinstance(project, Answer):
        return project
    canonical, version = project
    page = simple_page(world, canonical, version)
    return revalidate(Answer(200, page, {"Content-Type": SIMPLE_JSON}), _LAST_MODIFIED, request)


def _quarantined(world: World, name: str) -> bool:
    return name in world.pypi and facts_for(world, name).status == "quarantined"
