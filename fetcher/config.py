"""Load and check the configuration: config.toml plus built-in defaults."""

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from dateutil import tz

from fetcher.compat import FETCHER, PROFILES, Profile
from fetcher.durations import parse_duration
from fetcher.config_keys import BUILTIN_HOSTS, DEFAULTS, DURATION_RANGES, HOST_KEYS, HOST_KINDS, RANGES
from fetcher.errors import ConfigError, UsageError
from fetcher.location import BadURL, Location, PostgresURL

DEFAULT_FILE = "config.toml"
BUILT_IN = "built-in defaults"  # the source of a config read from no file

# A token is printable ASCII without spaces: it goes into an HTTP header as it is.
_TOKEN = re.compile(r"[\x21-\x7e]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class HostConfig:
    """One forge instance: what it runs, where its API is, and where its token is read from."""

    name: str  # the host name as repo_urls write it, e.g. "gitlab.com"
    kind: str  # one of HOST_KINDS
    api_url: str
    token_env: str | None = None
    named: bool = field(default=False, compare=False)  # a [hosts] table in the config file names it
    username_env: str | None = None  # Bitbucket: the account's email (or user name) an API token goes with

    def token(self) -> str | None:
        """Read at the moment it is needed; never kept in the config; refused, like GitHub's, with whitespace in it."""
        token = os.environ.get(self.token_env) or None if self.token_env else None
        if token is not None and not _TOKEN.fullmatch(token):
            raise ConfigError(
                f"${self.token_env} holds whitespace or control characters (a stray line ending?): "
                "set it to the token alone"
            )
        return token

    def username(self) -> str | None:
        """Read at use, as the token is (None, unset or empty: the token goes alone); refused where Basic fails."""
        name = os.environ.get(self.username_env) or None if self.username_env else None
        if name is not None and (not _TOKEN.fullmatch(name) or ":" in name):
            raise ConfigError(f"${self.username_env} holds whitespace, control characters or a colon: set it to the "
                              "account's email or user name alone")
        return name


@dataclass(frozen=True)
class Thresholds:
    """[status]: what makes `fetcher status` exit 1, each check off at 0."""

    failures: int = 3  # a package failed this many times in a row
    stale_factor: float = 2  # a working package's last fetch older than this × sync.stale_after
    stopped_runs: int = 3  # this many syncs in a row stopped early
    backlog_for: timedelta = timedelta(hours=24)  # the deferred packages no fewer for this long


@dataclass(frozen=True)
class Config:
    source: str  # the file it came from, or BUILT_IN
    store_path: Path  # the SQLite store's file, when store_url is None
    github_api_url: str
    github_graphql_url: str
    github_token_env: str
    graphql: bool
    pace: bool
    pypi_url: str
    concurrency: int
    stale_after: timedelta
    max_rate_limit_wait: timedelta
    timeout: float
    retries: int
    backoff: float
    timezone: tzinfo
    hosts: dict[str, HostConfig]  # host name -> forge, the built-in ones included
    max_body: int = DEFAULTS["http"]["max_body"][0]
    # Every variable of github.token_env, in order (github_token_env is the first): the token pool.
    github_token_envs: tuple[str, ...] = ()
    reserve: int = DEFAULTS["sync"]["reserve"][0]  # points of each token a sync never spends (fetcher.budget)
    lease: timedelta = timedelta(seconds=90)  # how long a worker's claims hold unrenewed (store/workers.py)
    compat: Profile = FETCHER  # what each fetched field means (fetcher.compat)
    # `fetcher serve`: an answer's Cache-Control max-age; how recent a sync must be for health to answer 200
    serve_cache_seconds: int = DEFAULTS["serve"]["cache_seconds"][0]
    serve_last_sync_within: timedelta = timedelta(hours=25)
    thresholds: Thresholds = Thresholds()  # [status]
    # `import --from-api`: the directory's API root (ending in /), its pace, the page size asked for.
    import_api_url: str = DEFAULTS["import"]["api_url"][0]
    import_requests_per_second: float = DEFAULTS["import"]["requests_per_second"][0]
    import_page_size: int = DEFAULTS["import"]["page_size"][0]
    store_url: PostgresURL | None = None  # a PostgreSQL store instead of the SQLite file

    @property
    def store(self) -> Location:
        """Where the store is: the PostgreSQL URL when one is set, else the SQLite file."""
        return self.store_url or self.store_path

    @property
    def token_envs(self) -> tuple[str, ...]:
        return self.github_token_envs or (self.github_token_env,)

    def github_tokens(self) -> list[tuple[str, str]]:
        """(variable, token) for each variable of github.token_env that is set, read at the moment it is needed.

        A token with whitespace or control characters in it (a line ending from an env file
        written on Windows, a pasted space) is refused naming the variable, never the value.
        """
        tokens = []
        for name in self.token_envs:
            token = os.environ.get(name) or None
            if token is not None and not _TOKEN.fullmatch(token):
                raise ConfigError(
                    f"${name} holds whitespace or control characters (a stray line ending?): set it to the token alone"
                )
            if token is not None:
                tokens.append((name, token))
        return tokens

    def github_token(self) -> str | None:
        """The first token of the pool (None without one): whether GitHub is asked with a token at all."""
        tokens = self.github_tokens()
        return tokens[0][1] if tokens else None


def choose_file(explicit: str | None) -> tuple[Path, bool]:
    """--config, else $FETCHER_CONFIG, else ./config.toml; says whether it was named explicitly."""
    if explicit:
        return Path(explicit), True
    if os.environ.get("FETCHER_CONFIG"):
        return Path(os.environ["FETCHER_CONFIG"]), True
    return Path(DEFAULT_FILE), False


def load(explicit: str | None = None) -> Config:
    path, named = choose_file(explicit)
    if not path.exists():
        if named:
            raise ConfigError(f"{path}: config file not found")
        return _build({}, BUILT_IN, Path.cwd())
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    _check_keys(data, text, str(path))
    return _build(data, str(path), path.resolve().parent)


def _check_keys(data: dict, text: str, source: str) -> None:
    for section, values in data.items():
        if section == "hosts":
            _check_hosts(values, text, source)
            continue
        if section not in DEFAULTS:
            kind = f"section [{section}]" if isinstance(values, dict) else f"key {section}"
            raise ConfigError(f"{source}{_line(text, None, section)}: unknown {kind}")
        if not isinstance(values, dict):
            raise ConfigError(f"{source}{_line(text, None, section)}: {section} must be a [section]")
        for key, value in values.items():
            if key not in DEFAULTS[section]:
                raise ConfigError(f"{source}{_line(text, section, key)}: unknown key {section}.{key}")
            default, types = DEFAULTS[section][key]
            if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
                wanted = " or ".join(t.__name__ for t in types)
                article = "an" if wanted[0] in "aeiou" else "a"
                raise ConfigError(
                    f"{source}{_line(text, section, key)}: {section}.{key} must be {article} {wanted}, not {value!r}"
                )
            if (section, key) == ("compat", "profile") and value not in PROFILES:
                raise ConfigError(
                    f"{source}{_line(text, section, key)}: compat.profile must be one of {', '.join(PROFILES)}, "
                    f"not {value!r}"
                )


def _check_hosts(hosts, text: str, source: str) -> None:
    """[hosts."NAME"] tables: known keys of the right types; a new host names its kind and api_url."""
    if not isinstance(hosts, dict):
        raise ConfigError(f"{source}{_line(text, None, 'hosts')}: hosts must be tables like [hosts.\"gitlab.com\"]")
    for name, table in hosts.items():
        where = f'hosts."{name}"'
        line = _line(text, None, f'hosts."{name}"') or _line(text, None, f"hosts.{name}")
        if not isinstance(table, dict):
            raise ConfigError(f"{source}{line}: {where} must be a table: [{where}] with kind and api_url")
        if not name or name != name.strip().lower() or "/" in name:
            raise ConfigError(f"{source}{line}: {where}: the name must be a lower-case host name like gitlab.com")
        for key, value in table.items():
            if key not in HOST_KEYS:
                raise ConfigError(f"{source}{line}: unknown key {where}.{key} (kind, api_url, token_env, username_env)")
            if not isinstance(value, HOST_KEYS[key]):
                raise ConfigError(f"{source}{line}: {where}.{key} must be a string, not {value!r}")
        merged = {**BUILTIN_HOSTS.get(name, {}), **table}
        for key in ("kind", "api_url"):
            if key not in merged:
                raise ConfigError(f"{source}{line}: {where}.{key} is missing")
        if merged["kind"] not in HOST_KINDS:
            raise ConfigError(
                f"{source}{line}: {where}.kind must be one of {', '.join(HOST_KINDS)}, not {merged['kind']!r}"
            )
        if not _is_api_url(merged["api_url"]):
            raise ConfigError(f"{source}{line}: {where}.api_url must be an http(s) URL, not {merged['api_url']!r}")
        if "username_env" in merged:  # a user name goes with a token, as HTTP Basic, and only Bitbucket takes one
            _check_username_env(merged, where, f"{source}{line}")


def _check_username_env(merged: dict, where: str, at: str) -> None:
    if merged["kind"] != "bitbucket":
        raise ConfigError(f"{at}: {where}.username_env: only a bitbucket host takes one (HTTP Basic with an API token)")
    if not _ENV_NAME.fullmatch(merged["username_env"]):
        raise ConfigError(f"{at}: {where}.username_env: {merged['username_env']!r} is not a variable's name")
    if not merged.get("token_env"):
        raise ConfigError(f"{at}: {where}.username_env is set without {where}.token_env: a user name goes with a token")


def _hosts(data: dict) -> dict[str, HostConfig]:
    tables = {**{name: {} for name in BUILTIN_HOSTS}, **data.get("hosts", {})}
    hosts = {}
    for name, table in tables.items():
        merged = {**BUILTIN_HOSTS.get(name, {}), **table}
        hosts[name] = HostConfig(name, merged["kind"], merged["api_url"].rstrip("/"), merged.get("token_env") or None,
                                 named=name in data.get("hosts", {}), username_env=merged.get("username_env"))
    return hosts


def _store_url(store: dict, source: str) -> PostgresURL | None:
    try:
        return PostgresURL.from_config(store)
    except BadURL as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _build(data: dict, source: str, base: Path) -> Config:
    def get(section: str, key: str):
        return data.get(section, {}).get(key, DEFAULTS[section][key][0])

    def duration(section: str, key: str) -> timedelta:
        try:
            found = parse_duration(get(section, key))
        except ValueError as exc:
            raise ConfigError(f"{source}: {section}.{key}: {exc}") from None
        least, most = DURATION_RANGES.get((section, key), (0, math.inf))
        if not least <= found.total_seconds() <= most:
            raise ConfigError(f"{source}: {section}.{key} must be {least}s to {most}s, not {get(section, key)!r}")
        return found

    def number(section: str, key: str):
        value = get(section, key)
        least, most = RANGES[section, key]
        if not math.isfinite(value):  # nan and inf compare false with everything: caught here, not below
            raise ConfigError(f"{source}: {section}.{key} must be a finite number, not {value!r}")
        if value < least:
            raise ConfigError(f"{source}: {section}.{key} must be at least {least}, not {value!r}")
        if value > most:
            raise ConfigError(f"{source}: {section}.{key} must be at most {most}, not {value!r}")
        return value

    stale_factor = number("status", "stale_factor")
    if 0 < stale_factor < 1:  # below 1 a package would alarm as soon as it is due
        raise ConfigError(f"{source}: status.stale_factor must be 0 (off) or at least 1, not {stale_factor!r}")
    zone = _zone(get("output", "timezone"), source)
    token_envs = _token_envs(get("github", "token_env"), source)
    for section, key in (("github", "api_url"), ("github", "graphql_url"), ("pypi", "url"), ("import", "api_url")):
        if not _is_api_url(get(section, key)):
            raise ConfigError(f"{source}: {section}.{key} must be an http(s) URL, not {get(section, key)!r}")
    return Config(
        store_url=_store_url(data.get("store", {}), source),
        source=source,
        store_path=base / Path(get("store", "path")).expanduser(),
        github_api_url=get("github", "api_url").rstrip("/"),
        github_graphql_url=get("github", "graphql_url"),
        github_token_env=token_envs[0],
        github_token_envs=token_envs,
        graphql=get("github", "graphql"),
        pace=get("github", "pace"),
        pypi_url=get("pypi", "url").rstrip("/"),
        concurrency=number("sync", "concurrency"),
        stale_after=duration("sync", "stale_after"),
        max_rate_limit_wait=duration("sync", "max_rate_limit_wait"),
        timeout=number("http", "timeout"),
        retries=number("http", "retries"),
        backoff=float(number("http", "backoff")),
        timezone=zone,
        hosts=_hosts(data),
        max_body=number("http", "max_body"),
        reserve=number("sync", "reserve"),
        lease=duration("sync", "lease"),
        compat=PROFILES[get("compat", "profile")],
        serve_cache_seconds=number("serve", "cache_seconds"),
        serve_last_sync_within=duration("serve", "last_sync_within"),
        thresholds=Thresholds(number("status", "failures"), stale_factor, number("status", "stopped_runs"),
                              duration("status", "backlog_for")),
        import_api_url=api_root(get("import", "api_url")),
        import_requests_per_second=float(number("import", "requests_per_second")),
        import_page_size=number("import", "page_size"),
    )


def api_root(url: str, where: str = "") -> str:
    """An API root as the walk joins paths to it, ending in exactly one slash; given on the command line (`where`
    names the option), one that is no http(s) URL is a usage error (a config's is checked with the others)."""
    if where and not _is_api_url(url):
        raise UsageError(f"{where}: {url!r} is not an http(s) URL like https://djangopackages.org/api/v4/")
    return url.rstrip("/") + "/"


def _token_envs(value: str | list, source: str) -> tuple[str, ...]:
    """github.token_env: one variable's name or a list of distinct names, each a name a shell can set."""
    names = [value] if isinstance(value, str) else value
    if not names:
        raise ConfigError(f"{source}: github.token_env must name at least one variable")
    for name in names:
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise ConfigError(f"{source}: github.token_env: {name!r} is not an environment variable's name")
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: github.token_env names a variable twice")
    return tuple(names)


def _zone(name: str, source: str) -> tzinfo:
    """A zone by its IANA name; never a file path, and never the machine's zone by accident."""
    # gettz("") would quietly mean the machine's local zone, and gettz("/path") reads any file as a zone.
    if name.upper() == "UTC":
        return tz.UTC
    zone = None
    if name.strip() and not name.startswith(("/", ".", "~")) and ".." not in name:
        try:
            zone = tz.gettz(name)
        except (OSError, ValueError):
            zone = None
    if zone is None:
        raise ConfigError(f"{source}: output.timezone: unknown time zone {name!r}")
    return zone


def _is_api_url(value: str) -> bool:
    """http(s)://HOST[:PORT][/PATH], nothing else: checked here so a bad one never reaches a request."""
    if not re.fullmatch(r"https?://[^\s/?#@]+(/[^\s?#]*)?", value):
        return False
    try:
        parts = urlsplit(value)
        port = parts.port  # a ValueError for a port that is not a number up to 65535
        httpx.URL(value)
    except (ValueError, httpx.InvalidURL):
        return False
    return bool(parts.hostname) and port != 0


def _line(text: str, section: str | None, key: str) -> str:
    """', line N' where `key` is set (inside [section]), or '' when it cannot be found."""
    current = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.match(r"^\[\s*([^\]]+?)\s*\]", stripped)
        if header:
            current = header[1]
            if section is None and current == key:
                return f", line {number}"
        elif current == section and re.match(rf"^{re.escape(key)}\s*=", stripped):
            return f", line {number}"
    return ""
