"""Execution traces of a program: machines, the training harness, and bit-exact comparison.

A *machine* is anything with the exported module's functions ``setup(key=0)``,
``predict(x)`` and ``train_step(x, y, classify=False)``: a loaded export or the same source
executed in memory (:mod:`zeroevo.programs.export`, also what ``zeroevo analyze simplify``
runs), or zeroevo's numpy reference interpreter (:class:`ReferenceMachine`). :func:`trace`
runs one through zeroevo's training and validation loop on a task and records every
prediction, the steps and the fitness, so two machines compare prediction by prediction
(:func:`mismatch`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from zeroevo.programs.tasks import TaskSet
from zeroevo.spaces.program.genome import Program, ProgramSpec

# ---- machines ---------------------------------------------------------------------------

class Machine(Protocol):
    """Something that runs a program the way the exported module does."""

    def setup(self, key: int = 0) -> None:
        """Wipe memory, start the random stream at ``key``, run setup."""

    def predict(self, x: np.ndarray) -> float:
        """Prediction for ``x`` (no learning)."""

    def train_step(self, x: np.ndarray, y: float, classify: bool = False) -> float:
        """Predict then learn; the prediction (after the sigmoid for classification)."""


class ReferenceMachine:
    """zeroevo's numpy reference interpreter (``primitives/reference.py``) as a machine."""

    def __init__(self, program: Program, spec: ProgramSpec) -> None:
        from zeroevo.primitives.program import reference

        self.ref = reference
        self.program, self.spec = program, spec
        self.mem = None
        self.rs = None
        # Its per-instruction entry point sets numpy's error state each time; with the
        # private one (when present) a whole component runs under one errstate.
        self._step = getattr(reference, "_execute", None)
        self._rows = [[(int(r[0]), int(r[1]), int(r[2]), int(r[3]), d.copy())
                       for r, d in zip(*program.component(c)) if r[0] != 0] for c in range(3)]

    def _run(self, c: int) -> None:
        if self._step is None:
            self.ref.run_component(*self.program.component(c), self.mem, self.rs)
            return
        with np.errstate(all="ignore"):
            for op, a, b, o, d in self._rows[c]:
                self._step(op, a, b, o, d, self.mem, self.rs)

    def setup(self, key: int = 0) -> None:
        """Wipe memory, start the stream at ``key``, run setup."""
        from zeroevo.core.rng import new_state

        sp = self.spec
        self.mem = self.ref.Memory.zeros(sp.scalars, sp.vectors, sp.matrices, sp.features)
        self.rs = new_state(np.uint64(int(key) & 0xFFFFFFFFFFFFFFFF))
        self._run(0)

    def predict(self, x: np.ndarray) -> float:
        """Prediction for ``x``."""
        self.mem.v[0] = x
        self.mem.s[0] = 0.0
        self._run(1)
        return float(self.mem.s[1])

    def train_step(self, x: np.ndarray, y: float, classify: bool = False) -> float:
        """Predict then learn."""
        p = self.predict(x)
        if classify:
            p = _sigmoid(p)
            self.mem.s[1] = p
        self.mem.v[0] = x
        self.mem.s[0] = y
        self._run(2)
        return p


def reference_machine(program: Program, spec: ProgramSpec) -> Machine | None:
    """:class:`ReferenceMachine`, or None where ``primitives/reference.py`` is missing."""
    try:
        machine_ = ReferenceMachine(program, spec)
        getattr(machine_.ref, "run_component")
        getattr(machine_.ref, "Memory")
        return machine_
    except (ImportError, AttributeError):
        return None


# ---- the harness ------------------------------------------------------------------------

def _sigmoid(x: float) -> float:
    try:
        e = math.exp(-x)
    except OverflowError:
        e = math.inf
    return 1.0 / (1.0 + e)


def _squash(rmse: float) -> float:
    if math.isnan(rmse) or math.isinf(rmse):
        return 0.0
    return 1.0 - 0.63661977236758138243 * math.atan(rmse)


@dataclass(frozen=True)
class Trace:
    """One task's run: every training and validation prediction, steps and fitness."""

    train: np.ndarray
    valid: np.ndarray
    steps: int
    fitness: float


