"""Which host answers for a repo_url: GitHub for github.com (and a GitHub Enterprise's host), a forge
for each [hosts."NAME"] table, the null host for anything else. A new forge is a new module and one
line in KINDS. The only module outside hosts/github/ that knows GitHub's wing."""

from fetcher.config import Config
from fetcher.errors import InputError
from fetcher.hosts.base import Host, NullHost
from fetcher.hosts.bitbucket import Bitbucket
from fetcher.hosts.forge import Forge
from fetcher.hosts.forgejo import Forgejo
from fetcher.hosts.github.host import GitHub
from fetcher.hosts.gitlab import GitLab
from fetcher.links import RepoRef, github_hosts, repo_host
from fetcher.net.client import Client
from fetcher.net.credentials import basic_pair

KINDS: dict[str, type[Forge]] = {"gitlab": GitLab, "forgejo": Forgejo, "bitbucket": Bitbucket}
NO_REPOSITORY = NullHost("no repo_url")
UNSUPPORTED = NullHost("unsupported host")


class Hosts:
    def __init__(self, config: Config, client: Client, *, reserve: int = 0, ledger=None):
        """`reserve`: points of each GitHub token this run never spends (a sync keeps [sync] reserve); `ledger`:
        where the GitHub tokens' points are reserved for the workers sharing the store (store/ledger.py's
        WorkerLedger), or None for a pool that decides alone."""
        github = GitHub(config, client, reserve, ledger)
        # A forge may hold at most half the request slots, so one slow host cannot keep every other one waiting.
        share = max(1, config.concurrency // 2)
        forges = {name: KINDS[host.kind](host, client, share, config.compat) for name, host in config.hosts.items()}
        self.all: list[Host] = [github, *forges.values()]
        # GitHub's names win: github.com is never a forge table's.
        self._by_name: dict[str, Host] = {**forges, **{name: github for name in github_hosts(config.github_api_url)}}

    def for_url(self, repo_url: str) -> tuple[Host, RepoRef | None]:
        """The host a repo_url is fetched from, and the repository it names there (None for the null host).

        Raises the InputError of a repo_url no host can read. A `www.` before a configured host's name
        is that host's, as people write github.com's.
        """
        if not repo_url:
            return NO_REPOSITORY, None
        name = repo_host(repo_url)
        host = self._by_name.get(name) or self._by_name.get(name.removeprefix("www."))
        if host is None:
            return UNSUPPORTED, None
        return host, host.ref(repo_url)

    def host_of(self, repo_url: str) -> Host:
        """The host alone, for a walk that only needs to know whose budget a package spends."""
        try:
            return self.for_url(repo_url)[0]
        except InputError:
            return UNSUPPORTED

    def secrets(self) -> list[str]:
        return [secret for host in self.all for secret in host.secrets()]


def secrets(config: Config) -> list[str]:
    """Every token a run may send, to scrub from whatever it prints or stores (before any host is built); with
    a Bitbucket API token, the user name it goes with and the two as HTTP Basic sends them."""
    tokens = [*(token for _, token in config.github_tokens()), *(host.token() for host in config.hosts.values())]
    for host in config.hosts.values():
        username, token = host.username(), host.token()
        if username and token:
            tokens += [username, basic_pair(username, token)]
    return [token for token in tokens if token]
