"""README.md stays true: short, its links resolve, and every console example is what a real run prints.

The README's "Try it without the network" block is run as it is written, in bash, from a directory laid out
like a fresh clone; then every `$ fetcher ...` line of its `console` blocks, in order, in the same shell. What
each prints (stdout and stderr, as on a terminal) is compared with the lines under it in the README after
MASKS, which hide only what must differ between two runs: times, dates, durations, ports, paths, byte sizes.
A changed count, slug or word fails the test.
"""

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from tests.conftest import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_LINES = 350


# The stand-in, the one place this file names it.
def standin_command() -> list[str]:
    """How to start fetcher-standin with this interpreter (the README runs the installed script of that name)."""
    return [sys.executable, "-m", "fetcher.standin"]


# Only what must vary between two runs is masked; each pattern is replaced wherever it occurs, in this order.
MASKS = [
    (re.compile(r"(?<![\w.:/~-])/(?:[^\s/()'\"]+/)+"), "<dir>/"),  # an absolute path, up to its file name
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?: UTC|Z|[+-]\d\d:\d\d)?"), "<time>"),
    (re.compile(r"\d{4}-\d\d-\d\d"), "<date>"),
    (re.compile(r"\bjust now\b|\bin \d+ (?:year|month|week|day|hour|minute)s?\b"
                r"|\b\d+ (?:year|month|week|day|hour|minute)s? ago\b"), "<when>"),  # fmt: skip
    (re.compile(r"\b\d+(?:\.\d+)?s\b"), "<seconds>"),
    (re.compile(r"\b\d+(?:\.\d+)? (?:bytes|kB|MB|GB)\b"), "<size>"),
]
SESSION_TIMEOUT = 900  # seconds for the whole session: generous, a busy machine is slow but never wrong


