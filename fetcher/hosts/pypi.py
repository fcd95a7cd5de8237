"""Ask PyPI for a project's latest version and facts, conditionally when we asked before.

Two free requests per package, both conditional: the JSON API
(`/pypi/NAME/json`: version, license, Python support, classifiers, the
latest release) and the JSON Index API (`/simple/NAME/`, PEP 691: the PEP
792 project status, which the JSON API does not carry).
"""

from fetcher import facts
from fetcher.hosts.github import answers as normalize
from fetcher.net.client import Http
from fetcher.net.answer import Answer
from fetcher.cache import Cached
from fetcher.links import normalize_pypi_name


class PyPI:
    def __init__(self, http: Http, url: str):
        self._http = http
        self._url = url

    async def project(self, name: str, cached: Cached | None) -> Cached:
        """The version piece, with the facts; a 304 keeps last time's.

        Names are PEP 503-normalized, or PyPI redirects.
        """
        name = normalize_pypi_name(name)
        # A piece kept before facts were read holds no facts: ask afresh once, unconditionally.
        if cached is not None and (cached.value.get("name") != name or "classifiers" not in cached.value):
            cached = None

        def read(answer: Answer) -> dict:
            return {"name": name, "version": normalize.pypi_version(answer), **facts.pypi_facts(answer)}

        return await self._http.get_piece(f"{self._url}/pypi/{name}/json", kind="pypi", cached=cached, read=read)

    async def status(self, name: str, cached: Cached | None) -> Cached:
        """The PEP 792 status piece from the JSON Index API; a 304 keeps last time's."""
        name = normalize_pypi_name(name)
        if cached is not None and cached.value.get("name") != name:
            cached = None
        return await self._http.get_piece(
            f"{self._url}/simple/{name}/", kind="pypi", cached=cached,
            headers={"Accept": facts.SIMPLE_JSON},
            read=lambda answer: {"name": name, "status": facts.project_status(answer)},
        )
