"""Initial programs: no-op, random, and hand-written linear regression and 2-layer network.

The hand-written ones are the learning algorithms the demo and the ``nonlinear`` preset
should rediscover; tests use them to check tasks, the interpreter and fitness end to end.
"""
from __future__ import annotations

import numpy as np

from zeroevo.core.errors import ConfigError
from zeroevo.spaces.program.genome import Program, ProgramSpec, from_rows
from zeroevo.spaces.program.mutation import random_program

INITIAL_KINDS = ("random", "noop", "linear", "neural_net")


def noop_program(spec: ProgramSpec) -> Program:
    """Every component filled with no-ops at its initial size."""
    prog = spec.empty()
    sizes = np.array(spec.init_sizes, dtype=np.int64)
    return Program(prog.ins, prog.data, sizes)


def random_from_stream(spec: ProgramSpec, st: np.ndarray) -> Program:
    """A random program at the initial sizes, drawn from random stream ``st``."""
    prog = spec.empty()
    ins, data, sizes = prog.ins.copy(), prog.data.copy(), prog.sizes.copy()
    allowed, n_allowed, bounds, mem = spec.kernel_arrays()
    random_program(ins, data, sizes, allowed, n_allowed, bounds, mem, st)
    return Program(ins, data, sizes)


def linear_program(spec: ProgramSpec, lr: float = 0.2) -> Program:
    """Linear regression trained by SGD, the demo's target (needs 4 scalars, 3 vectors).

    setup ``s2 = lr``; predict ``s1 = dot(v1, v0)``; learn ``s3 = s0 - s1; s3 = s3 * s2;
    v2 = s3 * v0; v1 = v1 + v2``.
    """
    return from_rows(spec, {
        "setup": [("SCALAR_CONST_SET", 0, 0, 2, lr)],
        "predict": [("VECTOR_INNER_PRODUCT", 1, 0, 1)],
        "learn": [("SCALAR_DIFF", 0, 1, 3), ("SCALAR_PRODUCT", 3, 2, 3),
                  ("SCALAR_VECTOR_PRODUCT", 3, 0, 2), ("VECTOR_SUM", 1, 2, 1)],
    })


def neural_net_program(spec: ProgramSpec, lr: float = 0.05, init_std: float = 0.5) -> Program:
    """A 2-layer ReLU network trained by backpropagation (needs 4 scalars, 8 vectors, 2 matrices).

    Weights: ``m0`` (hidden x input), ``v1`` (output). predict: ``v2 = m0 @ v0``,
    ``v3 = heaviside(v2)``, ``v4 = v2 * v3`` (ReLU), ``s1 = dot(v4, v1)``. learn: the error
    times lr, back through ``v1`` and the ReLU mask into ``m0`` via an outer product.
    """
    return from_rows(spec, {
        "setup": [("SCALAR_CONST_SET", 0, 0, 2, lr),
                  ("MATRIX_GAUSSIAN_SET", 0, 0, 0, 0.0, init_std),
                  ("VECTOR_GAUSSIAN_SET", 0, 0, 1, 0.0, init_std)],
        "predict": [("MATRIX_VECTOR_PRODUCT", 0, 0, 2), ("VECTOR_HEAVYSIDE", 2, 0, 3),
                    ("VECTOR_PRODUCT", 2, 3, 4), ("VECTOR_INNER_PRODUCT", 4, 1, 1)],
        "learn": [("SCALAR_DIFF", 0, 1, 3), ("SCALAR_PRODUCT", 3, 2, 3),
                  ("SCALAR_VECTOR_PRODUCT", 3, 1, 5), ("VECTOR_PRODUCT", 5, 3, 6),
                  ("SCALAR_VECTOR_PRODUCT", 3, 4, 7), ("VECTOR_SUM", 1, 7, 1),
                  ("VECTOR_OUTER_PRODUCT", 6, 0, 1), ("MATRIX_SUM", 0, 1, 0)],
    })


def initial_program(kind: str, spec: ProgramSpec, st: np.ndarray) -> Program:
    """The initial program of ``kind`` (one of INITIAL_KINDS); ``st`` feeds ``random``."""
    if kind == "random":
        return random_from_stream(spec, st)
    if kind == "noop":
        return noop_program(spec)
    if kind == "linear":
        return linear_program(spec)
    if kind == "neural_net":
        return neural_net_program(spec)
    raise ConfigError(f"unknown initial program {kind!r}; allowed: {', '.join(INITIAL_KINDS)}")
