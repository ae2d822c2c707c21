"""The slow, obvious numpy interpreter: AutoML-Zero semantics, one task, one instruction at a time.

This is the yardstick the numba kernels (``interpreter.py``, ``executor.py``) are tested
against. It is written from the op table and the reference notes
(../shared/AUTOML_ZERO.md), not from the kernels, and favours plain code over speed:
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
  library but raises where IEEE returns inf or NaN, so :func:`_c_math` maps those
  exceptions back to the IEEE result.
* Random set ops draw from the task's stream with ``zeroevo.rng`` (the same counter
  generator the kernels use), one draw per element in row-major order.

The mean and standard deviations follow the reference exactly: ``mean = sum / n`` and
``std = sqrt(sum(x*x) / n - mean*mean)``, not clamped, so a tiny negative variance gives
NaN.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from zeroevo.rng import gaussian, new_state, uniform
from zeroevo.spaces.program.genome import Program, ProgramSpec
from zeroevo.tasks import TaskSet

__all__ = ["Memory", "execute_instruction", "run_component", "evaluate_task", "flip_and_squash"]


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

def _c_math(name: str, x: float) -> float:
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
        s[o] = _c_math(_SCALAR_C_MATH[op], s[a])
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


def run_component(program: Program, c: int, mem: Memory, rs: np.ndarray) -> None:
    """Run every instruction of component ``c`` (0 setup, 1 predict, 2 learn), no-ops included."""
    ins, data = program.component(c)
    for k in range(ins.shape[0]):
        op, in1, in2, out = ins[k]
        execute_instruction(op, in1, in2, out, data[k], mem, rs)


# ---- the executor ------------------------------------------------------------------------

def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + _c_math("exp", -x))


def flip_and_squash(rmse: float) -> float:
    """Regression fitness ``1 - (2/pi) atan(rmse)``; 0 for NaN or inf."""
    if math.isnan(rmse) or math.isinf(rmse):
        return 0.0
    return 1.0 + (-0.63661977236758138243) * _c_math("atan", rmse)


def evaluate_task(program: Program, spec: ProgramSpec, tasks: TaskSet, task_index: int,
                  n_train: int, n_valid: int, max_abs_error: float = 100.0,
                  record_train: int | None = None, record_valid: int | None = None,
                  trace: list[dict] | None = None) -> tuple[float, int, list[float], list[float]]:
    """Train and validate ``program`` on task ``task_index``, as the C++ Executor does.

    Returns ``(fitness, train steps, train errors, valid errors)``. ``n_train`` caps the
    training steps over all epochs (``tasks.order`` gives each epoch's order);
    ``n_valid`` caps the validation examples run, while the loss is still divided by the
    full validation size. The errors are those of the first epoch only (absolute, after
    the sigmoid for classification; 0/1 for validation accuracy), at most
    ``record_train`` / ``record_valid`` of them (None: no cap).

    Memory is wiped once, setup runs once, and memory then carries across every example,
    epoch and validation pass. A training step counts even when it fails. A failure
    (NaN/inf or an error above ``max_abs_error``) in the first epoch gives fitness 0; a
    later one ends training and keeps the best validation fitness so far. A failure in
    validation gives that epoch fitness 0, ends that validation pass at once (the rest of
    the validation examples do not run) and training goes on.

    ``trace``, when given, receives one dict per validated epoch: ``epoch``, ``steps``
    (train steps so far), ``fitness`` and ``valid_failed``.
    """
    with np.errstate(all="ignore"):
        return _evaluate(program, spec, tasks, task_index, n_train, n_valid, max_abs_error,
                         record_train, record_valid, trace)


def _evaluate(program: Program, spec: ProgramSpec, tasks: TaskSet, t: int, n_train: int,
              n_valid: int, max_abs_error: float, record_train: int | None,
              record_valid: int | None, trace: list[dict] | None
              ) -> tuple[float, int, list[float], list[float]]:
    F = tasks.features
    x_train, y_train, order = tasks.x_train[t], tasks.y_train[t], tasks.order[t]
    x_valid, y_valid = tasks.x_valid[t], tasks.y_valid[t]
    classify = bool(tasks.classify[t])
    n_per_epoch = x_train.shape[0]
    n_valid_all = x_valid.shape[0]
    cap_train = math.inf if record_train is None else record_train
    cap_valid = math.inf if record_valid is None else record_valid

    mem = Memory.zeros(spec.scalars, spec.vectors, spec.matrices, F)
    rs = new_state(tasks.exec_keys[t])
    run_component(program, 0, mem, rs)

    train_errors: list[float] = []
    valid_errors: list[float] = []
    steps = 0
    total = min(n_train, n_per_epoch * order.shape[0])
    remaining = total
    best = 0.0
    epoch = 0
    while remaining > 0:
        record = epoch == 0
        failed = False
        for i in range(min(n_per_epoch, remaining)):
            e = order[epoch, i]
            steps += 1
            mem.v[0] = x_train[e]
            mem.s[0] = 0.0
            run_component(program, 1, mem, rs)
            if classify:
                mem.s[1] = _sigmoid(mem.s[1])
            error = abs(y_train[e] - mem.s[1])
            if math.isnan(error) or error > max_abs_error:
                failed = True
                break
            if record and len(train_errors) < cap_train:
                train_errors.append(float(error))
            mem.v[0] = x_train[e]
            mem.s[0] = y_train[e]
            run_component(program, 2, mem, rs)
        if failed:
            if remaining == total:
                return 0.0, steps, train_errors, valid_errors
            break
        remaining -= n_per_epoch
        fitness, valid_failed = _validate(program, mem, rs, x_valid, y_valid, classify, n_valid,
                                          n_valid_all, max_abs_error,
                                          valid_errors if record else None, cap_valid)
        if trace is not None:
            trace.append(dict(epoch=epoch, steps=steps, fitness=fitness, valid_failed=valid_failed))
        best = max(best, fitness)
        epoch += 1
    return best, steps, train_errors, valid_errors


def _validate(program: Program, mem: Memory, rs: np.ndarray, x_valid: np.ndarray,
              y_valid: np.ndarray, classify: bool, n_valid: int, n_valid_all: int,
              max_abs_error: float, errors: list[float] | None, cap: float
              ) -> tuple[float, bool]:
    """Predict-only pass over the first ``n_valid`` examples: (epoch fitness, failed).

    The pass stops at the first failing example, as the C++ ``Validate`` returns there.
    """
    loss = 0.0
    for i in range(min(n_valid, n_valid_all)):
        mem.v[0] = x_valid[i]
        mem.s[0] = 0.0
        run_component(program, 1, mem, rs)
        y = y_valid[i]
        if classify:
            prob = _sigmoid(mem.s[1])  # not written back: validation has no learn
            if prob > 1.0 or prob < 0.0:
                error = math.inf
            else:
                error = 0.0 if (y > 0.5) == (prob > 0.5) else 1.0
        else:
            error = y - mem.s[1]
        if math.isnan(abs(error)) or abs(error) > max_abs_error:
            return 0.0, True
        loss += error if classify else error * error
        if errors is not None and len(errors) < cap:
            errors.append(float(abs(error)))
    if classify:
        return 1.0 - loss / n_valid_all, False
    return flip_and_squash(float(np.sqrt(loss / n_valid_all))), False
