"""The evaluation memo (zeroevo/eval_memo.py) replays exactly what a fresh evaluation gives.

Chains of mutated children are evaluated twice, side by side: with the memo (each child
goes to a new slot, its parent's slot may be replayed) and with plain ``evaluate`` on a
copy of the same FEC cache. Fitness, steps, hits and the whole cache must agree bit for
bit, and the memo must actually have replayed (else the test proves nothing).
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import generic_kernels
from zeroevo.core.rng import stream
from zeroevo.primitives.program.bytecode import compile_program
from zeroevo.primitives.program.ops import op_code
from zeroevo.programs.evaluation import EvalScratch, HurdleState, op_costs, task_tuple
from zeroevo.programs.fec import FecArrays
from zeroevo.programs.memo import EvalMemo, same_code
from zeroevo.programs.tasks import TaskSpec, generate
from zeroevo.spaces.program.genome import ProgramSpec
from zeroevo.spaces.program.initial import random_from_stream
from zeroevo.spaces.program.mutation import mutate

OPS = ("SCALAR_CONST_SET", "VECTOR_INNER_PRODUCT", "SCALAR_DIFF", "SCALAR_PRODUCT",
       "SCALAR_VECTOR_PRODUCT", "VECTOR_SUM", "SCALAR_GAUSSIAN_SET", "VECTOR_UNIFORM_SET")


def _setup(use_fec: bool, T: int = 6):
    spec = ProgramSpec(features=4, scalars=4, vectors=3, matrices=1, ops=(OPS,) * 3,
                       init_sizes=(6, 2, 6), min_sizes=(6, 2, 6), max_sizes=(6, 2, 6),
                       mutations=("alter_param", "randomize_instruction"), mutate_prob=0.7)
    tasks = generate(TaskSpec(kind="linear", num_tasks=T, num_train=30, num_valid=10,
                              data_seeds=tuple(range(1, T + 1)), param_seeds=tuple(range(11, T + 11))))
    icfg = np.array([int(use_fec), 10, 10, 0, 1, spec.scalars, spec.vectors, spec.matrices], np.int64)
    fcfg = np.array([100.0, 0.0, 0.0, 0.0])
    return spec, tasks, icfg, fcfg


@pytest.mark.parametrize("hurdles", (False, True), ids=("", "hurdles"))
@pytest.mark.parametrize("use_fec", (True, False), ids=("fec", "no-fec"))
def test_memo_replays_what_a_fresh_evaluation_gives(use_fec: bool, hurdles: bool) -> None:
    spec, tasks, icfg, fcfg = _setup(use_fec)
    T, P, n = tasks.num_tasks, 64, 3 * spec.capacity
    tk, cost = task_tuple(tasks), op_costs(spec.features)
    fc_memo, fc_fresh = FecArrays.create(50, 4), FecArrays.create(50, 4)  # small: evictions happen
    sc1, sc2 = EvalScratch.create(n, T, 10, 10).as_tuple(), EvalScratch.create(n, T, 10, 10).as_tuple()
    stages = ([5, 15], [0.5, 0.7]) if hurdles else ([], [])
    memo = EvalMemo.create(P, n, T, len(stages[0]))
    hs1, hs2 = HurdleState.create(*stages, 20), HurdleState.create(*stages, 20)
    allowed, n_allowed, bounds, mem = spec.kernel_arrays()
    programs = [spec.validate(random_from_stream(spec, stream(5, i))) for i in range(4)]
    pops = [(p.ins.copy(), p.data.copy(), p.sizes.copy()) for p in programs]
    replays = stopped = 0
    for b in range(400):
        p = -1 if b < 4 else int(stream(6, b)[0] % min(b, P))
        if p < 0:
            ins, data, sizes = (x.copy() for x in pops[b])
        else:
            ins, data, sizes = (x.copy() for x in pops[p])
            mutate(ins, data, sizes, spec.mutation_codes(), spec.mutate_prob, allowed, n_allowed, bounds,
                   mem, stream(7, b))
        slot = b % P
        if p >= 0:
            compile_program(ins, data, sizes, spec.scalars, spec.vectors, spec.matrices, True,
                            sc2[0], sc2[1], sc2[2])
            replays += same_code(sc2[0], sc2[1], sc2[2], memo.code, memo.cdata, memo.seg, p)
        tf1, tf2 = np.zeros(T), np.zeros(T)
        got = generic_kernels().evaluate_memo(ins, data, sizes, tk, icfg, fcfg, cost, fc_memo.as_tuple(), sc1, tf1,
                                              memo.as_tuple(), hs1.as_tuple(), p, slot)
        want = generic_kernels().evaluate(ins, data, sizes, tk, icfg, fcfg, cost, fc_fresh.as_tuple(), sc2, tf2,
                                          hs2.as_tuple())
        stopped += got[3] > 0
        assert got[0] == want[0] and got[1:] == want[1:], b
        assert got[3] > 0 or tf1.tobytes() == tf2.tobytes(), b
        assert hs1.hist.tobytes() == hs2.hist.tobytes() and np.array_equal(hs1.meta, hs2.meta), b
        for a1, a2 in zip(fc_memo.as_tuple(), fc_fresh.as_tuple()):
            assert a1.tobytes() == a2.tobytes(), b
        if len(pops) <= slot:
            pops.append(None)
        pops[slot] = (ins, data, sizes)
    assert replays >= 40  # clones and dead-code mutations were replayed, not re-run
    assert (stopped > 20) == hurdles


def test_same_code_compares_constants_by_bit_pattern() -> None:
    spec, tasks, icfg, fcfg = _setup(False)
    n, T = 3 * spec.capacity, tasks.num_tasks
    sc = EvalScratch.create(n, T, 10, 10).as_tuple()
    memo = EvalMemo.create(2, n, T)
    assert not same_code(sc[0], sc[1], sc[2], memo.code, memo.cdata, memo.seg, 0)  # empty memo
    for seed in range(200):  # a program whose compiled code keeps a constant
        prog = spec.validate(random_from_stream(spec, stream(9, seed)))
        generic_kernels().evaluate_memo(prog.ins, prog.data, prog.sizes, task_tuple(tasks), icfg, fcfg, op_costs(4),
                      FecArrays.create(10, 4).as_tuple(), sc, np.zeros(T), memo.as_tuple(),
                      HurdleState.create([], [], 1).as_tuple(), -1, 0)
        live = [k for k in range(int(sc[2][2])) if sc[0][k, 0] == op_code("SCALAR_CONST_SET")]
        if live:
            break
    assert live
    assert same_code(sc[0], sc[1], sc[2], memo.code, memo.cdata, memo.seg, 0)
    assert not same_code(sc[0], sc[1], sc[2], memo.code, memo.cdata, memo.seg, 1)
    k = live[0]
    sc[1][k, 0] = -0.0 if sc[1][k, 0] == 0.0 else -sc[1][k, 0]
    assert not same_code(sc[0], sc[1], sc[2], memo.code, memo.cdata, memo.seg, 0)


def test_run_tasks_from_python_gives_what_the_kernel_gives() -> None:
    # The chunk loop's variant has run_tasks spliced in; Python calls the harnesses directly.
    from zeroevo.programs.evaluator import run_tasks

    spec, tasks, icfg, fcfg = _setup(False)
    tk, T, kern = task_tuple(tasks), tasks.num_tasks, generic_kernels()
    sc = EvalScratch.create(3 * spec.capacity, T, 10, 10).as_tuple()
    ran = 0
    for i in range(12):
        prog = spec.validate(random_from_stream(spec, stream(9, i)))
        compile_program(prog.ins, prog.data, prog.sizes, 4, 3, 1, True, sc[0], sc[1], sc[2])
        for lanes in (np.array([2]), np.array([0, 5]), np.arange(T)):
            for n_train in (0, 7, 30):
                want = kern.run_tasks(sc[0], sc[1], sc[2], tk, lanes, n_train, icfg, fcfg, f1 := np.zeros(T),
                                      s1 := np.zeros(T, np.int64))
                got = run_tasks(kern, sc[0], sc[1], sc[2], tk, lanes, n_train, icfg, fcfg, f2 := np.zeros(T),
                                s2 := np.zeros(T, np.int64))
                assert got == want and np.array_equal(f1, f2) and np.array_equal(s1, s2)
                ran += int(want > 0)
    assert ran > 0
