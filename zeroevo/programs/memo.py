"""Evaluation memo: a child whose live code equals its parent's is not run again.

Evaluation is a pure function of the compiled bytecode (dead code dropped) and the task
set: the random ops draw from per-task streams fixed by the task's seed. So a clone
(10% of births at ``mutate_prob`` 0.9) or a mutation that only touched dead code gets,
bit for bit, the per-task results its parent got. Each population slot keeps the
compiled code it was evaluated as and what that evaluation measured; a child compiled to
the same code (compared exactly: ops, addresses, constants' bit patterns) replays them:

- FEC off: its fitness and train steps, no instruction run;
- FEC on: the probe's keys and steps (no probe run); the cache lookups, counts,
  evictions and inserts happen exactly as they would, and a task that misses reuses the
  slot's own full-run fitness when the slot ever ran that task (else it runs now).

The birth log is therefore identical to evaluating every child (a test compares the
chunk loop, which memoizes, with the Python reference loop, which does not). A memo lives
as long as its runner's task set: :meth:`EvalMemo.create` is called per restart. A slot's
memo may describe a program that has since left the slot (island states, resume): it
still only matches a child with exactly that code, for which it is still right.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from zeroevo.primitives.program.bytecode import compile_program
from zeroevo.programs.evaluation import (
    ELIMINATE,
    MEDIAN,
    NM,
    NS,
    NV,
    USE_FEC,
    combine,
    lookup_tasks,
    pass_hurdles,
    probe_and_hash,
    run_tasks,
    train_examples,
)
from zeroevo.programs.fec import insert
from zeroevo.spaces.program.mutation import copy_row


@dataclass(frozen=True, eq=False)
class EvalMemo:
    """Per slot: compiled code, probe keys and steps, own full-run fitness (NaN: never run) and steps."""

    code: np.ndarray       # (P, n, 4) int64
    cdata: np.ndarray      # (P, n, 3) float64
    seg: np.ndarray        # (P, 3) int64; -1: nothing remembered
    keys: np.ndarray       # (P, T) uint64
    probe_steps: np.ndarray  # (P,) int64
    fit: np.ndarray        # (P, T) float64
    steps: np.ndarray      # (P, T) int64
    stage_fit: np.ndarray  # (P, S) float64: hurdle stage results (NaN: never run)
    stage_steps: np.ndarray  # (P, S) int64
    work_fit: np.ndarray   # (T,) scratch
    work_steps: np.ndarray  # (T,) scratch
    work_lanes: np.ndarray  # (T,) scratch

    @staticmethod
    def create(population: int, max_instructions: int, num_tasks: int, stages: int = 0) -> "EvalMemo":
        """An empty memo for ``population`` slots of programs up to ``max_instructions``."""
        P, n, T, S = population, max(1, max_instructions), num_tasks, stages
        return EvalMemo(np.zeros((P, n, 4), np.int64), np.zeros((P, n, 3)), np.full((P, 3), -1, np.int64),
                        np.zeros((P, T), np.uint64), np.zeros(P, np.int64), np.full((P, T), np.nan),
                        np.zeros((P, T), np.int64), np.full((P, S), np.nan), np.zeros((P, S), np.int64),
                        np.zeros(T), np.zeros(T, np.int64), np.zeros(T, np.int64))

    def as_tuple(self) -> tuple[np.ndarray, ...]:
        """The arrays in kernel argument order."""
        return (self.code, self.cdata, self.seg, self.keys, self.probe_steps, self.fit, self.steps,
                self.stage_fit, self.stage_steps, self.work_fit, self.work_steps, self.work_lanes)


@njit(cache=True)
def same_code(code: np.ndarray, cdata: np.ndarray, seg: np.ndarray, m_code: np.ndarray,
              m_cdata: np.ndarray, m_seg: np.ndarray, p: int) -> bool:
    """Whether slot ``p`` remembers exactly this compiled program (constants by bit pattern)."""
    for j in range(3):
        if m_seg[p, j] != seg[j]:
            return False
    for k in range(seg[2]):
        for j in range(4):
            if m_code[p, k, j] != code[k, j]:
                return False
        for j in range(3):
            x, y = m_cdata[p, k, j], cdata[k, j]
            if not (x == y and math.copysign(1.0, x) == math.copysign(1.0, y)):
                return False  # a NaN constant never matches: that only costs a re-run
    return True


@njit(cache=True, inline="always")
def evaluate_memo(ins, data, sizes, tk, icfg, fcfg, op_cost, fc, sc, task_fit, memo, hs,
                  p: int, slot: int) -> tuple:
    """:func:`~zeroevo.programs.evaluation.evaluate` of a child of slot ``p`` (-1: none) going to
    ``slot``, replaying slot ``p``'s memo when the compiled code is the same, and
    remembering the result in ``slot``. Returns ``(fitness, train steps, FEC hits, hurdle stage)``."""
    m_code, m_cdata, m_seg, m_keys, m_probe, m_fit, m_steps, m_sfit, m_ssteps, own_fit, own_steps, run = memo
    code, cdata, seg = sc[0], sc[1], sc[2]
    compile_program(ins, data, sizes, icfg[NS], icfg[NV], icfg[NM], icfg[ELIMINATE] != 0,
                    code, cdata, seg)
    T = tk[0].shape[0]
    S = hs[0].shape[0]
    same = p >= 0 and same_code(code, cdata, seg, m_code, m_cdata, m_seg, p)
    for t in range(T):  # what this child knows of its own full runs
        own_fit[t] = m_fit[p, t] if same else np.nan
        own_steps[t] = m_steps[p, t] if same else 0
    for k in range(S):  # ... and of its hurdle stages
        hs[4][k] = m_sfit[p, k] if same else np.nan
        hs[5][k] = m_ssteps[p, k] if same else 0
    full = tk[2].shape[1] * tk[2].shape[2]
    n_train = train_examples(code, seg, full, op_cost, fcfg)
    fit, steps, keys, lanes, miss = sc[3], sc[4], sc[8], sc[9], sc[10]
    hits = 0
    total = 0
    stage = 0
    result = 0.0
    if icfg[USE_FEC] == 0:
        stage, result, total = pass_hurdles(code, cdata, seg, tk, n_train, icfg, fcfg, hs, fit, steps, lanes)
        if stage == 0:
            n_run = 0
            for t in range(T):  # tasks never run in full (a parent stopped at a hurdle ran none)
                if np.isnan(own_fit[t]):
                    run[n_run] = t
                    n_run += 1
            if n_run > 0:
                run_tasks(code, cdata, seg, tk, run[:n_run], n_train, icfg, fcfg, fit, steps)
                for i in range(n_run):
                    own_fit[run[i]] = fit[i]
                    own_steps[run[i]] = steps[i]
            for t in range(T):
                task_fit[t] = own_fit[t]
                total += own_steps[t]
        probe = 0
    else:
        if same:
            probe = m_probe[p]
            for t in range(T):
                keys[t] = m_keys[p, t]
        else:
            probe = probe_and_hash(code, cdata, seg, tk, n_train, icfg, fcfg, sc)
        total = probe
        hits, n_miss = lookup_tasks(fc, keys, T, task_fit, miss)
        if n_miss > 0:
            stage, result, st = pass_hurdles(code, cdata, seg, tk, n_train, icfg, fcfg, hs, fit, steps, lanes)
            total += st
        if stage == 0:
            n_run = 0
            for i in range(n_miss):
                if np.isnan(own_fit[miss[i]]):  # never ran this task: run it now
                    run[n_run] = miss[i]
                    n_run += 1
            if n_run > 0:
                run_tasks(code, cdata, seg, tk, run[:n_run], n_train, icfg, fcfg, fit, steps)
                for i in range(n_run):
                    own_fit[run[i]] = fit[i]
                    own_steps[run[i]] = steps[i]
            for i in range(n_miss):
                t = miss[i]
                task_fit[t] = own_fit[t]
                total += own_steps[t]
                insert(fc[0], fc[1], fc[2], fc[3], fc[4], keys[t], own_fit[t])
    # Remember (slot may be p itself: everything needed from p has been read).
    n = seg[2]
    for k in range(n):
        copy_row(m_code[slot], m_cdata[slot], k, code, cdata, k)
    for j in range(3):
        m_seg[slot, j] = seg[j]
    m_probe[slot] = probe
    for t in range(T):
        m_keys[slot, t] = keys[t]
        m_fit[slot, t] = own_fit[t]
        m_steps[slot, t] = own_steps[t]
    for k in range(S):
        m_sfit[slot, k] = hs[4][k]
        m_ssteps[slot, k] = hs[5][k]
    if stage == 0:
        result = combine(task_fit, icfg[MEDIAN] != 0)
    return result, total, hits, stage  # the one return: kernel variants splice this as source
