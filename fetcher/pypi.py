"""Ask PyPI's JSON API for a project; return the answer as it came."""

from fetcher.http import Http
from fetcher.interpret import Answer
from fetcher.urls import normalize_pypi_name


class PyPI:
    def __init__(self, http: Http, url: str):
        self._http = http
        self._url = url

    async def project(self, name: str) -> Answer:
        return await self._http.get(f"{self._url}/pypi/{normalize_pypi_name(name)}/json")
