"""What the forge stand-ins share about HTTP: JSON answers, validators and 304s, paging parameters.

Each forge spells these differently (GitLab's weak ETags, Bitbucket's strong
ones, Forgejo's ``limit``); the spelling is the caller's, the mechanics are here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from fetcher.standin.answers import Answer, Query, not_modified
from fetcher.standin.dates import http_date


def json_answer(status: int, payload: Any, content_type: str, headers: Mapping[str, str] | None = None) -> Answer:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return Answer(status, body, {"Content-Type": content_type, **(headers or {})})


def revalidate(
    answer: Answer, request: Mapping[str, str], *, weak: bool, last_modified: datetime | None = None
) -> Answer:
    """Give a 200 its ETag (and Last-Modified), or make it a bodiless 304 when the client's copy is current.

    The ETag hashes the body, so it changes exactly when the answer does. The
    304 keeps the answer's other headers (paging, rate limits), as the hosts do.
    """
    if answer.status != 200:
        return answer
    digest = hashlib.md5(answer.body).hexdigest()
    validators = {"ETag": f'W/"{digest}"' if weak else f'"{digest}"'}
    if last_modified is not None:
        validators["Last-Modified"] = http_date(last_modified)
    if not_modified(request, validators["ETag"], validators.get("Last-Modified", "")):
        kept = {name: value for name, value in answer.headers.items() if name != "Content-Type"}
        return Answer(304, b"", {**kept, **validators})
    answer.headers.update(validators)
    return answer


def param(query: Query, name: str) -> str | None:
    """The last value given for ``name``, as Rails, Go and Django read repeated parameters."""
    found = None
    for key, value in query:
        if key == name:
            found = value
    return found


def flag(query: Query, name: str, default: bool) -> bool:
    value = param(query, name)
    if value is None or value == "":
        return default
    return value.lower() not in ("false", "0", "no", "off")


def parse_instant(text: str | None) -> datetime | None:
    """An ISO 8601 instant; a missing offset is taken as UTC. None if absent or unreadable."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass
class Served:
    """A forge's answer with what it was about, for the request log: the resource and the repository's path."""

    answer: Answer
    resource: str = ""
    repo: str | None = None


def page_links(
    url: str, query: Query, pages: list[tuple[str, int]], sep: str = ", ", next_link: str | None = None
) -> str:
    """A Link header of ``pages`` (rel, page number); the client's other parameters kept, sorted as the hosts do.

    ``next_link``: where the ``next`` page is said to be instead (a hostile host's, see ``ForgeRepo.next_link``).
    """
    kept = [(name, value) for name, value in query if name != "page"]
    links = []
    for rel, number in pages:
        params = sorted([*kept, ("page", str(number))])
        target = next_link if next_link and rel == "next" else f"{url}?{urlencode(params)}"
        links.append(f'<{target}>; rel="{rel}"')
    return sep.join(links)


def spoken(message: str, request: Mapping[str, str]) -> str:
    """A refusal's message (``Forges.refuse``), ``{authorization}`` in it replaced by the credential the request
    carried (its Authorization, else GitLab's PRIVATE-TOKEN): a careless host that echoes it back."""
    credential = request.get("authorization") or request.get("private-token") or ""
    return message.replace("{authorization}", credential)
