"""A hostile mode for the stand-in: chosen resources answer what no honest server would.

Every answer a client gets is untrusted input. ``Hostile`` maps a resource's
path (without its query) to one kind of bad answer; the stand-in's handler
asks it first and lets it answer the request itself. The rest of the world is
served as usual, so one run shows that the hostile packages fail alone while
the others are written.

Kinds (the resource each is meant for in brackets):
- wrong_types [repo]: 200 with counts, names and URLs of the wrong JSON types.
- big_number [repo]: 200 whose forks_count is 2**64, past SQLite's signed 64 bits.
- lone_surrogate [repo]: 200 whose description is the lone surrogate escape \\ud800.
- deep_nesting [repo]: 200 whose body is 100,000 nested arrays.
- absurd_retry_after [repo]: 403 with Retry-After: 99999999999999999999.
- absurd_reset [repo]: 403 with X-RateLimit-Remaining 0 and an X-RateLimit-Reset 10**30.
- redirect_loop [repo]: 301 to itself, forever.
- trickle [repo]: 200 promising 4,096 bytes, sent a byte every `trickle_seconds`.
- gzip_bomb [repo]: 200 gzip-encoded, 16 KB on the wire, 16 MiB inflated.
- invalid_link [contributors]: a page whose Link rel="next" is no URL.
- foreign_link [contributors]: a page whose Link rel="next" names another origin.
- link_cycle [contributors]: page 1 links to page 2, page 2 back to page 1.
- too_large [contributors]: GitHub's 403 "contributor list is too large".
- cross_origin_redirect [participation]: 307 to another origin, which answers the weeks.
- api_version [any GitHub path]: 410 saying the X-GitHub-Api-Version is no longer supported.
- pypi_401, pypi_429 [pypi]: PyPI refusing, or rate limiting for an hour.
- graphql_secondary [/graphql]: once, a 200 whose error is a secondary rate limit, with Retry-After: 1;
  then the stand-in answers as usual.
- past_reset [repo]: 403 with X-RateLimit-Remaining 0 and a reset two minutes ago (a client clock ahead).
- retry_after_zero [repo]: 429 with Retry-After: 0, every time.
- unicode_retry_after [pypi]: 429 with Retry-After: ² (a digit to str.isdigit(), none to int()).
- endless_digits [repo]: the honest repository, with X-RateLimit-* numbers of 5,000 digits each.
- terminal_escapes [repo]: the honest repository, its description carrying terminal escapes (OSC 52 setting
  the clipboard, clearing the screen, moving the cursor, a C1 CSI).
- terminal_escapes_error [pypi]: a 418 whose message carries the same escapes.

"Another origin" is the same server reached as ``localhost`` instead of
``127.0.0.1``: ``seen`` records each request the hostile mode answered, with
the Host it was sent to and whether it carried an Authorization header.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from fetcher.standin.github_bodies import repo_body

KINDS = frozenset({
    "wrong_types", "big_number", "lone_surrogate", "deep_nesting", "absurd_retry_after", "absurd_reset",
    "redirect_loop", "trickle", "gzip_bomb", "invalid_link", "foreign_link", "link_cycle", "too_large",
    "cross_origin_redirect", "api_version", "pypi_401", "pypi_429", "graphql_secondary", "past_reset",
    "retry_after_zero", "unicode_retry_after", "endless_digits", "terminal_escapes", "terminal_escapes_error",
})
# What a terminal would act on: set the clipboard (OSC 52), clear the screen, move the cursor home, a C1 CSI.
ESCAPES = "\x1b]52;c;ZmV0Y2hlcg==\x07\x1b[2J\x1b[H\x9b31m"
ONCE = frozenset({"graphql_secondary"})  # kinds that spoil only the first answer
# GitHub's own words for GET /repos/{owner}/{repo}/contributors on a very large repository.
TOO_LARGE_MESSAGE = ("The history or contributor list is too large to list contributors for this repository "
                     "via the API.")
_ECHO = "/hostile/weeks"  # where cross_origin_redirect sends the client
_JSON = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Seen:
    host: str
    path: str
    authorized: bool


@dataclass
class Hostile:
    """Path (no query) -> kind of bad answer; e.g. {"/repos/o/n": "gzip_bomb", "/pypi/x/json": "pypi_429"}."""

    rules: dict[str, str]
    trickle_seconds: float = 0.2
    seen: list[Seen] = field(default_factory=list)
    _spent: set[str] = field(default_factory=set, repr=False)  # paths whose ONCE kind has answered
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.rules.values()) - KINDS
        if unknown:
            raise ValueError(f"unknown hostile kinds: {', '.join(sorted(unknown))}")
        if "gzip_bomb" in self.rules.values():
            _bomb()  # built now, not while a client waits for it

    def answer(self, handler: Any, request: dict[str, str]) -> bool:
        """Answer the handler's request if a rule covers it; False leaves it to the stand-in."""
        split = urlsplit(handler.path)
        kind = self.rules.get(split.path)
        if kind is None and not split.path.startswith(_ECHO):
            return False
        with self._lock:
            if kind in ONCE:
                if split.path in self._spent:
                    return False
                self._spent.add(split.path)
            self.seen.append(Seen(request.get("host", ""), handler.path, "authorization" in request))
        port = handler.server.server_address[1]
        own, foreign = f"http://127.0.0.1:{port}", f"http://localhost:{port}"
        if kind is None:  # the far end of cross_origin_redirect: the weeks, as the API would answer them
            _send(handler, 200, {"Content-Type": _JSON}, json.dumps({"all": [3] * 52, "owner": [0] * 52}).encode())
        elif kind == "trickle":
            self._trickle(handler)
        else:
            status, headers, body = _bad_answer(kind, split.path, split.query, own, foreign, handler)
            _send(handler, status, headers, body)
        return True

    def _trickle(self, handler: Any) -> None:
        handler.close_connection = True
        handler.send_response(200)
        handler.send_header("Content-Type", _JSON)
        handler.send_header("Content-Length", "4096")
        handler.end_headers()
        try:
            for _ in range(4096):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(self.trickle_seconds)
        except OSError:
            return  # the client gave up, as it should


