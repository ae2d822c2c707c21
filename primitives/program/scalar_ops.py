"""Ops whose result is a scalar: scalar arithmetic and functions, reductions of vectors and
matrices to a scalar (norms, dot product, means, standard deviations), scalar min / max,
constant and random scalar sets.

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
from zeroevo.primitives.program.memory import uniform_draw


@njit(cache=True, error_model="numpy", inline="always")
def scalar_op(op, k, a, b, o, F, L, FL, FFL, one, mem, tv, tm, rs, cdata):  # noqa: PLR0912, PLR0915
    """Run one instruction of op code ``op`` (of this family) on all ``L`` lanes."""
    if op == 1:  # SCALAR_SUM
        if o == a:
            for l in range(L):
                mem[U(o + l)] = mem[U(o + l)] + mem[U(b + l)]
        elif o == b:
            for l in range(L):
                mem[U(o + l)] = mem[U(a + l)] + mem[U(o + l)]
        else:
            for l in range(L):
                mem[U(o + l)] = mem[U(a + l)] + mem[U(b + l)]
    elif op == 2:  # SCALAR_DIFF
        if o == a:
            for l in range(L):
                mem[U(o + l)] = mem[U(o + l)] - mem[U(b + l)]
        elif o == b:
            for l in range(L):
                mem[U(o + l)] = mem[U(a + l)] - mem[U(o + l)]
        else:
            for l in range(L):
                mem[U(o + l)] = mem[U(a + l)] - mem[U(b + l)]
    elif op == 3:  # SCALAR_PRODUCT
        if o == a:
            for l in range(L):
                mem[U(o + l)] = mem[U(o + l)] * mem[U(b + l)]
        elif o == b:
            for l in range(L):
                mem[U(o + l)] = mem[U(a + l)] * mem[U(o + l)]
        else:
            for l in range(L):
                mem[U(o + l)] = mem[U(a + l)] * mem[U(b + l)]
    elif op == 4:  # SCALAR_DIVISION
        if o == a:
            for l in range(L):
                mem[U(o + l)] = mem[U(o + l)] / mem[U(b + l)]
        elif o == b:
            for l in range(L):
                mem[U(o + l)] = mem[U(a + l)] / mem[U(o + l)]
        else:
            for l in range(L):
                mem[U(o + l)] = mem[U(a + l)] / mem[U(b + l)]
    elif op == 5:  # SCALAR_ABS
        for l in range(L):
            mem[U(o + l)] = abs(mem[U(a + l)])
    elif op == 6:  # SCALAR_RECIPROCAL
        for l in range(L):
            mem[U(o + l)] = 1.0 / mem[U(a + l)]
    elif op == 7:  # SCALAR_SIN
        for l in range(L):
            mem[U(o + l)] = math.sin(mem[U(a + l)])
    elif op == 8:  # SCALAR_COS
        for l in range(L):
            mem[U(o + l)] = math.cos(mem[U(a + l)])
    elif op == 9:  # SCALAR_TAN
        for l in range(L):
            mem[U(o + l)] = math.tan(mem[U(a + l)])
    elif op == 10:  # SCALAR_ARCSIN
        for l in range(L):
            mem[U(o + l)] = math.asin(mem[U(a + l)])
    elif op == 11:  # SCALAR_ARCCOS
        for l in range(L):
            mem[U(o + l)] = math.acos(mem[U(a + l)])
    elif op == 12:  # SCALAR_ARCTAN
        for l in range(L):
            mem[U(o + l)] = math.atan(mem[U(a + l)])
    elif op == 13:  # SCALAR_EXP
        for l in range(L):
            mem[U(o + l)] = math.exp(mem[U(a + l)])
    elif op == 14:  # SCALAR_LOG
        for l in range(L):
            mem[U(o + l)] = math.log(mem[U(a + l)])
    elif op == 15:  # SCALAR_HEAVYSIDE
        for l in range(L):
            mem[U(o + l)] = 1.0 if mem[U(a + l)] >= 0.0 else 0.0
    elif op == 21:  # VECTOR_NORM
        if one:
            acc = 0.0
            for i in range(F):
                x = mem[U(a + i)]
                acc += x * x
            mem[U(o)] = math.sqrt(acc)
        else:  # one accumulator per lane, in tv: the lane loop vectorizes
            for l in range(L):
                mem[U(tv + l)] = 0.0
            for i in range(F):
                for l in range(L):
                    x = mem[U(a + i * L + l)]
                    mem[U(tv + l)] += x * x
            for l in range(L):
                mem[U(o + l)] = math.sqrt(mem[U(tv + l)])
    elif op == 27:  # VECTOR_INNER_PRODUCT
        if one:
            acc = 0.0
            for i in range(F):
                acc += mem[U(a + i)] * mem[U(b + i)]
            mem[U(o)] = acc
        elif F == 4:  # the default feature size: one lane loop, accumulator in a register
            for l in range(L):
                acc = 0.0
                acc += mem[U(a + l)] * mem[U(b + l)]
                acc += mem[U(a + L + l)] * mem[U(b + L + l)]
                acc += mem[U(a + 2 * L + l)] * mem[U(b + 2 * L + l)]
                acc += mem[U(a + 3 * L + l)] * mem[U(b + 3 * L + l)]
                mem[U(o + l)] = acc
        else:
            for l in range(L):
                mem[U(tv + l)] = 0.0
            for i in range(F):
                for l in range(L):
                    mem[U(tv + l)] += mem[U(a + i * L + l)] * mem[U(b + i * L + l)]
            for l in range(L):
                mem[U(o + l)] = mem[U(tv + l)]
    elif op == 34:  # MATRIX_NORM
        if one:
            acc = 0.0
            for i in range(F * F):
                x = mem[U(a + i)]
                acc += x * x
            mem[U(o)] = math.sqrt(acc)
        else:
            for l in range(L):
                mem[U(tv + l)] = 0.0
            for i in range(F * F):
                for l in range(L):
                    x = mem[U(a + i * L + l)]
                    mem[U(tv + l)] += x * x
            for l in range(L):
                mem[U(o + l)] = math.sqrt(mem[U(tv + l)])
    elif op == 44:  # SCALAR_MIN
        for l in range(L):
            x = mem[U(a + l)]
            y = mem[U(b + l)]
            mem[U(o + l)] = y if y < x else x
    elif op == 47:  # SCALAR_MAX
        for l in range(L):
            x = mem[U(a + l)]
            y = mem[U(b + l)]
            mem[U(o + l)] = y if x < y else x
    elif op == 50:  # VECTOR_MEAN
        if one:
            acc = 0.0
            for i in range(F):
                acc += mem[U(a + i)]
            mem[U(o)] = acc / F
        else:
            for l in range(L):
                mem[U(tv + l)] = 0.0
            for i in range(F):
                for l in range(L):
                    mem[U(tv + l)] += mem[U(a + i * L + l)]
            for l in range(L):
                mem[U(o + l)] = mem[U(tv + l)] / F
    elif op == 51:  # MATRIX_MEAN
        if one:
            acc = 0.0
            for i in range(F * F):
                acc += mem[U(a + i)]
            mem[U(o)] = acc / (F * F)
        else:
            for l in range(L):
                mem[U(tv + l)] = 0.0
            for i in range(F * F):
                for l in range(L):
                    mem[U(tv + l)] += mem[U(a + i * L + l)]
            for l in range(L):
                mem[U(o + l)] = mem[U(tv + l)] / (F * F)
    elif op == 54:  # VECTOR_ST_DEV
        for l in range(L):
            acc = 0.0
            sq = 0.0
            for i in range(F):
                x = mem[U(a + i * L + l)]
                acc += x
                sq += x * x
            mean = acc / F
            mem[U(o + l)] = math.sqrt(sq / F - mean * mean)
    elif op == 55:  # MATRIX_ST_DEV
        for l in range(L):
            acc = 0.0
            sq = 0.0
            for i in range(F * F):
                x = mem[U(a + i * L + l)]
                acc += x
                sq += x * x
            mean = acc / (F * F)
            mem[U(o + l)] = math.sqrt(sq / (F * F) - mean * mean)
    elif op == 56:  # SCALAR_CONST_SET
        c0 = cdata[k, 0]
        for l in range(L):
            mem[U(o + l)] = c0
    elif op == 59:  # SCALAR_UNIFORM_SET
        for l in range(L):
            mem[U(o + l)] = uniform_draw(rs[l], cdata[k, 0], cdata[k, 1])
    elif op == 62:  # SCALAR_GAUSSIAN_SET
        for l in range(L):
            mem[U(o + l)] = cdata[k, 0] + cdata[k, 1] * gaussian(rs[l])
