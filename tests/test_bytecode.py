"""Bytecode compilation and dead-code elimination (primitives/bytecode.py).

Elimination must be invisible: fitness, train steps and recorded errors are identical with
``eliminate=True`` and ``eliminate=False`` on thousands of random programs (every op,
regression and classification, several F, both harnesses of the executor). And it must
actually remove something.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import generic_kernels
from zeroevo.core.rng import stream
from zeroevo.primitives.program.bytecode import to_bytecode
from zeroevo.primitives.program.ops import OPS
from zeroevo.programs.tasks import TaskSet, TaskSpec, from_arrays, generate
from zeroevo.spaces.program.genome import Program, ProgramSpec, from_rows
from zeroevo.spaces.program.initial import (
    linear_program,
    neural_net_program,
    random_from_stream,
)

ALL_OPS = tuple(op.name for op in OPS[1:])
# A menu where programs live longer (no division, log, exp, reciprocal, tan).
TAME_OPS = tuple(op.name for op in OPS[1:] if op.code not in (4, 6, 9, 13, 14, 20, 26, 30, 42))
SMALL_OPS = ("SCALAR_SUM", "SCALAR_DIFF", "SCALAR_PRODUCT", "SCALAR_CONST_SET", "VECTOR_INNER_PRODUCT",
             "SCALAR_VECTOR_PRODUCT", "VECTOR_SUM", "MATRIX_VECTOR_PRODUCT", "VECTOR_CONST_SET",
             "MATRIX_CONST_SET", "SCALAR_GAUSSIAN_SET", "VECTOR_UNIFORM_SET")


def make_spec(F, ns, nv, nm, sizes=(0, 0, 0), max_sizes=(16, 16, 16), ops=ALL_OPS) -> ProgramSpec:
    return ProgramSpec(features=F, scalars=ns, vectors=nv, matrices=nm, ops=(ops, ops, ops),
                       init_sizes=sizes, min_sizes=(0, 0, 0), max_sizes=max_sizes)


def run(prog: Program, spec: ProgramSpec, tasks: TaskSet, lanes, n_train: int, n_valid: int,
        eliminate: bool, rec=(10, 10), mae: float = 100.0):
    code, cdata, seg = to_bytecode(prog.ins, prog.data, prog.sizes, spec.scalars, spec.vectors,
                                   spec.matrices, eliminate=eliminate)
    lanes = np.asarray(lanes, np.int64)
    L = len(lanes)
    fit, steps = np.full(L, -1.0), np.full(L, -1, np.int64)
    terr, verr = np.zeros((L, rec[0])), np.zeros((L, rec[1]))
    nerr = np.zeros((L, 2), np.int64)
    generic_kernels().run_lanes(code, cdata, seg, lanes, tasks.x_train, tasks.y_train, tasks.order, tasks.x_valid,
              tasks.y_valid, tasks.classify, tasks.exec_keys, n_train, n_valid, mae,
              spec.scalars, spec.vectors, spec.matrices, fit, steps, True, terr, verr, nerr)
    out = []
    for l in range(L):
        te, ve = terr[l, :nerr[l, 0]], verr[l, :nerr[l, 1]]
        out.append((fit[l:l + 1].view(np.int64).tolist(), int(steps[l]),
                    te.view(np.int64).tolist(), ve.view(np.int64).tolist()))
    return out, int(seg[2])


def tasks_for(kind: str, F: int, seed: int) -> TaskSet:
    if kind == "classify":
        rng = np.random.default_rng(seed)
        xt, xv = rng.normal(size=(3, 10, F)), rng.normal(size=(3, 5, F))
        return from_arrays(xt, (xt[..., 0] > 0).astype(float), xv, (xv[..., 0] > 0).astype(float),
                           classify=True, epochs=2, seed=seed)
    return generate(TaskSpec(kind=kind, num_tasks=3, features=F, num_train=10, num_valid=5, epochs=2,
                             data_seeds=(seed,), param_seeds=(seed,)))


def point_outputs_at_s1(prog: Program, seed: int) -> Program:
    # Random outputs rarely hit s1; without it nearly everything is dead and trivially so.
    ins = prog.ins.copy()
    rng = np.random.default_rng(seed)
    for k in range(int(prog.sizes[1])):
        op = int(ins[1, k, 0])
        if op and OPS[op].out == 0 and rng.random() < 0.5:
            ins[1, k, 3] = 1
    return Program(ins, prog.data, prog.sizes)


@pytest.mark.parametrize("F", (1, 2, 4, 7))
def test_elimination_changes_nothing(F: int) -> None:
    kept = total = 0
    n_alive = 0
    n_programs = 0
    for i in range(800 if F < 7 else 400):
        ns, nv, nm = ((2, 2, 1), (4, 3, 1), (6, 5, 2), (10, 8, 3))[i % 4]
        ops = (ALL_OPS, TAME_OPS, SMALL_OPS)[i % 3]
        sizes = ((3, 4, 4), (6, 8, 8), (10, 3, 12))[i % 3]
        spec = make_spec(F, ns, nv, nm, sizes=sizes, ops=ops)
        prog = spec.validate(point_outputs_at_s1(random_from_stream(spec, stream(F, i)), i))
        kind = ("linear", "relu_teacher", "classify")[i % 3]
        tasks = tasks_for(kind, F, 100 + (i % 5))
        # three lanes run the lane loop, one lane the one-lane harness
        for lanes, n_train, n_valid in (([0, 1, 2], 20, 5), ([1], 20, 5), ([2], 7, 3)):
            full, n_full = run(prog, spec, tasks, lanes, n_train, n_valid, False)
            lean, n_lean = run(prog, spec, tasks, lanes, n_train, n_valid, True)
            assert lean == full, f"F={F} program {i} lanes={lanes}"
            assert n_lean <= n_full
            if n_train == 20:
                n_alive += sum(r[1] == 20 for r in full)
        kept += n_lean
        total += n_full
        n_programs += 1
    assert total > 0 and kept < 0.9 * total  # it removes a fair share
    assert n_alive > n_programs  # many runs go to the end (4 runs per program), not just die early


def _sizes(spec, rows):
    prog = from_rows(spec, rows)
    code, cdata, seg = to_bytecode(prog.ins, prog.data, prog.sizes, spec.scalars, spec.vectors,
                                   spec.matrices, eliminate=True)
    return [int(seg[0]), int(seg[1] - seg[0]), int(seg[2] - seg[1])], code[:int(seg[2])]


def test_elimination_removes_an_obviously_dead_instruction() -> None:
    spec = make_spec(4, 6, 4, 1)
    linear = {"setup": [("SCALAR_CONST_SET", 0, 0, 2, 0.1)],
              "predict": [("VECTOR_INNER_PRODUCT", 1, 0, 1)],
              "learn": [("SCALAR_DIFF", 0, 1, 3), ("SCALAR_PRODUCT", 3, 2, 3),
                        ("SCALAR_VECTOR_PRODUCT", 3, 0, 2), ("VECTOR_SUM", 1, 2, 1)]}
    assert _sizes(spec, linear)[0] == [1, 1, 4]
    dead = {k: list(v) for k, v in linear.items()}
    dead["predict"] = [("SCALAR_SUM", 2, 2, 5)] + dead["predict"]  # s5 never read
    dead["learn"] = dead["learn"] + [("VECTOR_ABS", 0, 0, 3)]  # v3 never read
    dead["setup"] = [("SCALAR_CONST_SET", 0, 0, 3, 5.0)] + dead["setup"]  # s3 written in learn first
    sizes, code = _sizes(spec, dead)
    assert sizes == [1, 1, 4]
    assert code.tolist() == to_bytecode(*(lambda p: (p.ins, p.data, p.sizes))(from_rows(spec, linear)),
                                        6, 4, 1)[0].tolist()
    # no-ops go either way
    noop = {k: [("NO_OP", 0, 0, 0)] + list(v) for k, v in linear.items()}
    prog = from_rows(spec, noop)
    assert int(to_bytecode(prog.ins, prog.data, prog.sizes, 6, 4, 1, eliminate=False)[2][2]) == 6


def test_elimination_keeps_what_matters() -> None:
    spec = make_spec(2, 6, 4, 2)
    # learn -> next predict: s4 written in learn, read in predict: kept (the harness loops)
    sizes, _ = _sizes(spec, {"predict": [("SCALAR_SUM", 4, 4, 1)], "learn": [("SCALAR_SUM", 0, 0, 4)]})
    assert sizes == [0, 1, 1]
    # predict -> learn -> predict: s3 from predict feeds learn's s4
    sizes, _ = _sizes(spec, {"predict": [("SCALAR_SUM", 4, 4, 1), ("SCALAR_ABS", 0, 0, 3)],
                             "learn": [("SCALAR_SUM", 3, 3, 4)]})
    assert sizes == [0, 2, 1]
    # random ops are kept even when their output is dead: they advance the stream
    sizes, code = _sizes(spec, {"setup": [("SCALAR_GAUSSIAN_SET", 0, 0, 5, 0.0, 1.0),
                                          ("MATRIX_UNIFORM_SET", 0, 0, 1, -1.0, 1.0),
                                          ("SCALAR_UNIFORM_SET", 0, 0, 2, -1.0, 1.0)],
                                "predict": [("SCALAR_SUM", 2, 2, 1)]})
    assert sizes == [3, 1, 0]
    # a partial (element) write does not kill the earlier full write
    sizes, _ = _sizes(spec, {"setup": [("SCALAR_CONST_SET", 0, 0, 2, 3.0), ("SCALAR_BROADCAST", 2, 0, 1)],
                             "predict": [("VECTOR_CONST_SET", 0, 0, 1, 0.5, 1.0),
                                         ("VECTOR_INNER_PRODUCT", 1, 1, 1)]})
    assert sizes == [2, 2, 0]
    # a full write kills: the broadcast into v1 is overwritten before any read
    sizes, _ = _sizes(spec, {"setup": [("SCALAR_BROADCAST", 2, 0, 1)],
                             "predict": [("VECTOR_ABS", 0, 0, 1), ("VECTOR_INNER_PRODUCT", 1, 1, 1)]})
    assert sizes == [0, 2, 0]
    # the label s0 and features v0 are rewritten by the harness: setup writes to them are
    # impossible for valid genomes, and reads of s0 in predict see 0 (kept, it is an input)
    sizes, _ = _sizes(spec, {"predict": [("SCALAR_SUM", 0, 0, 1)]})
    assert sizes == [0, 1, 0]


def test_hand_written_programs_survive_elimination() -> None:
    spec = make_spec(4, 4, 8, 2)
    tasks = generate(TaskSpec(kind="relu_teacher", num_tasks=3, num_train=50, num_valid=20, epochs=2))
    for prog in (linear_program(spec), neural_net_program(spec)):
        full, n_full = run(prog, spec, tasks, [0, 1, 2], 100, 20, False)
        lean, n_lean = run(prog, spec, tasks, [0, 1, 2], 100, 20, True)
        assert lean == full and n_lean == n_full == int(prog.sizes.sum())
