"""Random instructions, random programs and the mutations (AutoML-Zero's eight and ``redirect``),
as numba code.

One implementation serves the numba chunk loop and the Python reference loop (which calls
these jitted functions), so both draw the same numbers from a birth's stream. Distributions
follow the reference (docs/semantics.md): output addresses start at s1 / v1 / m0;
constants are U(-1, 1) values, U(0, 1) element-index fractions, U(-1, 1) gaussian means
with U(0, 1) deviations and unsorted U(-1, 1) uniform bounds; ``alter_param`` redraws one
address or perturbs one constant (times exp(N(0, 1)), or a sign flip with probability 0.1).

One deliberate difference: ``max_sizes`` is inclusive here (the reference's insert stops at
max - 1), and ``trade`` keeps the size unchanged even at capacity.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from zeroevo.core.rng import gaussian, integer, uniform
from zeroevo.primitives.program.ops import IN1_KIND, IN2_KIND, OUT_KIND

M_CLONE = 1
M_IDENTITY = 2
M_ALTER_PARAM = 3
M_RANDOMIZE_INSTRUCTION = 4
M_RANDOMIZE_COMPONENT = 5
M_INSERT = 6
M_REMOVE = 7
M_TRADE = 8
M_RANDOMIZE_ALGORITHM = 9
M_REDIRECT = 12  # after migrate (10) and random (11): codes are only ever appended

# Lowest address an output / an input of each kind may take. Constants reach the kernels
# as array elements or numpy scalars, never Python literals: numba would compile one copy
# of a callee per literal value.
_OUT_LO = np.array([1, 1, 0], dtype=np.int64)
_IN_LO = np.zeros(3, dtype=np.int64)
_TWO = np.int64(2)
_THREE = np.int64(3)
_SIGN_FLIP_PROB = 0.1


@njit(cache=True)
def _address(kind: int, lo: int, mem: np.ndarray, st: np.ndarray) -> int:
    return lo + integer(st, mem[kind] - lo)


@njit(cache=True)
def _log_scale(x: float, st: np.ndarray) -> float:
    # x * exp(N(0,1)) keeping the sign; zero stays zero.
    return x * math.exp(gaussian(st))


@njit(cache=True)
def _log_scale_or_flip(x: float, st: np.ndarray) -> float:
    if uniform(st) < _SIGN_FLIP_PROB:
        return -x
    return _log_scale(x, st)


@njit(cache=True)
def _randomize_data(op: int, d: np.ndarray, st: np.ndarray) -> None:
    if op == 56:
        d[0] = -1.0 + 2.0 * uniform(st)
    elif op == 57:
        d[0] = uniform(st)
        d[1] = -1.0 + 2.0 * uniform(st)
    elif op == 58:
        d[0] = uniform(st)
        d[1] = uniform(st)
        d[2] = -1.0 + 2.0 * uniform(st)
    elif op >= 62:
        d[0] = -1.0 + 2.0 * uniform(st)
        d[1] = uniform(st)
    elif op >= 59:
        d[0] = -1.0 + 2.0 * uniform(st)
        d[1] = -1.0 + 2.0 * uniform(st)


@njit(cache=True)
def randomize_instruction(op: int, row: np.ndarray, d: np.ndarray, mem: np.ndarray,
                          st: np.ndarray) -> None:
    """Set ``row``/``d`` to op ``op`` with random addresses and constants."""
    row[0] = op
    row[1] = 0
    row[2] = 0
    row[3] = 0
    d[0] = 0.0
    d[1] = 0.0
    d[2] = 0.0
    if op == 0:
        return
    if IN1_KIND[op] < 0:
        row[3] = _address(OUT_KIND[op], _OUT_LO[OUT_KIND[op]], mem, st)
        _randomize_data(op, d, st)
        return
    row[1] = _address(IN1_KIND[op], _IN_LO[IN1_KIND[op]], mem, st)
    if IN2_KIND[op] >= 0:
        row[2] = _address(IN2_KIND[op], _IN_LO[IN2_KIND[op]], mem, st)
    row[3] = _address(OUT_KIND[op], _OUT_LO[OUT_KIND[op]], mem, st)


@njit(cache=True)
def _alter_data(op: int, d: np.ndarray, st: np.ndarray) -> None:
    if op == 56:
        d[0] = _log_scale_or_flip(d[0], st)
    elif op == 57:
        if integer(st, _TWO) == 0:
            d[0] = uniform(st)
        else:
            d[1] = _log_scale_or_flip(d[1], st)
    elif op == 58:
        choice = integer(st, _THREE)
        if choice < 2:
            d[choice] = uniform(st)
        else:
            d[2] = _log_scale_or_flip(d[2], st)
    elif op >= 62:
        if integer(st, _TWO) == 0:
            d[0] = _log_scale_or_flip(d[0], st)
        else:
            d[1] = _log_scale(d[1], st)
    elif op >= 59:
        k = integer(st, _TWO)
        d[k] = _log_scale_or_flip(d[k], st)
        lo = min(d[0], d[1])
        hi = max(d[0], d[1])
        d[0] = lo
        d[1] = hi


@njit(cache=True)
def alter_param(row: np.ndarray, d: np.ndarray, mem: np.ndarray, st: np.ndarray) -> None:
    """Redraw one address of the instruction, or perturb one of its constants."""
    op = row[0]
    if op == 0:
        return
    if IN1_KIND[op] < 0:
        if integer(st, _TWO) == 0:
            row[3] = _address(OUT_KIND[op], _OUT_LO[OUT_KIND[op]], mem, st)
        else:
            _alter_data(op, d, st)
    elif IN2_KIND[op] < 0:
        if integer(st, _TWO) == 0:
            row[1] = _address(IN1_KIND[op], _IN_LO[IN1_KIND[op]], mem, st)
        else:
            row[3] = _address(OUT_KIND[op], _OUT_LO[OUT_KIND[op]], mem, st)
    else:
        choice = integer(st, _THREE)
        if choice == 0:
            row[1] = _address(IN1_KIND[op], _IN_LO[IN1_KIND[op]], mem, st)
        elif choice == 1:
            row[2] = _address(IN2_KIND[op], _IN_LO[IN2_KIND[op]], mem, st)
        else:
            row[3] = _address(OUT_KIND[op], _OUT_LO[OUT_KIND[op]], mem, st)


@njit(cache=True)
def _random_op(c: int, allowed: np.ndarray, n_allowed: np.ndarray, st: np.ndarray) -> int:
    if n_allowed[c] == 0:
        return 0
    return allowed[c, integer(st, n_allowed[c])]


@njit(cache=True)
def _component(n_allowed: np.ndarray, st: np.ndarray) -> int:
    n = np.int64(0)  # not a literal 0: see _TWO
    for c in range(3):
        n += n_allowed[c] > 0
    if n == 0:
        return -1
    k = integer(st, n)
    for c in range(3):
        if n_allowed[c] > 0:
            if k == 0:
                return c
            k -= 1
    return -1


@njit(cache=True)
def randomize_component(ins: np.ndarray, data: np.ndarray, sizes: np.ndarray, c: int,
                        allowed: np.ndarray, n_allowed: np.ndarray, mem: np.ndarray,
                        st: np.ndarray) -> None:
    """Redraw every instruction of component ``c``, keeping its size."""
    for k in range(sizes[c]):
        randomize_instruction(_random_op(c, allowed, n_allowed, st), ins[c, k], data[c, k], mem, st)


@njit(cache=True)
def random_program(ins: np.ndarray, data: np.ndarray, sizes: np.ndarray, allowed: np.ndarray,
                   n_allowed: np.ndarray, bounds: np.ndarray, mem: np.ndarray,
                   st: np.ndarray) -> None:
    """Fill a padded program with random instructions at the initial sizes."""
    ins[:] = 0
    data[:] = 0.0
    for c in range(3):
        sizes[c] = bounds[c, 1]
        randomize_component(ins, data, sizes, c, allowed, n_allowed, mem, st)


@njit(cache=True)
def copy_row(ins: np.ndarray, data: np.ndarray, to: int, ins_from: np.ndarray, data_from: np.ndarray,
             k: int) -> None:
    """Row ``k`` of ``ins_from``/``data_from`` into row ``to`` of ``ins``/``data``."""
    # Element by element: an array-to-array slice assignment makes numba compile its
    # shape-mismatch message (string formatting), seconds of a first run's compile.
    for j in range(ins.shape[1]):
        ins[to, j] = ins_from[k, j]
    for j in range(data.shape[1]):
        data[to, j] = data_from[k, j]


@njit(cache=True)
def _insert(ins: np.ndarray, data: np.ndarray, n: int, pos: int, op: int, mem: np.ndarray,
            st: np.ndarray) -> None:
    # ins/data are one component's rows with room for n + 1.
    for k in range(n, pos, -1):
        copy_row(ins, data, k, ins, data, k - 1)
    randomize_instruction(op, ins[pos], data[pos], mem, st)


@njit(cache=True)
def _remove(ins: np.ndarray, data: np.ndarray, n: int, pos: int) -> None:
    for k in range(pos, n - 1):
        copy_row(ins, data, k, ins, data, k + 1)
    ins[n - 1] = 0
    data[n - 1] = 0.0


@njit(cache=True)
def redirect(ins: np.ndarray, sizes: np.ndarray, c: int, mem: np.ndarray, st: np.ndarray) -> None:
    """Make every later reader of one address read what a chosen instruction writes instead.

    Instruction ``k`` of component ``c`` writes ``b``; another address ``a`` of the same kind
    is drawn, and each read of ``a`` after ``k`` in program order (the rest of ``c``, then the
    later components) becomes a read of ``b``. One mutation thus does what several
    ``alter_param`` steps would, each of which alone usually breaks the learner: e.g. linear
    regression computing a hidden layer beside itself becomes regression on that layer when
    its prediction and its update both switch from the input to the layer.
    """
    n = sizes[c]
    if n == 0:
        return
    k = integer(st, n)
    op = ins[c, k, 0]
    if op == 0:
        return
    kind = OUT_KIND[op]
    if mem[kind] < 2:
        return
    b = ins[c, k, 3]
    a = integer(st, mem[kind] - 1)  # any address of the kind but b
    if a >= b:
        a += 1
    for cc in range(c, 3):
        for j in range(k + 1 if cc == c else 0, sizes[cc]):
            o = ins[cc, j, 0]
            if IN1_KIND[o] == kind and ins[cc, j, 1] == a:
                ins[cc, j, 1] = b
            if IN2_KIND[o] == kind and ins[cc, j, 2] == a:
                ins[cc, j, 2] = b


@njit(cache=True)
def mutate(ins: np.ndarray, data: np.ndarray, sizes: np.ndarray, mutations: np.ndarray,
           mutate_prob: float, allowed: np.ndarray, n_allowed: np.ndarray, bounds: np.ndarray,
           mem: np.ndarray, st: np.ndarray) -> int:
    """Mutate a padded program in place; returns the mutation code applied.

    With probability ``1 - mutate_prob`` the child is a clone (``M_CLONE``).
    """
    if mutate_prob < 1.0 and not uniform(st) < mutate_prob:
        return M_CLONE
    kind = mutations[integer(st, mutations.shape[0])]
    if kind == M_RANDOMIZE_ALGORITHM:
        for c in range(3):
            if n_allowed[c] > 0:
                randomize_component(ins, data, sizes, c, allowed, n_allowed, mem, st)
        return kind
    if kind == M_IDENTITY:
        return kind
    c = _component(n_allowed, st)
    if c < 0:
        return kind
    n = sizes[c]
    if kind == M_ALTER_PARAM:
        if n > 0:
            k = integer(st, n)
            alter_param(ins[c, k], data[c, k], mem, st)
    elif kind == M_RANDOMIZE_INSTRUCTION:
        if n > 0:
            k = integer(st, n)
            randomize_instruction(_random_op(c, allowed, n_allowed, st), ins[c, k], data[c, k], mem, st)
    elif kind == M_RANDOMIZE_COMPONENT:
        randomize_component(ins, data, sizes, c, allowed, n_allowed, mem, st)
    elif kind == M_INSERT:
        if n < bounds[c, 2]:
            op = _random_op(c, allowed, n_allowed, st)
            _insert(ins[c], data[c], n, integer(st, n + 1), op, mem, st)
            sizes[c] = n + 1
    elif kind == M_REMOVE:
        if n > bounds[c, 0]:
            _remove(ins[c], data[c], n, integer(st, n))
            sizes[c] = n - 1
    elif kind == M_REDIRECT:
        redirect(ins, sizes, c, mem, st)
    elif kind == M_TRADE:
        # Insert then remove, on scratch rows so a full component has room for the insert.
        tins = np.zeros((n + 1, 4), dtype=np.int64)
        tdata = np.zeros((n + 1, 3))
        for k in range(n):
            copy_row(tins, tdata, k, ins[c], data[c], k)
        op = _random_op(c, allowed, n_allowed, st)
        _insert(tins, tdata, n, integer(st, n + 1), op, mem, st)
        _remove(tins, tdata, n + 1, integer(st, n + 1))
        for k in range(n):
            copy_row(ins[c], data[c], k, tins, tdata, k)
    return kind
