"""The worker bench (bench/fleet.py): its counting over a recorded request log, and one tiny run on a real store."""

import json

import bench.fleet as fleet_cli
from bench.fleet import Settings, fleet
from bench.fleet_count import Lowest, Names, asked_packages, count_duplicates, spend_of
from fetcher.standin import Logged, StandIn, World
from fetcher.standin.names import github_full_name


def _world():
    world, records = World.generate(50, seed=0, cold_stats=0)
    return world, records, Names(world, records)


def _get(path: str, status: int = 200) -> Logged:
    return Logged("GET", path, status, True, True)


def test_a_package_asked_twice_is_counted_and_a_client_s_rightful_re_asks_are_not():
    world, records, names = _world()
    a, b, c = (github_full_name(records[n]["repo_url"]) for n in (0, 1, 2))
    renamed = next(record for record in records if github_full_name(record["repo_url"]).lower() in world.renames)
    old = github_full_name(renamed["repo_url"])
    new = world.repo(old).full_name
    assert old.lower() != new.lower()
    log = [
        _get("/rate_limit"),
        # a: statistics computed (202, asked again), two pages of contributors, PyPI's two pages: once each
        _get(f"/repos/{a}/stats/participation", 202), _get(f"/repos/{a}/stats/participation"),
        _get(f"/repos/{a}/contributors?per_page=100"), _get(f"/repos/{a}/contributors?per_page=100&page=2"),
        _get("/pypi/Django_Pkg0/json", 301), _get("/pypi/django-pkg0/json"), _get("/simple/django-pkg0/"),
        # b: its first page of contributors asked twice, both answered 200
        _get(f"/repos/{b}/contributors?per_page=100"), _get(f"/repos/{b}/contributors?per_page=100"),
        # a renamed repository: the old name's 301, then the new name's answer, is one ask
        _get(f"/repos/{old}/contributors?per_page=100", 301), _get(f"/repos/{new}/contributors?per_page=100"),
        # a server error, then the same ask again: a retry
        _get(f"/repos/{c}/stats/participation", 502), _get(f"/repos/{c}/stats/participation"),
        # c's PyPI project twice, and its repository by id after a 200 by name
        _get("/pypi/django-pkg2/json"), _get("/pypi/django-pkg2/json"),
        _get(f"/repos/{c}/contributors?per_page=100"),
        _get(f"/repositories/{world.repo(c).id}/contributors?per_page=100"),
    ]  # fmt: skip
    # GraphQL: a named in two queries of the same kind; c once with the weekly counts and once without
    graphql = [((a, b), True), ((c,), True), ((c,), False), ((a.upper(),), True)]

    counted = count_duplicates(log, graphql, names)

    assert (counted.repositories, counted.projects, counted.packages, counted.requests) == (3, 1, 3, 4)
    assert counted.examples == ["django-pkg0", "django-pkg1", "django-pkg2"] and counted.excused == 0
    assert count_duplicates(log, graphql, names, in_hand={"django-pkg1", "django-pkg9"}).excused == 1
    clean = [entry for n, entry in enumerate(log) if n not in (9, 15, 17)]
    assert count_duplicates(clean, graphql[:3], names).packages == 0
    # what a worker had asked about by some moment: its requests so far, and the repositories its GraphQL queries named
    assert asked_packages(log[:3], [((old,), True)], names) == {"django-pkg0", renamed["slug"]}


def test_each_token_s_lowest_remaining_is_sampled_and_held_against_the_reserve():
    world, _, _ = _world()
    with StandIn(world, tokens={"t1": 10, "t2": 10}) as standin:
        lowest = Lowest(standin, {"FLEET_TOKEN_1": "t1", "FLEET_TOKEN_2": "t2"})
        lowest.sample()
        for _ in range(3):
            standin.budgets.charge(True, "Bearer t1")
        standin.budgets.spend_graphql("Bearer t2", 4, 1)
        lowest.sample()
        standin.refill()  # a later window does not raise the lowest seen
        lowest.sample()
    assert lowest.lowest == {"FLEET_TOKEN_1": (7, 10), "FLEET_TOKEN_2": (10, 6)}
    kept = spend_of(lowest.lowest, 10, 6, runs=2, run_points=7, standin_points=7)
    assert kept.kept and [(t.variable, t.lowest_core, t.lowest_graphql) for t in kept.tokens] == [
        ("FLEET_TOKEN_1", 7, 10), ("FLEET_TOKEN_2", 10, 6)]
    assert not spend_of(lowest.lowest, 10, 7, runs=2, run_points=7, standin_points=7).kept


