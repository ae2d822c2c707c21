"""Program fitness over a task set: FEC probe, cache lookups, full runs of the misses, combine.

The kernels here serve both the chunk loop and the Python reference loop's evaluator
(:mod:`zeroevo.programs.evaluator`, which keeps an ``OrderedLRU`` instead of the array
cache). ``probe_and_hash``, ``run_tasks``, ``pass_hurdles`` and ``evaluate`` inline the interpreter, so they
are templates compiled per kernel variant (:mod:`zeroevo.programs.kernels`). The probe and
the hurdles are numba-inlined into their callers: a caller links in the libraries of the
functions it calls, and LLVM re-optimizes all of that code, interpreter included, once per
library, so fewer libraries on the way from the interpreter to the chunk loop is seconds
less compile on a first run. Per birth, with FEC on:

1. compile to bytecode (dead code dropped);
2. the probe: every task at once, its first ``fec_train`` training examples and first
   ``fec_valid`` validation examples, recording the exact errors (probe steps count);
3. per task, in task order, look the probe key up in the cache;
4. run the misses together at full length, then insert their fitness in task order;
5. combine per-task fitness by mean or upper median.

The optional train budget gives fitness 0 to a program whose static cost exceeds
``budget_factor`` times the baseline's (a plain 2-layer network); its probe still runs.

Progressive dynamic hurdles (optional, :class:`HurdleState`): a child that must run tasks in
full (a cache miss, or every child with the FEC off) first trains on a few examples of task
0 per stage; below the stage's hurdle (a quantile of recent children's stage fitness) it
stops there, with its stage fitness and status ``hurdle``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from zeroevo.primitives.program.bytecode import compile_program
from zeroevo.primitives.program.executor import run_lanes
from zeroevo.primitives.program.ops import N_OPS, OPS
from zeroevo.programs.fec import insert, lookup, probe_hash
from zeroevo.programs.tasks import TaskSet

# icfg fields
USE_FEC, FEC_TRAIN, FEC_VALID, MEDIAN, ELIMINATE, NS, NV, NM = range(8)
# fcfg fields
MAX_ABS_ERROR, BUDGET_FACTOR, BASE_SETUP_COST, BASE_STEP_COST = range(4)


def op_costs(features: int) -> np.ndarray:
    """Static cost of each op for the train budget: its arithmetic count at feature size F."""
    F = float(features)
    cost = np.zeros(N_OPS)
    for op in OPS[1:]:
        kinds = (op.in1, op.in2, op.out)
        if op.name in ("MATRIX_MATRIX_PRODUCT",):
            cost[op.code] = F ** 3
        elif 2 in kinds:
            cost[op.code] = F * F
        elif 1 in kinds:
            cost[op.code] = F
        else:
            cost[op.code] = 1.0
    return cost


@dataclass(frozen=True, eq=False)
class EvalScratch:
    """Preallocated work arrays for one evaluation (sized for a program and a task set)."""

    code: np.ndarray
    cdata: np.ndarray
    seg: np.ndarray
    fit: np.ndarray
    steps: np.ndarray
    train_err: np.ndarray
    valid_err: np.ndarray
    n_err: np.ndarray
    keys: np.ndarray
    lanes: np.ndarray
    miss: np.ndarray

    @staticmethod
    def create(max_instructions: int, num_tasks: int, fec_train: int, fec_valid: int) -> "EvalScratch":
        """Scratch for programs of up to ``max_instructions`` on ``num_tasks`` tasks."""
        n = max(1, max_instructions)
        T = num_tasks
        return EvalScratch(np.zeros((n, 4), np.int64), np.zeros((n, 3)), np.zeros(3, np.int64),
                           np.zeros(T), np.zeros(T, np.int64), np.zeros((T, max(1, fec_train))),
                           np.zeros((T, max(1, fec_valid))), np.zeros((T, 2), np.int64),
                           np.zeros(T, np.uint64), np.arange(T, dtype=np.int64), np.zeros(T, np.int64))

    def as_tuple(self) -> tuple[np.ndarray, ...]:
        """The arrays in kernel argument order."""
        return (self.code, self.cdata, self.seg, self.fit, self.steps, self.train_err,
                self.valid_err, self.n_err, self.keys, self.lanes, self.miss)


@dataclass(frozen=True, eq=False)
class HurdleState:
    """Progressive dynamic hurdles: per stage, its training examples and quantile, and a ring
    of the stage fitness of the last ``window`` children that reached it; once the ring is
    full, the hurdle is its quantile. ``known_*`` is one birth's scratch (NaN: not run yet).
    No stages: hurdles off."""

    examples: np.ndarray     # (S,) int64
    quantiles: np.ndarray    # (S,) float64
    hist: np.ndarray         # (S, W) float64
    meta: np.ndarray         # (S, 2) int64: children seen, next ring position
    known_fit: np.ndarray    # (S,) float64
    known_steps: np.ndarray  # (S,) int64

    @staticmethod
    def create(examples: list[int], quantiles: list[float], window: int) -> "HurdleState":
        """Empty rings for the given stages."""
        S, W = len(examples), max(1, int(window))
        return HurdleState(np.array(examples, np.int64).reshape(S), np.array(quantiles, np.float64).reshape(S),
                           np.zeros((S, W)), np.zeros((S, 2), np.int64), np.full(S, np.nan), np.zeros(S, np.int64))

    def as_tuple(self) -> tuple[np.ndarray, ...]:
        """The arrays in kernel argument order."""
        return (self.examples, self.quantiles, self.hist, self.meta, self.known_fit, self.known_steps)

    def export(self) -> dict[str, np.ndarray]:
        """The rings, for snapshots."""
        return {"hurdle_hist": self.hist, "hurdle_meta": self.meta}

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Put :meth:`export` output back (absent: a run without hurdles state, left empty)."""
        if "hurdle_hist" in arrays and arrays["hurdle_hist"].shape == self.hist.shape:
            self.hist[...] = arrays["hurdle_hist"]
            self.meta[...] = arrays["hurdle_meta"]


