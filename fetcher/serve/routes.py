"""Which endpoint a request is for, and the URLs an answer links to. Pure functions.

Paths are Django Packages' (`apiv4/urls.py`: DRF's DefaultRouter, trailing slashes, mounted at `/api/v4/`) and
fetcher's own under `/api/fetcher/`. A path is percent-decoded before it is matched, as Django does; one missing
its trailing slash is redirected to it (Django's APPEND_SLASH). Unlike DRF's router, a package's segment may
hold a dot: fetcher's slugs may.
"""

import re
from dataclasses import dataclass
from urllib import parse

V4 = "/api/v4/"
OWN = "/api/fetcher/"

# Each endpoint: its name and its pattern; `ident` is the id or slug a detail is looked up by.
_PATTERNS = [
    ("index", r"/api/v4/"),
    ("packages", r"/api/v4/packages/"),
    ("package", r"/api/v4/packages/(?P<ident>[^/]+)/"),
    ("grids", r"/api/v4/grids/"),
    ("grid", r"/api/v4/grids/(?P<ident>[^/]+)/"),
    ("categories", r"/api/v4/categories/"),
    ("category", r"/api/v4/categories/(?P<ident>[^/]+)/"),
    ("facts", r"/api/fetcher/packages/(?P<ident>[^/]+)/facts/"),
    ("history", r"/api/fetcher/packages/(?P<ident>[^/]+)/history/"),
    ("trending", r"/api/fetcher/trending/"),
    ("health", r"/api/fetcher/health/"),
]
_COMPILED = [(name, re.compile(pattern)) for name, pattern in _PATTERNS]
# Django's check of a Host header (django.http.request.host_validation_re): a name or an IPv6 literal, a port.
_HOST = re.compile(r"([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(:[0-9]+)?")
# The characters Django's escape_uri_path leaves as they are in a path.
_PATH_SAFE = "/:@&+$,-_.!~*'()"


@dataclass(frozen=True)
class Route:
    endpoint: str
    ident: str | None = None


def decode_path(raw_path: bytes) -> str | None:
    """The path with its percent-escapes decoded, as UTF-8; None when the bytes are not UTF-8 (nothing's name)."""
    try:
        return parse.unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        return None


def route(path: str) -> Route | None:
    for name, pattern in _COMPILED:
        match = pattern.fullmatch(path)
        if match:
            return Route(name, match.groupdict().get("ident"))
    return None


def slash_redirect(path: str, query: str) -> str | None:
    """Where Django's APPEND_SLASH sends a path that matches only with a trailing slash: the path, escaped, with
    the slash and the query as sent; None when the slash would not help."""
    if path.endswith("/") or route(path + "/") is None:
        return None
    return parse.quote(path + "/", safe=_PATH_SAFE) + (f"?{query}" if query else "")


def valid_host(host: str) -> bool:
    """Whether Django would take this Host header (a bad one is its DisallowedHost, a 400)."""
    return bool(_HOST.fullmatch(host.lower()))


def absolute(scheme: str, host: str, path: str, query: str = "") -> str:
    """Django's build_absolute_uri: the scheme, the Host as sent, the path escaped, the query as sent."""
    return f"{scheme}://{host}{parse.quote(path, safe=_PATH_SAFE)}" + (f"?{query}" if query else "")