def trace(m: Machine, tasks: TaskSet, t: int, max_abs_error: float = 100.0) -> Trace:
    """Run task ``t`` as zeroevo's executor does (all epochs) on machine ``m``.

    Training examples in each epoch's order: predict (+ sigmoid for classification), stop
    the task on an error above ``max_abs_error`` or NaN (fitness 0 in the first epoch, else
    the best so far), learn. After each epoch the validation examples are predicted until
    one breaks the bound (the epoch then scores 0); else the epoch's fitness is the squashed
    RMSE (or accuracy).
    """
    x_train, y_train, order = tasks.x_train[t], tasks.y_train[t], tasks.order[t]
    x_valid, y_valid = tasks.x_valid[t], tasks.y_valid[t]
    cls = bool(tasks.classify[t])
    N, V = x_train.shape[0], x_valid.shape[0]
    train, valid = [], []
    m.setup(int(tasks.exec_keys[t]))
    total = remaining = N * order.shape[0]
    steps, epoch, best = 0, 0, 0.0
    with np.errstate(all="ignore"):
        while remaining > 0:
            failed = False
            for i in range(min(N, remaining)):
                e = order[epoch, i]
                y = float(y_train[e])
                steps += 1
                p = m.train_step(x_train[e], y, cls)
                train.append(p)
                if not abs(y - p) <= max_abs_error:
                    failed = True
                    break
            if failed:
                if remaining == total:
                    best = 0.0
                break
            remaining -= N
            loss, vfail = 0.0, False
            for i in range(V):
                p = m.predict(x_valid[i])
                valid.append(p)
                y = float(y_valid[i])
                if cls:
                    prob = _sigmoid(p)
                    err = math.inf if (prob > 1.0 or prob < 0.0) else (0.0 if (y > 0.5) == (prob > 0.5) else 1.0)
                else:
                    err = abs(y - p)
                if not err <= max_abs_error:  # the pass stops here, as in the reference
                    vfail = True
                    break
                loss += err if cls else err * err
            f_epoch = 0.0 if vfail else (1.0 - loss / V if cls else _squash(math.sqrt(loss / V)))
            if f_epoch > best:
                best = f_epoch
            epoch += 1
    return Trace(np.array(train, dtype=np.float64), np.array(valid, dtype=np.float64), steps, best)


def traces(m: Machine, tasks: TaskSet, max_abs_error: float = 100.0, limit: int = 0) -> list[Trace]:
    """:func:`trace` of every task (the first ``limit`` when ``limit`` > 0)."""
    n = tasks.num_tasks if limit <= 0 else min(limit, tasks.num_tasks)
    return [trace(m, tasks, t, max_abs_error) for t in range(n)]


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shapes and identical float64 bits (any NaN matches any NaN)."""
    if a.shape != b.shape:
        return False
    eq = a.view(np.int64) == b.view(np.int64)
    return bool(np.all(eq | (np.isnan(a) & np.isnan(b))))


def mismatch(a: list[Trace], b: list[Trace]) -> str | None:
    """Where two runs first differ (None: every prediction identical)."""
    if len(a) != len(b):
        return f"{len(a)} tasks vs {len(b)}"
    for t, (x, y) in enumerate(zip(a, b)):
        for what in ("train", "valid"):
            pa, pb = getattr(x, what), getattr(y, what)
            if not same_bits(pa, pb):
                n = min(len(pa), len(pb))
                bad = [i for i in range(n) if not same_bits(pa[i:i + 1], pb[i:i + 1])]
                where = bad[0] if bad else n
                va = pa[where] if where < len(pa) else "(none)"
                vb = pb[where] if where < len(pb) else "(none)"
                return f"task {t}: {what} prediction {where} is {va!r} vs {vb!r}"
        if x.steps != y.steps or x.fitness != y.fitness:
            return f"task {t}: steps/fitness {x.steps}/{x.fitness!r} vs {y.steps}/{y.fitness!r}"
    return None


def count(runs: list[Trace]) -> int:
    """Predictions in ``runs``."""
    return sum(len(r.train) + len(r.valid) for r in runs)