def _bad_answer(kind: str, path: str, query: str, own: str, foreign: str, handler: Any):
    json_type = {"Content-Type": _JSON}
    repo_body = _honest_repo(handler, path)
    if kind == "wrong_types":
        return 200, json_type, _encode({**repo_body, "forks_count": "many", "watchers_count": [1],
                                        "full_name": 7, "html_url": None})
    if kind == "big_number":
        return 200, json_type, _encode({**repo_body, "forks_count": 2**64})
    if kind == "lone_surrogate":
        body = _encode({**repo_body, "description": "SURROGATE"}).replace(b"SURROGATE", b"\\ud800")
        return 200, json_type, body
    if kind == "deep_nesting":
        return 200, json_type, b"[" * 100_000 + b"]" * 100_000
    if kind == "absurd_retry_after":
        return 403, {**json_type, "Retry-After": "99999999999999999999"}, _encode(
            {"message": "You have exceeded a secondary rate limit."})
    if kind == "absurd_reset":
        headers = {**json_type, "X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0",
                   "X-RateLimit-Reset": str(10**30), "X-RateLimit-Resource": "core"}
        return 403, headers, _encode({"message": "API rate limit exceeded for user ID 1."})
    if kind == "redirect_loop":
        return 301, {**json_type, "Location": f"{own}{path}"}, _encode({"message": "Moved Permanently"})
    if kind == "gzip_bomb":
        return 200, {**json_type, "Content-Encoding": "gzip"}, _bomb()
    if kind in ("invalid_link", "foreign_link", "link_cycle"):
        page = 2 if "page=2" in query else 1
        first, second = f"{own}{path}?per_page=100", f"{own}{path}?per_page=100&page=2"
        following = {
            "invalid_link": "http://[::1/contributors?page=2",
            "foreign_link": f"{foreign}{path}?per_page=100&page=2",
            "link_cycle": second if page == 1 else first,
        }[kind]
        people = [_person(f"hostile-{page}-{n}") for n in range(3)]
        return 200, {**json_type, "Link": f'<{following}>; rel="next"'}, _encode(people)
    if kind == "too_large":
        return 403, json_type, _encode({
            "message": TOO_LARGE_MESSAGE,
            "documentation_url": "https://docs.github.com/rest/repos/repos#list-repository-contributors",
        })
    if kind == "cross_origin_redirect":
        return 307, {"Location": f"{foreign}{_ECHO}{path}"}, b""
    if kind == "api_version":
        return 410, json_type, _encode({
            "message": "The X-GitHub-Api-Version header value 2022-11-28 is no longer supported by this API.",
            "documentation_url": "https://docs.github.com/rest/about-the-rest-api/api-versions",
        })
    if kind == "past_reset":
        headers = {**json_type, "X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0",
                   "X-RateLimit-Reset": str(int(time.time()) - 120), "X-RateLimit-Resource": "core"}
        return 403, headers, _encode({"message": "API rate limit exceeded for user ID 1."})
    if kind == "retry_after_zero":
        return 429, {**json_type, "Retry-After": "0"}, _encode({"message": "Too Many Requests"})
    if kind == "unicode_retry_after":
        return 429, {**json_type, "Retry-After": "²"}, _encode({"message": "Too Many Requests"})
    if kind == "endless_digits":
        digits = "9" * 5000
        return 200, {**json_type, "X-RateLimit-Limit": digits, "X-RateLimit-Remaining": digits,
                     "X-RateLimit-Reset": digits, "X-RateLimit-Resource": "core"}, _encode(repo_body)
    if kind == "terminal_escapes":
        return 200, json_type, _encode({**repo_body, "description": f"Looks harmless{ESCAPES} until printed"})
    if kind == "terminal_escapes_error":
        return 418, json_type, _encode({"message": f"I'm a teapot{ESCAPES}"})
    if kind == "graphql_secondary":
        message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        return 200, {**json_type, "Retry-After": "1"}, _encode({"errors": [{"message": message}]})
    if kind == "pypi_401":
        return 401, json_type, _encode({"message": "Unauthorized"})
    # pypi_429
    return 429, {**json_type, "Retry-After": "3600"}, _encode({"message": "Too Many Requests"})


def _honest_repo(handler: Any, path: str) -> dict[str, Any]:
    """What the stand-in would answer for the repository at `path`, to spoil one field of."""
    standin = handler.server.standin
    parts = path.strip("/").split("/")
    try:
        repo = standin.world.repo(f"{parts[1]}/{parts[2]}")
    except (KeyError, IndexError):
        return {}
    return repo_body(repo, standin.url)


def _person(login: str) -> dict[str, Any]:
    return {"login": login, "id": zlib.crc32(login.encode()), "type": "User", "contributions": 1}


@lru_cache(maxsize=1)
def _bomb() -> bytes:
    return gzip.compress(b" " * (16 * 1024 * 1024), compresslevel=9)


def _encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def _send(handler: Any, status: int, headers: dict[str, str], body: bytes) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
