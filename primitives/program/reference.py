"""The slow, obvious numpy interpreter: AutoML-Zero semantics, one task, one instruction at a time.

The ops and components live here; training and validation in ``reference_executor.py``.

This is the yardstick the numba kernels (``interpreter.py``, ``executor.py``) are tested
against. It is written from the op table and the semantics
(docs/semantics.md), not from the kernels, and favours plain code over speed:
memory is ``s[NS]``, ``v[NV, F]`` and ``m[NM, F, F]`` float64 arrays of one task, every op
computes its result into a fresh array before assigning it (so an output may alias an
input), and IEEE inf/NaN flow freely (``np.errstate(all="ignore")``: 1/0 is inf, log(-1)
is NaN, nothing is guarded).

Three choices make "same semantics" mean *bit-identical* results:

* Reductions (sums, means, dot products, norms, matrix products, standard deviations) are
  left-to-right sums that start from ``+0.0``: the textbook definition. numpy's own
  ``np.sum`` / ``np.dot`` / ``@`` use pairwise or BLAS (SIMD, possibly FMA) orders whose
  last bits differ, and the C++ reference (Eigen) has yet another order, so no order is
  "the" reference; the plain one is the one both interpreters promise.
* Scalar transcendentals (sin, cos, tan, arcsin, arccos, arctan, exp, log; also the
  sigmoid and the fitness ``atan``) call the C math library, as ``std::sin`` in the C++
  reference and ``math.sin`` in numba do. numpy's float64 ufuncs for tan, arcsin, arccos,
  arctan, exp and log use their own SIMD code on AVX-512 machines and differ from the C
  library by up to 1 ulp (measured here; tests/test_interpreter.py asserts at most 4,
  numpy's documented bound for those kernels). Python's ``math`` module calls the C
  library but raises where IEEE returns inf or NaN, so :func:`c_math` maps those
  exceptions back to the IEEE result.
* Random set ops draw from the task's stream with ``zeroevo.core.rng`` (the same counter
  generator the kernels use), one draw per element in row-major order.

The mean and standard deviations follow the reference exactly: ``mean = sum / n`` and
``std = sqrt(sum(x*x) / n - mean*mean)``, not clamped, so a tiny negative variance gives
NaN.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from zeroevo.core.rng import gaussian, uniform

__all__ = ["Memory", "execute_instruction", "run_component"]


@dataclass
class Memory:
    """One task's memory: scalars ``s[NS]``, vectors ``v[NV, F]``, matrices ``m[NM, F, F]``."""

    s: np.ndarray
    v: np.ndarray
    m: np.ndarray

    @staticmethod
    def zeros(scalars: int, vectors: int, matrices: int, features: int) -> "Memory":
        """Wiped memory (all zeros), as every evaluation of a task starts."""
        return Memory(np.zeros(scalars), np.zeros((vectors, features)),
                      np.zeros((matrices, features, features)))

    @property
    def features(self) -> int:
        """Feature size F."""
        return self.v.shape[1]


# ---- helpers -----------------------------------------------------------------------------

def c_math(name: str, x: float) -> float:
    """The C library's ``name(x)`` with IEEE results where Python's ``math`` raises."""
    try:
        return getattr(math, name)(float(x))
    except OverflowError:  # only exp overflows for finite input: IEEE gives +inf
        return math.inf
    except ValueError:  # a domain error: IEEE gives NaN, except log(+-0) = -inf
        if name == "log" and x == 0.0:
            return -math.inf
        return math.nan


def _sum(x: np.ndarray) -> float:
    """Left-to-right sum starting from +0.0 (see the module docstring)."""
    acc = np.float64(0.0)
    for value in np.asarray(x, dtype=np.float64).ravel():
        acc = acc + value
    return acc


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    # Products rounded one by one, then summed: no fused multiply-add.
    return _sum(a * b)


def _mean(x: np.ndarray) -> float:
    return _sum(x) / x.size


def _std(x: np.ndarray) -> float:
    mean = _sum(x) / x.size
    return np.sqrt(_sum(x * x) / x.size - mean * mean)


