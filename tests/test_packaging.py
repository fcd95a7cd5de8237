"""What a user installs: fetcher and its subpackages, the stand-in among them, and not the bench."""

import shutil
import subprocess
import sys
import tomllib
import zipfile
from tests.conftest import ROOT


def test_the_wheel_holds_fetcher_and_the_standin_and_not_the_bench(tmp_path):
    # A copy of the checkout, bench/ included, so the build leaves the checkout as it was.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "*.db*"))  # fmt: skip
    assert (source / "bench" / "__main__.py").exists()
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(tmp_path / "wheels"), str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = (tmp_path / "wheels").glob("fetcher-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [entry_points] = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()

    assert not [name for name in names if name.startswith("bench/")]
    assert {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")} == {"fetcher"}
    assert "fetcher/standin/__init__.py" in names
    assert "fetcher/standin/forges/__init__.py" in names
    assert "fetcher/schema.sql" in names
    assert "fetcher-standin = fetcher.standin.cli:main" in scripts
    [license_file] = [name for name in names if name.endswith(".dist-info/licenses/LICENSE")]
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(license_file).decode() == (ROOT / "LICENSE").read_text()


def test_the_license_pyproject_names_is_the_license_the_repository_holds():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    text = (ROOT / "LICENSE").read_text()
    assert declared == "MIT"
    assert text.startswith("MIT License\n\nCopyright (c) ")
    assert "Permission is hereby granted, free of charge, to any person obtaining a copy" in text
