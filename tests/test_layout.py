"""The house's rules, as the code stands: small modules, GitHub's wing kept to itself, one place that opens an HTTP
client, no host named by the run loop or the transport, nothing importing upward, and ARCHITECTURE.md naming every
module."""

import ast
import re
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "fetcher"
MAX_LINES = 400
# Who may import what: each package of fetcher and the packages it may not reach into.
NOT_UPWARD = {
    "fetcher.net": ("fetcher.hosts", "fetcher.run", "fetcher.store", "fetcher.show", "fetcher.cli", "fetcher.check",
                    "fetcher.serve"),
    "fetcher.hosts": ("fetcher.run", "fetcher.store", "fetcher.cli", "fetcher.check", "fetcher.serve"),
    "fetcher.store": ("fetcher.net", "fetcher.hosts", "fetcher.run", "fetcher.show", "fetcher.cli", "fetcher.serve"),
    "fetcher.run": ("fetcher.show", "fetcher.cli", "fetcher.check", "fetcher.serve"),
    "fetcher.show": ("fetcher.net", "fetcher.hosts", "fetcher.run", "fetcher.cli", "fetcher.serve"),
    # The server reads the store and prints as show does; it asks no host and runs no sync.
    "fetcher.serve": ("fetcher.net", "fetcher.hosts", "fetcher.run", "fetcher.cli", "fetcher.check"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
OWN = {name: path for name, path in MODULES.items() if not name.startswith("fetcher.standin")}


def imported(path: Path) -> set[str]:
    """Every module a file imports, at any depth; `from pkg import sub` counts as an import of `pkg.sub`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            subs = {f"{node.module}.{alias.name}" for alias in node.names} & MODULES.keys()
            found |= subs or {node.module}
    return found


def test_no_module_of_fetcher_is_over_400_lines():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}
    assert {name: size for name, size in sizes.items() if size > MAX_LINES} == {}


def test_only_the_host_registry_imports_githubs_wing_from_outside_it():
    reaching = {name for name, path in OWN.items()
                if not name.startswith("fetcher.hosts.github") and name != "fetcher.hosts.registry"
                and any(module.startswith("fetcher.hosts.github") for module in imported(path))}
    assert reaching == set()


def test_only_the_transport_opens_an_http_client():
    opening = re.compile(r"\bhttpx\.(?:Async)?Client\(|\bAsyncClient\(")
    assert {name for name, path in OWN.items()
            if opening.search(path.read_text(encoding="utf-8")) and not name.startswith("fetcher.net")} == set()


def test_the_run_loop_and_the_transport_name_no_host():
    hosts = re.compile(r"\b(?:GitHub|GitLab|Forgejo|Bitbucket|github|gitlab|forgejo|bitbucket)\b")
    for name in ("fetcher.run.loop", "fetcher.run.work", "fetcher.run.fetch", "fetcher.run.plan",
                 *(module for module in OWN if module.startswith("fetcher.net"))):
        code = "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in OWN[name].read_text(encoding="utf-8").splitlines())
        code = re.sub(r'"""(?:.|\n)*?"""', "", code)  # comments and docstrings may explain by example
        assert not hosts.search(code), f"{name} names a host: {hosts.search(code).group(0)}"


def test_nothing_imports_upward():
    wrong = {}
    for name, path in OWN.items():
        for package, forbidden in NOT_UPWARD.items():
            if name.startswith(package + ".") or name == package:
                bad = {module for module in imported(path) if module.startswith(forbidden)}
                if bad:
                    wrong[name] = sorted(bad)
    assert wrong == {}


def test_architecture_names_every_module_of_fetcher():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([\w/]+\.py)`", text))
    missing = []
    for name, path in OWN.items():
        if path.name in ("__init__.py", "__main__.py"):
            continue
        relative = path.relative_to(PACKAGE)
        within = path.relative_to(PACKAGE / relative.parts[0]) if len(relative.parts) > 1 else relative
        if not {str(relative), str(within), path.name} & named:
            missing.append(str(relative))
    assert missing == []
