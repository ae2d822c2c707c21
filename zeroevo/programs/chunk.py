"""The numba chunk loop: many births of regularized evolution over programs in one call.

A program birth costs microseconds, so Python cannot afford a step per birth. This kernel
performs a chunk of births (tournament, mutation, FEC probe and lookup, evaluation, ring
replacement) and fills preallocated birth-log columns; Python appends them to the log,
snapshots, migrates and reports between chunks. It is the same algorithm as the Python
``propose / commit`` loop in :mod:`zeroevo.core.engine` (a test compares their birth logs):

- birth ``t`` draws everything from the stream keyed by ``(root_seed, island, t)``;
- births ``0..P-1`` of a restart fill the population (random, or a template program);
- later births take the best of ``T`` uniform draws with replacement (first of equals wins),
  mutate a copy, evaluate it and overwrite slot ``b mod P`` (the oldest);
- the train-step budget is checked only at generation boundaries (every P births after the
  initial population), as the reference does.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from zeroevo.core.objectives import ACCURACY, PARETO, objective_value, pareto_pick
from zeroevo.core.protocols import STATUS_FEC_HIT, STATUS_OK, STATUS_STOPPED
from zeroevo.core.rng import birth_key, integer, seed_state
from zeroevo.programs.memo import evaluate_memo
from zeroevo.spaces.program.mutation import copy_row, mutate, random_program

MUTATION_INIT = 0
MUTATION_RANDOM = 11  # spaces.program.genome.MUTATIONS


@njit(cache=True)
def tournament(pop_fit: np.ndarray, pop_cost: np.ndarray, ocfg: np.ndarray, size: int, st: np.ndarray,
               members: np.ndarray) -> int:
    """Slot of the best of ``size`` uniform draws with replacement (first of equals wins):
    by fitness, or as ``ocfg`` (:meth:`~zeroevo.core.config.Objectives.codes`) says."""
    P = pop_fit.shape[0]
    for i in range(size):
        members[i] = integer(st, P)
    mode = int(ocfg[0])
    if mode == PARETO:
        return pareto_pick(pop_fit, pop_cost, members[:size])
    best = -1
    best_v = -np.inf
    for i in range(size):
        k = members[i]
        v = pop_fit[k] if mode == ACCURACY else objective_value(pop_fit[k], pop_cost[k], mode, ocfg[1], ocfg[2],
                                                                ocfg[3])
        if best == -1 or v > best_v:
            best = k
            best_v = v
    return best


@njit(cache=True)
def program_cost(sizes: np.ndarray, seg: np.ndarray, kind: int) -> float:
    """A program's cost of kind ``kind`` (``PROGRAM_COSTS``): its size, or the instructions
    left after dead code is dropped (``seg``, its compiled form); 0 for no cost (-1)."""
    if kind == 0:
        return float(sizes[0] + sizes[1] + sizes[2])
    if kind == 1:
        return float(seg[2])
    return 0.0


@njit(cache=True)
def budget_reached(b: int, P: int, steps: int, max_steps: int) -> bool:
    """True at a generation boundary once the restart's train steps reach ``max_steps``."""
    return max_steps > 0 and b >= P and (b - P) % P == 0 and steps >= max_steps


@njit(cache=True)
def copy_program(ins: np.ndarray, data: np.ndarray, sizes: np.ndarray, ins_from: np.ndarray,
                 data_from: np.ndarray, sizes_from: np.ndarray) -> None:
    """Copy a padded program element by element. (An array-to-array slice assignment would
    make numba compile its shape-mismatch message: string formatting, a second of every
    first run's compile.)"""
    for c in range(ins.shape[0]):
        sizes[c] = sizes_from[c]
        for k in range(ins.shape[1]):
            copy_row(ins[c], data[c], k, ins_from[c], data_from[c], k)


@njit(cache=True, nogil=True)  # lets a worker's watchdog thread exit it if the parent dies
def run_chunk(pop_ins, pop_data, pop_sizes, pop_fit, pop_birth, pop_cost, ocfg,
              allowed, n_allowed, bounds, mem, mutations, mutate_prob, tournament_size,
              init_random, random_search, tmpl_ins, tmpl_data, tmpl_sizes,
              tk, icfg, fcfg, op_cost, fc, sc, memo, hs,
              root_seed, island, t0, b0, n_max, steps0, max_steps,
              out_birth, out_parent, out_mut, out_status, out_fit, out_steps, out_hits, out_stage, out_cost):
    """Run up to ``n_max`` births starting at global birth ``t0`` (restart-local ``b0``).

    ``steps0`` is the restart's train steps so far. With ``random_search`` every birth after
    the initial population is a fresh random program (the baseline algorithm). ``memo``
    (:class:`~zeroevo.programs.memo.EvalMemo`) spares re-running a child compiled to its
    parent's code; ``hs`` (:class:`~zeroevo.programs.evaluation.HurdleState`) holds the hurdle
    rings. Returns ``(births done, steps now)``.
    """
    P = pop_fit.shape[0]
    cap = pop_ins.shape[2]
    st = np.zeros(1, dtype=np.uint64)
    cins = np.zeros((3, cap, 4), dtype=np.int64)
    cdata = np.zeros((3, cap, 3))
    csizes = np.zeros(3, dtype=np.int64)
    task_fit = np.zeros(tk[0].shape[0])
    members = np.zeros(max(1, tournament_size), dtype=np.int64)
    cost_kind = int(ocfg[4])
    steps = steps0
    done = 0
    for i in range(n_max):
        b = b0 + i
        if budget_reached(b, P, steps, max_steps):
            break
        t = t0 + i
        seed_state(st, birth_key(root_seed, island, t))
        p = -1
        if b < P:
            slot = b
            parent = -1
            kind = MUTATION_INIT
            if init_random:
                random_program(cins, cdata, csizes, allowed, n_allowed, bounds, mem, st)
            else:
                copy_program(cins, cdata, csizes, tmpl_ins, tmpl_data, tmpl_sizes)
        elif random_search:
            slot = b % P
            parent = -1
            kind = MUTATION_RANDOM
            random_program(cins, cdata, csizes, allowed, n_allowed, bounds, mem, st)
        else:
            slot = b % P
            p = tournament(pop_fit, pop_cost, ocfg, tournament_size, st, members)
            parent = pop_birth[p]
            copy_program(cins, cdata, csizes, pop_ins[p], pop_data[p], pop_sizes[p])
            kind = mutate(cins, cdata, csizes, mutations, mutate_prob, allowed, n_allowed,
                          bounds, mem, st)
        fitness, s, hits, stage = evaluate_memo(cins, cdata, csizes, tk, icfg, fcfg, op_cost, fc, sc, task_fit,
                                                memo, hs, p, slot)
        steps += s
        cost = program_cost(csizes, sc[2], cost_kind)
        pop_cost[slot] = cost
        copy_program(pop_ins[slot], pop_data[slot], pop_sizes[slot], cins, cdata, csizes)
        pop_fit[slot] = fitness
        pop_birth[slot] = t
        out_birth[i] = t
        out_parent[i] = parent
        out_mut[i] = kind
        if stage > 0:
            out_status[i] = STATUS_STOPPED
        else:
            out_status[i] = STATUS_FEC_HIT if hits == task_fit.shape[0] else STATUS_OK
        out_fit[i] = fitness
        out_steps[i] = s
        out_hits[i] = hits
        out_stage[i] = stage
        out_cost[i] = cost
        done += 1
    return done, steps
