"""Ask PyPI's JSON API for a project's latest version, conditionally when we asked before."""

from datetime import datetime
from typing import Callable

from fetcher import normalize
from fetcher.http import Http
from fetcher.pieces import Cached
from fetcher.urls import normalize_pypi_name


class PyPI:
    def __init__(self, http: Http, url: str, clock: Callable[[], datetime]):
        self._http = http
        self._url = url
        self._clock = clock

    async def project(self, name: str, cached: Cached | None) -> Cached:
        """The version piece; a 304 keeps last time's. Names are PEP 503-normalized, or PyPI redirects."""
        name = normalize_pypi_name(name)
        if cached is not None and cached.value.get("name") != name:
            cached = None
        answer = await self._http.get(
            f"{self._url}/pypi/{name}/json", kind="pypi", validators=cached.validators if cached else None
        )
        if answer.status == 304 and cached is not None:
            return cached
        version = normalize.pypi_version(answer)
        return Cached({"name": name, "version": version}, self._clock(), answer.headers.get("etag"),
                      answer.headers.get("last-modified"))