def task_tuple(tasks: TaskSet) -> tuple[np.ndarray, ...]:
    """A task set's arrays in kernel argument order."""
    return (tasks.x_train, tasks.y_train, tasks.order, tasks.x_valid, tasks.y_valid,
            tasks.classify, tasks.exec_keys)


@njit(cache=True)
def train_examples(code: np.ndarray, seg: np.ndarray, full: int, op_cost: np.ndarray,
                   fcfg: np.ndarray) -> int:
    """Training examples the budget allows: ``full``, or 0 for a program over budget."""
    if fcfg[BUDGET_FACTOR] <= 0.0:
        return full
    setup = 0.0
    step = 0.0
    for k in range(seg[2]):
        if k < seg[0]:
            setup += op_cost[code[k, 0]]
        else:
            step += op_cost[code[k, 0]]
    cost = setup + full * step
    base = fcfg[BASE_SETUP_COST] + full * fcfg[BASE_STEP_COST]
    return full if cost <= base * fcfg[BUDGET_FACTOR] else 0


@njit(cache=True)
def kth_smallest(values: np.ndarray, k: int) -> float:
    """``np.sort(values)[k]`` (NaN sorts last) by Wirth's selection on a copy: O(n), and
    a few lines for numba to compile where ``np.sort`` costs a first run over a second."""
    tmp = np.empty(values.shape[0])
    n = 0
    for x in values:
        if x == x:
            tmp[n] = x
            n += 1
    if k >= n:
        return np.nan
    lo, hi = 0, n - 1
    while lo < hi:
        pivot = tmp[k]
        i, j = lo, hi
        while i <= j:
            while tmp[i] < pivot:
                i += 1
            while pivot < tmp[j]:
                j -= 1
            if i <= j:
                tmp[i], tmp[j] = tmp[j], tmp[i]
                i += 1
                j -= 1
        if j < k:
            lo = i
        if k < i:
            hi = j
    return tmp[k]


