"""A seeded variation of the stand-in, for measuring against a server the code was not tuned on.

The plain stand-in answers every route in the same time with small, even answers. A variation changes, from one
seed: the time of each route (each kind of request its own multiple of the base latency, and each request its own
spread around that), the time of a GraphQL query by the repositories it asks for, the size of answers (JSON
padded with whitespace, which changes no value, to a spread of sizes up to a few hundred KB, the same for the same
address every time), and the contributor pages (a share of repositories given hundreds to a few thousand
contributors, so many pages). The latency it adds is summed in `slept`, since the floor of a run is no longer its
requests times one latency.
"""

from __future__ import annotations

import hashlib
import random
import threading
from urllib.parse import urlsplit

from fetcher.standin.world import World

KINDS = ("repo", "contributors", "participation", "commits", "graphql", "pypi", "other")
# Up to this many extra repositories' contributors, and at most this many contributors each.
BIG_SHARE = 0.12
BIG_CONTRIBUTORS = (150, 3000)


class Variation:
    def __init__(self, seed: int, latency: float) -> None:
        self.seed = seed
        self.latency = latency
        rng = random.Random(f"vary:{seed}")
        self.route_factor = {kind: round(rng.uniform(0.4, 2.2), 2) for kind in KINDS}
        # Seconds a GraphQL query takes for each repository it asks for, over its route time.
        self.graphql_per_repository = latency * rng.uniform(0.02, 0.12)
        self._rng = rng
        self._lock = threading.Lock()

    def describe(self) -> dict:
        return {"seed": self.seed, "route_factor": self.route_factor,
                "graphql_s_per_repository": round(self.graphql_per_repository, 4)}

    def delay(self, method: str, target: str, body: bytes) -> float:
        """Seconds to take for one request: its route's multiple of the latency, spread from 0.5x to 2x."""
        kind = route_kind(method, target)
        with self._lock:
            spread = self._rng.lognormvariate(0.0, 0.35)
        seconds = self.latency * self.route_factor[kind] * min(2.0, max(0.5, spread))
        if kind == "graphql":
            seconds += self.graphql_per_repository * body.count(b"repository(")
        return seconds

    def padding(self, target: str) -> int:
        """Bytes of whitespace added to a JSON answer at this address: most a few KB, a few hundreds."""
        digest = hashlib.sha256(f"{self.seed}:{target}".encode()).digest()
        roll = int.from_bytes(digest[:4], "big") / 2**32
        if roll < 0.6:
            return int(roll / 0.6 * 2_000)
        if roll < 0.97:
            return 2_000 + int((roll - 0.6) / 0.37 * 30_000)
        return 32_000 + int((roll - 0.97) / 0.03 * 300_000)

    def vary_world(self, world: World) -> None:
        """Give a seeded share of the repositories many contributors (many pages), before the stand-in serves."""
        rng = random.Random(f"vary-world:{self.seed}")
        names = sorted(name for name, repo in world.repos.items() if not repo.empty)
        for name in rng.sample(names, round(len(names) * BIG_SHARE)):
            repo = world.repos[name]
            count = int(rng.uniform(*BIG_CONTRIBUTORS))
            logins = list(dict.fromkeys([*repo.contributors, *(f"many{name.split('/')[1]}-{i}" for i in range(count))]))
            repo.set_contributors((login, max(1, 4000 // (rank + 1))) for rank, login in enumerate(logins[:count]))


def route_kind(method: str, target: str) -> str:
    """Which route a request asked: graphql, repo, contributors, participation, commits, pypi or other."""
    path = urlsplit(target).path
    parts = path.split("/")[1:]
    if parts[:1] in (["pypi"], ["simple"]):  # the JSON API and the JSON Index API (project status)
        return "pypi"
    if method == "POST" and path.rstrip("/") == "/graphql":
        return "graphql"
    if len(parts) >= 3 and parts[0] == "repos":
        rest = parts[3:]
    elif len(parts) >= 2 and parts[0] == "repositories":
        rest = parts[2:]
    else:
        return "other"
    return {"": "repo", "contributors": "contributors", "stats/participation": "participation",
            "commits": "commits"}.get("/".join(rest), "other")
