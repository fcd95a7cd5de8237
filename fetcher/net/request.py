"""What one request asks: its URL, what it is for, and how it may be answered."""

import re
from dataclasses import dataclass, field
from typing import Mapping

# Printable ASCII: what a header value may carry back to the server unchanged.
_SENDABLE = re.compile(r"[\x20-\x7e]+")


@dataclass(frozen=True)
class Validators:
    """What a resource answered last time, to ask "has it changed?" for free."""

    etag: str | None
    last_modified: str | None
    token_env: str | None = None  # the token that made them: GitHub's ETags hold for that token only

    def headers(self) -> dict[str, str]:
        """The conditional headers; a validator that could not be sent back as it is (an answer's
        non-ASCII or control characters) is left out, and the resource is asked in full instead."""
        sent = {}
        if self.etag and _SENDABLE.fullmatch(self.etag):
            sent["If-None-Match"] = self.etag
        if self.last_modified and _SENDABLE.fullmatch(self.last_modified):
            sent["If-Modified-Since"] = self.last_modified
        return sent


@dataclass(frozen=True)
class Request:
    url: str
    resource: str  # what is asked (repo, commits, contributors, participation, graphql, pypi, ...): counted, paced
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    json: dict | None = None
    validators: Validators | None = None  # asked conditionally: a 304 may come back
    # A 202 ("still computing") is asked again here; False: it goes up at once, and the caller comes back later.
    retry_pending: bool = True
    # 5xx statuses that go up at once, to a caller that knows what they mean there (Forgejo's 500 for a query naming
    # a commit the repository no longer has), instead of being asked again after a backoff; any other is retried.
    final_server_errors: frozenset[int] = frozenset()
    once: bool = False  # asked once: no failure retried, no rate limit waited for (a check, a budget asked)
    max_body: int | None = None  # a tighter bound on the body than http.max_body, for an answer known to be small

    def sent_headers(self) -> dict[str, str]:
        return {**self.headers, **(self.validators.headers() if self.validators else {})}

    @property
    def pinned_to(self) -> str | None:
        """The token a conditional request should go with: the one that made its validators."""
        return self.validators.token_env if self.validators and self.validators.headers() else None
