"""python -m bench: fetcher against the loopback stand-in, beside a sequential REST baseline.

Phases, each a fresh subprocess: cold (``fetcher sync`` of a never-fetched
catalogue), warm with nothing changed (``sync --all``), and warm after a
seeded share of the repositories was pushed to (``sync --all``). The
baseline (``bench/baseline.py``) runs the same phases against a fresh
stand-in of the same seed. Prints Markdown tables; ``--json PATH`` writes them,
with every number, as JSON. The committed figures (``bench/results.json``,
``bench/soak.json``) change only when named with ``--json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.run import Settings, bench
from bench.soak import soak


def _share(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return value


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text} is not above 0")
        return value

    return parse


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is below 0")
    return value


def main(argv: list[str] | None = None) -> int:
    defaults = Settings()
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = parser.add_argument
    add("--packages", type=_positive(int), default=defaults.packages, help="catalogue size")
    add("--latency", type=_non_negative, default=defaults.latency, help="seconds the stand-in takes per answer")
    add("--concurrency", type=_positive(int), default=defaults.concurrency, help="fetcher's sync.concurrency")
    add("--pushed", type=_share, default=defaults.pushed, help="share of repositories pushed before the last phase")
    add("--seed", type=int, default=defaults.seed, help="world and push seed")
    add("--baseline", choices=("all", "cold", "none"), default=defaults.baseline,
        help="baseline phases: all three, the cold one, or none")  # fmt: skip
    add("--scale", type=int, default=defaults.scale, metavar="N",
        help="then a fetcher-only cold, warm and warm-pushed run of N packages, for memory and time "
             "(0: none)")  # fmt: skip
    add("--stats-delay", type=_non_negative, default=defaults.stats_delay,
        help="seconds GitHub takes to compute cold statistics")  # fmt: skip
    add("--cold-stats", type=_share, default=defaults.cold_stats,
        help="share of repositories whose statistics start cold")  # fmt: skip
    add("--stats-asks", type=int, default=defaults.stats_asks, metavar="N",
        help="above 0: cold statistics answer 202 to their first 1 to N asks (seeded), instead of for "
             "--stats-delay seconds")  # fmt: skip
    add("--rate-limit", type=_positive(int), default=defaults.rate_limit,
        help="fetcher's stand-in budget, points an hour, refilled before each phase")  # fmt: skip
    add("--timeout", type=_positive(float), default=defaults.timeout,
        help="seconds any one run may take before it is killed")  # fmt: skip
    add("--json", type=Path, default=None, metavar="PATH",
        help="write the results as JSON to PATH (the committed ones: bench/results.json, bench/soak.json)")  # fmt: skip
    add("--tty", action="store_true",
        help="fetcher's stderr on a pseudo-terminal, so it draws its progress bar (what the bar costs)")  # fmt: skip
    add("--vary", type=int, default=None, metavar="SEED",
        help="a stand-in varied from SEED: per-route and per-request latency, GraphQL time by the repositories "
             "asked, padded answers, many contributor pages (fetcher/standin/vary.py); the floor is then the "
             "latency it added over the slots")  # fmt: skip
    add("--faults", action="store_true", help="instead: a soak run with seeded faults (see bench/soak.py)")
    add("--rounds", type=_positive(int), default=3, help="with --faults: rounds with faults on, before one without")
    args = parser.parse_args(argv)
    if args.faults:
        return soak(args.packages, args.seed, args.rounds, args.json)
    settings = Settings(
        packages=args.packages,
        latency=args.latency,
        concurrency=args.concurrency,
        pushed=args.pushed,
        seed=args.seed,
        baseline=args.baseline,
        scale=max(0, args.scale),
        stats_delay=args.stats_delay,
        cold_stats=args.cold_stats,
        stats_asks=max(0, args.stats_asks),
        rate_limit=args.rate_limit,
        timeout=args.timeout,
        tty=args.tty,
        vary=args.vary,
    )
    return bench(settings, args.json)


if __name__ == "__main__":
    sys.exit(main())
