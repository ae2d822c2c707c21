"""Dead code: which instructions can affect a prediction, and the program without the rest.

:func:`simplified` drops the instructions that cannot affect a prediction (a backward
liveness pass over whole addresses, iterated over the predict/learn loop, the same rule as
the bytecode compiler's) and :func:`verify_same` *verifies* the claim: both programs run through zeroevo's
training and validation loop on the run's final tasks and on the search tasks of the
program's restart, and every prediction must be identical, bit for bit.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from zeroevo.primitives.program.ops import (
    IN1_KIND,
    IN2_KIND,
    MATRIX_CONST_SET,
    OUT_KIND,
    VECTOR_CONST_SET,
)
from zeroevo.programs.tasks import TaskSet
from zeroevo.spaces.program.genome import COMPONENTS, Program, ProgramSpec

_FIRST_RANDOM_OP = 59  # uniform / gaussian set ops: they advance the random stream


def component_sizes(program: Program) -> dict[str, int]:
    """Instructions per component, no-ops excluded."""
    return {name: int(np.count_nonzero(program.component(c)[0][:, 0])) for c, name in enumerate(COMPONENTS)}


def _slot(kind: int, addr: int) -> tuple[int, int]:
    return int(kind), int(addr)


def _backward(ins: np.ndarray, live_out: set) -> tuple[set, np.ndarray]:
    live = set(live_out)
    keep = np.zeros(len(ins), dtype=bool)
    for k in range(len(ins) - 1, -1, -1):
        op = int(ins[k, 0])
        if op == 0:
            continue
        out = _slot(OUT_KIND[op], ins[k, 3])
        if out not in live and op < _FIRST_RANDOM_OP:
            continue
        keep[k] = True
        if op not in (VECTOR_CONST_SET, MATRIX_CONST_SET):  # a partial write does not kill
            live.discard(out)
        if IN1_KIND[op] >= 0:
            live.add(_slot(IN1_KIND[op], ins[k, 1]))
        if IN2_KIND[op] >= 0:
            live.add(_slot(IN2_KIND[op], ins[k, 2]))
    return live, keep


_HARNESS_WRITES = {(0, 0), (1, 0)}  # s0 (label) and v0 (features) are written before each run
_PREDICTION = (0, 1)


def live_instructions(program: Program) -> list[np.ndarray]:
    """Per component, which instructions can affect a prediction.

    Liveness runs backward over whole addresses. The harness loops (setup; predict,
    learn, predict, learn, ...; predict on validation), so predict's and learn's live
    sets are iterated to a fixed point. The harness writes ``s0`` and ``v0`` before every
    predict and learn and reads ``s1`` after predict. The random set ops are kept: they
    advance the stream later random ops read.
    """
    pred, learn = program.component(1)[0], program.component(2)[0]
    in_pred: set = set()
    for _ in range(10_000):
        in_learn, keep_learn = _backward(learn, in_pred - _HARNESS_WRITES)
        out_pred = ((in_learn | in_pred) - _HARNESS_WRITES) | {_PREDICTION}
        new_in_pred, keep_pred = _backward(pred, out_pred)
        if new_in_pred == in_pred:
            break
        in_pred = new_in_pred
    _, keep_setup = _backward(program.component(0)[0], in_pred - _HARNESS_WRITES)
    return [keep_setup, keep_pred, keep_learn]


def simplified(program: Program, spec: ProgramSpec) -> Program:
    """``program`` without no-ops and instructions that cannot affect a prediction.

    The result may be shorter than the space's minimum sizes (it is for running, not
    for evolving further).
    """
    keep = live_instructions(program)
    out = spec.empty()
    ins, data, sizes = out.ins.copy(), out.data.copy(), out.sizes.copy()
    for c in range(3):
        rows, consts = program.component(c)
        kept = np.flatnonzero(keep[c])
        ins[c, :len(kept)] = rows[kept]
        data[c, :len(kept)] = consts[kept]
        sizes[c] = len(kept)
    return Program(ins, data, sizes)



def verify_same(a: Program, b: Program, spec: ProgramSpec, sets: list[tuple[str, TaskSet]],
                max_abs_error: float, limit: int = 0) -> list[dict[str, Any]]:
    """Run both programs on every task of ``sets``; raise VerificationError on any difference.

    Returns per task set: tasks run, predictions compared, and the mean fitness found.
    """
    from zeroevo.programs.export import VerificationError, machine
    from zeroevo.programs.trace import count, mismatch, traces

    ma, mb = machine(a, spec, "original"), machine(b, spec, "simplified")
    out = []
    for name, tasks in sets:
        ta, tb = traces(ma, tasks, max_abs_error, limit), traces(mb, tasks, max_abs_error, limit)
        where = mismatch(ta, tb)
        if where is not None:
            raise VerificationError(f"the simplified program predicts differently on the {name} tasks: {where}")
        out.append({"tasks": name, "num_tasks": len(ta), "predictions": count(ta),
                    "fitness": float(np.mean([t.fitness for t in ta]))})
    return out
