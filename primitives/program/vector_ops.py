"""Ops whose result is a vector: elementwise vector arithmetic, scalar-vector products and
broadcasts, matrix-vector products, row and column reductions of a matrix, vector min /
max, constant and random vector sets.

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

import math

from numba import njit
from numba import uint64 as U

from zeroevo.core.rng import gaussian
from zeroevo.primitives.program.memory import index_of, uniform_draw


@njit(cache=True, error_model="numpy", inline="always")
def vector_op(op, k, a, b, o, F, L, FL, FFL, one, mem, tv, tm, rs, cdata):  # noqa: PLR0912, PLR0915
    """Run one instruction of op code ``op`` (of this family) on all ``L`` lanes."""
    if op == 16:  # VECTOR_HEAVYSIDE
        for i in range(FL):
            mem[U(o + i)] = 1.0 if mem[U(a + i)] > 0.0 else 0.0
    elif op == 18:  # SCALAR_VECTOR_PRODUCT
        if o == b and F == 4:
            for l in range(L):
                mem[U(o + l)] = mem[U(o + l)] * mem[U(a + l)]
            for l in range(L):
                mem[U(o + L + l)] = mem[U(o + L + l)] * mem[U(a + l)]
            for l in range(L):
                mem[U(o + 2 * L + l)] = mem[U(o + 2 * L + l)] * mem[U(a + l)]
            for l in range(L):
                mem[U(o + 3 * L + l)] = mem[U(o + 3 * L + l)] * mem[U(a + l)]
        elif o == b:
            for i in range(F):
                for l in range(L):
                    mem[U(o + i * L + l)] = mem[U(o + i * L + l)] * mem[U(a + l)]
        elif F == 4:  # the default feature size: the row loop unrolled
            for l in range(L):
                mem[U(o + l)] = mem[U(b + l)] * mem[U(a + l)]
            for l in range(L):
                mem[U(o + L + l)] = mem[U(b + L + l)] * mem[U(a + l)]
            for l in range(L):
                mem[U(o + 2 * L + l)] = mem[U(b + 2 * L + l)] * mem[U(a + l)]
            for l in range(L):
                mem[U(o + 3 * L + l)] = mem[U(b + 3 * L + l)] * mem[U(a + l)]
        else:
            for i in range(F):
                for l in range(L):
                    mem[U(o + i * L + l)] = mem[U(b + i * L + l)] * mem[U(a + l)]
    elif op == 19:  # SCALAR_BROADCAST
        for i in range(F):
            for l in range(L):
                mem[U(o + i * L + l)] = mem[U(a + l)]
    elif op == 20:  # VECTOR_RECIPROCAL
        for i in range(FL):
            mem[U(o + i)] = 1.0 / mem[U(a + i)]
    elif op == 22:  # VECTOR_ABS
        for i in range(FL):
            mem[U(o + i)] = abs(mem[U(a + i)])
    elif op == 23:  # VECTOR_SUM
        if o == a:
            for i in range(FL):
                mem[U(o + i)] = mem[U(o + i)] + mem[U(b + i)]
        elif o == b:
            for i in range(FL):
                mem[U(o + i)] = mem[U(a + i)] + mem[U(o + i)]
        else:
            for i in range(FL):
                mem[U(o + i)] = mem[U(a + i)] + mem[U(b + i)]
    elif op == 24:  # VECTOR_DIFF
        if o == a:
            for i in range(FL):
                mem[U(o + i)] = mem[U(o + i)] - mem[U(b + i)]
        elif o == b:
            for i in range(FL):
                mem[U(o + i)] = mem[U(a + i)] - mem[U(o + i)]
        else:
            for i in range(FL):
                mem[U(o + i)] = mem[U(a + i)] - mem[U(b + i)]
    elif op == 25:  # VECTOR_PRODUCT
        if o == a:
            for i in range(FL):
                mem[U(o + i)] = mem[U(o + i)] * mem[U(b + i)]
        elif o == b:
            for i in range(FL):
                mem[U(o + i)] = mem[U(a + i)] * mem[U(o + i)]
        else:
            for i in range(FL):
                mem[U(o + i)] = mem[U(a + i)] * mem[U(b + i)]
    elif op == 26:  # VECTOR_DIVISION
        if o == a:
            for i in range(FL):
                mem[U(o + i)] = mem[U(o + i)] / mem[U(b + i)]
        elif o == b:
            for i in range(FL):
                mem[U(o + i)] = mem[U(a + i)] / mem[U(o + i)]
        else:
            for i in range(FL):
                mem[U(o + i)] = mem[U(a + i)] / mem[U(b + i)]
    elif op == 31:  # MATRIX_VECTOR_PRODUCT
        if one:
            for i in range(F):
                acc = 0.0
                for j in range(F):
                    acc += mem[U(a + i * F + j)] * mem[U(b + j)]
                mem[U(tv + i)] = acc
        else:
            for i in range(FL):
                mem[U(tv + i)] = 0.0
            for i in range(F):
                for j in range(F):
                    for l in range(L):
                        mem[U(tv + i * L + l)] += mem[U(a + (i * F + j) * L + l)] * mem[U(b + j * L + l)]
        for i in range(FL):
            mem[U(o + i)] = mem[U(tv + i)]
    elif op == 35:  # MATRIX_COLUMN_NORM
        for i in range(FL):
            mem[U(tv + i)] = 0.0
        for i in range(F):
            for j in range(FL):
                x = mem[U(a + i * FL + j)]
                mem[U(tv + j)] += x * x
        for i in range(FL):
            mem[U(o + i)] = math.sqrt(mem[U(tv + i)])
    elif op == 36:  # MATRIX_ROW_NORM
        if one:
            for i in range(F):
                acc = 0.0
                for j in range(F):
                    x = mem[U(a + i * F + j)]
                    acc += x * x
                mem[U(tv + i)] = math.sqrt(acc)
        else:
            for i in range(FL):
                mem[U(tv + i)] = 0.0
            for i in range(F):
                for j in range(F):
                    for l in range(L):
                        x = mem[U(a + (i * F + j) * L + l)]
                        mem[U(tv + i * L + l)] += x * x
            for i in range(FL):
                mem[U(tv + i)] = math.sqrt(mem[U(tv + i)])
        for i in range(FL):
            mem[U(o + i)] = mem[U(tv + i)]
    elif op == 45:  # VECTOR_MIN
        for i in range(FL):
            x = mem[U(a + i)]
            y = mem[U(b + i)]
            mem[U(o + i)] = x if x < y else y
    elif op == 48:  # VECTOR_MAX
        for i in range(FL):
            x = mem[U(a + i)]
            y = mem[U(b + i)]
            mem[U(o + i)] = x if x > y else y
    elif op == 52:  # MATRIX_ROW_MEAN
        if one:
            for i in range(F):
                acc = 0.0
                for j in range(F):
                    acc += mem[U(a + i * F + j)]
                mem[U(tv + i)] = acc / F
        else:
            for i in range(FL):
                mem[U(tv + i)] = 0.0
            for i in range(F):
                for j in range(F):
                    for l in range(L):
                        mem[U(tv + i * L + l)] += mem[U(a + (i * F + j) * L + l)]
            for i in range(FL):
                mem[U(tv + i)] = mem[U(tv + i)] / F
        for i in range(FL):
            mem[U(o + i)] = mem[U(tv + i)]
    elif op == 53:  # MATRIX_ROW_ST_DEV
        for i in range(F):
            for l in range(L):
                acc = 0.0
                sq = 0.0
                for j in range(F):
                    x = mem[U(a + (i * F + j) * L + l)]
                    acc += x
                    sq += x * x
                mean = acc / F
                mem[U(tv + i * L + l)] = math.sqrt(sq / F - mean * mean)
        for i in range(FL):
            mem[U(o + i)] = mem[U(tv + i)]
    elif op == 57:  # VECTOR_CONST_SET
        i = index_of(cdata[k, 0], F)
        c1 = cdata[k, 1]
        for l in range(L):
            mem[U(o + i * L + l)] = c1
    elif op == 60:  # VECTOR_UNIFORM_SET
        for l in range(L):
            for i in range(F):
                mem[U(o + i * L + l)] = uniform_draw(rs[l], cdata[k, 0], cdata[k, 1])
    elif op == 63:  # VECTOR_GAUSSIAN_SET
        for l in range(L):
            for i in range(F):
                mem[U(o + i * L + l)] = cdata[k, 0] + cdata[k, 1] * gaussian(rs[l])
