"""The file list is the architecture: layered subpackages, no import cycles, no private reach-ins.

Every module of the package (``zeroevo/``, ``primitives/``, ``spaces/``, ``cli.py``; the
last three install as ``zeroevo.primitives``, ``zeroevo.spaces``, ``zeroevo.cli``) is parsed,
and every import in it (module level or inside a function; ``TYPE_CHECKING`` ones too)
becomes an edge of a graph. The tests require that graph to have no cycle, every edge to
go down the layers (or stay inside one subpackage), and no module to import another's
private (``_name``) names.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Lower layers never import higher ones; subpackages on one layer never import each other.
LAYERS = [
    {"core"},                                   # engine, protocols, registry, rng, config machinery
    {"data", "primitives", "dispatch"},         # image files; kernels and torch blocks; where requests run
    {"spaces"},                                 # genome kinds
    {"programs", "neural"},                     # one genome family's search, evaluation, tasks
    {"runs"},                                   # run directories, logs, snapshots, presets, start/resume
    {"analysis"},                               # reading runs; the `analyze` commands
    {"api", "cli", "protocols", "registry", "tasks"},  # the public surface
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _module_files() -> dict[str, Path]:
    files = {"zeroevo.cli": ROOT / "cli.py"}
    for top, prefix in (("zeroevo", "zeroevo"), ("primitives", "zeroevo.primitives"), ("spaces", "zeroevo.spaces")):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT / top).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            files[".".join([prefix, *parts])] = path
    return files


FILES = _module_files()
PACKAGES = {name for name, path in FILES.items() if path.name == "__init__.py"}


def _resolve(name: str) -> str | None:
    """The module ``name`` refers to, or its nearest enclosing module of ours."""
    while name and name not in FILES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> list[tuple[str, list[str], int]]:
    """``(target module, names imported from it, line)`` for every import of ``module``."""
    tree = ast.parse(FILES[module].read_text())
    package = module if module in PACKAGES else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((a.name, [], node.lineno) for a in node.names if a.name.startswith("zeroevo"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if not base.startswith("zeroevo"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                # `from pkg import submodule` is an import of the submodule itself.
                out.append((sub, [], node.lineno) if sub in FILES else (base, [alias.name], node.lineno))
    return [(t, names, line) for t, names, line in ((_resolve(t), n, ln) for t, n, ln in out) if t]


GRAPH = {m: sorted({t for t, _, _ in _imports(m) if t != m}) for m in FILES}


def _group(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "api"


def _cycles() -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def test_every_module_imports():
    for name in FILES:
        importlib.import_module(name)


def test_every_imported_name_exists():
    # Imports inside functions run late: a renamed module or name would only fail there.
    missing = []
    for module in FILES:
        for target, names, line in _imports(module):
            live = importlib.import_module(target)
            missing += [f"{module}:{line}: {target}.{n}" for n in names if not hasattr(live, n)]
    assert missing == []


def test_the_registry_finds_every_builtin():
    from zeroevo.core.registry import BUILTIN_MODULES, space_names

    assert set(BUILTIN_MODULES) <= set(FILES)
    assert {"program", "layers", "nasnet"} <= set(space_names())


def test_no_import_cycles():
    assert _cycles() == []


def test_imports_go_down_the_layers():
    wrong = []
    for module, targets in GRAPH.items():
        g = _group(module)
        for t in targets:
            h = _group(t)
            if h == g or t == "zeroevo":
                continue
            if g not in RANK or h not in RANK:
                wrong.append(f"{module} -> {t}: {g if g not in RANK else h} is in no layer")
            elif RANK[h] >= RANK[g]:
                wrong.append(f"{module} -> {t}")
    assert wrong == []


def test_no_private_names_from_other_modules():
    wrong = []
    for module in FILES:
        for target, names, line in _imports(module):
            if target != module:
                wrong += [f"{module}:{line} imports {n} from {target}" for n in names if n.startswith("_")]
        tree = ast.parse(FILES[module].read_text())
        aliases = {a.asname or a.name.rpartition(".")[2]: a.name for node in ast.walk(tree)
                   if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("zeroevo")
                   for a in node.names if f"{node.module}.{a.name}" in FILES}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_") and not node.attr.startswith("__")):
                wrong.append(f"{module}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert wrong == []


@pytest.mark.parametrize("package", sorted(p for p in PACKAGES if p.count(".") == 1))
def test_each_subpackage_says_what_it_is(package):
    module = importlib.import_module(package)
    assert (module.__doc__ or "").strip(), f"{package}/__init__.py needs a docstring"


def import_graph_text() -> str:
    """The graph by layer, one line per subpackage and what it imports (for docs and notes)."""
    deps: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        deps.setdefault(_group(module), set()).update(_group(t) for t in targets if _group(t) != _group(module)
                                                      and t != "zeroevo")
    return "\n".join(f"{g:<11} -> {', '.join(sorted(deps.get(g, ()))) or '(nothing)'}"
                     for layer in LAYERS for g in sorted(layer) if g in deps)


if __name__ == "__main__":
    print(import_graph_text())
    print("cycles:", _cycles() or "none")