@njit(cache=True)
def combine(fit: np.ndarray, median: bool) -> float:
    """Mean, or the upper median (the reference's nth_element at size/2), of task fitness."""
    if median:
        return kth_smallest(fit, fit.shape[0] // 2)
    return fit.mean()


@njit(cache=True, inline="always")
def probe_and_hash(code, cdata, seg, tk, n_train, icfg, fcfg, sc) -> int:
    """Run the FEC probe on every task and write each task's cache key to ``sc[8]``.

    Returns the probe's training steps.
    """
    T = tk[0].shape[0]
    fit, steps, terr, verr, nerr, keys, lanes = sc[3], sc[4], sc[5], sc[6], sc[7], sc[8], sc[9]
    run_lanes(code, cdata, seg, lanes[:T], tk[0], tk[1], tk[2], tk[3], tk[4], tk[5], tk[6],
              min(icfg[FEC_TRAIN], tk[0].shape[1]), min(icfg[FEC_VALID], tk[3].shape[1]),
              fcfg[MAX_ABS_ERROR], icfg[NS], icfg[NV], icfg[NM], fit, steps, True, terr, verr, nerr)
    total = 0
    for t in range(T):
        total += steps[t]
        keys[t] = probe_hash(terr[t], nerr[t, 0], verr[t], nerr[t, 1], t, n_train)
    return total


@njit(cache=True)
def run_tasks(code, cdata, seg, tk, lanes, n_train, icfg, fcfg, fit, steps) -> int:
    """Full evaluation of ``lanes``; per-lane fitness into ``fit``. Returns training steps.

    (:func:`zeroevo.programs.evaluator.run_tasks` is the same from Python.)"""
    total = 0
    if n_train == 0:
        for l in range(lanes.shape[0]):
            fit[l] = 0.0
            steps[l] = 0
    else:
        dummy = np.zeros((1, 1))
        nerr = np.zeros((1, 2), np.int64)
        run_lanes(code, cdata, seg, lanes, tk[0], tk[1], tk[2], tk[3], tk[4], tk[5], tk[6],
                  n_train, tk[3].shape[1], fcfg[MAX_ABS_ERROR], icfg[NS], icfg[NV], icfg[NM],
                  fit, steps, False, dummy, dummy, nerr)
        for l in range(lanes.shape[0]):
            total += steps[l]
    return total  # the one return: kernel variants splice this as source


@njit(cache=True)
def hurdle_value(ring: np.ndarray, seen: int, q: float) -> float:
    """The hurdle of a stage: quantile ``q`` of its ring (the lower of the two nearest), or
    -inf until the ring is full."""
    W = ring.shape[0]
    if seen < W:
        return -np.inf
    return kth_smallest(ring, int(q * (W - 1)))


@njit(cache=True, inline="always")
def pass_hurdles(code, cdata, seg, tk, n_train, icfg, fcfg, hs, fit, steps, lanes) -> tuple:
    """The hurdle stages of one child, in order, on task 0: train ``examples[k]`` examples,
    validate, and stop below the stage's hurdle. Every child that reaches a stage adds its
    stage fitness to that stage's ring. ``hs[4:6]`` may hold the stages' known results (a
    memo: NaN = run it). Returns ``(stage stopped at (0: passed all), its fitness, steps)``."""
    examples, quantiles, hist, meta, known_fit, known_steps = hs
    total = 0
    stopped = 0
    f_stopped = 0.0
    for k in range(examples.shape[0]):
        if np.isnan(known_fit[k]):
            run_tasks(code, cdata, seg, tk, lanes[:1], min(examples[k], n_train), icfg, fcfg, fit, steps)
            known_fit[k] = fit[0]
            known_steps[k] = steps[0]
        total += known_steps[k]
        f = known_fit[k]
        hurdle = hurdle_value(hist[k], meta[k, 0], quantiles[k])
        hist[k, meta[k, 1]] = f
        meta[k, 1] = (meta[k, 1] + 1) % hist.shape[1]
        meta[k, 0] += 1
        if f < hurdle:
            stopped = k + 1
            f_stopped = f
            break
    return stopped, f_stopped, total  # the one return: kernel variants splice this as source


@njit(cache=True)
def lookup_tasks(fc, keys, T: int, task_fit: np.ndarray, miss: np.ndarray) -> tuple:
    """Look every task's key up in task order: hits go to ``task_fit``, missed task indices
    to ``miss``. Returns ``(hits, misses)``."""
    hits = 0
    n_miss = 0
    for t in range(T):
        f = lookup(fc[0], fc[1], fc[2], fc[3], fc[4], keys[t])
        if f >= 0.0:
            task_fit[t] = f
            hits += 1
        else:
            miss[n_miss] = t
            n_miss += 1
    return hits, n_miss


@njit(cache=True)
def evaluate(ins, data, sizes, tk, icfg, fcfg, op_cost, fc, sc, task_fit, hs) -> tuple:
    """Fitness of a padded program: ``(fitness, train steps, FEC hits, hurdle stage)``.

    ``fc`` is the FEC array tuple (ignored when FEC is off); ``task_fit[T]`` receives the
    per-task fitness; ``hs`` is the :class:`HurdleState` tuple. A child that must run tasks
    in full meets the hurdles first; stopped at stage k, its fitness is its stage fitness
    (``task_fit`` is not filled) and nothing is inserted in the cache.
    """
    code, cdata, seg = sc[0], sc[1], sc[2]
    compile_program(ins, data, sizes, icfg[NS], icfg[NV], icfg[NM], icfg[ELIMINATE] != 0,
                    code, cdata, seg)
    T = tk[0].shape[0]
    full = tk[2].shape[1] * tk[2].shape[2]
    n_train = train_examples(code, seg, full, op_cost, fcfg)
    fit, steps, keys, lanes, miss = sc[3], sc[4], sc[8], sc[9], sc[10]
    for k in range(hs[4].shape[0]):
        hs[4][k] = np.nan
    if icfg[USE_FEC] == 0:
        stage, f_stage, total = pass_hurdles(code, cdata, seg, tk, n_train, icfg, fcfg, hs, fit, steps, lanes)
        if stage > 0:
            return f_stage, total, 0, stage
        total += run_tasks(code, cdata, seg, tk, lanes[:T], n_train, icfg, fcfg, fit, steps)
        for t in range(T):
            task_fit[t] = fit[t]
        return combine(task_fit, icfg[MEDIAN] != 0), total, 0, 0
    total = probe_and_hash(code, cdata, seg, tk, n_train, icfg, fcfg, sc)
    hits, n_miss = lookup_tasks(fc, keys, T, task_fit, miss)
    if n_miss > 0:
        stage, f_stage, st = pass_hurdles(code, cdata, seg, tk, n_train, icfg, fcfg, hs, fit, steps, lanes)
        total += st
        if stage > 0:
            return f_stage, total, hits, stage
        total += run_tasks(code, cdata, seg, tk, miss[:n_miss], n_train, icfg, fcfg, fit, steps)
        for i in range(n_miss):
            t = miss[i]
            task_fit[t] = fit[i]
            insert(fc[0], fc[1], fc[2], fc[3], fc[4], keys[t], fit[i])
    return combine(task_fit, icfg[MEDIAN] != 0), total, hits, 0
