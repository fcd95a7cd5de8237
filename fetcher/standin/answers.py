"""What every fake of the stand-in answers with: the answer, JSON bodies, validators and 304s, paging numbers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

JSON = "application/json; charset=utf-8"
# Statuses answered without a body (and so without Content-Length).
BODILESS = frozenset({204, 304})
# A request's query parameters in order, repeats kept.
Query = list[tuple[str, str]]


@dataclass
class Answer:
    """One HTTP answer as the stand-in sends it."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def encode(payload: Any) -> bytes:
    """Compact JSON, as GitHub sends to API clients."""
    return json.dumps(payload, separators=(",", ":")).encode()


def json_answer(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Answer:
    """A JSON answer as GitHub and PyPI send it."""
    return Answer(status, encode(payload), {"Content-Type": JSON, **(headers or {})})


def _strip_weak(tag: str) -> str:
    return tag.strip().removeprefix("W/")


def not_modified(request: Mapping[str, str], etag: str, last_modified: str) -> bool:
    """If-None-Match decides when sent (weak and strong forms match); otherwise If-Modified-Since."""
    if "if-none-match" in request:
        tags = {_strip_weak(tag) for tag in request["if-none-match"].split(",")}
        return "*" in tags or _strip_weak(etag) in tags
    since = request.get("if-modified-since")
    if since is None:
        return False
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False

def revalidate(answer: Answer, last_modified: str, request: Mapping[str, str]) -> Answer:
    """GitHub's and PyPI's validators: give a 200 a weak ETag and ``last_modified``, or make it a bodiless 304
    when the client's copy is current."""
    if answer.status != 200:
        return answer
    # GitHub's ETags depend on the token that asked ("expected for ETags to be auth token specific").
    digest = hashlib.sha256(answer.body + request.get("authorization", "").encode()).hexdigest()
    validators = {"ETag": f'W/"{digest}"', "Last-Modified": last_modified}
    if not_modified(request, validators["ETag"], last_modified):
        return Answer(304, headers=validators)
    answer.headers.update(validators)
    return answer

def whole_number(text: str | None, default: int) -> int:
    """A paging parameter as the APIs read it: missing, malformed or below 1 means the default."""
    try:
        value = int(text or "")
    except ValueError:
        return default
    return value if value > 0 else default
