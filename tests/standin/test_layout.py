"""The stand-in's shape: small modules of one job each, no import cycle, no private name imported across modules,
nothing of fetcher's own but the config check, and no Nagle delay on its answers."""

import ast
from pathlib import Path

from fetcher.standin.handler import Handler
from tests.conftest import ROOT

PACKAGE = ROOT / "fetcher" / "standin"
MAX_LINES = 400
# What the stand-in may use of fetcher itself: enough to check that the config it prints is one fetcher reads.
FETCHER_ALLOWED = {"fetcher.config", "fetcher.errors"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) for every import in the file, at any depth (functions, TYPE_CHECKING blocks included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            found.append((node.module or "", [alias.name for alias in node.names]))
    return found


def edges(name: str) -> set[str]:
    """The stand-in modules ``name`` imports: ``from pkg import sub`` is an import of ``pkg.sub``."""
    targets = set()
    for module, names in imports(MODULES[name]):
        if not module.startswith("fetcher.standin"):
            continue
        submodules = {f"{module}.{item}" for item in names} & MODULES.keys()
        targets |= submodules or {module}
        if len(submodules) < len(names):
            targets.add(module)
    return targets - {name}


def test_no_module_of_the_standin_is_over_400_lines():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}
    assert {name: size for name, size in sizes.items() if size > MAX_LINES} == {}


def test_the_standin_has_no_import_cycle():
    graph = {name: edges(name) for name in MODULES}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(name) :], name]))
        if name in done:
            return
        for target in sorted(graph.get(name, ())):
            visit(target, [*path, name])
        done.add(name)

    for name in MODULES:
        visit(name, [])


def test_no_module_imports_what_a_facade_gathers():
    # fetcher.standin and fetcher.standin.forges gather the public names; a module inside imports the module itself.
    facades = {"fetcher.standin", "fetcher.standin.forges"}
    for name in MODULES.keys() - facades:
        assert not edges(name) & facades, f"{name} imports from a facade"


def test_no_private_name_is_imported_from_the_standin():
    users = [*PACKAGE.rglob("*.py"), *(ROOT / "tests").glob("*.py"), *(ROOT / "bench").glob("*.py")]
    private = [
        f"{path.relative_to(ROOT)}: {module}.{item}"
        for path in users
        for module, names in imports(path)
        if module.startswith("fetcher.standin")
        for item in names
        if item.startswith("_")
    ]
    assert private == []


def test_the_standin_uses_nothing_of_fetcher_but_the_config_check():
    used = {
        module
        for path in MODULES.values()
        for module, _ in imports(path)
        if module.split(".")[0] == "fetcher" and not module.startswith("fetcher.standin")
    }
    assert used <= FETCHER_ALLOWED


def test_answers_go_out_without_waiting_for_a_delayed_ack():
    # http.server writes the headers and the body separately: with Nagle's algorithm on, a kept-alive
    # connection's body waits for the client's delayed ACK (about 40 ms) before it is sent.
    assert Handler.disable_nagle_algorithm is True
