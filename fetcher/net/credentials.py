"""Credentials through httpx's own Auth hook, bound to the API they belong to.

A credential adds its Authorization header only to a request under one of its API URLs (same
scheme, host and port, and a path at or under the API's): a redirect or a next link anywhere
else goes without it, whoever sent it there.
"""

import httpx

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> str:
    """scheme://host:port of a URL. Raises httpx.InvalidURL for anything but an http(s) URL with a host."""
    parsed = httpx.URL(url)
    if parsed.scheme not in _DEFAULT_PORTS or not parsed.host:
        raise httpx.InvalidURL(f"not an http(s) URL: {url[:100]!r}")
    return f"{parsed.scheme}://{parsed.host}:{parsed.port or _DEFAULT_PORTS[parsed.scheme]}"


def under(url: str | httpx.URL, api_url: str) -> bool:
    """Whether `url` is on the API's origin and at or under its path."""
    try:
        if origin(str(url)) != origin(api_url):
            return False
    except httpx.InvalidURL:
        return False
    path, prefix = httpx.URL(str(url)).path, httpx.URL(api_url).path.rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


class Credential(httpx.Auth):
    """One Authorization value, sent only under `api_urls`; `token_env` names it wherever it is shown."""

    pooled = False  # one of a pool (the pool keeps each token's budget itself)

    def __init__(self, authorization: str, api_urls: tuple[str, ...], token_env: str | None):
        self._authorization = authorization
        self.api_urls = api_urls
        self.token_env = token_env

    def auth_flow(self, request: httpx.Request):
        if any(under(request.url, api_url) for api_url in self.api_urls):
            request.headers["Authorization"] = self._authorization
        yield request

    def observe(self, status: int, budget, charged: int, refused: bool) -> None:
        """What the answer to a request it went with said: its status, its budget (or None), the points
        it cost, and whether it was refused for a rate limit."""


def bearer(token: str) -> str:
    return f"Bearer {token}"
