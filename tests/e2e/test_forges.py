"""A catalogue mixing GitHub, GitLab (public and self-hosted), Codeberg, a self-hosted Forgejo and Bitbucket,
synced by the real `fetcher` command against the loopback stand-in: cold, unchanged, and after new commits."""

import json
import os
import subprocess
import sys
from pathlib import Path

from fetcher.record import parse_datetime
from fetcher.links import GITHUB_HOSTS, parse_repo_url
from fetcher.standin import StandIn, World, forges
from tests.conftest import ROOT

GITHUB_RECORDS = [r for r in json.loads((ROOT / "examples" / "packages.json").read_text())
                  if parse_repo_url(r["repo_url"]).host in GITHUB_HOSTS][:4]
TOKEN_ENV = {"gitlab.com": "GITLAB_TOKEN", "gitlab.example.org": "EXAMPLE_GITLAB_TOKEN",
             "codeberg.org": "CODEBERG_TOKEN", "bitbucket.org": "BITBUCKET_TOKEN"}
# Resources read per repository when nothing changed: its metadata, its newest commit, Bitbucket's watchers and forks,
# each conditionally; Forgejo, which sends no ETag, its metadata alone (its updated_at says nothing was pushed).
WARM_RESOURCES = {"gitlab": ["commits", "repo"], "forgejo": ["repo"], "bitbucket": ["commits", "forks", "repo", "watchers"]}


def fetcher(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FETCHER_CONFIG", *TOKEN_ENV.values())}
    env["GITHUB_TOKEN"] = "ghp_standin_token"
    return subprocess.run([sys.executable, "-m", "fetcher", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_every_forge_syncs_right_asks_only_conditionally_or_once_when_unchanged_and_only_new_commits_after_a_push(
        tmp_path):
    world = World.from_catalog(GITHUB_RECORDS, seed=7, stats_asks=0)
    records = forges.add_to_world(world, seed=5)
    catalog = tmp_path / "packages.json"
    catalog.write_text(json.dumps([*GITHUB_RECORDS, *records]))
    with StandIn(world, token="ghp_standin_token") as standin:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[store]\npath = "store.db"\n[github]\napi_url = "{standin.url}"\ngraphql_url = "{standin.url}/graphql"\n'
            f'pace = false\n[pypi]\nurl = "{standin.url}"\n[http]\nbackoff = 0\n\n{standin.hosts_config()}'
        )
        assert fetcher(config, "import", str(catalog)).returncode == 0
        first = fetcher(config, "sync", "--all")
        exported = {r["slug"]: r for r in json.loads(fetcher(config, "export", "--facts").stdout)}
        world.forges.clear_log()
        second = fetcher(config, "sync", "--all")
        again = {r["slug"]: r for r in json.loads(fetcher(config, "export", "--facts").stdout)}
        # A missing repository has nothing cached to ask about conditionally: it fails again, as it should.
        warm = [entry for entry in world.forges.requests() if entry.status != 404]
        # Then new commits, a merge among them, on every repository that is there.
        present = [r for r in records if not _missing(world, r)]
        before_push = {r["slug"]: world.forges.expected(r["repo_url"]) for r in present}
        before_counts = {r["slug"]: world.forges.expected_commit_count(r["repo_url"]) for r in present}
        for record in present:
            world.forges.push(record["repo_url"], commits=3, merge=True)
        world.forges.clear_log()
        third = fetcher(config, "sync", "--all")
        pushed = {r["slug"]: r for r in json.loads(fetcher(config, "export", "--facts").stdout)}
        pushed_log = world.forges.requests()

    missing = {r["slug"] for r in records if not world.forges.knows(r["repo_url"]) or _missing(world, r)}
    assert first.returncode == (1 if missing else 0), first.stderr
    for record in records:
        got = exported[record["slug"]]
        if record["slug"] in missing:
            assert f"failed {record['slug']}: not found" in first.stderr
            assert got["repo_forks"] == record.get("repo_forks", 0)  # the old values kept
            continue
        want = before_push[record["slug"]]
        for name in ("repo_url", "repo_watchers", "repo_forks", "repo_description", "commits_over_52",
                     "participants"):
            assert got[name] == want[name], (record["repo_url"], name)
        assert parse_datetime(got["last_updated"]) == parse_datetime(want["last_updated"])
        assert got["facts"]["commit_count"] == before_counts[record["slug"]], record["repo_url"]
    for record in GITHUB_RECORDS:
        repo = world.repo(parse_repo_url(record["repo_url"]).full_name)
        assert exported[record["slug"]]["repo_watchers"] == repo.stars

    # Nothing changed: only conditional requests, at most one per resource read (Forgejo: exactly one request per
    # repository, answered in full), and no record changed.
    assert all(entry.conditional for entry in warm if entry.kind != "forgejo"), [e for e in warm if not e.conditional]
    per_repo: dict[tuple[str, str], list[str]] = {}
    for entry in warm:
        per_repo.setdefault((entry.host, entry.repo), []).append(entry.resource)
    for (host, _), resources in per_repo.items():
        kind = world.forges.hosts[host].kind
        assert sorted(resources) == WARM_RESOURCES[kind], (host, resources)
    forgejo = [r for r in present if world.forges.hosts[parse_repo_url(r["repo_url"]).host].kind == "forgejo"]
    assert len(forgejo) >= 4 and len([e for e in warm if e.kind == "forgejo"]) == len(forgejo)
    assert {slug: {k: v for k, v in r.items() if k != "last_fetched"} for slug, r in again.items()} == \
        {slug: {k: v for k, v in r.items() if k != "last_fetched"} for slug, r in exported.items()}
    assert second.returncode == first.returncode, second.stderr

    # After new commits: every record right again, and only the new commits listed on every forge.
    assert third.returncode == first.returncode, third.stderr
    for record in present:
        want = world.forges.expected(record["repo_url"])
        got = pushed[record["slug"]]
        assert (got["commits_over_52"], got["participants"]) == (want["commits_over_52"], want["participants"])
        assert parse_datetime(got["last_updated"]) == parse_datetime(want["last_updated"]), record["repo_url"]
        # The new commits added to the kept count (Forgejo: its total read again with the newest commit).
        assert got["facts"]["commit_count"] == world.forges.expected_commit_count(record["repo_url"])
        assert got["facts"]["commit_count"] > before_counts[record["slug"]]
    for host in ("gitlab.com", "gitlab.example.org", "codeberg.org", "git.example.org", "bitbucket.org"):
        listed = [e.items for e in pushed_log if e.host == host and e.resource == "commits" and e.status == 200]
        repos = sum(1 for r in present if parse_repo_url(r["repo_url"]).host == host)
        # Per repository: the newest commit (one), then the three new ones.
        assert sum(listed) == repos * (1 + 3), (host, listed)
    # GitLab's commit count came from each head's sequence once, cold; after the push it was added to.
    assert not [e for e in pushed_log if e.resource == "sequence"]


def _missing(world, record) -> bool:
    try:
        world.forges.repo(record["repo_url"])
    except KeyError:
        return True
    return False
