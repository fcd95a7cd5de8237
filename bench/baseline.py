"""The baseline the benchmark compares fetcher with: a plain sequential REST updater.

It does what Django Packages' own updater does, a little kinder to
sparklines: for each package, one request at a time and no ETags,

- ``GET /repos/{owner}/{name}`` (redirects followed; the rest is asked under the name the body gives),
- ``GET .../contributors?per_page=100`` (the first page only),
- ``GET .../stats/participation`` (on 202, sleep a second and ask again, at most ten asks),
- ``GET .../commits?per_page=1``,
- ``GET {pypi}/pypi/{name}/json`` (redirects followed).

It writes nothing: the benchmark only counts what it asks. It ends with a
one-line summary and exits 1 if some package failed, like fetcher.

    python -m bench.baseline --api URL --catalog FILE --token TOKEN
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from fetcher.standin import github_full_name, pypi_project

STATS_TRIES = 10
STATS_WAIT = 1.0


@dataclass
class Tally:
    ok: int = 0
    failed: int = 0
    pending: int = 0  # participation still 202 after every try
    requests: int = 0  # redirect hops included


class Baseline:
    def __init__(
        self,
        api: str,
        pypi: str,
        token: str | None,
        timeout: float = 20.0,
        stats_tries: int = STATS_TRIES,
        stats_wait: float = STATS_WAIT,
    ) -> None:
        headers = {"Accept": "application/vnd.github+json", "User-Agent": "baseline-updater"}
        if token:
            headers["Authorization"] = f"token {token}"
        self.api = api.rstrip("/")
        self.pypi = pypi.rstrip("/")
        self.stats_tries = stats_tries
        self.stats_wait = stats_wait
        self.tally = Tally()
        self._github = httpx.Client(headers=headers, timeout=timeout, follow_redirects=True)
        self._pypi = httpx.Client(headers={"User-Agent": "baseline-updater"}, timeout=timeout, follow_redirects=True)

    def close(self) -> None:
        self._github.close()
        self._pypi.close()

    def _get(self, client: httpx.Client, url: str) -> httpx.Response:
        response = client.get(url)
        self.tally.requests += 1 + len(response.history)
        return response

    def update(self, record: dict[str, Any]) -> str | None:
        """Ask everything one package needs; the reason it failed, or None."""
        full_name = github_full_name(record.get("repo_url") or "")
        if full_name:
            reason = self._update_repo(full_name)
            if reason:
                return reason
        project = pypi_project(record.get("pypi_url") or "")
        if project:
            response = self._get(self._pypi, f"{self.pypi}/pypi/{project}/json")
            if response.status_code != 200:
                return f"PyPI {project}: {response.status_code}"
        return None

    def _update_repo(self, full_name: str) -> str | None:
        response = self._get(self._github, f"{self.api}/repos/{full_name}")
        if response.status_code != 200:
            return f"{full_name}: {response.status_code}"
        base = f"{self.api}/repos/{response.json().get('full_name') or full_name}"
        contributors = self._get(self._github, f"{base}/contributors?per_page=100")
        if contributors.status_code not in (200, 204):
            return f"{full_name} contributors: {contributors.status_code}"
        for ask in range(self.stats_tries):
            participation = self._get(self._github, f"{base}/stats/participation")
            if participation.status_code != 202:
                break
            if ask + 1 < self.stats_tries:
                time.sleep(self.stats_wait)
        else:
            self.tally.pending += 1
        if participation.status_code not in (200, 202, 204):
            return f"{full_name} participation: {participation.status_code}"
        commits = self._get(self._github, f"{base}/commits?per_page=1")
        if commits.status_code not in (200, 409):
            return f"{full_name} commits: {commits.status_code}"
        return None

    def run(self, records: list[dict[str, Any]]) -> Tally:
        for record in records:
            try:
                reason = self.update(record)
            except (httpx.HTTPError, ValueError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            if reason:
                self.tally.failed += 1
                print(f"failed {record.get('slug')}: {reason}", file=sys.stderr)
            else:
                self.tally.ok += 1
        return self.tally


def _records(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("results", [data])
    return list(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", required=True, help="GitHub REST API base URL")
    parser.add_argument("--pypi", help="PyPI base URL (default: --api)")
    parser.add_argument("--catalog", type=Path, required=True, help="JSON file of package records")
    parser.add_argument("--token", help="GitHub token")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per request")
    args = parser.parse_args(argv)
    records = _records(args.catalog)
    baseline = Baseline(args.api, args.pypi or args.api, args.token, args.timeout)
    started = time.perf_counter()
    try:
        tally = baseline.run(records)
    finally:
        baseline.close()
    seconds = time.perf_counter() - started
    line = f"baseline: {len(records)} packages in {seconds:.1f}s: {tally.ok} ok, {tally.failed} failed"
    if tally.pending:
        line += f"; {tally.pending} sparklines still computing"
    print(f"{line}; {tally.requests} requests", flush=True)
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
