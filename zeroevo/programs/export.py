"""A program as a standalone numpy module: its source, loading it, running it in memory.

:func:`module_source` writes a program as plain Python (numpy and ``math`` only, no
zeroevo import): module-level memory ``s[NS]``, ``v[NV, F]``, ``m[NM, F, F]`` and four
functions, ``setup(key=0)``, ``predict(x)``, ``learn(x, y)`` and ``train_step(x, y,
classify=False)``, each instruction one line of numpy. The arithmetic follows the
interpreter exactly (left-to-right sums from +0.0, the C library's scalar
transcendentals, NaN/inf flowing unguarded), so its predictions equal zeroevo's bit for
bit. The random set ops (uniform / gaussian) draw from a copy of zeroevo's splitmix64
stream written out in pure Python, started by ``setup(key)``: with a task's ``exec_keys``
entry as ``key`` the draws are zeroevo's own, so programs with random ops are verified too.

:func:`load_module` imports a written module from its file; :func:`machine` executes the
same source in memory (what ``zeroevo analyze simplify`` runs). Either is a *machine* that
:mod:`zeroevo.programs.trace` runs through zeroevo's training loop to compare predictions.
"""
from __future__ import annotations

import importlib.util
import types
from pathlib import Path

import numpy as np

from zeroevo.core.errors import ZeroevoError
from zeroevo.spaces.program.genome import Program, ProgramSpec
from zeroevo.spaces.program.space import render_instruction


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


# ---- loading ----------------------------------------------------------------------------

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

