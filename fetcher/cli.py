"""The command line: parse options, load config, call one function, map the outcome to an exit code."""

import logging
import sys
from datetime import timedelta

import click

from fetcher import __version__, check, config, durations, facts, logs, walk
from fetcher.catalogue import merged_warning, read_catalogue
from fetcher.cli_output import command_config, conclude, error, option, reports_errors, say, secret_values, tell
from fetcher.errors import StoreError, StoreUnavailable, UsageError
from fetcher.logs import redact
from fetcher.net.client import utcnow
from fetcher.record import validate
from fetcher.run import loop
from fetcher.location import is_postgres
from fetcher.run.lock import holder, run_lock, sync_lock
from fetcher.run.report import RunReport
from fetcher.run.signals import StopSignals
from fetcher.show import api, history, status
from fetcher.show.progress import progress
from fetcher.show.record import render
from fetcher.store import Store, open_store

REFRESH_LOCK_WAIT = 30  # seconds a refresh waits for a running sync before giving up with 75
LIMIT = click.IntRange(min=1, max=10_000_000)  # a --limit past ten million packages is a typo (SQLite's stops at 2**63)
DAYS = click.IntRange(min=1, max=durations.LONGEST_DURATION.days)  # past ten years a window is a typo, as a duration


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value, param, ctx) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return durations.parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", help="Config file (default: $FETCHER_CONFIG, else ./config.toml).")
@click.option("-v", "--verbose", is_flag=True, help="Log each package and retry; show tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success; failures still go to stderr (for cron).")
@click.option("--log-format", type=click.Choice(logs.FORMATS), default="text", show_default=True,
              help="json: one JSON object per line on stderr for each event.")  # fmt: skip
@click.version_option(__version__, prog_name="fetcher")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: bool, quiet: bool, log_format: str) -> None:
    """Keep package records fresh from GitHub and PyPI in a SQLite (or PostgreSQL) store."""
    ctx.obj = config_path
    logs.configure(verbose, secret_values(), log_format, quiet)


def _store(settings: config.Config, *, create: bool = False, read_only: bool = False) -> Store:
    """The configured store; only import and add may create it. Its errors say which config named it."""
    try:
        return open_store(settings.store, create=create, read_only=read_only)
    except (StoreError, StoreUnavailable) as exc:
        raise type(exc)(f"{exc} (config: {settings.source})") from None


@cli.command("import")
@click.argument("files", nargs=-1)
@click.option("--from-api", "api_url", is_flag=False, flag_value="", default=None, metavar="[URL]",
              help="Walk a Django Packages-style API v4 root instead (default: import.api_url): categories, "
                   "grids, packages; an interrupted walk continues where it stopped.")
@reports_errors
def import_command(files: tuple[str, ...], api_url: str | None) -> None:
    """Load package records (API v4 shape) from JSON FILES ('-' reads stdin), or from a directory's API."""
    settings = command_config()
    if (api_url is None) == (not files):
        raise UsageError("import: give FILE... to read, or --from-api [URL] to walk a directory's API (one of them)")
    if api_url is not None:
        return _import_from_api(settings, api_url or settings.import_api_url)
    catalogues = [(name, read_catalogue(name)) for name in files]  # check every file before writing any
    store = _store(settings, create=True)
    for name, catalogue in catalogues:
        for slug, first, later in catalogue.merged:
            error(merged_warning(name, slug, first, later), logging.WARNING)
        if catalogue.next_page is not None:
            error(f"{name}: one page of a longer listing; the next page, not imported, is {catalogue.next_page}",
                  logging.WARNING)
        result = store.catalogue.import_records(catalogue.records, utcnow())
        kept = f"; {result.kept_fetched} kept the store's newer fetched values" if result.kept_fetched else ""
        say(f"imported {name}: {len(catalogue.records)} records "
             f"({result.inserted} new, {result.updated} updated, {result.unchanged} unchanged{kept})")


def _import_from_api(settings: config.Config, url: str) -> None:
    """`import --from-api`: walk the directory, one walk at a time per store; say how it went, exit as it ended."""
    api_url = config.api_root(url, "--from-api")
    with StopSignals() as stop_signals:
        store = _store(settings, create=True)
        with run_lock(settings.store, "import --from-api", kind="import"):
            report = walk.walk(store, settings, api_url, stop_signals=stop_signals)
    for page, slug, first, later in report.merged:
        error(merged_warning(page, slug, first, later), logging.WARNING)
    if report.stopped and report.signal is None:
        error(report.stopped)
    conclude(report.summary(), report.exit_code, "import", report.as_event())