def mask(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


# --- reading the Markdown ---------------------------------------------------------------------------------------

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def blocks(text: str, language: str) -> list[str]:
    return [body for lang, body in _FENCE.findall(text) if lang == language]


def prose(text: str) -> str:
    """The text without fenced blocks and inline code, where a link is a link."""
    text = _FENCE.sub("", text)
    return re.sub(r"`[^`\n]*`", "", text)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for _, heading in _HEADING.findall(_FENCE.sub("", text)):
        base = anchor(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def links(text: str) -> list[str]:
    return _LINK.findall(prose(text))


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


# --- the shape of the README --------------------------------------------------------------------------------------


def test_the_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_LINES, f"README.md has {len(lines)} lines; at most {MAX_LINES}: move detail to docs/"


def test_the_table_of_contents_names_every_section_and_each_link_finds_its_heading():
    text = README.read_text(encoding="utf-8")
    contents = re.search(r"^## Contents\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert contents, "README.md has no '## Contents' section"
    listed = re.findall(r"^\s*[-*] \[[^\]]+\]\(#([^)]+)\)", contents.group(1), re.MULTILINE)
    assert listed, "the table of contents links to no section"
    present = anchors(text)
    assert [name for name in listed if name not in present] == []
    sections = [anchor(h) for level, h in _HEADING.findall(_FENCE.sub("", text)) if level == "##" and h != "Contents"]
    assert [name for name in sections if name not in listed] == [], "a section the table of contents leaves out"


def test_every_relative_link_points_to_a_file_and_heading_that_exist():
    broken = []
    for page in markdown_files():
        for target in links(page.read_text(encoding="utf-8")):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
                continue
            path, _, fragment = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif fragment and file.suffix == ".md" and fragment not in anchors(file.read_text(encoding="utf-8")):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert broken == []


def test_the_readme_gives_the_test_command_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = next(line for line in ci.splitlines() if line.startswith("python3 -m venv"))
    assert command in README.read_text(encoding="utf-8").splitlines()


# --- the console examples, run -----------------------------------------------------------------------------------


class Example:
    """One `$ fetcher ...` line of a console block, with the exit code its comment states and the lines under it."""

    def __init__(self, line: str, output: list[str]):
        self.line = line
        command, _, comment = line.partition(" # ")
        stated = re.search(r"\bexit (?:code )?(\d+)", comment)
        self.exit_code = int(stated.group(1)) if stated else 0
        words = shlex.split(command)
        assert words[0] == "fetcher", f"a console example runs fetcher, not {line!r}"
        allowed = re.fullmatch(r"[^|>]*(?:\| head -n \d+|> [\w.-]+)?", command.strip())
        assert allowed, f"a console example may only add '| head -n N' or '> FILE': {line!r}"
        self.output = output


def examples(text: str) -> list[Example]:
    found = []
    for body in blocks(text, "console"):
        current: list[str] | None = None
        for line in body.splitlines():
            if line.startswith("$ "):
                current = []
                found.append(Example(line[2:], current))
            else:
                assert current is not None, f"a console block starts with output, not a command: {line!r}"
                current.append(line)
    for example in found:
        while example.output and not example.output[-1].strip():
            example.output.pop()
    return found


def try_it(text: str) -> str:
    """The shell block of "Try it without the network": the commands a person pastes before the examples."""
    section = re.search(r"^## Try it without the network\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert section, "README.md has no '## Try it without the network' section"
    shells = blocks(section.group(1), "sh")
    assert len(shells) == 1, "'Try it without the network' has one sh block"
    return shells[0]


def fresh_clone(where: Path) -> Path:
    """A directory laid out like a fresh clone: examples/, and a .venv whose activate puts fetcher on PATH."""
    clone = where / "clone"
    bin_dir = clone / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (clone / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    commands = {"fetcher": [sys.executable, "-m", "fetcher"], "fetcher-standin": standin_command()}
    for name, argv in commands.items():
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\nPYTHONPATH={shlex.quote(str(ROOT))}${{PYTHONPATH:+:$PYTHONPATH}} "
                          f"exec {shlex.join(argv)} \"$@\"\n")  # this checkout's code, whatever the directory
        script.chmod(0o755)
    (bin_dir / "activate").write_text(f"PATH={shlex.quote(str(bin_dir))}:\"$PATH\"\nexport PATH\n")
    return clone


_MARK = "@@readme-example@@"


def session_script(setup: str, runs: list[Example]) -> str:
    """The Try-it block, then each example in the same shell, its output and exit code after a marker line."""
    lines = ["set -u", setup.rstrip("\n"), f"echo {_MARK} setup done"]
    for number, example in enumerate(runs):
        lines += [f"echo {_MARK} {number}", f"{{ {example.line}\nstatus=${{PIPESTATUS[0]}}; }} 2>&1",
                  f"echo; echo {_MARK} exit $status"]  # fmt: skip (a marker starts its own line)
    lines.append('[ -f standin.pid ] && kill "$(cat standin.pid)"')  # the stand-in, as the README stops it
    return "\n".join(lines) + "\n"


def run_session(text: str, where: Path) -> tuple[list[tuple[list[str], int]], str]:
    """Every example's (output lines, exit code), from one real run of the README's commands; and its stderr."""
    runs = examples(text)
    clone = fresh_clone(where)
    env = {name: value for name, value in os.environ.items()
           if name != "FETCHER_CONFIG" and not name.endswith("_TOKEN") and not name.startswith("GITHUB_TOKEN")}
    env["PYTHONIOENCODING"] = "utf-8"
    shell = subprocess.Popen(
        ["bash", "-c", session_script(try_it(text), runs)], cwd=clone, env=env, text=True, encoding="utf-8",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = shell.communicate(timeout=SESSION_TIMEOUT)
    finally:
        try:  # the stand-in runs in the background of that shell, in its process group: end it with the shell
            os.killpg(shell.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    assert f"{_MARK} setup done" in out, f"the Try-it block did not finish:\n{out}\n{err}"
    results: list[tuple[list[str], int]] = []
    printed: list[str] | None = None
    for line in out.splitlines():
        if line.startswith(_MARK):
            word = line[len(_MARK):].split()
            if word[0] == "exit" and printed is not None:
                while printed and not printed[-1].strip():
                    printed.pop()
                results.append((printed, int(word[1])))
                printed = None
            elif word[0].isdigit():
                printed = []
        elif printed is not None:
            printed.append(line)
    assert len(results) == len(runs), f"{len(results)} of {len(runs)} examples ran:\n{out}\n{err}"
    return results, err


def test_every_console_example_is_what_a_real_run_prints(tmp_path):
    text = README.read_text(encoding="utf-8")
    runs = examples(text)
    assert len(runs) >= 11, "an example for each command"
    named = {next(word for word in example.line.split()[1:] if not word.startswith("-")) for example in runs}
    commands = {"import", "add", "remove", "sync", "refresh", "show", "export", "status", "history", "trending",
                "check"}  # fmt: skip
    assert commands <= named, f"no console example of {sorted(commands - named)}"
    results, stderr = run_session(text, tmp_path)
    wrong = []
    for example, (printed, status) in zip(runs, results):
        if [mask(line.rstrip()) for line in printed] != [mask(line.rstrip()) for line in example.output]:
            wrong.append(f"$ {example.line}\n--- the README says:\n" + "\n".join(example.output)
                         + "\n--- a real run prints:\n" + "\n".join(printed))  # fmt: skip
        if status != example.exit_code:
            wrong.append(f"$ {example.line}\nexits {status}, not {example.exit_code} ('# exit N' says another)")
    assert not wrong, "\n\n".join(wrong) + f"\n\n--- the stand-in's stderr:\n{stderr}"


def test_masks_hide_what_varies_and_nothing_else():
    line = ("sync: 16 of 16 packages in 3.8s, started 2026-12-07 15:24:37 UTC: 16 synced; 98 requests "
            "(http://127.0.0.1:35469/graphql (someone/django-foo)); store /home/you/fetcher/try/packages.db (155.8 kB); "
            "resets 2026-12-07 16:24:36 UTC (in 59 minutes); seen just now; 2019-03-13T17:04:38+00:00 "
            "../examples/packages.json 2026-12-07 7 years ago 812 bytes")  # fmt: skip
    assert mask(line) == (
        "sync: 16 of 16 packages in <seconds>, started <time>: 16 synced; 98 requests "
        "(http://127.0.0.1:<port>/graphql (someone/django-foo)); store <dir>/packages.db (<size>); "
        "resets <time> (<when>); seen <when>; <time> ../examples/packages.json <date> <when> <size>"
    )
    assert mask("16 synced, 0 failed") != mask("17 synced, 0 failed")
    assert mask("django-foo") != mask("django-bar")


# --- keeping the README true: its examples rewritten from a real run -------------------------------------------

SHOWN_CLONE = "/home/you/fetcher"  # how the README writes the directory of the clone its examples ran in


def updated(text: str, where: Path) -> str:
    """`text` with each console example's lines replaced by what a real run prints (the commands kept)."""
    results, _ = run_session(text, where)
    clone = str(where / "clone")
    outputs = iter([[line.rstrip().replace(clone, SHOWN_CLONE) for line in printed] for printed, _ in results])

    def rewrite(match: re.Match) -> str:
        if match.group(1) != "console":
            return match.group(0)
        lines = []
        for line in match.group(2).splitlines():
            if line.startswith("$ "):
                lines += [line, *next(outputs)]
        after = match.group(0)[match.group(0).rindex("```") + 3:]  # the blank lines the fence's match took
        return "```console\n" + "\n".join(lines) + "\n```" + after

    return _FENCE.sub(rewrite, text)


if __name__ == "__main__":  # python -m tests.e2e.test_readme: rewrite README.md's examples from a real run
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        README.write_text(updated(README.read_text(encoding="utf-8"), Path(folder)), encoding="utf-8")
