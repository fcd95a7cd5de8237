"""python -m bench.hostile_soak: fetcher, round after round, against a stand-in that fails and lies in every way it can.

For the given number of minutes, each round picks (seeded) a tenth of the packages and gives each one kind of
hostile answer (fetcher/standin/hostile.py: wrong types, huge numbers, lone surrogates, deep nesting, absurd or
unreadable Retry-After and resets, redirect loops and foreign redirects, trickles, gzip bombs, bad and foreign and
cyclic links, refusals, a reset already past, 5,000-digit header numbers, terminal escapes...) while the
stand-in's seeded faults (5xx, resets, truncated and invalid bodies, stalls, 202s, rate limits) go on underneath.
Each round runs `fetcher sync --all`, then reads the store back as a person would (`status`, `show --pretty`,
`history`, `trending`, `export --facts`). Every run must end by itself within its bound, never exit 70, stay under
the memory bound, and print nothing a terminal would act on; every package GitHub and PyPI answered honestly must be
right or as it was with its error recorded; and at the end the store's integrity check must be clean.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.run import TOKEN, child_env, markdown, run_process
from bench.soak import SOAK_RATES
from fetcher.standin import FaultPlan, Hostile, StandIn, World
from fetcher.standin.hostile import KINDS, ONCE

# Kinds that stop the whole run by design (a retired API version, GitHub's limit beyond the allowed wait): given
# to one package in a few rounds only, so most rounds run to their end.
RUN_STOPPING = frozenset({"api_version", "past_reset", "retry_after_zero"})
RESOURCE = {  # the resource each kind is for (hostile.py's docstring)
    "invalid_link": "contributors", "foreign_link": "contributors", "link_cycle": "contributors",
    "too_large": "contributors", "cross_origin_redirect": "participation", "pypi_401": "pypi", "pypi_429": "pypi",
    "unicode_retry_after": "pypi", "terminal_escapes_error": "pypi",
}
ROUND_TIMEOUT = 600  # seconds: a round still running by then is a hang
RSS_BOUND_MB = 200
ACTED_ON = [chr(code) for code in (*range(0x00, 0x09), *range(0x0b, 0x20), *range(0x7f, 0xa0))]
ALLOWED_EXITS = {0, 1, 2, 75}


def hostile_soak(packages: int, seed: int, minutes: float, json_path: Path | None) -> int:
    rng = random.Random(seed)
    world, catalog = World.generate(packages, seed=seed, renamed=0.02, missing=0, empty=0.01, cold_stats=0.3)
    truth = {record["slug"]: world.expected_fields(record) for record in catalog}
    plan = FaultPlan(dict(SOAK_RATES), seed=seed, stall_seconds=3.0, retry_after=1, reset_in=1)
    hostile = Hostile({}, trickle_seconds=0.05)
    kinds = sorted(KINDS - ONCE - {"graphql_secondary"})
    rounds, problems = [], []
    with tempfile.TemporaryDirectory(prefix="hostile-soak-") as tmp, \
            StandIn(world, token=TOKEN, stats_delay=0.3, faults=plan, hostile=hostile, rate_limit=10**9,
                    graphql_rate_limit=10**9) as standin:
        workdir = Path(tmp)
        (workdir / "catalog.json").write_text(json.dumps(catalog))
        config = workdir / "config.toml"
        config.write_text(
            f'[store]\npath = "soak.db"\n[github]\napi_url = "{standin.url}"\ngraphql_url = "{standin.url}/graphql"\n'
            # REST for the metadata too, so the hostile repository answers are asked for (GraphQL would stand in).
            f'graphql = false\npace = false\n[pypi]\nurl = "{standin.url}"\n[sync]\nmax_rate_limit_wait = "5s"\n'
            f'[http]\ntimeout = 2\nbackoff = 0.2\nretries = 2\nmax_body = 1048576\n'
        )
        env = child_env()
        argv = [sys.executable, "-m", "fetcher", "--config", str(config)]
        run_process([*argv, "import", str(workdir / "catalog.json")], env, workdir, 600)
        ends = time.monotonic() + minutes * 60
        number = 0
        while time.monotonic() < ends:
            number += 1
            chosen = rng.sample(catalog, max(1, packages // 10))
            stopping = number % 5 == 0  # one run-stopping kind every fifth round
            rules = {}
            for record in chosen:
                kind = rng.choice(sorted(RUN_STOPPING) if stopping and not rules else
                                  [k for k in kinds if k not in RUN_STOPPING])
                rules[_path(record, RESOURCE.get(kind, "repo"))] = kind
            hostile.rules = rules
            spoiled = {slug for slug in (record["slug"] for record in chosen)}
            before = _export(argv, env, workdir)
            injected = Counter(plan.injected)
            started = time.perf_counter()
            run = run_process([*argv, "sync", "--all"], env, workdir, ROUND_TIMEOUT)
            wall = time.perf_counter() - started
            reads = [run_process([*argv, *command], env, workdir, 120) for command in (
                ["status"], ["show", chosen[0]["slug"], "--pretty"], ["history", chosen[0]["slug"]], ["trending"],
                ["export", "--facts"])]
            after = _export(argv, env, workdir)
            found = _check_round(number, run, reads, before, after, truth, spoiled, _errors(workdir / "soak.db"))
            problems += found
            rounds.append({
                "round": number, "exit": run.exit_code, "wall": round(wall, 1), "peak_rss_mb": run.peak_rss_mb,
                "hostile": dict(Counter(rules.values())), "faults": sum((plan.injected - injected).values()),
                "problems": found,
            })
            print(f"hostile soak: round {number}: exit {run.exit_code} in {wall:.1f}s, {run.peak_rss_mb or 0:.0f} MB, "
                  f"{len(found)} problems", file=sys.stderr, flush=True)
        hostile.rules = {}
        plan.clear()
        final = run_process([*argv, "sync", "--all"], env, workdir, ROUND_TIMEOUT)
        finals = _export(argv, env, workdir)
        with sqlite3.connect(workdir / "soak.db") as db:
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    right = sum(1 for slug, record in finals.items()
                if all(record[f] == truth[slug][f] for f in ("repo_watchers", "repo_forks", "pypi_version")))
    if integrity != "ok":
        problems.append(f"integrity check: {integrity}")
    result = {"packages": packages, "seed": seed, "minutes": minutes, "rounds": rounds, "final_exit": final.exit_code,
              "final_right": right, "integrity": integrity, "problems": problems,
              "max_peak_rss_mb": max((r["peak_rss_mb"] or 0) for r in rounds) if rounds else None}
    print(render(result))
    if json_path:
        json_path.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if not problems else 1


def _check_round(number, run, reads, before, after, truth, spoiled, errors) -> list[str]:
    found = []
    if run.wall >= ROUND_TIMEOUT:
        found.append(f"round {number}: sync did not end within {ROUND_TIMEOUT}s")
    if run.exit_code not in ALLOWED_EXITS:
        found.append(f"round {number}: sync exited {run.exit_code}: {run.stderr.strip()[-300:]}")
    if run.peak_rss_mb is not None and run.peak_rss_mb >= RSS_BOUND_MB:  # None: killed before it could say
        found.append(f"round {number}: peak RSS {run.peak_rss_mb:.0f} MB")
    for process in (run, *reads):
        if process.exit_code == 70:
            found.append(f"round {number}: a read exited 70: {process.stderr.strip()[-300:]}")
        printed = process.stdout + process.stderr if process is not reads[-1] else process.stderr
        if any(character in printed for character in ACTED_ON):
            found.append(f"round {number}: a terminal control character printed")
    for slug, new in truth.items():
        if slug in spoiled:
            continue
        got, old = after[slug], before[slug]
        fields = ("repo_watchers", "repo_forks", "repo_description", "pypi_version", "repo_url")
        right = all(got[f] == new[f] for f in fields)
        if not right and not (all(got[f] == old[f] for f in fields) and (slug in errors or run.exit_code in (2, 75))):
            found.append(f"round {number}: {slug} neither right nor as it was with its error")
    return found


def _path(record: dict, resource: str) -> str:
    full_name = record["repo_url"].removeprefix("https://github.com/")
    return {"repo": f"/repos/{full_name}", "contributors": f"/repos/{full_name}/contributors",
            "participation": f"/repos/{full_name}/stats/participation",
            "pypi": f"/pypi/{record['pypi_url'].rstrip('/').rsplit('/', 1)[-1]}/json"}[resource]


def _export(argv, env, workdir) -> dict[str, dict]:
    run = run_process([*argv, "export"], env, workdir, 600)
    return {record["slug"]: record for record in json.loads(run.stdout)}


def _errors(store: Path) -> set[str]:
    with sqlite3.connect(store) as db:
        return {slug for (slug,) in db.execute(
            "SELECT slug FROM fetch_state JOIN package ON package.id = package_id WHERE last_error IS NOT NULL")}


def render(result: dict) -> str:
    rows = [[str(r["round"]), str(r["exit"]), f"{r['wall']:.1f}", f"{r['peak_rss_mb'] or 0:.0f}",
             ", ".join(f"{k} {n}" for k, n in sorted(r["hostile"].items())), str(r["faults"]), str(len(r["problems"]))]
            for r in result["rounds"]]
    head = (f"Hostile soak: {result['packages']} packages, seed {result['seed']}, {result['minutes']} minutes; "
            f"final clean run exit {result['final_exit']}, {result['final_right']} right; integrity "
            f"{result['integrity']}; {len(result['problems'])} problems\n\n")
    return head + markdown(["round", "exit", "wall s", "peak RSS MB", "hostile kinds", "faults", "problems"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile_soak", description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON to PATH")
    args = parser.parse_args(argv)
    return hostile_soak(args.packages, args.seed, args.minutes, args.json)


if __name__ == "__main__":
    sys.exit(main())
