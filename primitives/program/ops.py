"""The 65 program op codes, their operand types, and how each renders as text.

Codes and semantics follow AutoML-Zero's reference (docs/semantics.md). The table
is the single source of truth: the interpreters, the genome validator, the mutators and the
renderer all read it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Operand kinds.
NONE, SCALAR, VECTOR, MATRIX = -1, 0, 1, 2
KIND_LETTER = {SCALAR: "s", VECTOR: "v", MATRIX: "m"}


@dataclass(frozen=True)
class Op:
    """One op: its code, name, input kinds, output kind, constants used and text form."""

    code: int
    name: str
    in1: int
    in2: int
    out: int
    n_data: int  # how many of an instruction's three float constants the op reads
    text: str  # rendering template: {o} output, {a} in1, {b} in2, {d0}.. constants


_S, _V, _M, _N = SCALAR, VECTOR, MATRIX, NONE

OPS: tuple[Op, ...] = tuple(
    Op(i, *row)
    for i, row in enumerate(
        [
            ("NO_OP", _N, _N, _N, 0, "pass"),
            ("SCALAR_SUM", _S, _S, _S, 0, "{o} = {a} + {b}"),
            ("SCALAR_DIFF", _S, _S, _S, 0, "{o} = {a} - {b}"),
            ("SCALAR_PRODUCT", _S, _S, _S, 0, "{o} = {a} * {b}"),
            ("SCALAR_DIVISION", _S, _S, _S, 0, "{o} = {a} / {b}"),
            ("SCALAR_ABS", _S, _N, _S, 0, "{o} = abs({a})"),
            ("SCALAR_RECIPROCAL", _S, _N, _S, 0, "{o} = 1 / {a}"),
            ("SCALAR_SIN", _S, _N, _S, 0, "{o} = sin({a})"),
            ("SCALAR_COS", _S, _N, _S, 0, "{o} = cos({a})"),
            ("SCALAR_TAN", _S, _N, _S, 0, "{o} = tan({a})"),
            ("SCALAR_ARCSIN", _S, _N, _S, 0, "{o} = arcsin({a})"),
            ("SCALAR_ARCCOS", _S, _N, _S, 0, "{o} = arccos({a})"),
            ("SCALAR_ARCTAN", _S, _N, _S, 0, "{o} = arctan({a})"),
            ("SCALAR_EXP", _S, _N, _S, 0, "{o} = exp({a})"),
            ("SCALAR_LOG", _S, _N, _S, 0, "{o} = log({a})"),
            ("SCALAR_HEAVYSIDE", _S, _N, _S, 0, "{o} = heaviside({a})"),
            ("VECTOR_HEAVYSIDE", _V, _N, _V, 0, "{o} = heaviside({a})"),
            ("MATRIX_HEAVYSIDE", _M, _N, _M, 0, "{o} = heaviside({a})"),
            ("SCALAR_VECTOR_PRODUCT", _S, _V, _V, 0, "{o} = {a} * {b}"),
            ("SCALAR_BROADCAST", _S, _N, _V, 0, "{o} = broadcast({a})"),
            ("VECTOR_RECIPROCAL", _V, _N, _V, 0, "{o} = 1 / {a}"),
            ("VECTOR_NORM", _V, _N, _S, 0, "{o} = norm({a})"),
            ("VECTOR_ABS", _V, _N, _V, 0, "{o} = abs({a})"),
            ("VECTOR_SUM", _V, _V, _V, 0, "{o} = {a} + {b}"),
            ("VECTOR_DIFF", _V, _V, _V, 0, "{o} = {a} - {b}"),
            ("VECTOR_PRODUCT", _V, _V, _V, 0, "{o} = {a} * {b}"),
            ("VECTOR_DIVISION", _V, _V, _V, 0, "{o} = {a} / {b}"),
            ("VECTOR_INNER_PRODUCT", _V, _V, _S, 0, "{o} = dot({a}, {b})"),
            ("VECTOR_OUTER_PRODUCT", _V, _V, _M, 0, "{o} = outer({a}, {b})"),
            ("SCALAR_MATRIX_PRODUCT", _S, _M, _M, 0, "{o} = {a} * {b}"),
            ("MATRIX_RECIPROCAL", _M, _N, _M, 0, "{o} = 1 / {a}"),
            ("MATRIX_VECTOR_PRODUCT", _M, _V, _V, 0, "{o} = matmul({a}, {b})"),
            ("VECTOR_COLUMN_BROADCAST", _V, _N, _M, 0, "{o} = column_broadcast({a})"),
            ("VECTOR_ROW_BROADCAST", _V, _N, _M, 0, "{o} = row_broadcast({a})"),
            ("MATRIX_NORM", _M, _N, _S, 0, "{o} = norm({a})"),
            ("MATRIX_COLUMN_NORM", _M, _N, _V, 0, "{o} = column_norm({a})"),
            ("MATRIX_ROW_NORM", _M, _N, _V, 0, "{o} = row_norm({a})"),
            ("MATRIX_TRANSPOSE", _M, _N, _M, 0, "{o} = transpose({a})"),
            ("MATRIX_ABS", _M, _N, _M, 0, "{o} = abs({a})"),
            ("MATRIX_SUM", _M, _M, _M, 0, "{o} = {a} + {b}"),
            ("MATRIX_DIFF", _M, _M, _M, 0, "{o} = {a} - {b}"),
            ("MATRIX_PRODUCT", _M, _M, _M, 0, "{o} = {a} * {b}"),
            ("MATRIX_DIVISION", _M, _M, _M, 0, "{o} = {a} / {b}"),
            ("MATRIX_MATRIX_PRODUCT", _M, _M, _M, 0, "{o} = matmul({a}, {b})"),
            ("SCALAR_MIN", _S, _S, _S, 0, "{o} = minimum({a}, {b})"),
            ("VECTOR_MIN", _V, _V, _V, 0, "{o} = minimum({a}, {b})"),
            ("MATRIX_MIN", _M, _M, _M, 0, "{o} = minimum({a}, {b})"),
            ("SCALAR_MAX", _S, _S, _S, 0, "{o} = maximum({a}, {b})"),
            ("VECTOR_MAX", _V, _V, _V, 0, "{o} = maximum({a}, {b})"),
            ("MATRIX_MAX", _M, _M, _M, 0, "{o} = maximum({a}, {b})"),
            ("VECTOR_MEAN", _V, _N, _S, 0, "{o} = mean({a})"),
            ("MATRIX_MEAN", _M, _N, _S, 0, "{o} = mean({a})"),
            ("MATRIX_ROW_MEAN", _M, _N, _V, 0, "{o} = row_mean({a})"),
            ("MATRIX_ROW_ST_DEV", _M, _N, _V, 0, "{o} = row_std({a})"),
            ("VECTOR_ST_DEV", _V, _N, _S, 0, "{o} = std({a})"),
            ("MATRIX_ST_DEV", _M, _N, _S, 0, "{o} = std({a})"),
            ("SCALAR_CONST_SET", _N, _N, _S, 1, "{o} = {d0}"),
            ("VECTOR_CONST_SET", _N, _N, _V, 2, "{o}[{i0}] = {d1}"),
            ("MATRIX_CONST_SET", _N, _N, _M, 3, "{o}[{i0}, {i1}] = {d2}"),
            ("SCALAR_UNIFORM_SET", _N, _N, _S, 2, "{o} = uniform({d0}, {d1})"),
            ("VECTOR_UNIFORM_SET", _N, _N, _V, 2, "{o} = uniform({d0}, {d1})"),
            ("MATRIX_UNIFORM_SET", _N, _N, _M, 2, "{o} = uniform({d0}, {d1})"),
            ("SCALAR_GAUSSIAN_SET", _N, _N, _S, 2, "{o} = gaussian({d0}, {d1})"),
            ("VECTOR_GAUSSIAN_SET", _N, _N, _V, 2, "{o} = gaussian({d0}, {d1})"),
            ("MATRIX_GAUSSIAN_SET", _N, _N, _M, 2, "{o} = gaussian({d0}, {d1})"),
        ]
    )
)

N_OPS = len(OPS)
assert N_OPS == 65
BY_NAME: dict[str, Op] = {op.name: op for op in OPS}

# Array forms of the table for numba kernels (index by op code).
IN1_KIND = np.array([op.in1 for op in OPS], dtype=np.int64)
IN2_KIND = np.array([op.in2 for op in OPS], dtype=np.int64)
OUT_KIND = np.array([op.out for op in OPS], dtype=np.int64)

# Ops whose constants hold element indices as fractions of F (data[0], and data[1] for the
# matrix op): mutation redraws these instead of perturbing them.
VECTOR_CONST_SET = BY_NAME["VECTOR_CONST_SET"].code
MATRIX_CONST_SET = BY_NAME["MATRIX_CONST_SET"].code
SCALAR_CONST_SET = BY_NAME["SCALAR_CONST_SET"].code
UNIFORM_SET_OPS = tuple(BY_NAME[n].code for n in ("SCALAR_UNIFORM_SET", "VECTOR_UNIFORM_SET", "MATRIX_UNIFORM_SET"))
GAUSSIAN_SET_OPS = tuple(BY_NAME[n].code for n in ("SCALAR_GAUSSIAN_SET", "VECTOR_GAUSSIAN_SET", "MATRIX_GAUSSIAN_SET"))


def op_code(name: str) -> int:
    """The code of an op given by name (``VECTOR_SUM`` or ``VECTOR_SUM_OP``)."""
    key = name.upper().removesuffix("_OP")
    if key not in BY_NAME:
        raise KeyError(name)
    return BY_NAME[key].code
