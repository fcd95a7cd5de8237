"""How the commands speak and end: expected errors as one line and their exit code, what is printed scrubbed of
every token and shown for a person, --quiet and --log-format json honoured."""

import functools
import logging
import os
import sys

import click

from fetcher import config
from fetcher.errors import FetcherError
from fetcher.hosts.registry import secrets
from fetcher.logs import event, redact
from fetcher.show.text import visible

EXIT_INTERNAL = 70  # a bug in fetcher: BSD's EX_SOFTWARE
EXIT_CLOSED_OUTPUT = 141  # stdout closed by its reader (`| head`): what a shell reports for SIGPIPE

log = logging.getLogger("fetcher")


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
            error(str(exc))
            sys.exit(exc.exit_code)
        except BrokenPipeError:
            quiet_closed_output()
        except (KeyboardInterrupt, click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            if verbose:
                log.exception("internal error", extra=event("error"))
            error(f"internal error: {type(exc).__name__}: {exc}" + ("" if verbose else " (--verbose shows where)"))
            sys.exit(EXIT_INTERNAL)

    return wrapper


def quiet_closed_output() -> None:
    """The reader of stdout went away (`fetcher export | head -1`): stop quietly, as `cat` would.

    Whatever is still buffered goes to /dev/null, or Python would complain about it at exit.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_CLOSED_OUTPUT)


def secret_values() -> list[str]:
    """Every value a token could be read from: GitHub's pool, each forge's (and Bitbucket's Basic), the defaults."""
    names = {"GITHUB_TOKEN", *(host["token_env"] for host in config.BUILTIN_HOSTS.values())}
    try:
        names.update(command_config().token_envs)
        names.update(env for host in command_config().hosts.values() for env in (host.token_env, host.username_env) if env)
        return [*secrets(command_config()), *(os.environ[name] for name in names if os.environ.get(name))]
    except FetcherError:
        pass
    return [os.environ[name] for name in names if os.environ.get(name)]


def error(message: str, level: int = logging.ERROR) -> None:
    """One line on stderr (a warning's says so); with --log-format json, the `error` or `warning` event."""
    if option("log_format") == "json":
        log.log(level, message, extra=event(logging.getLevelName(level).lower()))  # scrubbed by the formatter
        return
    tell(f"fetcher: {'warning: ' if level == logging.WARNING else ''}{message}", err=True)


def tell(text: str, *, err: bool = False) -> None:
    """Print for a person: scrubbed of every token, and whatever a server sent shown, never acted on."""
    click.echo(visible(redact(text, secret_values())), err=err)


def option(name: str):
    """A global option's value."""
    return click.get_current_context().find_root().params.get(name)


def say(text: str) -> None:
    """Output that only says all went well: none with --quiet."""
    if not option("quiet"):
        tell(text)


def command_config() -> config.Config:
    return config.load(click.get_current_context().find_root().obj)


def conclude(summary: str, code: int, name: str, facts: dict, failures=()) -> None:
    """Failures on stderr; the summary on stdout, or on stderr under --quiet when it did not go well (with
    --log-format json: the `name` event with `facts`); then exit with `code`."""
    if option("log_format") == "json":
        for slug, reason in failures:
            log.warning("failed %s: %s", slug, reason, extra=event("failure", slug=slug, reason=reason))
        log.log(logging.WARNING if code else logging.INFO, summary, extra=event(name, **facts, exit_code=code))
    else:
        for slug, reason in failures:
            tell(f"failed {slug}: {reason}", err=True)
        if not option("quiet"):
            tell(summary)
        elif code:
            tell(summary, err=True)
    sys.exit(code)
