"""The command line: parse options, load config, call one function, map the outcome to an exit code."""

import functools
import json
import logging
import os
import sys
from datetime import timedelta

import click

from fetcher import __version__, check, config, logs
from fetcher.catalogue import read_catalogue
from fetcher.errors import FetcherError, StoreError, StoreUnavailable, UsageError
from fetcher.logs import event, redact
from fetcher.net.client import utcnow
from fetcher.record import validate
from fetcher.run import loop
from fetcher.run.lock import run_lock
from fetcher.run.report import RunReport
from fetcher.run.signals import StopSignals
from fetcher.show import api, history, status
from fetcher.show.progress import progress
from fetcher.show.record import render
from fetcher.show.text import visible
from fetcher.store import Store, open_store

EXIT_INTERNAL = 70  # a bug in fetcher: BSD's EX_SOFTWARE
EXIT_CLOSED_OUTPUT = 141  # stdout closed by its reader (`| head`): what a shell reports for SIGPIPE
REFRESH_LOCK_WAIT = 30  # seconds a refresh waits for a running sync before giving up with 75
LIMIT = click.IntRange(min=1, max=10_000_000)  # a --limit past ten million packages is a typo (SQLite's stops at 2**63)
DAYS = click.IntRange(min=1, max=config.LONGEST_DURATION.days)  # past ten years a window is a typo, as a duration

log = logging.getLogger("fetcher")


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value, param, ctx) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return config.parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def reports_errors(command):
    """Expected errors become one line on stderr and their exit code; no traceback without --verbose.

    Whatever is printed is scrubbed of the GitHub token first.
    """

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        verbose = click.get_current_context().find_root().params.get("verbose", False)
        try:
            return command(*args, **kwargs)
        except FetcherError as exc:
            _error(str(exc))
            sys.exit(exc.exit_code)
        except BrokenPipeError:
            _quiet_closed_output()
        except (KeyboardInterrupt, click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            if verbose:
                log.exception("internal error")
            _error(f"internal error: {type(exc).__name__}: {exc}" + ("" if verbose else " (--verbose shows where)"))
            sys.exit(EXIT_INTERNAL)

    return wrapper


def _quiet_closed_output() -> None:
    """The reader of stdout went away (`fetcher export | head -1`): stop quietly, as `cat` would.

    Whatever is still buffered goes to /dev/null, or Python would complain about it at exit.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_CLOSED_OUTPUT)


def _secrets() -> list[str]:
    """Every value a token could be read from: each variable of the GitHub pool, each forge's, and the defaults."""
    names = {"GITHUB_TOKEN", *(host["token_env"] for host in config.BUILTIN_HOSTS.values())}
    try:
        names.update(_config().token_envs)
        names.update(host.token_env for host in _config().hosts.values() if host.token_env)
    except FetcherError:
        pass
    return [os.environ[name] for name in names if os.environ.get(name)]


def _error(message: str) -> None:
    if _option("log_format") == "json":
        log.error(message, extra=event("error"))  # one more JSON line, scrubbed by the formatter
        return
    _tell(f"fetcher: {message}", err=True)


def _tell(text: str, *, err: bool = False) -> None:
    """Print for a person: scrubbed of every token, and whatever a server sent shown, never acted on."""
    click.echo(visible(redact(text, _secrets())), err=err)


def _option(name: str):
    """A global option's value."""
    return click.get_current_context().find_root().params.get(name)


def _say(text: str) -> None:
    """Output that only says all went well: none with --quiet."""
    if not _option("quiet"):
        _tell(text)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", help="Config file (default: $FETCHER_CONFIG, else ./config.toml).")
@click.option("-v", "--verbose", is_flag=True, help="Log each package and retry; show tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success; failures still go to stderr (for cron).")
@click.option("--log-format", type=click.Choice(logs.FORMATS), default="text", show_default=True,
              help="json: one JSON object per line on stderr for each event.")  # fmt: skip
@click.version_option(__version__, prog_name="fetcher")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: bool, quiet: bool, log_format: str) -> None:
    """Keep package records fresh from GitHub and PyPI in a SQLite store."""
    ctx.obj = config_path
    logs.configure(verbose, _secrets(), log_format, quiet)


def _config() -> config.Config:
    return config.load(click.get_current_context().find_root().obj)


def _store(settings: config.Config, *, create: bool = False, read_only: bool = False) -> Store:
    """The configured store; only import and add may create it. Its errors say which config named it."""
    try:
        return open_store(settings.store, create=create, read_only=read_only)
    except (StoreError, StoreUnavailable) as exc:
        raise type(exc)(f"{exc} (config: {settings.source})") from None