@cli.command("add")
@click.argument("slug")
@click.option("--repo-url", required=True, help="The repository, e.g. https://github.com/OWNER/NAME.")
@click.option("--pypi-url", default="", help="The PyPI project page, e.g. https://pypi.org/project/NAME/.")
@click.option("--title", default=None, help="Display title (default: the slug).")
@reports_errors
def add_command(slug: str, repo_url: str, pypi_url: str, title: str | None) -> None:
    """Register one package."""
    settings = command_config()
    validate({"slug": slug, "repo_url": repo_url, "pypi_url": pypi_url, "title": title or slug}, "add")
    _store(settings, create=True).catalogue.add(slug, repo_url, pypi_url, title or slug, utcnow())
    say(f"added {slug}")


@cli.command("remove")
@click.argument("slugs", nargs=-1, required=True)
@reports_errors
def remove_command(slugs: tuple[str, ...]) -> None:
    """Delete these packages, with their fetch state, from the store."""
    removed = _store(command_config()).catalogue.remove(list(slugs))
    say(f"removed {', '.join(removed)}")


@cli.command("sync")
@click.option("--all", "every", is_flag=True, help="Fetch every package, however recently fetched.")
@click.option("--limit", type=LIMIT, help="Fetch at most N packages (the oldest).")
@click.option("--stale-after", type=Duration(), help="Due once last fetched this long ago (default: config).")
@reports_errors
def sync_command(every: bool, limit: int | None, stale_after: timedelta | None) -> None:
    """Fetch every package that is due, oldest first."""
    settings = command_config()
    with StopSignals() as stop_signals:
        store = _store(settings)
        with sync_lock(settings.store, "sync"):  # SQLite's: one run per file; PostgreSQL's workers claim instead
            now = utcnow()
            stale = None if every else settings.stale_after if stale_after is None else stale_after
            packages = store.schedule.due(stale, limit, now)
            resting = store.schedule.resting(stale, now) if stale is not None else 0
            report = loop.run(store, packages, settings, "sync", progress=_progress("sync"),
                              stop_signals=stop_signals, resting=resting, fit_budget=True)
    _finish(report)


@cli.command("refresh")
@click.argument("slugs", nargs=-1, required=True)
@reports_errors
def refresh_command(slugs: tuple[str, ...]) -> None:
    """Fetch these packages now, whatever their age."""
    settings = command_config()
    with StopSignals() as stop_signals:
        store = _store(settings)
        packages = store.catalogue.packages(list(slugs))
        # A PostgreSQL store's refresh waits for the worker that holds one of its packages; a SQLite store's, for
        # the run holding the store's lock.
        claim_wait = (REFRESH_LOCK_WAIT, _waiting) if is_postgres(settings.store) else None
        with sync_lock(settings.store, "refresh", wait_seconds=REFRESH_LOCK_WAIT, waiting=_waiting):
            report = loop.run(store, packages, settings, "refresh", progress=_progress("refresh"),
                              stop_signals=stop_signals, claim_wait=claim_wait)
    _finish(report)


def _waiting(holder: dict | None) -> None:
    """A person at a terminal is told what the refresh waits for; cron, a pipe, --quiet and JSON logs see nothing."""
    if _on_terminal():
        where = f" on {holder['host']}" if holder and holder.get("host") else ""
        tell(f"waiting for {holder['command']} (pid {holder['pid']}{where})…" if holder else
             "waiting for another run…", err=True)  # fmt: skip


def _on_terminal() -> bool:
    return not option("quiet") and option("log_format") == "text" and sys.stderr.isatty()


def _progress(label: str):
    """The bar is for a person watching: not under --quiet, and not among JSON log lines."""
    shown = not option("quiet") and option("log_format") == "text"
    return lambda total: progress(total, label, shown=shown)


def _finish(report: RunReport) -> None:
    # The run's row as stored, but its tokens a JSON object in the line, not JSON text inside a string.
    row = {**report.as_row(utcnow()), "tokens": report.by_token() or None}
    conclude(redact(report.summary(), secret_values()), report.exit_code, "run", row, report.failures)


