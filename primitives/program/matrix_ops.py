"""Ops whose result is a matrix: elementwise matrix arithmetic, outer and matrix products,
transpose, broadcasts of a vector, matrix min / max, constant and random matrix sets.

One ``if op == CODE`` branch per op, with AutoML-Zero's semantics (docs/semantics.md) over the
lane-interleaved memory of :mod:`~zeroevo.primitives.program.memory`. The generic interpreter
(:func:`~zeroevo.primitives.program.interpreter.execute`) calls this function; a kernel
variant (:mod:`zeroevo.programs.kernels`) pastes just the branches of the ops its
configuration uses into a flat interpreter of its own, so a branch may only use the
parameters below, ``math``, ``U`` and the memory helpers.

Parameters: ``op`` and ``k`` (the op code and the instruction's row in ``cdata``), ``a``,
``b``, ``o`` (offsets of the inputs and the output in ``mem``), ``F`` (features), ``L``
(lanes), ``FL = F * L``, ``FFL = F * F * L``, ``one`` (a constant: ``L == 1``), ``mem``,
``tv`` / ``tm`` (offsets of the vector and matrix scratch), ``rs`` (per-lane random
streams), ``cdata`` (the instructions' constants).
"""
from __future__ import annotations

from numba import njit
from numba import uint64 as U

from zeroevo.core.rng import gaussian
from zeroevo.primitives.program.memory import index_of, uniform_draw


@njit(cache=True, error_model="numpy", inline="always")
def matrix_op(op, k, a, b, o, F, L, FL, FFL, one, mem, tv, tm, rs, cdata):  # noqa: PLR0912, PLR0915
    """Run one instruction of op code ``op`` (of this family) on all ``L`` lanes."""
    if op == 17:  # MATRIX_HEAVYSIDE
        for i in range(FFL):
            mem[U(o + i)] = 1.0 if mem[U(a + i)] > 0.0 else 0.0
    elif op == 28:  # VECTOR_OUTER_PRODUCT
        for i in range(F):
            for j in range(F):
                for l in range(L):
                    mem[U(o + (i * F + j) * L + l)] = mem[U(a + i * L + l)] * mem[U(b + j * L + l)]
    elif op == 29:  # SCALAR_MATRIX_PRODUCT
        for i in range(F * F):
            for l in range(L):
                mem[U(o + i * L + l)] = mem[U(b + i * L + l)] * mem[U(a + l)]
    elif op == 30:  # MATRIX_RECIPROCAL
        for i in range(FFL):
            mem[U(o + i)] = 1.0 / mem[U(a + i)]
    elif op == 32:  # VECTOR_COLUMN_BROADCAST
        for i in range(F):
            for j in range(F):
                for l in range(L):
                    mem[U(o + (i * F + j) * L + l)] = mem[U(a + i * L + l)]
    elif op == 33:  # VECTOR_ROW_BROADCAST
        for i in range(F):
            for j in range(F):
                for l in range(L):
                    mem[U(o + (i * F + j) * L + l)] = mem[U(a + j * L + l)]
    elif op == 37:  # MATRIX_TRANSPOSE
        for i in range(F):
            for j in range(F):
                for l in range(L):
                    mem[U(tm + (i * F + j) * L + l)] = mem[U(a + (j * F + i) * L + l)]
        for i in range(FFL):
            mem[U(o + i)] = mem[U(tm + i)]
    elif op == 38:  # MATRIX_ABS
        for i in range(FFL):
            mem[U(o + i)] = abs(mem[U(a + i)])
    elif op == 39:  # MATRIX_SUM
        for i in range(FFL):
            x = mem[U(a + i)]
            y = mem[U(b + i)]
            mem[U(o + i)] = x + y
    elif op == 40:  # MATRIX_DIFF
        for i in range(FFL):
            x = mem[U(a + i)]
            y = mem[U(b + i)]
            mem[U(o + i)] = x - y
    elif op == 41:  # MATRIX_PRODUCT
        for i in range(FFL):
            x = mem[U(a + i)]
            y = mem[U(b + i)]
            mem[U(o + i)] = x * y
    elif op == 42:  # MATRIX_DIVISION
        for i in range(FFL):
            x = mem[U(a + i)]
            y = mem[U(b + i)]
            mem[U(o + i)] = x / y
    elif op == 43:  # MATRIX_MATRIX_PRODUCT
        for i in range(FFL):
            mem[U(tm + i)] = 0.0
        for i in range(F):
            for k2 in range(F):
                for j in range(F):
                    for l in range(L):
                        mem[U(tm + i * FL + j * L + l)] += (
                            mem[U(a + (i * F + k2) * L + l)] * mem[U(b + k2 * FL + j * L + l)])
        for i in range(FFL):
            mem[U(o + i)] = mem[U(tm + i)]
    elif op == 46:  # MATRIX_MIN
        for i in range(FFL):
            x = mem[U(a + i)]
            y = mem[U(b + i)]
            mem[U(o + i)] = x if x < y else y
    elif op == 49:  # MATRIX_MAX
        for i in range(FFL):
            x = mem[U(a + i)]
            y = mem[U(b + i)]
            mem[U(o + i)] = x if x > y else y
    elif op == 58:  # MATRIX_CONST_SET
        i = index_of(cdata[k, 0], F)
        j = index_of(cdata[k, 1], F)
        c2 = cdata[k, 2]
        for l in range(L):
            mem[U(o + (i * F + j) * L + l)] = c2
    elif op == 61:  # MATRIX_UNIFORM_SET
        for l in range(L):
            for i in range(F * F):
                mem[U(o + i * L + l)] = uniform_draw(rs[l], cdata[k, 0], cdata[k, 1])
    elif op == 64:  # MATRIX_GAUSSIAN_SET
        for l in range(L):
            for i in range(F * F):
                mem[U(o + i * L + l)] = cdata[k, 0] + cdata[k, 1] * gaussian(rs[l])
