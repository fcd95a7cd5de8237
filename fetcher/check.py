"""`fetcher check`: is the set-up right, before the first cron run?

The config is read, the store opens (or would be created) at the current
schema, and each configured host answers, with one free request each (GitHub:
`GET /rate_limit`, which its rate limit does not count; PyPI: one project's
JSON; each forge in [hosts] the config file names or whose token is set: its
kind's probe). A host contributes its check as one function in HOST_CHECKS: given the
config and an HTTP client, it returns a Check.
"""

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import httpx

from fetcher.config import BUILT_IN, Config
from fetcher.show.text import ago
from fetcher.errors import FetcherError, Failure, NotFound, TokenRejected, Unreachable
from fetcher.hosts.github.host import API_HEADERS
from fetcher.hosts.registry import KINDS
from fetcher.net.client import USER_AGENT, utcnow
from fetcher.net.answer import GITHUB, PYPI, interpret, lower_headers
from fetcher.store import store_state

UNREACHABLE = 75  # as for a sync that cannot reach its hosts: try again later
REJECTED = 2  # a token, config or store a person must fix
# PyPI's JSON API is asked for a project it surely has.
PYPI_PROBE = "pip"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    exit_code: int = 0  # when it failed: REJECTED or UNREACHABLE

    def line(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.name}: {self.detail}"


def check_config(load: Callable[[], Config]) -> tuple[Check, Config | None]:
    try:
        config = load()
    except FetcherError as exc:
        return Check("config", False, str(exc), REJECTED), None
    if config.source == BUILT_IN:
        return Check("config", True, f"no config file: {BUILT_IN} (the values of the shipped config.toml)"), config
    return Check("config", True, f"read {config.source}"), config


def check_store(path: Path) -> Check:
    try:
        state = store_state(path)
    except FetcherError as exc:
        return Check("store", False, str(exc), REJECTED)
    if state is None:
        if not os.access(path.parent, os.W_OK):
            return Check("store", False, f"{path} cannot be created: {path.parent} is not writable", REJECTED)
        return Check("store", True, f"{path} does not exist yet; the first import creates it")
    version, current, packages = state
    shape = "schema current" if version >= current else f"{current - version} migration(s) to apply at next open"
    return Check("store", True, f"{path}: {packages} packages, {shape}")


def check_github(config: Config, client: httpx.Client, now: datetime) -> Check | list[Check]:
    """GET /rate_limit: answers with or without a token, costs nothing, and says what is left.

    With a pool (github.token_env a list of several), one check per variable, each asked with its own token.
    """
    name = f"GitHub {config.github_api_url}"
    try:
        tokens = dict(config.github_tokens())
    except FetcherError as exc:  # whitespace or control characters in it: named, never shown
        return Check(name, False, str(exc), REJECTED)
    if len(config.token_envs) == 1:
        env = config.github_token_env
        return _check_github_token(config, client, now, name, env, tokens.get(env))
    return [
        _check_github_token(config, client, now, f"{name} ${env}", env, tokens[env]) if env in tokens
        else Check(f"{name} ${env}", True, f"{env} unset: left out of the pool")
        for env in config.token_envs
    ]


def _check_github_token(
    config: Config, client: httpx.Client, now: datetime, name: str, token_env: str, token: str | None
) -> Check:
    headers = {**API_HEADERS, **({"Authorization": f"Bearer {token}"} if token else {})}
    try:
        answer = _get(client, f"{config.github_api_url.rstrip('/')}/rate_limit", headers, now)
        resources = answer.data["resources"]
        budgets = [
            f"{resource} {resources[resource]['remaining']} of {resources[resource]['limit']} left, "
            f"resets {ago(datetime.fromtimestamp(resources[resource]['reset'], timezone.utc), now)}"
            for resource in ("core", "graphql") if resource in resources
        ]  # fmt: skip
    except NotFound:
        # GitHub Enterprise Server without rate limiting answers 404 "Rate limiting is not enabled."
        return Check(name, True, "answers; rate limiting is not enabled there, so nothing is spent and no budget "
                     "to show (the token, if any, is first used by sync)")  # fmt: skip
    except TokenRejected:
        if not token:
            return Check(name, False, f"asks for a token (401): set {token_env}", REJECTED)
        return Check(name, False, f"the token in {token_env} was rejected (401): check it or unset it",
                     REJECTED)  # fmt: skip
    except Unreachable as exc:
        return Check(name, False, f"cannot reach it: {exc}", UNREACHABLE)
    except Failure as exc:
        return Check(name, False, f"does not answer as GitHub does: {exc}", UNREACHABLE)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return Check(name, False, "GET /rate_limit answered without the budgets GitHub sends", UNREACHABLE)
    who = f"token from {token_env} accepted" if token else f"no token ({token_env} unset)"
    return Check(name, True, f"{who}; " + "; ".join(budgets))