@cli.command("import")
@click.argument("files", nargs=-1, required=True)
@reports_errors
def import_command(files: tuple[str, ...]) -> None:
    """Load package records (API v4 shape) from JSON FILES; '-' reads stdin."""
    settings = _config()
    catalogues = [(name, read_catalogue(name)) for name in files]  # check every file before writing any
    store = _store(settings, create=True)
    for name, catalogue in catalogues:
        if catalogue.next_page is not None:
            _warn(f"{name}: one page of a longer listing; the next page, not imported, is {catalogue.next_page}")
        result = store.catalogue.import_records(catalogue.records, utcnow())
        kept = f"; {result.kept_fetched} kept the store's newer fetched values" if result.kept_fetched else ""
        _say(
            f"imported {name}: {len(catalogue.records)} records "
            f"({result.inserted} new, {result.updated} updated, {result.unchanged} unchanged{kept})"
        )


def _warn(message: str) -> None:
    _tell(f"fetcher: warning: {message}", err=True)


@cli.command("add")
@click.argument("slug")
@click.option("--repo-url", required=True, help="The repository, e.g. https://github.com/OWNER/NAME.")
@click.option("--pypi-url", default="", help="The PyPI project page, e.g. https://pypi.org/project/NAME/.")
@click.option("--title", default=None, help="Display title (default: the slug).")
@reports_errors
def add_command(slug: str, repo_url: str, pypi_url: str, title: str | None) -> None:
    """Register one package."""
    settings = _config()
    validate({"slug": slug, "repo_url": repo_url, "pypi_url": pypi_url, "title": title or slug}, "add")
    _store(settings, create=True).catalogue.add(slug, repo_url, pypi_url, title or slug, utcnow())
    _say(f"added {slug}")


@cli.command("remove")
@click.argument("slugs", nargs=-1, required=True)
@reports_errors
def remove_command(slugs: tuple[str, ...]) -> None:
    """Delete these packages, with their fetch state, from the store."""
    removed = _store(_config()).catalogue.remove(list(slugs))
    _say(f"removed {', '.join(removed)}")


@cli.command("sync")
@click.option("--all", "every", is_flag=True, help="Fetch every package, however recently fetched.")
@click.option("--limit", type=LIMIT, help="Fetch at most N packages (the oldest).")
@click.option("--stale-after", type=Duration(), help="Due once last fetched this long ago (default: config).")
@reports_errors
def sync_command(every: bool, limit: int | None, stale_after: timedelta | None) -> None:
    """Fetch every package that is due, oldest first."""
    settings = _config()
    with StopSignals() as stop_signals:
        store = _store(settings)
        with run_lock(settings.store, "sync"):
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
    settings = _config()
    with StopSignals() as stop_signals:
        store = _store(settings)
        packages = store.catalogue.packages(list(slugs))
        with run_lock(settings.store, "refresh", wait_seconds=REFRESH_LOCK_WAIT):
            report = loop.run(store, packages, settings, "refresh", progress=_progress("refresh"),
                              stop_signals=stop_signals)
    _finish(report)


def _progress(label: str):
    """The bar is for a person watching: not under --quiet, and not among JSON log lines."""
    shown = not _option("quiet") and _option("log_format") == "text"
    return lambda total: progress(total, label, shown=shown)


def _finish(report: RunReport) -> None:
    """Failures on stderr; the summary on stdout, or on stderr under --quiet when the run did not go well."""
    summary = redact(report.summary(), _secrets())
    if _option("log_format") == "json":
        for slug, reason in report.failures:
            log.warning("failed %s: %s", slug, reason, extra=event("failure", slug=slug, reason=reason))
        level = logging.WARNING if report.exit_code else logging.INFO
        log.log(level, summary, extra=event("run", **report.as_row(utcnow()), exit_code=report.exit_code))
    else:
        for slug, reason in report.failures:
            _tell(f"failed {slug}: {reason}", err=True)
        if not _option("quiet"):
            _tell(summary)
        elif report.exit_code:
            _tell(summary, err=True)
    sys.exit(report.exit_code)


