"""examples/systemd/: units systemd accepts, hardened yet able to write the store, whose commands are fetcher's own,
with the tokens in an environment file of placeholders; and no token written into a crontab of the docs."""

import configparser
import re
import shlex
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from fetcher import config
from fetcher.cli import cli
from tests.conftest import ROOT

UNITS = ROOT / "examples" / "systemd"
FETCHER = "/srv/fetcher/.venv/bin/fetcher"  # where the units expect the README's clone and its .venv
ENV_FILE = "/etc/fetcher/fetcher.env"
SERVICES = ("fetcher-sync.service", "fetcher-serve.service")


def unit(name: str) -> configparser.ConfigParser:
    """A unit file read as systemd reads its simple lines: sections, NAME=value, comments."""
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",), comment_prefixes=("#", ";"))
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read_string((UNITS / name).read_text(encoding="utf-8"), source=name)
    return parser


def test_the_examples_are_the_two_services_the_timer_and_the_environment_file():
    assert sorted(path.name for path in UNITS.iterdir()) == sorted([*SERVICES, "fetcher-sync.timer", "fetcher.env"])


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_is_hardened_and_writes_only_its_state_directory(name):
    service = unit(name)["Service"]

    assert service["User"] == "fetcher" and "DynamicUser" not in service
    assert service["StateDirectory"] == "fetcher" and service["WorkingDirectory"] == "/var/lib/fetcher"
    assert service["ProtectSystem"] == "strict"  # read-only everywhere but StateDirectory=
    assert "ReadWritePaths" not in service and "ReadWriteDirectories" not in service
    assert service["ProtectHome"] == "yes" and service["PrivateTmp"] == "yes" and service["PrivateDevices"] == "yes"
    assert service["NoNewPrivileges"] == "yes" and service["CapabilityBoundingSet"] == ""
    assert set(service["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    assert service["SystemCallFilter"] == "@system-service"
    assert service["KillSignal"] == "SIGTERM"  # fetcher stops cleanly on it


def test_the_sync_is_quiet_reads_its_tokens_from_the_environment_file_and_cannot_hang_forever():
    service = unit("fetcher-sync.service")["Service"]

    assert service["Type"] == "oneshot"
    assert shlex.split(service["ExecStart"]) == [FETCHER, "--quiet", "sync"]
    assert service["EnvironmentFile"] == ENV_FILE
    assert "TOKEN" not in "".join(f"{key}={value}" for key, value in service.items() if key != "EnvironmentFile")
    assert service["TimeoutStartSec"] == "3h"


def test_the_server_restarts_on_failure_logs_json_and_holds_no_token():
    parsed = unit("fetcher-serve.service")
    service = parsed["Service"]

    assert shlex.split(service["ExecStart"]) == [FETCHER, "--log-format", "json", "serve", "--host", "127.0.0.1",
                                                 "--port", "8000"]  # fmt: skip
    assert service["Restart"] == "on-failure" and service["RestartPreventExitStatus"] == "2"  # usage, config, store
    assert "EnvironmentFile" not in service  # it reads the store and asks no host
    assert parsed["Install"]["WantedBy"] == "multi-user.target"


def test_the_timer_starts_the_sync_every_hour_a_little_late_at_random_and_makes_up_a_missed_run():
    parsed = unit("fetcher-sync.timer")
    timer = parsed["Timer"]

    assert timer["OnCalendar"] == "hourly"
    assert timer["RandomizedDelaySec"] == "15min"
    assert timer["Persistent"] == "true"
    assert "Unit" not in timer  # so it starts fetcher-sync.service, its namesake
    assert parsed["Install"]["WantedBy"] == "timers.target"


@pytest.mark.parametrize("name, command", [("fetcher-sync.service", "sync"), ("fetcher-serve.service", "serve")])
def test_each_command_line_is_one_fetcher_takes(name, command):
    """Every option of ExecStart, global and the command's own, as fetcher's own parser reads it."""
    argv = shlex.split(unit(name)["Service"]["ExecStart"])
    assert argv[0] == FETCHER and command in argv
    if command not in cli.commands:
        pytest.skip(f"fetcher {command} is not a command of this checkout yet")

    result = CliRunner().invoke(cli, [*argv[1:], "--help"], prog_name="fetcher")

    assert result.exit_code == 0, result.output  # an unknown option or value would be a usage error, 2
    assert result.output.startswith(f"Usage: fetcher {command} ")


def test_the_environment_file_holds_placeholders_for_the_token_variables_fetcher_reads():
    lines = (UNITS / "fetcher.env").read_text(encoding="utf-8").splitlines()
    settings = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]

    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*=", line) for line in settings), settings  # empty: never a token
    defaults = {config.DEFAULTS["github"]["token_env"][0], *(h["token_env"] for h in config.BUILTIN_HOSTS.values())}
    assert {line.removesuffix("=") for line in settings} == defaults


def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    # verify checks that ExecStart= names an executable: the units as shipped, their fetcher made one that exists.
    for path in UNITS.iterdir():
        if path.suffix in (".service", ".timer"):
            (tmp_path / path.name).write_text(path.read_text(encoding="utf-8").replace(FETCHER, sys.executable),
                                              encoding="utf-8")  # fmt: skip
    units = sorted(str(path) for path in tmp_path.iterdir())

    verified = subprocess.run([analyze, "verify", *units], capture_output=True, text=True, timeout=120, cwd=tmp_path)

    # An unknown key is only a warning to systemd (exit 0): any word from it is a failure here.
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")


def cron_lines() -> list[str]:
    lines = []
    for page in (ROOT / "README.md", ROOT / "docs" / "operations.md"):
        blocks = re.findall(r"^```cron\n(.*?)^```", page.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)
        lines += [line for block in blocks for line in block.splitlines() if line.strip()]
    return lines


def test_no_crontab_of_the_docs_holds_a_token_and_the_sync_reads_them_from_the_environment_file():
    lines = cron_lines()
    assert lines, "the README and docs/operations.md show a crontab"
    assert [line for line in lines if re.search(r"TOKEN\w*=", line)] == []
    syncs = [line for line in lines if re.search(r"fetcher\b.* sync\b", line)]
    assert syncs and all(f"set -a && . {ENV_FILE} && set +a && " in line for line in syncs), syncs


def test_the_readme_installs_the_units_in_two_lines_from_files_that_exist():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## systemd\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert section, "README.md has no '## systemd' section"
    [install] = re.findall(r"^```sh\n(.*?)^```", section.group(1), re.MULTILINE | re.DOTALL)

    assert len(install.splitlines()) == 2
    named = re.findall(r"examples/systemd/(\S+)", install)
    assert named and all(list(UNITS.glob(pattern)) for pattern in named), named
    assert {path.name for pattern in named for path in UNITS.glob(pattern)} == {path.name for path in UNITS.iterdir()}
    assert f"install -D -m 0600 -o root -g root examples/systemd/fetcher.env {ENV_FILE}" in install
    assert "enable --now fetcher-sync.timer fetcher-serve.service" in install
