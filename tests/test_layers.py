"""The package's layers: model < runs < analysis < report < cli, no import cycles, a light ``import sim``.

Imports are read from the source with ``ast``, at module level and inside functions alike (an import
inside a function is still a dependency); imports under ``if TYPE_CHECKING:`` are left out.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import sim

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("model", "runs", "analysis", "report", "cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The modules of the package that ``path`` imports (``from a import b`` counts ``a.b`` if a module)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return {name for name in found if name in modules}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    paths = sorted((ROOT / "sim").rglob("*.py"))
    modules = {module_name(p) for p in paths}
    # A package's own __init__ is loaded with any of its modules: importing it says nothing of layers.
    return {
        module_name(p): {m for m in imports_of(p, modules) if not module_name(p).startswith(m + ".")}
        for p in paths
    }


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else -1


def test_every_module_belongs_to_a_layer(graph):
    assert [m for m in graph if layer(m) < 0] == ["sim"]


def test_modules_import_only_their_own_layer_or_those_below(graph):
    upward = sorted(
        (module, imported)
        for module, imported_modules in graph.items()
        for imported in imported_modules
        if module != "sim" and layer(imported) > layer(module)
    )
    assert upward == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_no_import_cycles_between_files(graph):
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_public_name_resolves():
    assert sorted(sim.__all__) == sorted(set(sim.__all__))
    for name in sim.__all__:
        assert getattr(sim, name) is not None, name
    with pytest.raises(AttributeError):
        _ = sim.no_such_name


def _loaded_after(statement: str) -> set[str]:
    code = f"{statement}; import sys; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


HEAVY = {"hydra", "pandas", "matplotlib"}


def test_import_sim_loads_neither_hydra_pandas_nor_matplotlib():
    assert HEAVY & _loaded_after("import sim") == set()


def test_import_sim_model_loads_neither_hydra_pandas_nor_matplotlib():
    assert HEAVY & _loaded_after("import sim, sim.model.schemas") == set()


def test_cli_loads_no_heavy_module_until_the_work_starts():
    # What a configuration error costs: the dispatcher, the command's module and Hydra, nothing more.
    loaded = _loaded_after("import sim.cli, sim.cli.run, sim.cli.compare, sim.cli.collect, sim.cli.phase")
    assert {"pandas", "matplotlib", "mesa", "pyabc", "SALib", "distributed"} & loaded == set()