@cli.command("check")
@reports_errors
def check_command() -> None:
    """Is the set-up right? The config, the store, and each host with its token; one line each.

    Exits 0 when all pass, 75 when a host cannot be reached, 2 for a rejected token or a bad config or store.
    """
    with StopSignals():
        results = check.run_checks(command_config)
    for result in results:
        if result.ok:
            say(result.line())
        else:
            tell(result.line())
    sys.exit(check.exit_code(results))


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for monitoring.")
@reports_errors
def status_command(as_json: bool) -> None:
    """What is due, what fails and why, the last runs and the rate limits left; asks no server.

    Exits 1 when work piles up, one "alarm" line each: a package failing again and again, an old fetch, syncs
    stopping early, deferred packages no fewer for a day ([status] in config.toml); or when the store holds a
    value fetcher cannot read.
    """
    settings = command_config()
    # Read-only, as every reader: it works where the user may not write. A monitoring check pointed at the wrong
    # path must not pass: no store there is exit 2, as for every command but import and add.
    store = _store(settings, read_only=True)
    now = utcnow()
    gathered = status.gather(store, settings, now, running=holder(settings.store))  # the lock never taken
    code = status.exit_code(gathered)
    if option("quiet") and not code:
        sys.exit(0)  # for cron: a word only when an alarm is raised
    if as_json:
        click.echo(redact(status.as_json(gathered), secret_values()))
    else:
        tell(status.render(gathered, now))
    sys.exit(code)


@cli.command("show")
@click.argument("slug")
@click.option("--pretty", is_flag=True, help="For a person: links, counts, the sparkline, times, the fetch state.")
@click.option("--facts", "with_facts", is_flag=True,
              help='Add a "facts" object after the 18 fields (with --pretty: a line for each fact).')
@reports_errors
def show_command(slug: str, pretty: bool, with_facts: bool) -> None:
    """Print one record as the API serves it."""
    settings = command_config()
    with _store(settings, read_only=True) as store:  # closed when done: a reader leaves no -wal or -shm it made
        reads = store.reads
        row = reads.record(slug)
        stored = reads.facts(row["id"]) if with_facts else None
        if pretty:  # with --facts, the facts as --facts prints them (None before any was written)
            shown = {"facts": stored and facts.to_api(stored, settings.timezone)} if with_facts else {}
            return tell(render(row, reads.fetch_state(slug), utcnow(), **shown))
        record = api.record(row, settings.timezone, settings.store)  # a value stored unreadably is named
        if with_facts:
            record = api.with_facts(record, stored, settings.timezone, settings.store)
    click.echo(api.show_text(record, settings.store), nl=False)


@cli.command("export")
@click.option("--jsonl", is_flag=True, help="One record per line instead of a JSON array.")
@click.option("--facts", "with_facts", is_flag=True, help='Add a "facts" object after the 18 fields of each.')
@reports_errors
def export_command(jsonl: bool, with_facts: bool) -> None:
    """Print every record as the API serves it, by slug."""
    settings = command_config()
    first = True
    with _store(settings, read_only=True) as store:  # closed when done: a reader leaves no -wal or -shm it made
        for text in api.export_lines(store.reads, settings.timezone, settings.store, with_facts):
            click.echo(text if jsonl else ("[\n" if first else ",\n") + text, nl=jsonl)
            first = False
    if not jsonl:
        click.echo("[]" if first else "\n]")


@cli.command("history")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="A JSON list, oldest first, instead of a table.")
@reports_errors
def history_command(slug: str, as_json: bool) -> None:
    """Print how a package's stars, forks, participants, commits, version and archive state moved, by UTC day."""
    with _store(command_config(), read_only=True) as store:
        rows = history.series(store.reads.history(slug))
    if as_json:
        click.echo(api.listing_text(rows), nl=False)
    else:
        tell(history.table(rows))


@cli.command("trending")
@click.option("--days", type=DAYS, default=30, show_default=True, help="The window, in days.")
@click.option("--limit", type=LIMIT, default=history.TRENDING_LIMIT, show_default=True,
              help="List at most K packages.")
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of a table.")
@reports_errors
def trending_command(days: int, limit: int, as_json: bool) -> None:
    """List the packages that gained the most stars in the last N days, from the store alone."""
    with _store(command_config(), read_only=True) as store:
        rows = store.reads.trending(history.window_start(utcnow(), days), limit)
    if as_json:
        click.echo(api.listing_text(rows), nl=False)
    else:
        tell(history.trending_table(rows, days))


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="The port to listen on; 0 picks a free one.")  # fmt: skip
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Server processes sharing the port (one per core the server may use).")  # fmt: skip
@reports_errors
def serve_command(host: str, port: int, workers: int) -> None:
    """Serve Django Packages' API v4 from the store, read-only, until SIGTERM."""
    try:
        from fetcher.serve import server
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("starlette", "uvicorn"):
            raise
        raise UsageError("serve needs its extra: pip install 'fetcher[serve]'") from None
    settings = command_config()
    _store(settings, read_only=True).close()  # no store, or not fetcher's: said before listening
    sys.exit(server.run(settings, host, port, workers, None if option("log_format") == "json" else say))


def main() -> None:
    cli(prog_name="fetcher")
