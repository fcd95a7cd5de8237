"""Every error fetcher expects, typed, with the facts attached.

Each carries a message fit for one line of stderr and the exit code it means
when it ends a command. HTTP failures are raised by `interpret` and the HTTP
adapter; `sync` alone decides what each one does to the run.
"""

from datetime import datetime


class FetcherError(Exception):
    exit_code = 1


# Bad usage, configuration or input: exit 2, and nothing was written.


class UsageError(FetcherError):
    exit_code = 2


class ConfigError(UsageError):
    pass


class InputError(UsageError):
    pass


class StoreError(UsageError):
    pass


class StoreDamaged(StoreError):
    """SQLite met a damaged page (database disk image is malformed): nothing more is written to the store."""


class UnreadableValue(StoreError):
    """A value in one of fetcher's tables that is not of its column's kind (another program wrote it there), named
    with the store, the package (or the table and row) and the column (fetcher/store/stored.py)."""

    SHOWN = 60  # characters of the value a message shows

    def __init__(self, path, where: str, column: str, kind: str, value):
        self.where = where
        self.column = column
        self.value = value
        shown = repr(value)
        if len(shown) > self.SHOWN:
            shown = shown[: self.SHOWN - 3] + "..."
        self.reason = f"{where}: {column} is not {kind}: {shown}"  # the message without the store
        super().__init__(f"{path}: {self.reason}")


class PageRefused(InputError):
    """A directory API's page (`import --from-api`) that is not the expected shape, or whose `next` leads where a
    walk does not go: nothing of it is written, and the walk stays before it."""

    def __init__(self, url: str, reason: str):
        self.url = url
        super().__init__(f"{url}: {reason}; nothing of this page was written")


class UnknownPackage(UsageError):
    def __init__(self, slugs: list[str]):
        self.slugs = slugs
        super().__init__(f"no package with slug {', '.join(map(repr, slugs))} in the store")


# What one HTTP exchange can end in, besides a usable answer.


class Failure(FetcherError):
    def __init__(self, url: str, message: str):
        self.url = url
        super().__init__(f"{message} ({url})")


class Transient(Failure):
    """Worth asking again: a 5xx, a timeout, a reset connection, a garbled body."""


class Unreachable(Transient):
    """The host could not be connected to at all."""

    def __init__(self, url: str, message: str, host: str = ""):
        self.host = host  # scheme://host:port: a run stops for a host that has not answered yet
        super().__init__(url, message)


class Unresolved(Unreachable):
    """The host's name does not resolve: not asked again in this run, since waiting will not make it resolve."""


class ServerError(Transient):
    """A 5xx answer: asked again, unless the request says its 5xx means something to the one who asked."""

    def __init__(self, url: str, status: int):
        self.status = status
        super().__init__(url, f"server error {status}")


class StatsPending(Transient):
    """202: GitHub is still computing statistics for this repository."""

    def __init__(self, url: str):
        super().__init__(url, "GitHub is still computing these statistics (202)")


class RateLimited(Failure):
    """A service's rate limit, until `reset_at`. `ends_run`: every further request of the run would meet it
    (GitHub's, shared by the whole run); otherwise it is the package's that asked (PyPI's, a forge's)."""

    def __init__(self, url: str, reset_at: datetime, secondary: bool, service: str = "GitHub", ends_run: bool = False):
        self.reset_at = reset_at
        self.secondary = secondary
        self.service = service
        self.ends_run = ends_run
        kind = "secondary rate limit" if secondary else "rate limit exhausted"
        if not ends_run:
            kind = "rate limit"
        super().__init__(url, f"{service} {kind} until {reset_at:%Y-%m-%d %H:%M:%S} UTC")


class QueryTimedOut(Failure):
    """GitHub stopped a GraphQL query that took more than its 10 seconds (502, 504, or an error saying so): asking
    the same query again would only time out again, and cost points again."""


class NotFound(Failure):
    """404, 410 or 451: the resource is gone or blocked; asking again will not help."""

    def __init__(self, url: str, status: int):
        self.status = status
        reason = {404: "not found", 410: "gone", 451: "blocked (451)"}.get(status, str(status))
        super().__init__(url, reason)


class EmptyRepository(Failure):
    """409 on a repository's commits: it has none yet."""

    def __init__(self, url: str):
        super().__init__(url, "repository is empty")


class RunRefused(Failure):
    """GitHub refuses every request of this run the same way: stop with exit 2, the person must change something."""

    exit_code = 2


class TokenRejected(RunRefused):
    """401: every further GitHub request would fail the same way. The message says whose token it was, where the
    one who raises it knows (the token pool: no token set, the only one, every one of the pool)."""

    def __init__(self, url: str, message: str = "GitHub rejected the token (401 Bad credentials): check it or unset it"):
        super().__init__(url, message)


class ApiVersionUnsupported(RunRefused):
    """GitHub no longer serves the REST API version fetcher pins in X-GitHub-Api-Version."""

    def __init__(self, url: str, version: str, status: int, message: str):
        super().__init__(
            url,
            f"GitHub no longer supports REST API version {version} (HTTP {status}{message}): upgrade fetcher "
            "to a release that sends a supported X-GitHub-Api-Version",
        )


class ContributorsTooLarge(Failure):
    """403: GitHub will not list the contributors of a repository this large through the API."""


class BadResponse(Failure):
    """An answer we cannot use and will not get better by asking again."""


class HostUnavailable(Failure):
    """A forge other than GitHub refused (its token) or failed to connect once it had answered: the
    package fails, keeping its values, and every other host goes on."""


class LeftDue(Failure):
    """A forge that cannot be asked in this run (not reachable, its rate limit spent beyond the allowed wait):
    its packages are left as they were and due, failing nothing and earning no rest, while every other host
    goes on. `reason` is the same for each of that host's packages, for the run's summary."""

    def __init__(self, url: str, reason: str):
        self.reason = reason
        super().__init__(url, reason)


class WindowSpent(Failure):
    """A forge refused with a rate limit that says neither when it resets nor when to ask again (Bitbucket's
    429, an hourly window): spent for the rest of the run, never asked again a minute later."""


# The run as a whole cannot go on now but can be re-run later: exit 75.


class RunStopped(FetcherError):
    exit_code = 75


class StoreBusy(RunStopped):
    """Another fetch run holds the store: this one did nothing and can be run again."""


class StoreUnavailable(RunStopped):
    """The store cannot be written now (disk full, a quota or file-size limit, read-only, locked by another writer);
    nothing was lost."""


class Interrupted(RunStopped):
    """SIGTERM or SIGINT: the command stopped where it was; 130 for Ctrl-C, as shells report it."""

    def __init__(self, signal_name: str, exit_code: int):
        self.exit_code = exit_code
        super().__init__(f"interrupted by {signal_name}")