def _norm(x: np.ndarray) -> float:
    return np.sqrt(_sum(x * x))


def _heaviside_strict(x: np.ndarray) -> np.ndarray:
    # Vector / matrix heaviside: 1 where x > 0 (0 and NaN map to 0).
    return np.where(x > 0.0, 1.0, 0.0)


def _element(frac: float, F: int) -> int:
    """Element index of a const-set op: ``int(F * frac)``, clamped into ``[0, F - 1]``.

    Validated genomes keep ``frac`` in [0, 1), so the clamp only guards malformed
    constants (NaN counts as 0).
    """
    x = F * float(frac)
    if x != x:
        return 0
    return min(max(int(max(min(x, 1e18), -1e18)), 0), F - 1)


def _uniform_set(rs: np.ndarray, low: float, high: float) -> float:
    # absl's open-interval Uniform returns ``low`` for an empty or inverted range.
    if not low < high:
        return np.float64(low)
    return np.float64(low + (high - low) * uniform(rs))


def _gaussian_set(rs: np.ndarray, mean: float, std: float) -> float:
    return np.float64(mean + std * gaussian(rs))


# ---- one instruction ---------------------------------------------------------------------

def execute_instruction(op: int, in1: int, in2: int, out: int, data: np.ndarray,
                        mem: Memory, rs: np.ndarray) -> None:
    """Execute one instruction on ``mem``; ``rs`` is the task's random stream.

    ``data`` holds the instruction's three float constants. Addresses are trusted (the
    caller runs validated programs).
    """
    with np.errstate(all="ignore"):
        _execute(int(op), int(in1), int(in2), int(out), data, mem, rs)


_SCALAR_C_MATH = {7: "sin", 8: "cos", 9: "tan", 10: "asin", 11: "acos", 12: "atan",
                  13: "exp", 14: "log"}


