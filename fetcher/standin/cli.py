"""``fetcher-standin``: serve the stand-in for a catalogue, or for N generated packages, until stopped.

Ready means listening. Only then is the pid file written (``--pid-file``),
then the config file (``--config-out``), each through a temporary file and a
rename, so a file that exists is whole and its server answers. Without
``--config-out`` the config goes to standard output. ``--detach`` returns once
the server is ready and leaves it serving in the background. Ctrl-C or SIGTERM
stops the server cleanly (exit 0) and removes its pid file.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from fetcher.standin import detach
from fetcher.standin.fetcher_config import config_for, fetcher_reads
from fetcher.standin.forges.generate import add_catalog
from fetcher.standin.server import StandIn
from fetcher.standin.world import World

_STOP = {signal.SIGINT, signal.SIGTERM}
_NO_HOSTS = "fetcher-standin: this fetcher reads no [hosts] tables: the forge hosts are left out of the config"


def _load_records(path: Path) -> list[dict[str, Any]]:
    """Accept a list of records, one record, or an API page {"results": [...]}."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("results", [data])
    return list(data)


def parser() -> argparse.ArgumentParser:
    """The command's options; ``--catalogue`` and ``--catalogue-out`` are the documented spellings of ``--catalog``
    and ``--catalog-out``, which work as before."""
    parser = argparse.ArgumentParser(
        prog="fetcher-standin",
        description="Serve a stand-in GitHub and PyPI API on 127.0.0.1 for a catalogue, or for N generated packages. "
        "Prints a fetcher config.toml that points at it on stdout (or writes it with --config-out) once it is "
        "listening, and serves until Ctrl-C or SIGTERM.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--catalogue", "--catalog", dest="catalogue", type=Path, metavar="FILE",
                        help="JSON file of package records to serve")  # fmt: skip
    source.add_argument("--packages", type=int, metavar="N",
                        help="generate N packages (write them with --catalogue-out)")  # fmt: skip
    parser.add_argument("--catalogue-out", "--catalog-out", dest="catalogue_out", type=Path, metavar="PATH",
                        help="with --packages: write their catalogue here")  # fmt: skip
    parser.add_argument("--port", type=int, default=8765, help="0: any free port (the config names it)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds slept before each answer")
    parser.add_argument("--rate-limit", type=int, default=5000, help="points an hour, REST and GraphQL each")
    parser.add_argument("--stats-delay", type=float, default=1.0, help="seconds cold statistics answer 202")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--token", help="require this token in Authorization")
    parser.add_argument("--config-out", type=Path, metavar="PATH",
                        help="write the config here instead of stdout, once the server is listening")  # fmt: skip
    parser.add_argument("--pid-file", type=Path, metavar="PATH",
                        help="write the server's pid here once it is listening; removed when it stops")  # fmt: skip
    parser.add_argument("--detach", action="store_true",
                        help="serve in the background: return once it is listening, saying how to stop it")  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> None:
    options = parser()
    args = options.parse_args(argv)
    if args.packages is not None and args.packages < 1:
        options.error("--packages must be at least 1")
    for name in ("config_out", "pid_file"):  # the server removes its pid file on the way out, wherever it is then
        if getattr(args, name) is not None:
            setattr(args, name, getattr(args, name).absolute())
    if not args.detach:
        sys.exit(serve(args, _say_ready))
    if not detach.supported():
        options.error("--detach needs fork(): start the stand-in in the background with your shell instead")
    ready = detach.detach(lambda say: serve(args, say))
    if isinstance(ready, int):
        print(f"fetcher-standin: the stand-in stopped before it was ready (exit {ready})", file=sys.stderr)
        sys.exit(ready)
    if ready["config"] is not None:
        print(ready["config"], flush=True)
    for note in ready["notes"]:
        print(note, file=sys.stderr)
    pid = ready["pid"]
    print(f"fetcher-standin: serving {ready['url']} (pid {pid}); stop it with: kill {pid}", file=sys.stderr, flush=True)


def serve(args: argparse.Namespace, ready: detach.Ready) -> int:
    """Build the world, listen, say so once ready, and serve until Ctrl-C or SIGTERM; the exit code."""
    # Stop signals wait, blocked, until the server is ready to stop cleanly; the server's threads inherit the mask.
    _block(_STOP)
    if args.packages is not None:
        world, records = World.generate(args.packages, seed=args.seed)
        if args.catalogue_out:
            args.catalogue_out.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
        forge_repos = 0
    else:
        records = _load_records(args.catalogue)
        world = World.from_catalog(records, seed=args.seed)
        forge_repos = len(add_catalog(world, records, seed=args.seed).repos)
    try:
        standin = StandIn(world, args.latency, token=args.token, port=args.port, rate_limit=args.rate_limit,
                          graphql_rate_limit=args.rate_limit, stats_delay=args.stats_delay)  # fmt: skip
    except OSError as error:
        print(f"fetcher-standin: cannot listen on 127.0.0.1:{args.port}: {error.strerror or error}", file=sys.stderr)
        return 1
    try:
        with standin:
            config, hosts, notes = config_for(standin.url), standin.hosts_config(), []
            if hosts and fetcher_reads(config + "\n" + hosts):
                config += "\n" + hosts
            elif hosts:
                notes.append(_NO_HOSTS)
            if args.pid_file:
                write_atomically(args.pid_file, f"{os.getpid()}\n")
            if args.config_out:
                write_atomically(args.config_out, config)
            counts = f"{len(world.repos)} repositories, {forge_repos} on other forges, {len(world.pypi)} on PyPI"
            ready({"url": standin.url, "pid": os.getpid(), "counts": counts, "notes": notes,
                   "config": None if args.config_out else config})  # fmt: skip
            _wait_for(_STOP)
    finally:  # the server has stopped listening
        if args.pid_file:
            _remove_own(args.pid_file)
    return 0


def _say_ready(message: dict[str, Any]) -> None:
    """Ready in the foreground: the config on stdout (unless written to a file), a line on stderr."""
    if message["config"] is not None:
        print(message["config"], flush=True)
    for note in message["notes"]:
        print(note, file=sys.stderr)
    print(f"fetcher-standin: serving {message['url']} ({message['counts']}); Ctrl-C stops", file=sys.stderr, flush=True)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` through a temporary file beside ``path`` and a rename: a reader sees all of it or nothing."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _remove_own(pid_file: Path) -> None:
    """Remove the pid file if it still names this process."""
    try:
        if pid_file.read_text(encoding="utf-8").strip() == str(os.getpid()):
            pid_file.unlink()
    except OSError:
        pass


def _block(signals: set[signal.Signals]) -> None:
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, signals)


def _wait_for(signals: set[signal.Signals]) -> None:
    """Until one of ``signals`` arrives: taken from the blocked, pending ones, so no handler runs mid-way."""
    if hasattr(signal, "sigwait"):
        signal.sigwait(signals)
        return
    try:  # no POSIX signal masks: Ctrl-C raises KeyboardInterrupt
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
