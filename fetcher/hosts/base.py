"""What every repository host is to the run: the `Host` protocol, what it answers with, and the null host.

The run loop knows nothing more of any host than this. For one repository a host says what the
record gets (`RepoResult`); it may offer a batch step (GitHub's GraphQL: the metadata of many
repositories in one query), start asking early for what takes it a while to have ready, and give a
part later in the run (GitHub's weekly counts while they are still being computed); it checks itself for `fetcher check`, and it may plan what a run
can afford of its budget. A repository with no host to ask (none given, or on a host fetcher has
no wing for) gets the null host, which asks nothing and says why.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from fetcher.cache import Cached
from fetcher.errors import Failure
from fetcher.links import RepoRef

UNREACHABLE = 75  # a check that could not reach its host: try again later, as for a sync
REJECTED = 2  # a check a person must act on: a token, the config or the store


@dataclass(frozen=True)
class Check:
    """One line of `fetcher check`."""

    name: str
    ok: bool
    detail: str
    exit_code: int = 0  # when it failed: REJECTED or UNREACHABLE

    def line(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.name}: {self.detail}"


@dataclass(frozen=True)
class LaterResult:
    """What a part that came later gives the record: its fields, the cached answers to keep, and how many times
    it was asked."""

    fields: dict
    updates: dict[str, Cached]
    asks: int = 1


@dataclass(frozen=True)
class Later:
    """A part of the record the host was still computing: the record is written without it. `outcome` is the
    part once it comes, or None when the host gave up asking; the host asks for it meanwhile, holding no worker."""

    outcome: Callable[[], Awaitable[LaterResult | None]]
    note_after: str | None = None  # the record's note once the part is written


@dataclass(frozen=True)
class RepoResult:
    fields: dict  # the record fields this host gave
    updates: dict[str, Cached]  # resource -> answer to keep for next time
    note: str | None = None  # a part of the record the host kept as it was, and why
    meta: dict = field(default_factory=dict)  # the repository as the host reported it: facts read its optional
    # keys (archived, archived_at, commit_count); a key a host does not report keeps its stored fact
    later: Later | None = None  # a part still being computed, asked again later in the run
    skipped: str | None = None  # the repository was not asked at all, and why
    continues: bool = False  # a part of it is still to come from the next runs (a history longer than one run
    # pages): the record is written with what is known, and the package stays due


@dataclass(frozen=True)
class Capacity:
    points: int  # what a host's tokens can spend before max_rate_limit_wait runs out, reserve kept
    tokens: int


class BudgetPlan:
    """What a run can afford of one host's budget: the host's tokens, what each package is expected to cost."""

    async def ask_unseen(self, budgets: list[dict], now: datetime) -> dict[str, list[dict]]:
        """token variable -> its budgets ({resource, budget, remaining, reset}), asked of the host for the tokens
        `budgets` (rows of rate_limit as the runs saw them) know nothing of; one whose answer does not say is
        left out."""
        return {}

    def capacity(self, budgets: list[dict], now: datetime) -> Capacity | None:
        """What the tokens can pay for, from their budgets as last seen; None when one was never seen."""
        return None

    def cost(self, last_points: int | None) -> int:
        """What a package whose last fetch cost `last_points` (None: never fetched) is expected to cost."""
        return 0

    def shortfall(self, missing: int, capacity: Capacity) -> str:
        """Why packages were left for the next run, for a person: `missing` points more than `capacity`."""
        return ""


class Host:
    """One repository host. A subclass says how to read its repo_urls and how to fetch one repository."""

    name = ""  # how messages and the summary name it
    batch_size = 0  # repositories per batch step; 0: it has none

    def ref(self, repo_url: str) -> RepoRef:
        """The repository a repo_url names, read as this host writes its paths; InputError if it names none."""
        raise NotImplementedError

    async def batch(self, refs: list[RepoRef]) -> list[dict | Failure | None]:
        """The batch step: per ref, what `fetch` takes as `batched` (metadata, the failure that belongs to
        that repository alone, or None to ask it alone). A failure that concerns the whole run is raised."""
        return [None] * len(refs)

    async def fetch(self, repo_url: str, ref: RepoRef, batched: dict | None, cache: dict[str, Cached]) -> RepoResult:
        """Everything a record needs from this host; a Failure of this package otherwise."""
        raise NotImplementedError

    # The cached answers `ask_early` reads: none, and it is not called.
    early_resources: tuple[str, ...] = ()

    def ask_early(self, ref: RepoRef, batched: dict | Failure | None, cache: dict[str, Cached]) -> None:
        """Start asking now, before the package's turn, for what takes the host a while to have ready (GitHub's
        weekly counts: computed from the first ask on); `fetch` takes it up. `cache` holds `early_resources`."""

    async def aclose(self) -> None:
        """The run is over: stop asking for anything still being asked early or later."""

    async def check(self, known: Sequence[str] = ()) -> list[Check]:
        """`fetcher check`: one cheap request that shows the API answers and takes the token; `known` are a few
        repo_urls of the catalogue on this host, to try the token on where nothing else shows what it reads."""
        return []

    def plan(self) -> BudgetPlan | None:
        """How a run fits this host's budget, where it has one to plan with."""
        return None

    def remember(self, budgets: list[dict], now: datetime) -> None:
        """Start from the budgets the last runs saw (rows of rate_limit, reset as a date-time)."""

    def secrets(self) -> list[str]:
        return []

    def token_report(self) -> list[dict]:
        """Per token of a pool and budget: what the run spent and what was left (table run_token)."""
        return []

    def points_left(self) -> int | None:
        """What the run's tokens have left to spend, where this host counts points."""
        return None


class NullHost(Host):
    """No host to ask: the repository is skipped, saying why, and the rest of the record is fetched."""

    def __init__(self, reason: str):
        self.reason = reason

    def ref(self, repo_url: str) -> RepoRef | None:
        return None

    async def fetch(self, repo_url, ref, batched, cache) -> RepoResult:
        return RepoResult({}, {}, note=f"repository not asked: {self.reason}", skipped=self.reason)

