"""A forge's requests as the transport sees them: the rules a forge's answers are read by.

Its own token, sent under its own API URL only; its own rate-limit window, named by its host
(Forgejo's `X-RateLimit-*`, GitLab's `RateLimit-*`, `Retry-After` where sent); its 401 meaning
its token (its packages fail, every other host goes on); Bitbucket's 429, which says neither
when nor how long, spending its window for the run; its share of the request slots.
"""

from datetime import datetime
from typing import Mapping

from fetcher.config import HostConfig
from fetcher.errors import HostUnavailable, WindowSpent
from fetcher.net.answer import Answer, Budget, budget_from, read_common
from fetcher.net.credentials import Credential
from fetcher.net.request import Request
from fetcher.net.service import Service


class TokenRefused(HostUnavailable):
    """A forge answered 401: its token (or the lack of one) is refused; its packages fail, the rest go on."""


class ForgeService(Service):
    """A forge's requests: its own token, its own rate-limit window (named by its host), its share of the slots."""

    def __init__(self, host: HostConfig, credential: "ForgeCredential | None", share: int, window_spent_on_429: bool):
        super().__init__(credential)
        self.name = self.label = host.name
        self.share = share
        self._token_env = host.token_env
        self._window_spent_on_429 = window_spent_on_429
        self._spent: WindowSpent | None = None  # the window is spent for the rest of the run

    def budget_name(self, request: Request) -> str:
        return self.name

    def budget(self, request: Request, headers: Mapping[str, str], now: datetime) -> Budget | None:
        # Forgejo sends X-RateLimit-*, GitLab RateLimit-*; a window whatever it calls itself is the host's own.
        return budget_from(headers, "x-ratelimit-", self.name, now) or budget_from(headers, "ratelimit-", self.name, now)

    def admit(self, request: Request) -> None:
        if self._spent is not None:  # not even a request that was waiting for its turn is sent
            raise WindowSpent(request.url, str(self._spent).removesuffix(f" ({self._spent.url})"))

    def read(self, request, answer_url, status, headers, body, now, budget) -> Answer:
        if status == 401:
            if self.credential is not None and self.credential.username_env:
                hint = f"check ${self._token_env} and ${self.credential.username_env} (HTTP Basic), or unset them"
            else:
                hint = f"check ${self._token_env} or unset it" if self._token_env else "check its token"
            raise TokenRefused(answer_url, f"{self.name} rejected the token (401): {hint}")
        if status == 429 and self._window_spent_on_429 and "retry-after" not in headers and budget is None:
            self._spent = WindowSpent(answer_url, f"{self.name} rate limit spent (429): asked no more in this run")
            raise self._spent
        return read_common(answer_url, status, headers, body, now, self.name, budget=budget)

    def secrets(self) -> list[str]:
        return list(self.credential.secrets) if self.credential else []


class ForgeCredential(Credential):
    """A forge's one credential. `scheme` says how it goes ("Bearer", "token", "Basic") wherever it is named;
    `username_env` is the variable Basic's user name was read from; `secrets`, every value it shows."""

    def __init__(self, authorization: str, api_url: str, token_env: str | None, secrets: list[str],
                 username_env: str | None = None):
        super().__init__(authorization, (api_url,), token_env)
        self.scheme = authorization.partition(" ")[0]
        self.username_env = username_env
        self.secrets = secrets
