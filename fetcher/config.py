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
from fetcher.errors import ConfigError
from fetcher.location import BadURL, Location, PostgresURL

DEFAULT_FILE = "config.toml"
BUILT_IN = "built-in defaults"  # the source of a config read from no file

# section -> key -> (default, accepted types); durations are strings parsed below.
DEFAULTS: dict[str, dict[str, tuple[object, tuple[type, ...]]]] = {
    # path: a SQLite file (the default); url: a PostgreSQL database instead (fetcher.location), its password
    # read from PGPASSWORD, ~/.pgpass or the variable password_env names, never from this file.
    "store": {"path": ("packages.db", (str,)), "url": (None, (str,)), "password_env": (None, (str,))},
    "github": {
        "api_url": ("https://api.github.com", (str,)),
        "graphql_url": ("https://api.github.com/graphql", (str,)),
        "token_env": ("GITHUB_TOKEN", (str, list)),  # one variable's name, or a list of them: a pool
        "graphql": (True, (bool,)),
        "pace": (True, (bool,)),
    },
    "pypi": {"url": ("https://pypi.org", (str,))},
    "sync": {
        "concurrency": (16, (int,)),
        "stale_after": ("24h", (str,)),
        "max_rate_limit_wait": ("15m", (str,)),
        "reserve": (100, (int,)),
    },
    "http": {
        "timeout": (20, (int, float)),
        "retries": (4, (int,)),
        "backoff": (1.0, (int, float)),
        "max_body": (8 * 1024 * 1024, (int,)),
    },
    "output": {"timezone": ("UTC", (str,))},
    "compat": {"profile": ("fetcher", (str,))},  # fetcher.compat.PROFILES
    "serve": {
        "cache_seconds": (60, (int,)),
        "last_sync_within": ("25h", (str,)),
    },
}

# Forges other than GitHub, by the host name their repo_urls use. These three are built in;
# a config may override their keys under [hosts."NAME"] and add self-hosted instances.
HOST_KINDS = ("gitlab", "forgejo", "bitbucket")
HOST_KEYS = {"kind": str, "api_url": str, "token_env": str}
BUILTIN_HOSTS: dict[str, dict[str, str]] = {
    "gitlab.com": {"kind": "gitlab", "api_url": "https://gitlab.com/api/v4", "token_env": "GITLAB_TOKEN"},
    "codeberg.org": {"kind": "forgejo", "api_url": "https://codeberg.org/api/v1", "token_env": "CODEBERG_TOKEN"},
    "bitbucket.org": {"kind": "bitbucket", "api_url": "https://api.bitbucket.org/2.0", "token_env": "BITBUCKET_TOKEN"},
}

# A token is printable ASCII without spaces: it goes into an HTTP header as it is.
_TOKEN = re.compile(r"[\x21-\x7e]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
LONGEST_DURATION = timedelta(days=3650)  # past ten years a duration is a typo, and near timedelta's limit

# The range each number may take: (least, most). Beyond the most it is a typo, not a setting.
RANGES = {
    ("sync", "concurrency"): (1, 1000),
    ("http", "timeout"): (0.1, 3600),
    ("http", "retries"): (0, 100),
    ("http", "backoff"): (0, 3600),
    ("http", "max_body"): (1024, 1024**3),
    ("sync", "reserve"): (0, 1_000_000),
    ("serve", "cache_seconds"): (0, 365 * 86400),
}


def parse_duration(text: str) -> timedelta:
    """'90s', '15m', '24h', '7d' -> timedelta; anything else (or past ten years) is a ValueError."""
    match = _DURATION.fullmatch(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 24h or 7d")
    seconds = float(match[1]) * _UNIT_SECONDS[match[2]]
    if not seconds <= LONGEST_DURATION.total_seconds():
        raise ValueError(f"{text!r} is longer than {LONGEST_DURATION.days}d")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """A duration as the config writes it: 90s, 15m, 24h, 7d."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True)
class HostConfig:
    """One forge instance: what it runs, where its API is, and where its token is read from."""

    name: str  # the host name as repo_urls write it, e.g. "gitlab.com"
    kind: str  # one of HOST_KINDS
    api_url: str
    token_env: str | None = None
    named: bool = field(default=False, compare=False)  # a [hosts] table in the config file names it

    def token(self) -> str | None:
        """Read at the moment it is needed; never kept in the config; refused, like GitHub's, with whitespace in it."""
        token = os.environ.get(self.token_env) or None if self.token_env else None
        if token is not None and not _TOKEN.fullmatch(token):
            raise ConfigError(
                f"${self.token_env} holds whitespace or control characters (a stray line ending?): "
                "set it to the token alone"
            )
        return token


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
    compat: Profile = FETCHER  # what each fetched field means (fetcher.compat)
    # `fetcher serve`: how long an answer stays good (Cache-Control max-age); how recent the last sync must be
    # for the health endpoint to answer 200.
    serve_cache_seconds: int = DEFAULTS["serve"]["cache_seconds"][0]
    serve_last_sync_within: timedelta = timedelta(hours=25)
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
                raise ConfigError(
                    f"{source}{_line(text, section, key)}: {section}.{key} must be {_article(wanted)}, "
                    f"not {value!r}"
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
                raise ConfigError(f"{source}{line}: unknown key {where}.{key} (kind, api_url, token_env)")
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


def _hosts(data: dict) -> dict[str, HostConfig]:
    tables = {**{name: {} for name in BUILTIN_HOSTS}, **data.get("hosts", {})}
    hosts = {}
    for name, table in tables.items():
        merged = {**BUILTIN_HOSTS.get(name, {}), **table}
        hosts[name] = HostConfig(name, merged["kind"], merged["api_url"].rstrip("/"), merged.get("token_env") or None,
                                 named=name in data.get("hosts", {}))
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
            return parse_duration(get(section, key))
        except ValueError as exc:
            raise ConfigError(f"{source}: {section}.{key}: {exc}") from None

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

    zone = _zone(get("output", "timezone"), source)
    token_envs = _token_envs(get("github", "token_env"), source)
    for section, key in (("github", "api_url"), ("github", "graphql_url"), ("pypi", "url")):
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
        compat=PROFILES[get("compat", "profile")],
        serve_cache_seconds=number("serve", "cache_seconds"),
        serve_last_sync_within=duration("serve", "last_sync_within"),
    )


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


def _article(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"