def _execute(op: int, a: int, b: int, o: int, d: np.ndarray, mem: Memory, rs: np.ndarray) -> None:
    s, v, m = mem.s, mem.v, mem.m
    F = mem.features
    if op == 0:  # NO_OP
        return
    # -- scalar arithmetic
    if op == 1:
        s[o] = s[a] + s[b]
    elif op == 2:
        s[o] = s[a] - s[b]
    elif op == 3:
        s[o] = s[a] * s[b]
    elif op == 4:
        s[o] = s[a] / s[b]
    elif op == 5:
        s[o] = abs(s[a])
    elif op == 6:
        s[o] = 1.0 / s[a]
    elif op in _SCALAR_C_MATH:
        s[o] = c_math(_SCALAR_C_MATH[op], s[a])
    elif op == 15:  # scalar heaviside: 1 where x >= 0
        s[o] = 1.0 if s[a] >= 0.0 else 0.0
    elif op == 16:
        v[o] = _heaviside_strict(v[a])
    elif op == 17:
        m[o] = _heaviside_strict(m[a])
    # -- vectors
    elif op == 18:
        v[o] = v[b] * s[a]
    elif op == 19:
        v[o] = np.full(F, s[a])
    elif op == 20:
        v[o] = 1.0 / v[a]
    elif op == 21:
        s[o] = _norm(v[a])
    elif op == 22:
        v[o] = np.abs(v[a])
    elif op == 23:
        v[o] = v[a] + v[b]
    elif op == 24:
        v[o] = v[a] - v[b]
    elif op == 25:
        v[o] = v[a] * v[b]
    elif op == 26:
        v[o] = v[a] / v[b]
    elif op == 27:
        s[o] = _dot(v[a], v[b])
    elif op == 28:
        m[o] = np.outer(v[a], v[b])
    # -- matrices
    elif op == 29:
        m[o] = m[b] * s[a]
    elif op == 30:
        m[o] = 1.0 / m[a]
    elif op == 31:
        mat, vec = m[a].copy(), v[b].copy()
        v[o] = np.array([_dot(mat[i], vec) for i in range(F)])
    elif op == 32:  # column broadcast: every column equals v, M[i, j] = v[i]
        v_in = v[a].copy()
        m[o] = np.tile(v_in[:, None], (1, F))
    elif op == 33:  # row broadcast: every row equals v, M[i, j] = v[j]
        v_in = v[a].copy()
        m[o] = np.tile(v_in[None, :], (F, 1))
    elif op == 34:
        s[o] = _norm(m[a])
    elif op == 35:  # column norms: v[j] = ||M[:, j]||
        mat = m[a].copy()
        v[o] = np.array([_norm(mat[:, j]) for j in range(F)])
    elif op == 36:  # row norms: v[i] = ||M[i, :]||
        mat = m[a].copy()
        v[o] = np.array([_norm(mat[i, :]) for i in range(F)])
    elif op == 37:
        m[o] = m[a].T.copy()
    elif op == 38:
        m[o] = np.abs(m[a])
    elif op == 39:
        m[o] = m[a] + m[b]
    elif op == 40:
        m[o] = m[a] - m[b]
    elif op == 41:
        m[o] = m[a] * m[b]
    elif op == 42:
        m[o] = m[a] / m[b]
    elif op == 43:
        x, y = m[a].copy(), m[b].copy()
        m[o] = np.array([[_dot(x[i, :], y[:, j]) for j in range(F)] for i in range(F)])
    # -- min / max (NaN behaviour of the reference's std::min / std::max and Eigen's ?:)
    elif op == 44:  # std::min(a, b) = b < a ? b : a
        x, y = s[a], s[b]
        s[o] = y if y < x else x
    elif op == 45:
        v[o] = np.where(v[a] < v[b], v[a], v[b])
    elif op == 46:
        m[o] = np.where(m[a] < m[b], m[a], m[b])
    elif op == 47:  # std::max(a, b) = a < b ? b : a
        x, y = s[a], s[b]
        s[o] = y if x < y else x
    elif op == 48:
        v[o] = np.where(v[a] > v[b], v[a], v[b])
    elif op == 49:
        m[o] = np.where(m[a] > m[b], m[a], m[b])
    # -- statistics
    elif op == 50:
        s[o] = _mean(v[a])
    elif op == 51:
        s[o] = _mean(m[a])
    elif op == 52:
        mat = m[a].copy()
        v[o] = np.array([_mean(mat[i]) for i in range(F)])
    elif op == 53:
        mat = m[a].copy()
        v[o] = np.array([_std(mat[i]) for i in range(F)])
    elif op == 54:
        s[o] = _std(v[a])
    elif op == 55:
        s[o] = _std(m[a])
    # -- constants and random fills
    elif op == 56:
        s[o] = d[0]
    elif op == 57:
        v[o, _element(d[0], F)] = d[1]
    elif op == 58:
        m[o, _element(d[0], F), _element(d[1], F)] = d[2]
    elif op == 59:
        s[o] = _uniform_set(rs, d[0], d[1])
    elif op == 60:
        v[o] = np.array([_uniform_set(rs, d[0], d[1]) for _ in range(F)])
    elif op == 61:
        m[o] = np.array([_uniform_set(rs, d[0], d[1]) for _ in range(F * F)]).reshape(F, F)
    elif op == 62:
        s[o] = _gaussian_set(rs, d[0], d[1])
    elif op == 63:
        v[o] = np.array([_gaussian_set(rs, d[0], d[1]) for _ in range(F)])
    elif op == 64:
        m[o] = np.array([_gaussian_set(rs, d[0], d[1]) for _ in range(F * F)]).reshape(F, F)
    else:
        raise ValueError(f"op code {op} is out of range")


def run_component(ins: np.ndarray, data: np.ndarray, mem: Memory, rs: np.ndarray) -> None:
    """Run every instruction ``ins[k] = (op, in1, in2, out)`` with constants ``data[k]`` of one
    component (e.g. ``program.component(1)``, the predict component), no-ops included."""
    for k in range(ins.shape[0]):
        op, in1, in2, out = ins[k]
        execute_instruction(op, in1, in2, out, data[k], mem, rs)
