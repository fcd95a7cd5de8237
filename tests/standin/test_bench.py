"""The README's "Try it without the network": the stand-in from the command line; a bench that writes when asked."""

import json
import os
import subprocess
import sys

import bench.__main__ as bench_cli
from bench.run import Results, Settings
from tests.conftest import ROOT



def test_the_standin_prints_a_config_that_a_sync_of_its_generated_catalogue_uses(tmp_path):
    catalogue = tmp_path / "catalog.json"
    standin = subprocess.Popen(
        [sys.executable, "-m", "fetcher.standin", "--packages", "8", "--catalogue-out", str(catalogue), "--port", "0",
         "--latency", "0.001", "--rate-limit", "700", "--stats-delay", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        lines = []
        while not lines or not lines[-1].startswith("url = "):  # the config ends with PyPI's URL
            lines.append(standin.stdout.readline().rstrip("\n"))
            assert lines[-1] or standin.poll() is None, standin.stderr.read()
        config = tmp_path / "config.toml"
        config.write_text("\n".join(lines) + "\n")
        env = {k: v for k, v in os.environ.items() if k != "FETCHER_CONFIG"} | {"GITHUB_TOKEN": "any-token-will-do"}

        def fetcher(*args):
            return subprocess.run([sys.executable, "-m", "fetcher", "--config", str(config), *args],
                                  capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)  # fmt: skip

        imported, synced, checked = fetcher("import", str(catalogue)), fetcher("sync"), fetcher("check")
    finally:
        standin.terminate()
        standin.wait(timeout=10)

    assert lines[0].startswith("# fetcher against the stand-in at http://127.0.0.1:")
    assert len(json.loads(catalogue.read_text())) == 8
    assert imported.returncode == 0, imported.stderr
    assert synced.returncode in (0, 1), synced.stderr  # a generated world may hold a missing repository
    assert "8 of 8 packages" in synced.stdout
    assert checked.returncode == 0 and "core 700 of 700 left" not in checked.stdout  # the sync spent some
    assert "of 700 left" in checked.stdout


def test_the_bench_writes_results_only_when_asked(monkeypatch, tmp_path):
    asked = {}

    def bench(settings, path):
        asked["path"] = path
        return 0

    monkeypatch.setattr(bench_cli, "bench", bench)

    bench_cli.main(["--packages", "10"])
    assert asked["path"] is None
    asked.clear()
    bench_cli.main(["--packages", "10", "--json", str(tmp_path / "r.json")])
    assert asked["path"] == tmp_path / "r.json"

    table = Results(Settings(packages=10), None).write(complete=True)
    assert table.startswith("10 packages") and list(tmp_path.iterdir()) == []


def test_the_printed_config_is_one_this_fetcher_reads():
    from fetcher.standin import config_for, fetcher_reads

    assert fetcher_reads(config_for("http://127.0.0.1:8765"))
    assert not fetcher_reads(config_for("http://127.0.0.1:8765") + "\n[nonsense]\nkey = 1\n")
