"""Ask PyPI's JSON API for a project's latest version, conditionally when we asked before."""

from fetcher import normalize
from fetcher.http import Http
from fetcher.pieces import Cached
from fetcher.urls import normalize_pypi_name


class PyPI:
    def __init__(self, http: Http, url: str):
        self._http = http
        self._url = url

    async def project(self, name: str, cached: Cached | None) -> Cached:
        """The version piece; a 304 keeps last time's. Names are PEP 503-normalized, or PyPI redirects."""
        name = normalize_pypi_name(name)
        if cached is not None and cached.value.get("name") != name:
            cached = None
        return await self._http.get_piece(
            f"{self._url}/pypi/{name}/json", kind="pypi", cached=cached,
            read=lambda answer: {"name": name, "version": normalize.pypi_version(answer)},
        )
