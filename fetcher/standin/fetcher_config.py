"""The fetcher config that points at a stand-in, and whether the installed fetcher reads it."""

from __future__ import annotations

import tempfile
from pathlib import Path


# The variable the configs below read the stand-in's GitHub token from: one no real service's token is kept in,
# so a GITHUB_TOKEN set for github.com is never sent to a stand-in.
TOKEN_ENV = "FETCHER_STANDIN_TOKEN"


def config_for(url: str, store: str = "packages.db") -> str:
    """A fetcher config.toml that points every host at the stand-in at ``url``."""
    return (
        f"# fetcher against the stand-in at {url}\n"
        f'[store]\npath = "{store}"\n\n'
        f'[github]\napi_url = "{url}"\ngraphql_url = "{url}/graphql"\n'
        f'token_env = "{TOKEN_ENV}"     # any value will do; never a real token\'s variable\n'
        "pace = false                    # the stand-in has no secondary rate limits\n\n"
        f'[pypi]\nurl = "{url}"\n'
    )


def fetcher_reads(config: str) -> bool:
    """Whether the installed fetcher accepts this config (one that predates forge hosts refuses [hosts] tables).

    The only use the stand-in makes of fetcher itself, imported when asked.
    """
    from fetcher.config import load
    from fetcher.errors import ConfigError

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.toml"
        path.write_text(config, encoding="utf-8")
        try:
            load(str(path))
        except ConfigError:
            return False
    return True