def check_pypi(config: Config, client: httpx.Client, now: datetime) -> Check:
    """One project's JSON: the API answers (a 404, from a mirror that lacks the project, is an answer too)."""
    name = f"PyPI {config.pypi_url}"
    project = PYPI_PROBE
    try:
        _get(client, f"{config.pypi_url.rstrip('/')}/pypi/{project}/json", {}, now, PYPI)
    except NotFound:
        return Check(name, True, f"answers (no project {project!r})")
    except Unreachable as exc:
        return Check(name, False, f"cannot reach it: {exc}", UNREACHABLE)
    except Failure as exc:
        return Check(name, False, f"does not answer as PyPI does: {exc}", UNREACHABLE)
    return Check(name, True, f"answers (project {project!r} found)")


def check_forges(config: Config, client: httpx.Client, now: datetime) -> list[Check]:
    """Each forge the config file names, or whose token is set: one cheap request (its kind's probe)."""
    checks = []
    for host in config.hosts.values():
        token = host.token()
        if not (host.named or token):
            continue  # a built-in forge no one configured: nothing of it to check yet
        forge = KINDS[host.kind]
        name = f"{host.name} ({host.kind}) {host.api_url}"
        headers = forge.auth_headers(token) if token else {}
        who = f"token from {host.token_env} accepted" if token else "no token"
        try:
            _get(client, f"{host.api_url}{forge.probe_path}", headers, now)
        except NotFound:
            checks.append(Check(name, True, f"answers (404 for {forge.probe_path}); {who}"))
            continue
        except TokenRejected:
            if not token:
                where = host.token_env or f'hosts."{host.name}".token_env'
                checks.append(Check(name, False, f"asks for a token (401): set {where}", REJECTED))
            else:
                checks.append(Check(name, False, f"the token in {host.token_env} was rejected (401)", REJECTED))
            continue
        except Unreachable as exc:
            checks.append(Check(name, False, f"cannot reach it: {exc}", UNREACHABLE))
            continue
        except Failure as exc:
            checks.append(Check(name, False, f"does not answer as {host.kind} does: {exc}", UNREACHABLE))
            continue
        checks.append(Check(name, True, f"answers; {who}"))
    return checks


# One check per host: (config, client, now) -> Check, or a Check per token of a pool.
HOST_CHECKS: tuple[Callable[[Config, httpx.Client, datetime], Check | list[Check]], ...] = (check_github, check_pypi)


def run_checks(load: Callable[[], Config]) -> list[Check]:
    """Every check, in order; the hosts only when the config could be read."""
    config_check, config = check_config(load)
    checks = [config_check]
    if config is None:
        return checks
    checks.append(check_store(config.store_path))
    now = utcnow()
    with httpx.Client(timeout=config.timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=True) as client:
        for check in HOST_CHECKS:
            result = check(config, client, now)
            checks.extend(result if isinstance(result, list) else [result])
        checks.extend(check_forges(config, client, now))
    return checks


def exit_code(checks: list[Check]) -> int:
    """0 when all pass; 75 when a host cannot be reached; else the first failure's code."""
    codes = [check.exit_code for check in checks if not check.ok]
    if not codes:
        return 0
    return UNREACHABLE if UNREACHABLE in codes else codes[0]


def _get(client: httpx.Client, url: str, headers: dict[str, str], now: datetime, service: str = GITHUB):
    try:
        response = client.get(url, headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise Unreachable(url, f"cannot connect: {exc or type(exc).__name__}") from None
    except httpx.HTTPError as exc:
        raise Unreachable(url, f"no answer: {exc or type(exc).__name__}") from None
    return interpret(url, response.status_code, lower_headers(response.headers), response.content, now, service)

