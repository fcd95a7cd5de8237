"""Which host answers for a repo_url's host name: GitHub for github.com (and a GitHub
Enterprise's host), a forge for each [hosts."NAME"] table. A new forge is a new module
and one line here."""

from datetime import datetime
from typing import Callable

from fetcher.config import Config
from fetcher.hosts.base import Forge
from fetcher.hosts.bitbucket import Bitbucket
from fetcher.hosts.forgejo import Forgejo
from fetcher.hosts.github.host import GitHub
from fetcher.hosts.gitlab import GitLab
from fetcher.net.client import Http
from fetcher.hosts.github.tokens import TokenPool
from fetcher.links import github_hosts

KINDS: dict[str, type[Forge]] = {"gitlab": GitLab, "forgejo": Forgejo, "bitbucket": Bitbucket}


class Hosts:
    def __init__(self, config: Config, http: Http, clock: Callable[[], datetime], tokens: TokenPool):
        self.github = GitHub(http, config.github_api_url, config.github_graphql_url, tokens, clock,
                             batching=config.graphql)
        self._by_name: dict[str, GitHub | Forge] = {
            name: KINDS[host.kind](name, host.api_url, host.token(), host.token_env, http, clock)
            for name, host in config.hosts.items()
        }
        # GitHub's names win: github.com is never a forge table's.
        self._by_name.update({name: self.github for name in github_hosts(config.github_api_url)})

    def get(self, name: str) -> "GitHub | Forge | None":
        return self._by_name.get(name)


def secrets(config: Config) -> list[str]:
    """Every token a run may send, to scrub from whatever it prints or stores."""
    tokens = [*(token for _, token in config.github_tokens()), *(host.token() for host in config.hosts.values())]
    return [token for token in tokens if token]
