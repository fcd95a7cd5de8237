"""`fetcher check`: is the set-up right, before the first cron run?

The config is read, the store opens (or would be created) at the current schema, and each
host answers one free request through the same client a sync uses (the same deadline, body
cap and signals): each repository host checks itself (GitHub: `GET /rate_limit`, which its
rate limit does not count, once per token; each forge the config names or whose token is set:
its kind's probe, Bitbucket's on one of the catalogue's repositories where the credential is no
user's), then PyPI (one project's JSON).
"""

import asyncio
import os
from typing import Callable

from fetcher.config import BUILT_IN, Config
from fetcher.errors import FetcherError, RunStopped
from fetcher.hosts.base import REJECTED, UNREACHABLE, Check
from fetcher.hosts.pypi import PyPI
from fetcher.hosts.registry import Hosts
from fetcher.net.client import Client
from fetcher.location import Location, is_postgres
from fetcher.store import open_store
from fetcher.store.sql import STORE_ERRORS
from fetcher.store.schema import store_state

# Repositories of the catalogue a forge's check may try its credential on, per host.
KNOWN = 5


def check_config(load: Callable[[], Config]) -> tuple[Check, Config | None]:
    try:
        config = load()
        # A token with whitespace or control characters in it is refused, naming its variable, never the value.
        config.github_tokens()
        for host in config.hosts.values():
            host.token()
            host.username()
    except FetcherError as exc:
        return Check("config", False, str(exc), REJECTED), None
    if config.source == BUILT_IN:
        return Check("config", True, f"no config file: {BUILT_IN} (the values of the shipped config.toml)"), config
    return Check("config", True, f"read {config.source}"), config


def check_store(path: Location) -> Check:
    try:
        state = store_state(path)
    except RunStopped as exc:  # a PostgreSQL server that cannot be reached now
        return Check("store", False, str(exc), UNREACHABLE)
    except FetcherError as exc:
        return Check("store", False, str(exc), REJECTED)
    if state is None:
        if is_postgres(path):
            return Check("store", True, f"{path} has no store yet; the first import creates it")
        if not os.access(path.parent, os.W_OK):
            return Check("store", False, f"{path} cannot be created: {path.parent} is not writable", REJECTED)
        return Check("store", True, f"{path} does not exist yet; the first import creates it")
    version, current, packages = state
    shape = "schema current" if version >= current else f"{current - version} migration(s) to apply at next open"
    return Check("store", True, f"{path}: {packages} packages, {shape}")


def known_repos(config: Config) -> dict[str, list[str]]:
    """host name -> the first few repo_urls of the catalogue on it, read-only; none where there is no store
    to read (check_store says why)."""
    if not is_postgres(config.store) and not config.store.exists():
        return {}
    try:
        store = open_store(config.store, create=False, read_only=True)
    except FetcherError:
        return {}
    try:
        return {name: store.reads.repo_urls_on(name, KNOWN) for name in config.hosts}
    except (FetcherError, *STORE_ERRORS):
        return {}
    finally:
        store.close()


async def check_hosts(config: Config) -> list[Check]:
    client = Client(config)
    known = known_repos(config)
    try:
        checks = [check for host in Hosts(config, client).all for check in await host.check(known.get(host.name, []))]
        return checks + await PyPI(client, config.pypi_url).check()
    finally:
        await client.aclose()


def run_checks(load: Callable[[], Config]) -> list[Check]:
    """Every check, in order; the hosts only when the config could be read."""
    config_check, config = check_config(load)
    checks = [config_check]
    if config is None:
        return checks
    checks.append(check_store(config.store))
    return checks + asyncio.run(check_hosts(config))


def exit_code(checks: list[Check]) -> int:
    """0 when all pass; 75 when a host cannot be reached; else the first failure's code."""
    codes = [check.exit_code for check in checks if not check.ok]
    if not codes:
        return 0
    return UNREACHABLE if UNREACHABLE in codes else codes[0]