@cli.command("check")
@reports_errors
def check_command() -> None:
    """Is the set-up right? The config, the store, and each host with its token; one line each.

    Exits 0 when all pass, 75 when a host cannot be reached, 2 for a rejected token or a bad config or store.
    """
    with StopSignals():
        results = check.run_checks(_config)
    for result in results:
        if result.ok:
            _say(result.line())
        else:
            _tell(result.line())
    sys.exit(check.exit_code(results))


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for monitoring.")
@reports_errors
def status_command(as_json: bool) -> None:
    """What is due, what fails and why, the last runs and the rate limits left; asks no server.

    Exits 1 when a package has failed 3 or more times in a row.
    """
    settings = _config()
    # Read-only, as every reader: it works where the user may not write. A monitoring check pointed at the wrong
    # path must not pass: no store there is exit 2, as for every command but import and add.
    store = _store(settings, read_only=True)
    now = utcnow()
    gathered = status.gather(store, settings, now)
    code = status.exit_code(gathered)
    if _option("quiet") and not code:
        sys.exit(0)  # for cron: a word only when a package keeps failing
    if as_json:
        click.echo(redact(json.dumps(gathered, indent=2, ensure_ascii=False), _secrets()))
    else:
        _tell(status.render(gathered, now))
    sys.exit(code)


@cli.command("show")
@click.argument("slug")
@click.option("--pretty", is_flag=True, help="For a person: links, counts, the sparkline, times, the fetch state.")
@click.option("--facts", "with_facts", is_flag=True, help='Add a "facts" object after the 18 fields.')
@reports_errors
def show_command(slug: str, pretty: bool, with_facts: bool) -> None:
    """Print one record as the API serves it."""
    settings = _config()
    reads = _store(settings, read_only=True).reads
    row = reads.record(slug)
    if pretty:
        _tell(render(row, reads.fetch_state(slug), utcnow()))
        return
    record = _api(row, settings)
    if with_facts:
        record = api.with_facts(record, reads.facts(row["id"]), settings.timezone, settings.store)
    click.echo(api.show_text(record, settings.store), nl=False)


@cli.command("export")
@click.option("--jsonl", is_flag=True, help="One record per line instead of a JSON array.")
@click.option("--facts", "with_facts", is_flag=True, help='Add a "facts" object after the 18 fields of each.')
@reports_errors
def export_command(jsonl: bool, with_facts: bool) -> None:
    """Print every record as the API serves it, by slug."""
    settings = _config()
    reads = _store(settings, read_only=True).reads
    with reads.snapshot():  # both walks read the same store: what was checked is what prints
        for row in reads.records(with_facts):  # every record, its facts too, must print before the first is out
            _printed(row, settings, with_facts)
        first = True
        for row in reads.records(with_facts):
            text = _printed(row, settings, with_facts)
            if jsonl:
                click.echo(text)
            else:
                click.echo(("[\n" if first else ",\n") + text, nl=False)
            first = False
    if not jsonl:
        click.echo("[]" if first else "\n]")


@cli.command("history")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="A JSON list, oldest first, instead of a table.")
@reports_errors
def history_command(slug: str, as_json: bool) -> None:
    """Print how a package's stars, forks, participants, commits, version and archive state moved, by UTC day."""
    rows = history.series(_store(_config(), read_only=True).reads.history(slug))
    if as_json:
        click.echo(api.listing_text(rows), nl=False)
    else:
        _tell(history.table(rows))


@cli.command("trending")
@click.option("--days", type=DAYS, default=30, show_default=True, help="The window, in days.")
@click.option("--limit", type=LIMIT, default=history.TRENDING_LIMIT, show_default=True,
              help="List at most K packages.")
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of a table.")
@reports_errors
def trending_command(days: int, limit: int, as_json: bool) -> None:
    """List the packages that gained the most stars in the last N days, from the store alone."""
    reads = _store(_config(), read_only=True).reads
    rows = reads.trending(history.window_start(utcnow(), days), limit)
    if as_json:
        click.echo(api.listing_text(rows), nl=False)
    else:
        _tell(history.trending_table(rows, days))


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
    settings = _config()
    _store(settings, read_only=True).close()  # no store, or not fetcher's: said before listening
    sys.exit(server.run(settings, host, port, workers, None if _option("log_format") == "json" else _say))


def _api(row: dict, settings: config.Config) -> dict:
    """The record as the API serves it; a value another program stored unreadably is named, not a crash."""
    return api.record(row, settings.timezone, settings.store)


def _printed(row: dict, settings: config.Config, with_facts: bool) -> str:
    """The record's line of `export`, its facts too if asked for."""
    record = _api(row, settings)
    if with_facts:
        record = api.with_facts(record, row["facts"], settings.timezone, settings.store)
    return api.export_line(record, settings.store)


def main() -> None:
    cli(prog_name="fetcher")
