"""Every key config.toml may hold: its default and type, the range a number may take; the built-in forges.

config.toml, as shipped, documents each; fetcher.config reads a file against them.
"""

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
        "lease": ("90s", (str,)),  # how long a worker's claims hold unrenewed (docs/fleet.md)
    },
    "http": {
        "timeout": (20, (int, float)),
        "retries": (4, (int,)),
        "backoff": (1.0, (int, float)),
        "max_body": (8 * 1024 * 1024, (int,)),
    },
    "output": {"timezone": ("UTC", (str,))},
    # `fetcher import --from-api`: a Django Packages-style directory's API v4, walked politely.
    "import": {
        "api_url": ("https://djangopackages.org/api/v4/", (str,)),
        "requests_per_second": (2, (int, float)),
        "page_size": (100, (int,)),
    },
    "compat": {"profile": ("fetcher", (str,))},  # fetcher.compat.PROFILES
    "serve": {
        "cache_seconds": (60, (int,)),
        "last_sync_within": ("25h", (str,)),
    },
    # When `fetcher status` exits 1 (fetcher.show.status); 0 (or "0s") turns a check off.
    "status": {
        "failures": (3, (int,)),
        "stale_factor": (2, (int, float)),
        "stopped_runs": (3, (int,)),
        "backlog_for": ("24h", (str,)),
    },
}

# Forges other than GitHub, by the host name their repo_urls use. These three are built in;
# a config may override their keys under [hosts."NAME"] and add self-hosted instances.
HOST_KINDS = ("gitlab", "forgejo", "bitbucket")
HOST_KEYS = {"kind": str, "api_url": str, "token_env": str, "username_env": str}
BUILTIN_HOSTS: dict[str, dict[str, str]] = {
    "gitlab.com": {"kind": "gitlab", "api_url": "https://gitlab.com/api/v4", "token_env": "GITLAB_TOKEN"},
    "codeberg.org": {"kind": "forgejo", "api_url": "https://codeberg.org/api/v1", "token_env": "CODEBERG_TOKEN"},
    "bitbucket.org": {"kind": "bitbucket", "api_url": "https://api.bitbucket.org/2.0", "token_env": "BITBUCKET_TOKEN"},
}

# The range a duration may take: a lease shorter than a few seconds is lost to a slow store; past an hour, a dead
# worker's packages wait too long.
DURATION_RANGES = {("sync", "lease"): (3, 3600)}  # seconds

# The range each number may take: (least, most). Beyond the most it is a typo, not a setting.
RANGES = {
    ("sync", "concurrency"): (1, 1000),
    ("http", "timeout"): (0.1, 3600),
    ("http", "retries"): (0, 100),
    ("http", "backoff"): (0, 3600),
    ("http", "max_body"): (1024, 1024**3),
    ("sync", "reserve"): (0, 1_000_000),
    ("serve", "cache_seconds"): (0, 365 * 86400),
    ("status", "failures"): (0, 1000),
    ("status", "stale_factor"): (0, 1000),
    ("status", "stopped_runs"): (0, 1000),
    ("import", "requests_per_second"): (0.01, 100),
    ("import", "page_size"): (1, 1000),
}
