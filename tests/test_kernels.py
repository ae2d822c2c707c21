"""Kernel variants: generated per (op set, feature size), and the same semantics as ever.

The kernel-level tests (``test_interpreter``, ``test_bytecode``, ``test_eval_memo``) run the
variant with every op and F read from the data; here a variant specialised to a few ops and
a fixed F must agree with the numpy reference bit for bit, and every variant's generated
source must only use names the templates provide.
"""
from __future__ import annotations

import ast
import builtins

import numpy as np

from tests.test_interpreter import ALL_OPS, _tasks, assert_same, make_spec, run_numba, run_ref
from zeroevo.core.rng import stream
from zeroevo.primitives.program.interpreter import execute_source
from zeroevo.programs.kernels import (
    KernelFlags,
    kernels_for,
    kernels_for_spec,
    needs_serial,
    spec_ops,
    template_namespace,
    variant_source,
)
from zeroevo.spaces.program.initial import random_from_stream


def test_generated_source_uses_only_names_the_templates_provide():
    source = variant_source(range(1, 65), 4)
    tree = ast.parse(source)
    defined = set(template_namespace()) | set(dir(builtins)) | {"FEATURES", "_template_namespace"}
    defined |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    missing = set()
    for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        local = {a.arg for a in fn.args.args} | {t.id for n in ast.walk(fn) if isinstance(n, (ast.Assign, ast.AugAssign, ast.For))
                                                 for t in ast.walk(n.target if not isinstance(n, ast.Assign) else n)
                                                 if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)}
        missing |= {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - local - defined
    assert missing == set()


def test_a_variant_holds_only_its_ops():
    source = execute_source([27, 3])
    assert "op == 27" in source and "op == 3:" in source and "op == 18" not in source


def test_a_specialised_variant_matches_the_reference():
    ops = ("SCALAR_SUM", "SCALAR_PRODUCT", "SCALAR_SIN", "VECTOR_INNER_PRODUCT", "SCALAR_VECTOR_PRODUCT",
           "VECTOR_SUM", "MATRIX_VECTOR_PRODUCT", "VECTOR_OUTER_PRODUCT", "VECTOR_ST_DEV", "SCALAR_CONST_SET",
           "VECTOR_GAUSSIAN_SET", "MATRIX_UNIFORM_SET")
    spec = make_spec(3, 5, 4, 2, sizes=(4, 4, 6), max_sizes=(8, 8, 8), ops=(ops, ops, ops))
    kern, lanes_only = kernels_for_spec(spec), kernels_for_spec(spec, flags=KernelFlags(serial=False))
    assert lanes_only.run_serial is lanes_only._lanes and kern.run_serial is not kern._lanes
    assert kern.FEATURES == 3 and spec_ops(spec) == {op for op in range(65) if ALL_OPS[op - 1] in ops}
    compared = 0
    for kind in ("linear", "classify"):
        tasks = _tasks(kind, 3, 4, N=8, V=4, E=2, T=4)
        for i in range(40):
            prog = spec.validate(random_from_stream(spec, stream(21, i)))
            got = run_numba(prog, spec, tasks, range(4), 14, 4, 100.0, rec=(8, 4), kern=kern)
            alone = run_numba(prog, spec, tasks, [1], 14, 4, 100.0, rec=(8, 4), kern=kern)[0]
            assert_same(alone, got[1])  # the one-lane harness ...
            assert_same(run_numba(prog, spec, tasks, [1], 14, 4, 100.0, rec=(8, 4), kern=lanes_only)[0], got[1])
            for t in range(4):
                assert_same(got[t], run_ref(prog, spec, tasks, t, 14, 4, 100.0, rec=(8, 4)), f"{kind} {i} {t}")
                compared += 1
    assert compared == 320


def test_only_runs_that_need_it_compile_the_one_lane_harness():
    tree = ast.parse(variant_source([2, 3, 27], 4, KernelFlags(serial=False)))
    assert {n.name for n in tree.body if isinstance(n, ast.FunctionDef)} & {"run_serial", "_one_lane"} == set()
    assert "run_serial = _lanes" in ast.unparse(tree)
    assert needs_serial(True, 10) and needs_serial(False, 2) and not needs_serial(False, 3)


def test_the_chunk_loop_holds_only_what_a_run_reaches():
    # The FEC branch, the FEC-free branch, the hurdle stages, mutation kinds and objective
    # modes are left out where the flags exclude them (the demo: FEC on, no hurdles, three
    # mutations, accuracy). The names a function's code object references say what is left.
    def names(flags: KernelFlags, function: str = "run_chunk") -> set[str]:
        namespace = {**template_namespace(), "FEATURES": 4}
        tree = ast.parse(variant_source([2, 3, 27], 4, flags))
        fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function)
        fn.decorator_list = []
        exec(compile(ast.Module([fn], []), "<variant>", "exec"), namespace)
        return set(namespace[function].__code__.co_names) | set(namespace[function].__code__.co_varnames)

    generic, demo = names(KernelFlags()), names(KernelFlags(fec=True, hurdles=False))
    no_fec = names(KernelFlags(fec=False))
    hurdle_names = {n for n in generic if "_pass_hurdles" in n}  # its spliced locals
    assert hurdle_names and not hurdle_names & demo and hurdle_names & no_fec
    assert {"lookup_tasks", "insert"} <= generic & demo and not {"lookup_tasks", "insert"} & no_fec
    assert "F == 4" not in variant_source([2, 3, 27], 4) and "F == 4" in variant_source([2, 3, 27], 0)
    edits = {"_insert", "_remove"}
    assert edits <= names(KernelFlags(), "mutate") and not edits & names(KernelFlags(mutations=(3, 4, 5)), "mutate")
    assert edits <= names(KernelFlags(mutations=(6, 7)), "mutate")
    assert "pareto_pick" in names(KernelFlags(), "tournament")
    assert not {"pareto_pick", "objective_value"} & names(KernelFlags(objective=0), "tournament")


def test_variants_are_shared_within_a_process():
    assert kernels_for([27, 3, 27], 4) is kernels_for((3, 27), 4)
    assert kernels_for([3], 4) is not kernels_for([3], 5)
    assert np.all(np.asarray(sorted(spec_ops(make_spec(4, 4, 3, 1)))) == np.arange(1, 65))