def test_a_tiny_run_of_one_and_two_workers_fetches_each_package_once_and_keeps_the_reserve(postgres_server, tmp_path):
    out = tmp_path / "fleet.json"
    settings = Settings(packages=30, workers=(1, 2), latency=0.0, stats_delay=0.0, concurrency=4, kill_workers=0,
                        spend_points=30, spend_workers=2, reserve=10, small=0, postgres_url=postgres_server,
                        timeout=300)  # fmt: skip

    assert fleet(settings, out) == 0

    result = json.loads(out.read_text())
    assert result["complete"] and result["error"] is None
    passes = {(p["case"], p["workers"]): p for p in result["passes"]}
    assert set(passes) == {("throughput", 1), ("throughput", 2), ("spend", 2)}
    for p in passes.values():
        assert p["duplicates"]["packages"] == 0, p["duplicates"]
        assert p["requests"] > 0 and all(run["exit_code"] in (0, 1, 75) for run in p["runs"])
        assert len(p["runs"]) == p["workers"]
    missing = passes["throughput", 1]["world"]["missing"]
    for workers in (1, 2):
        p = passes["throughput", workers]
        assert p["attempted"] == 30 and p["written"] == 30 - missing  # a missing repository fails, as it should
    assert passes["throughput", 1]["runs"][0]["packages"] == 30
    spend = passes["spend", 2]["spend"]
    assert spend["kept"] and spend["reserve"] == 10 and len(spend["tokens"]) == 2
    assert all(10 <= token["lowest_core"] < 30 for token in spend["tokens"])  # spent, and never past the reserve
    assert spend["run_points"] == spend["standin_points"] > 0
    assert passes["spend", 2]["written"] < 30  # the budgets, not the catalogue, ended the pass
    assert "| throughput | 2 " in result["table"]


def test_a_killed_worker_loses_nothing_and_what_it_left_is_fetched_once_its_lease_has_passed(
        postgres_server, tmp_path, monkeypatch):  # fmt: skip
    killed = []

    def lease_passed(store, pid, timeout):
        """The lease's time passing without the wait: the killed worker's lease and claims end now."""
        past = "2000-01-01T00:00:00.000000+00:00"
        killed.append(store.worker(pid))
        store.conn.execute("UPDATE claim SET claimed_until = %s WHERE claimed_by IN (SELECT id FROM worker WHERE "
                           "pid = %s)", (past, pid))  # fmt: skip
        store.conn.execute("UPDATE worker SET alive_until = %s WHERE pid = %s", (past, pid))

    monkeypatch.setattr(fleet_cli, "wait_out_lease", lease_passed)
    out = tmp_path / "fleet.json"
    settings = Settings(packages=60, workers=(), latency=0.02, stats_delay=0.0, concurrency=2, kill_workers=2,
                        spend_points=0, small=0, postgres_url=postgres_server, timeout=300)  # fmt: skip

    assert fleet(settings, out) == 0

    (p,) = json.loads(out.read_text())["passes"]
    kill = p["kill"]
    assert p["case"] == "kill" and kill is not None
    runs = {run["pid"]: run for run in p["runs"]}
    assert runs[kill["killed_pid"]]["killed"] and sum(run["killed"] for run in runs.values()) == 1
    assert 30 <= kill["written_at_kill"] < 60
    if kill["left_when_others_ended"]:
        assert killed and killed[0] is not None  # the killed process had its worker row
        assert kill["follow_up_exit"] in (0, 1) and kill["follow_up_packages"] >= kill["left_when_others_ended"]
    else:  # the others waited out its lease and took what it had claimed: nothing for a follow-up
        assert kill["follow_up_exit"] is None
    assert (kill["lost"], kill["not_whole"], kill["left_at_end"]) == (0, 0, 0)
    assert p["attempted"] == 60 and p["written"] == 60 - p["world"]["missing"]
    assert p["duplicates"]["packages"] == p["duplicates"]["excused"] <= kill["in_hand"]


def test_the_command_line_reads_its_options(monkeypatch):
    asked = {}
    monkeypatch.setattr(fleet_cli, "fleet", lambda settings, path: asked.update(settings=settings, path=path) or 0)

    assert fleet_cli.main(["--packages", "2000", "--workers", "1,2", "--small", "5000"]) == 0

    settings = asked["settings"]
    assert (settings.packages, settings.workers, settings.latency) == (2000, (1, 2), 0.05)
    assert settings.small == 0 and asked["path"] is None  # a "small" catalogue no smaller than --packages: none
