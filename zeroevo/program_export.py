"""A program as a standalone numpy module, the training harness, and verified predictions.

:func:`module_source` writes a program as plain Python (numpy and ``math`` only, no
zeroevo import): module-level memory ``s[NS]``, ``v[NV, F]``, ``m[NM, F, F]`` and four
functions, ``setup(key=0)``, ``predict(x)``, ``learn(x, y)`` and ``train_step(x, y,
classify=False)``, each instruction one line of numpy. The arithmetic follows the
interpreter exactly (left-to-right sums from +0.0, the C library's scalar
transcendentals, NaN/inf flowing unguarded), so its predictions equal zeroevo's bit for
bit. The random set ops (uniform / gaussian) draw from a copy of zeroevo's splitmix64
stream written out in pure Python, started by ``setup(key)``: with a task's ``exec_keys``
entry as ``key`` the draws are zeroevo's own, so programs with random ops are verified too.

A *machine* is anything with those four functions: a loaded export, the same source
executed in memory (:func:`machine`, also what ``zeroevo analyze simplify`` runs), or
zeroevo's numpy reference interpreter (:class:`ReferenceMachine`). :func:`trace` runs
one through zeroevo's training and validation loop on a task and records every prediction,
the steps and the fitness, so two machines compare prediction by prediction.
"""
from __future__ import annotations

import importlib.util
import math
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from zeroevo.errors import ZeroevoError
from zeroevo.spaces.program.genome import COMPONENTS, Program, ProgramSpec
from zeroevo.spaces.program.space import render_instruction
from zeroevo.tasks import TaskSet


class VerificationError(ZeroevoError):
    """Two programs (or a program and its export) did not predict identically."""


# ---- the standalone module ---------------------------------------------------------------

_PRELUDE = '''\
import math

import numpy as np

NS, NV, NM, F = {ns}, {nv}, {nm}, {F}
s = np.zeros(NS)            # scalars: s0 = label (learn only), s1 = prediction
v = np.zeros((NV, F))       # vectors: v0 = features
m = np.zeros((NM, F, F))    # matrices
_state = [0]                # the random stream (splitmix64) of the set ops

_MASK = (1 << 64) - 1


def _mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _u01():
    _state[0] = (_state[0] + 0x9E3779B97F4A7C15) & _MASK
    return (_mix64(_state[0]) >> 11) * (1.0 / 9007199254740992.0)


def _uniform(low, high):
    if not low < high:
        return low
    return low + (high - low) * _u01()


def _gaussian(mean, std):
    u1 = _u01()
    u2 = _u01()
    return mean + std * (math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2))


def _c(name, x):
    # The C library's function with IEEE results where Python's math raises.
    try:
        return getattr(math, name)(float(x))
    except OverflowError:
        return math.inf
    except ValueError:
        return -math.inf if name == "log" and x == 0.0 else math.nan


def _sum(x):
    acc = 0.0  # left to right from +0.0, as the interpreter sums (not numpy's pairwise sum)
    for value in np.ravel(x).tolist():
        acc += value
    return acc


def _sqrt(x):
    return math.sqrt(x) if x >= 0.0 else (x if x != x else math.nan)


def _dot(a, b):
    return _sum(a * b)


def _norm(x):
    return _sqrt(_sum(x * x))


def _mean(x):
    return _sum(x) / x.size


def _std(x):
    mean = _sum(x) / x.size
    return _sqrt(_sum(x * x) / x.size - mean * mean)


def _matvec(a, x):
    return np.array([_dot(a[i], x) for i in range(F)])


def _matmul(a, b):
    return np.array([[_dot(a[i, :], b[:, j]) for j in range(F)] for i in range(F)])


def _sigmoid(x):
    return 1.0 / (1.0 + _c("exp", -x))
'''

_FUNCTIONS = '''

def setup(key=0):
    """Wipe memory, start the random stream at ``key``, run the setup instructions."""
    s[:] = 0.0
    v[:] = 0.0
    m[:] = 0.0
    _state[0] = _mix64(int(key) & _MASK)
    with np.errstate(all="ignore"):
{setup}


def _predict():
{predict}


def predict(x):
    """The prediction for features ``x`` (``s1`` after the predict instructions)."""
    v[0] = x
    s[0] = 0.0
    with np.errstate(all="ignore"):
        _predict()
    return float(s[1])


def learn(x, y):
    """Run the learn instructions on features ``x`` with label ``y``."""
    v[0] = x
    s[0] = y
    with np.errstate(all="ignore"):
{learn}


def train_step(x, y, classify=False):
    """One training example as zeroevo runs it: predict, then learn; returns the prediction.

    For classification the prediction passes through a sigmoid that learn then sees in s1.
    """
    p = predict(x)
    if classify:
        p = _sigmoid(p)
        s[1] = p
    learn(x, y)
    return p
'''

