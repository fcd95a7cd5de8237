"""Credentials through httpx's own Auth hook, bound to the API they belong to.

A credential adds its Authorization header only to a request under one of its API URLs (same
scheme, host and port, and a path at or under the API's): a redirect or a next link anywhere
else goes without it, whoever sent it there.
"""

from base64 import b64encode
from urllib.parse import unquote

import httpx

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> str:
    """scheme://host:port of a URL. Raises httpx.InvalidURL for anything but an http(s) URL with a host."""
    parsed = httpx.URL(url)
    if parsed.scheme not in _DEFAULT_PORTS or not parsed.host:
        raise httpx.InvalidURL(f"not an http(s) URL: {url[:100]!r}")
    return f"{parsed.scheme}://{parsed.host}:{parsed.port or _DEFAULT_PORTS[parsed.scheme]}"


def under(url: str | httpx.URL, api_url: str) -> bool:
    """Whether `url` is on the API's origin and at or under its path, as the server will read the path.

    The path is compared as sent (percent-encoded): a segment that decodes to `.` or `..` (`%2e%2e`) may be
    read by the server as a step out of the API, so such a URL is under no API at all. (An encoded slash
    inside a segment is GitLab's own way of naming a project: `/projects/group%2Fname`.)
    """
    try:
        if origin(str(url)) != origin(api_url):
            return False
    except httpx.InvalidURL:
        return False
    path, prefix = _raw_path(str(url)), _raw_path(api_url).rstrip("/")
    if any(unquote(segment) in (".", "..") for segment in path.split("/")):
        return False
    return path == prefix or path.startswith(prefix + "/")


def _raw_path(url: str) -> str:
    return httpx.URL(url).raw_path.decode("ascii").partition("?")[0]


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


def basic(username: str, token: str) -> str:
    """HTTP Basic (RFC 7617) of a user name and a token, the user name's characters as UTF-8."""
    return f"Basic {basic_pair(username, token)}"


def basic_pair(username: str, token: str) -> str:
    """The base64 of `username:token` that Basic sends: a secret as much as the token is."""
    return b64encode(f"{username}:{token}".encode("utf-8")).decode("ascii")
