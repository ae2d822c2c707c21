"""Kernel variants: the numba kernels of program evaluation, compiled per configuration.

Compiling the whole interpreter (64 ops, inlined into two harnesses) costs minutes of LLVM
time, most of it for ops a run never meets: the demo uses six. So the kernels that inline
the interpreter (the harnesses, fitness evaluation, the memo and the chunk loop: the
functions named in :data:`TEMPLATES`) are compiled per *variant* = (the ops a configuration
may run, its feature size F, and :class:`KernelFlags`: what else of the evaluation a run can
reach). A variant is a small generated module: a flat interpreter
with only those ops (:func:`~zeroevo.primitives.program.interpreter.execute_source`), ``F``
as a compile-time constant (every F-loop unrolls; the branches for other sizes are left
out), then the template functions' source,
resolving their globals in the variant: verbatim, except that the harnesses get the
interpreter, and ``run_serial`` its task loop, spliced in as text
(:mod:`zeroevo.programs.splice`), and that tests a variant decides at generation time are
folded away (``F == 4``; the chunk loop's FEC and hurdle branches, mutation kinds and
objective modes a run cannot reach). Kernels that do not depend on the interpreter (the
mutation operators, bytecode, the FEC, the random streams) stay in their own modules and
are compiled once for all variants.

Variants are written to ``<cache>/kernels/<source hash>/`` (see :func:`zeroevo.core.cachedir.cache_dir`) and
numba caches them there, so a variant compiles once per machine and zeroevo version: the
hash covers the source of every module whose code a variant links in, which also retires
stale numba caches when any of them changes (numba itself only checks a function's own
file). The generic templates (all ops, F read from the data) remain callable directly.

:mod:`zeroevo.programs.warmup` compiles a variant stage by stage, reporting each stage.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Iterable

import numba

from zeroevo.core.cachedir import cache_dir
from zeroevo.core.objectives import ACCURACY, PARETO
from zeroevo.primitives.program import executor, interpreter, memory, one_lane
from zeroevo.programs import chunk, evaluation, memo
from zeroevo.programs.splice import splice
from zeroevo.spaces.program import mutation
from zeroevo.spaces.program.genome import Program, ProgramSpec

# Template modules in dependency order, with their functions that are compiled per variant:
# those that (transitively) inline the interpreter, and the chunk loop's mutation and
# selection, which keep only the mutations and the objective mode a run has.
TEMPLATES: tuple[tuple[ModuleType, tuple[str, ...]], ...] = (
    (one_lane, ("_one_lane", "run_serial")),
    (executor, ("run_lanes", "_lanes")),
    (evaluation, ("probe_and_hash", "run_tasks", "pass_hurdles", "evaluate")),
    (memo, ("evaluate_memo",)),
    (mutation, ("mutate",)),
    (chunk, ("tournament", "run_chunk")),
)
# The mutation codes by the names ``mutate``'s source compares ``kind`` with.
_MUTATION_KINDS = {name: value for name, value in vars(mutation).items() if name.startswith("M_")}
# Modules whose code a variant links in: a change to any of them retires the variants.
_SOURCES = ("zeroevo.primitives.program", "zeroevo.programs.evaluation", "zeroevo.programs.memo",
            "zeroevo.programs.chunk", "zeroevo.programs.fec", "zeroevo.programs.kernels", "zeroevo.programs.splice",
            "zeroevo.spaces.program.mutation", "zeroevo.core.rng")
ALL_OPS = tuple(range(1, 65))
_LOADED: dict[tuple[tuple[int, ...], int, "KernelFlags"], ModuleType] = {}


@dataclass(frozen=True)
class KernelFlags:
    """What a kernel variant compiles besides its ops: code a run cannot reach is left out,
    since a first run pays for every line numba types and LLVM optimizes.

    ``serial``: the one-lane harness (:func:`needs_serial`); ``fec``: the chunk loop's
    evaluation with the FEC (True), without it (False) or both (None, read from ``icfg`` at
    run time); ``hurdles``: the chunk loop's hurdle stages; ``mutations``: the mutation
    codes its ``mutate`` may draw (None: all); ``objective``: the objective mode its
    tournament selects by (an index of ``zeroevo.core.objectives.MODES``; None: read from
    ``ocfg``). A chunk loop specialised this way must be run with a config that agrees
    (:func:`zeroevo.programs.evaluator.kernel_flags` derives both from one config); the
    kernels Python calls directly are the same in every variant.
    """

    serial: bool = True
    fec: bool | None = None
    hurdles: bool = True
    mutations: tuple[int, ...] | None = None
    objective: int | None = None


def source_hash() -> str:
    """A hash of every source file a variant's compiled code depends on, and numba's version."""
    digest = hashlib.sha256(numba.__version__.encode())
    for name in _SOURCES:
        module = importlib.import_module(name)
        path = Path(inspect.getsourcefile(module))
        files = sorted(path.parent.glob("*.py")) if path.name == "__init__.py" else [path]
        for f in files:
            digest.update(f.name.encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def template_namespace() -> dict:
    """The globals every template function may use: the template modules' namespaces merged."""
    out: dict = {}
    for module in (memory, *interpreter.FAMILY_MODULES, interpreter, *(m for m, _ in TEMPLATES)):
        for name, value in vars(module).items():
            if name.startswith("__"):
                continue
            if name in out and out[name] is not value and not callable(getattr(value, "py_func", None)):
                raise RuntimeError(f"template modules disagree on {name!r}")  # a generation bug
            out[name] = value
    return out