_MATH = {7: "sin", 8: "cos", 9: "tan", 10: "asin", 11: "acos", 12: "atan", 13: "exp", 14: "log"}
_BINARY = {1: ("s", "+"), 2: ("s", "-"), 3: ("s", "*"), 4: ("s", "/"), 23: ("v", "+"), 24: ("v", "-"),
           25: ("v", "*"), 26: ("v", "/"), 39: ("m", "+"), 40: ("m", "-"), 41: ("m", "*"), 42: ("m", "/")}
_TEMPLATES = {
    5: "s[{o}] = abs(s[{a}])",
    6: "s[{o}] = 1.0 / s[{a}]",
    15: "s[{o}] = 1.0 if s[{a}] >= 0.0 else 0.0",
    16: "v[{o}] = np.where(v[{a}] > 0.0, 1.0, 0.0)",
    17: "m[{o}] = np.where(m[{a}] > 0.0, 1.0, 0.0)",
    18: "v[{o}] = v[{b}] * s[{a}]",
    19: "v[{o}] = np.full(F, s[{a}])",
    20: "v[{o}] = 1.0 / v[{a}]",
    21: "s[{o}] = _norm(v[{a}])",
    22: "v[{o}] = np.abs(v[{a}])",
    27: "s[{o}] = _dot(v[{a}], v[{b}])",
    28: "m[{o}] = np.outer(v[{a}], v[{b}])",
    29: "m[{o}] = m[{b}] * s[{a}]",
    30: "m[{o}] = 1.0 / m[{a}]",
    31: "v[{o}] = _matvec(m[{a}], v[{b}])",
    32: "m[{o}] = np.repeat(v[{a}][:, None], F, axis=1)",
    33: "m[{o}] = np.repeat(v[{a}][None, :], F, axis=0)",
    34: "s[{o}] = _norm(m[{a}])",
    35: "v[{o}] = np.array([_norm(m[{a}][:, j]) for j in range(F)])",
    36: "v[{o}] = np.array([_norm(m[{a}][i, :]) for i in range(F)])",
    37: "m[{o}] = m[{a}].T.copy()",
    38: "m[{o}] = np.abs(m[{a}])",
    43: "m[{o}] = _matmul(m[{a}], m[{b}])",
    44: "s[{o}] = s[{b}] if s[{b}] < s[{a}] else s[{a}]",
    45: "v[{o}] = np.where(v[{a}] < v[{b}], v[{a}], v[{b}])",
    46: "m[{o}] = np.where(m[{a}] < m[{b}], m[{a}], m[{b}])",
    47: "s[{o}] = s[{b}] if s[{a}] < s[{b}] else s[{a}]",
    48: "v[{o}] = np.where(v[{a}] > v[{b}], v[{a}], v[{b}])",
    49: "m[{o}] = np.where(m[{a}] > m[{b}], m[{a}], m[{b}])",
    50: "s[{o}] = _mean(v[{a}])",
    51: "s[{o}] = _mean(m[{a}])",
    52: "v[{o}] = np.array([_mean(m[{a}][i]) for i in range(F)])",
    53: "v[{o}] = np.array([_std(m[{a}][i]) for i in range(F)])",
    54: "s[{o}] = _std(v[{a}])",
    55: "s[{o}] = _std(m[{a}])",
    56: "s[{o}] = {d0}",
    57: "v[{o}, {i0}] = {d1}",
    58: "m[{o}, {i0}, {i1}] = {d2}",
    59: "s[{o}] = _uniform({d0}, {d1})",
    60: "v[{o}] = [_uniform({d0}, {d1}) for _ in range(F)]",
    61: "m[{o}] = np.reshape([_uniform({d0}, {d1}) for _ in range(F * F)], (F, F))",
    62: "s[{o}] = _gaussian({d0}, {d1})",
    63: "v[{o}] = [_gaussian({d0}, {d1}) for _ in range(F)]",
    64: "m[{o}] = np.reshape([_gaussian({d0}, {d1}) for _ in range(F * F)], (F, F))",
}


def _element(frac: float, F: int) -> int:
    # The interpreter's element index: int(F * frac) clamped into [0, F - 1] (NaN -> 0).
    x = F * float(frac)
    if x != x:
        return 0
    return min(max(int(max(min(x, 1e18), -1e18)), 0), F - 1)


