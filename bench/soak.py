"""python -m bench --faults: a soak run of fetcher against a stand-in that fails in every way it can.

Rounds of `fetcher sync --all` with seeded faults on, then one with them
off. After every round each record is checked against the stand-in's truth
and against what it was before the round: right, or untouched with its error
recorded. Anything else (half-written, zeroed, emptied) is a record lost.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.run import TOKEN, child_env, markdown, run_process
from fetcher.standin import FaultPlan, StandIn, World

# Per-request chances. Rate limits pause every request, as GitHub asks, so they are rarer.
SOAK_RATES = {
    "500": 0.01, "502": 0.01, "503": 0.01, "reset": 0.01, "truncated": 0.01, "invalid_json": 0.01,
    "stall": 0.002, "stuck_202": 0.01, "secondary_403": 0.001, "429": 0.001, "exhausted": 0.0005,
}
FIELDS = ("repo_forks", "repo_watchers", "repo_description", "participants", "pypi_version", "repo_url")


@dataclass
class Round:
    name: str
    exit_code: int
    wall: float
    summary: str
    injected: Counter
    retries: int
    right: int
    untouched_with_error: int
    sparkline_kept: int
    lost: list[str]


def soak(packages: int, seed: int, rounds: int, json_path: Path | None) -> int:
    world, catalog = World.generate(packages, seed=seed, renamed=0.02, missing=0, empty=0.01, cold_stats=0.3)
    truth = {record["slug"]: world.expected_fields(record) for record in catalog}
    plan = FaultPlan(dict(SOAK_RATES), seed=seed, stall_seconds=1.5, retry_after=1, reset_in=1)
    results: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp, \
            StandIn(world, token=TOKEN, stats_delay=0.3, faults=plan, rate_limit=10**9) as standin:
        workdir = Path(tmp)
        (workdir / "catalog.json").write_text(json.dumps(catalog))
        config = workdir / "config.toml"
        config.write_text(
            f'[store]\npath = "soak.db"\n[github]\napi_url = "{standin.url}"\ngraphql_url = "{standin.graphql_url}"\n'
            f'pace = false\n[pypi]\nurl = "{standin.url}"\n[sync]\nmax_rate_limit_wait = "1m"\n'
            f'[http]\ntimeout = 1\nbackoff = 0.2\n'
        )
        env = child_env()
        argv = [sys.executable, "-m", "fetcher", "--config", str(config)]
        _check(run_process([*argv, "import", str(workdir / "catalog.json")], env, workdir, 600), "import")
        for number in range(1, rounds + 2):
            faults_on = number <= rounds
            if not faults_on:
                plan.clear()
            before = _export(argv, env, workdir)
            injected_before = Counter(plan.injected)
            print(f"soak: round {number} ({'faults on' if faults_on else 'faults off'})...", file=sys.stderr, flush=True)
            started = time.perf_counter()
            run = run_process([*argv, "sync", "--all"], env, workdir, 3600)
            wall = time.perf_counter() - started
            after = _export(argv, env, workdir)
            results.append(_judge(
                f"{number}: faults {'on' if faults_on else 'off'}", run, wall, before, after, truth,
                plan.injected - injected_before, _last_retries(workdir / "soak.db"), _errors(workdir / "soak.db"),
            ))
    print(render(results, packages, seed))
    if json_path:
        json_path.write_text(json.dumps({"packages": packages, "seed": seed, "rates": SOAK_RATES,
                                         "rounds": [r.__dict__ | {"injected": dict(r.injected)} for r in results]},
                                        indent=2))
    final = results[-1]
    lost = sum(len(r.lost) for r in results)
    return 0 if lost == 0 and final.right == packages and final.exit_code == 0 else 1


def _judge(name, run, wall, before, after, truth, injected, retries, errors) -> Round:
    right = untouched = kept = 0
    lost = []
    for slug, new in truth.items():
        got, old = after[slug], before[slug]
        if {f: got[f] for f in FIELDS} == {f: new[f] for f in FIELDS}:
            if got["commits_over_52"] == new["commits_over_52"]:
                right += 1
                continue
            if got["commits_over_52"] == old["commits_over_52"]:
                kept += 1  # GitHub kept answering 202: the old sparkline stays, as it should
                continue
        if got == old and slug in errors:
            untouched += 1
            continue
        lost.append(slug)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr.strip()[-200:]
    return Round(name, run.exit_code, wall, summary, injected, retries, right, untouched, kept, lost)


def _export(argv, env, workdir) -> dict[str, dict]:
    run = _check(run_process([*argv, "export"], env, workdir, 600), "export")
    return {record["slug"]: record for record in json.loads(run.stdout)}


def _errors(store: Path) -> set[str]:
    with sqlite3.connect(store) as db:
        return {slug for (slug,) in db.execute(
            "SELECT slug FROM fetch_state JOIN package ON package.id = package_id WHERE last_error IS NOT NULL")}


def _last_retries(store: Path) -> int:
    with sqlite3.connect(store) as db:
        return db.execute("SELECT retries FROM sync_run ORDER BY id DESC LIMIT 1").fetchone()[0]


def _check(process, what: str):
    if process.exit_code != 0:
        raise SystemExit(f"soak: fetcher {what} failed ({process.exit_code}): {process.stderr.strip()[-500:]}")
    return process


def render(results: list[Round], packages: int, seed: int) -> str:
    kinds = sorted({kind for r in results for kind in r.injected})
    rows = [[r.name, str(r.exit_code), f"{r.wall:.1f}", str(sum(r.injected.values())),
             ", ".join(f"{k} {r.injected[k]}" for k in kinds if r.injected[k]) or "-",
             str(r.retries), str(r.right), str(r.sparkline_kept), str(r.untouched_with_error), str(len(r.lost))]
            for r in results]
    head = f"Soak: {packages} packages, seed {seed}\n\n"
    return head + markdown(
        ["round", "exit", "wall s", "faults", "faults by kind", "retries", "right", "sparkline kept (202)",
         "untouched, error recorded", "records lost"], rows)
