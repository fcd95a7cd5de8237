"""Answers set in advance: the next requests under a path prefix get them, whatever the world says."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fetcher.standin.answers import BODILESS, JSON, Answer, encode


@dataclass
class _Canned:
    prefix: str
    status: int
    times: int
    headers: dict[str, str]
    body: bytes


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class CannedAnswers:
    """The answers set with ``add``, taken in the order they were added by ``take``."""

    def __init__(self) -> None:
        self._canned: list[_Canned] = []
        self._lock = threading.Lock()

    def add(
        self,
        path_prefix: str,
        status: int,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next ``times`` requests whose path (with query) starts with ``path_prefix`` this way.

        ``body`` is JSON-encoded unless it is bytes; None means GitHub's usual
        ``{"message": reason}`` (and no body for 204/304).
        """
        if status in BODILESS:
            encoded, content = b"", {}
        elif isinstance(body, bytes):
            encoded, content = body, {"Content-Type": JSON}
        else:
            payload = body if body is not None else {"message": _reason(status)}
            encoded, content = encode(payload), {"Content-Type": JSON}
        canned = _Canned(path_prefix, status, times, {**content, **(headers or {})}, encoded)
        with self._lock:
            self._canned.append(canned)

    def take(self, target: str) -> Answer | None:
        """The answer set for this request's path (with query), if any; it counts as one of its ``times``."""
        with self._lock:
            for canned in self._canned:
                if target.startswith(canned.prefix):
                    canned.times -= 1
                    if canned.times <= 0:
                        self._canned.remove(canned)
                    return Answer(canned.status, canned.body, dict(canned.headers))
        return None