def statement(op: int, row: np.ndarray, data: np.ndarray, features: int) -> str:
    """One instruction as a line of numpy code over ``s``, ``v`` and ``m``."""
    a, b, o = int(row[1]), int(row[2]), int(row[3])
    if op == 0:
        return "pass"
    if op in _BINARY:
        kind, sym = _BINARY[op]
        return f"{kind}[{o}] = {kind}[{a}] {sym} {kind}[{b}]"
    if op in _MATH:
        return f's[{o}] = _c("{_MATH[op]}", s[{a}])'
    d = [repr(float(x)) for x in data]
    return _TEMPLATES[op].format(a=a, b=b, o=o, d0=d[0], d1=d[1], d2=d[2],
                                 i0=_element(data[0], features), i1=_element(data[1], features))


def _body(program: Program, c: int, features: int, indent: str) -> str:
    ins, data = program.component(c)
    lines = []
    for row, d in zip(ins, data):
        op = int(row[0])
        if op == 0:
            continue
        lines.append(f"{indent}{statement(op, row, d, features)}  # {render_instruction(op, row, d, features)}")
    return "\n".join(lines) or f"{indent}pass"


def module_source(program: Program, spec: ProgramSpec, title: str = "") -> str:
    """A standalone Python module computing exactly what ``program`` computes."""
    doc = ['"""' + (title or "A learning algorithm evolved by zeroevo (AutoML-Zero style)."),
           "",
           "Standalone: numpy and math only. Usage, per task (memory persists across calls):",
           "",
           "    setup(key)                        # once: wipe memory, run setup",
           "    p = train_step(x, y)              # each training example (classify=True: sigmoid)",
           "    p = predict(x)                    # validation / inference",
           "",
           "The uniform / gaussian set ops draw from zeroevo's splitmix64 stream (written out",
           "below), started at `key` by setup(): with the task's zeroevo exec key the draws, and",
           "so the predictions, equal zeroevo's bit for bit; with another key they are just",
           "another seeded random stream. Arithmetic follows zeroevo's interpreter (left-to-right",
           "sums, C-library scalar math, IEEE inf/NaN unguarded).",
           '"""']
    head = "\n".join(doc) + "\n" + _PRELUDE.format(ns=spec.scalars, nv=spec.vectors, nm=spec.matrices,
                                                   F=spec.features)
    F = spec.features
    return head + _FUNCTIONS.format(setup=_body(program, 0, F, " " * 8), predict=_body(program, 1, F, " " * 4),
                                    learn=_body(program, 2, F, " " * 8))


# ---- machines ---------------------------------------------------------------------------

class Machine(Protocol):
    """Something that runs a program the way the exported module does."""

    def setup(self, key: int = 0) -> None:
        """Wipe memory, start the random stream at ``key``, run setup."""

    def predict(self, x: np.ndarray) -> float:
        """Prediction for ``x`` (no learning)."""

    def train_step(self, x: np.ndarray, y: float, classify: bool = False) -> float:
        """Predict then learn; the prediction (after the sigmoid for classification)."""


def machine(program: Program, spec: ProgramSpec, name: str = "zeroevo_program") -> types.ModuleType:
    """The exported module of ``program``, executed in memory (no file)."""
    mod = types.ModuleType(name)
    exec(compile(module_source(program, spec), f"<{name}>", "exec"), mod.__dict__)
    return mod


def load_module(path: str | Path, name: str = "zeroevo_exported_program") -> types.ModuleType:
    """Import a module from a file path (not via sys.path)."""
    spec = importlib.util.spec_from_file_location(name, str(path))
    if spec is None or spec.loader is None:
        raise VerificationError(f"cannot import {path} as a Python module")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class ReferenceMachine:
    """zeroevo's numpy reference interpreter (``primitives/reference.py``) as a machine."""

    def __init__(self, program: Program, spec: ProgramSpec) -> None:
        from zeroevo.primitives import reference

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
            self.ref.run_component(self.program, c, self.mem, self.rs)
            return
        with np.errstate(all="ignore"):
            for op, a, b, o, d in self._rows[c]:
                self._step(op, a, b, o, d, self.mem, self.rs)

    def setup(self, key: int = 0) -> None:
        """Wipe memory, start the stream at ``key``, run setup."""
        from zeroevo.rng import new_state

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


def component_sizes(program: Program) -> dict[str, int]:
    """Instructions per component, no-ops excluded."""
    return {name: int(np.count_nonzero(program.component(c)[0][:, 0])) for c, name in enumerate(COMPONENTS)}