class _Fold(ast.NodeTransformer):
    """Replaces the tests a variant decides at generation time by constants, and an ``if`` on
    a constant by the branch taken, so numba never sees the other."""

    def __init__(self, tests: dict[str, bool], calls: dict[str, ast.expr]) -> None:
        self.tests, self.calls = tests, calls

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        text = ast.unparse(node)
        return ast.Constant(self.tests[text]) if text in self.tests else self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        return self.calls[name] if name in self.calls else self.generic_visit(node)

    def visit_If(self, node: ast.If) -> ast.AST | list[ast.stmt]:
        node = self.generic_visit(node)
        if not isinstance(node.test, ast.Constant):
            return node
        return (node.body if node.test.value else node.orelse) or [ast.Pass()]

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        node = self.generic_visit(node)
        if not isinstance(node.test, ast.Constant):
            return node
        return node.body if node.test.value else node.orelse


def _fold(source: str, tests: dict[str, bool], calls: dict[str, ast.expr] | None = None) -> str:
    # Tests match by their exact text (ast.unparse). A test that no longer matches leaves its
    # branches in: correct, only slower to compile (tests/test_kernels.py checks what goes).
    tree = _Fold(tests, calls or {}).visit(ast.parse(source))
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def variant_source(ops: Iterable[int], features: int, flags: KernelFlags = KernelFlags()) -> str:
    """The text of the variant module for ``ops``, feature size ``features`` (0: any) and
    ``flags``; without ``flags.serial``, it has no one-lane harness and ``run_serial`` is the
    lane harness."""
    codes = sorted({int(o) for o in ops} - {0})
    harnesses = "both harnesses" if flags.serial else "the lane harness only"
    parts = [f'"""zeroevo kernels for ops {codes}, F = {features or "any"}, {harnesses}, FEC '
             f'{ {None: "on or off", True: "on", False: "off"}[flags.fec]}, hurdles {"on" if flags.hurdles else "off"}; '
             'generated, do not edit."""',
             "from zeroevo.programs.kernels import template_namespace as _template_namespace",
             "", "globals().update(_template_namespace())",
             f"FEATURES = {int(features)}", "", "", interpreter.execute_source(codes)]
    texts = {name: inspect.getsource(getattr(module, name).py_func) for module, names in TEMPLATES for name in names}
    if features:  # ops and the feature loader special-case F = 4; keep one of their branches
        parts[-1] = _fold(parts[-1], {"F == 4": features == 4})
        texts = {name: _fold(text, {"F == 4": features == 4}) for name, text in texts.items()}
    # The harnesses get the interpreter spliced in as text, and the one-lane harness its
    # task loop: cheaper to compile than numba's IR inlining, the same code.
    texts["_lanes"] = splice(texts["_lanes"], parts[-1])
    texts["_one_lane"] = splice(texts["_one_lane"], parts[-1])
    texts["run_serial"] = splice(texts["run_serial"], texts["_one_lane"])
    # ... and the chunk loop its evaluation, down to the harness calls: it links the two
    # harnesses' libraries and no other library that holds them (each would be re-optimized
    # in it), and no run_tasks library is compiled (Python calls the harnesses directly).
    # Its FEC branch and hurdle stages are kept only where the flags say a run reaches them
    # (the demo's chunk loop: 7.1 -> 6.1 CPU-s to compile).
    run_tasks = splice(texts["run_tasks"], texts["run_lanes"])
    folds = {"icfg[USE_FEC] == 0": not flags.fec} if flags.fec is not None else {}
    no_hurdles = ast.Tuple([ast.Constant(0), ast.Constant(0.0), ast.Constant(0)], ast.Load())
    memo_text = _fold(texts["evaluate_memo"], folds, {} if flags.hurdles else {"pass_hurdles": no_hurdles})
    if flags.fec is not False:
        memo_text = splice(memo_text, splice(texts["probe_and_hash"], texts["run_lanes"]))
    if flags.hurdles:
        memo_text = splice(memo_text, splice(texts["pass_hurdles"], run_tasks))
    texts["run_chunk"] = splice(texts["run_chunk"], splice(memo_text, run_tasks))
    # Mutations the run never draws, and the selection of other objective modes, go too. A
    # kind's test folds only to False: that a kind may be drawn says nothing of this draw.
    if flags.mutations is not None:
        texts["mutate"] = _fold(texts["mutate"], {f"kind == {name}": False for name, code in _MUTATION_KINDS.items()
                                                  if code not in flags.mutations})
    if flags.objective is not None:
        texts["tournament"] = _fold(texts["tournament"], {f"mode == {name}": flags.objective == code
                                                          for name, code in (("ACCURACY", ACCURACY), ("PARETO", PARETO))})
    if not flags.serial:  # one harness for every lane count (the interpreter stage: 8.9 -> 6.7 CPU-s)
        del texts["_one_lane"], texts["run_serial"]
        texts["alias"] = "run_serial = _lanes"
    return "\n".join(parts + [f"\n{text}" for text in texts.values()])


