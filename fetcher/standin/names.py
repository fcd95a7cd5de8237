"""How GitHub and PyPI name things: PEP 503 project names, repository and project names in URLs."""

from __future__ import annotations

import re
from urllib.parse import unquote

_GITHUB_URL = re.compile(
    r"^(?:https?://(?:www\.)?github\.com/|git@github\.com:)([\w.-]+)/([\w.-]+?)(?:\.git)?(?:[/?#].*)?$",
    re.IGNORECASE,
)
_PYPI_URL = re.compile(
    r"^https?://(?:www\.)?pypi\.(?:org|python\.org)/(?:project|pypi)/([^/?#]+)", re.IGNORECASE
)


def normalize_name(name: str) -> str:
    """PEP 503 normalized project name: the spelling PyPI redirects to."""
    return re.sub(r"[-_.]+", "-", name).lower()


def github_full_name(url: str) -> str | None:
    """"owner/name" of a github.com repository URL (trailing slash, .git, subpath or git@ form allowed)."""
    match = _GITHUB_URL.match(url.strip())
    return f"{match[1]}/{match[2]}" if match else None


def pypi_project(url: str) -> str | None:
    """Project name as spelled in a PyPI URL (/project/NAME/ or the legacy /pypi/NAME)."""
    match = _PYPI_URL.match(url.strip())
    return unquote(match[1]) if match else None