def _write_once(path: Path, text: str) -> None:
    if path.exists() and path.read_text() == text:
        return  # keep the file (and its timestamp, which numba's cache index checks)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def kernels_for(ops: Iterable[int], features: int, flags: KernelFlags = KernelFlags()) -> ModuleType:
    """The kernel variant for op codes ``ops``, feature size ``features`` (0: read from the
    data) and ``flags``, generated and imported on first use; its functions are the templates'."""
    codes = tuple(sorted({int(o) for o in ops} - {0}))
    key = (codes, int(features), flags)
    if key in _LOADED:
        return _LOADED[key]
    if not 0 <= features <= 256:
        raise ValueError(f"feature size {features} out of range 0..256")
    src_hash = source_hash()
    text = variant_source(codes, features, flags)
    name = "k_" + hashlib.sha256(text.encode()).hexdigest()[:16]
    folder = cache_dir() / "kernels" / src_hash
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    _write_once(path, text)
    module_name = f"zeroevo_kernels_{src_hash}_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # numba resolves a cached function's module by name
    spec.loader.exec_module(module)
    _LOADED[key] = module
    return module


def spec_ops(spec: ProgramSpec, programs: Iterable[Program] = ()) -> set[int]:
    """The op codes a space's programs may hold: its op lists, and those of ``programs``
    (e.g. an initial template or a program from elsewhere)."""
    ops = {int(op) for codes in spec.op_codes for op in codes}
    for program in programs:
        for c in range(3):
            ops.update(int(op) for op in program.ins[c, :program.sizes[c], 0])
    return ops - {0}


def kernels_for_spec(spec: ProgramSpec, programs: Iterable[Program] = (),
                     flags: KernelFlags = KernelFlags()) -> ModuleType:
    """The kernel variant that runs every program of ``spec`` (and ``programs``)."""
    return kernels_for(spec_ops(spec, programs), spec.features, flags)


def needs_serial(hurdles: bool, search_tasks: int) -> bool:
    """Whether a run's kernels need the one-lane harness, which is faster than the lane
    harness up to ``MAX_SERIAL_LANES`` lanes: hurdle stages run one task, and every
    evaluation runs as many tasks as the search has (or fewer, on FEC misses). Without
    hurdles and with more search tasks than that, the few partial misses run on the lane
    harness, and the one-lane harness is not compiled: about 2 CPU-s of a first run."""
    return hurdles or search_tasks <= executor.MAX_SERIAL_LANES


def is_cached(dispatcher: numba.core.registry.CPUDispatcher) -> bool:
    """Whether numba holds a compiled copy of ``dispatcher`` on disk (an index file exists)."""
    try:
        cache_file = dispatcher._cache._cache_file
        return Path(cache_file._index_path).exists()
    except AttributeError:  # a numba without these internals: assume the worst
        return False
