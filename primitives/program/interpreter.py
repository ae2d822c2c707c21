"""The numba interpreter: runs bytecode on several tasks at once, task as the innermost axis.

The ops live in three families by result kind (:mod:`~zeroevo.primitives.program.scalar_ops`,
:mod:`~zeroevo.primitives.program.vector_ops`, :mod:`~zeroevo.primitives.program.matrix_ops`);
memory and address translation in :mod:`~zeroevo.primitives.program.memory`. This module
writes the instruction loop: :func:`execute_source` is the text of a *flat* interpreter for
a set of ops, one ``op ==`` test per op used, which LLVM turns into a jump table. A kernel
variant (:mod:`zeroevo.programs.kernels`) compiles it with the configuration's feature size
as a constant, so a run compiles only the ops it can meet (six for the demo, not 64).

Semantics are AutoML-Zero's (see ``ops.py`` and docs/semantics.md): no guarding, IEEE
inf/NaN flow freely (``error_model="numpy"``: x/0 is inf, not an exception), no fastmath, and
outputs are computed into scratch first wherever an output may alias an input (matrix
products, transposes, row/column reductions). Every reduction is the left-to-right sum from
+0.0 of each lane's terms, whatever the loop order: with several lanes the accumulators of
all lanes advance together (in ``tv``/``tm``, or registers for F = 4), so the lane loop
vectorizes. Results are bit-identical to a one-lane run. Lanes never interact, so a lane
computes exactly what a one-lane run of the same task computes (tests check this against
the numpy reference interpreter). Addresses are trusted here: genomes are validated at the
Python boundary, and the only data-dependent indices (the const-set element indices) are
clamped.

Performance notes. LLVM vectorizes a loop behind a runtime overlap check of its input and
output ranges; an in-place op (``v1 = v1 + v2``, ``s3 = s3 * s2``) fails that check and
would run scalar, so the common in-place forms have their own loops. F = 4 gets unrolled
forms of the hottest ops of the search (inner product, scalar-vector product).

``execute`` is inlined into each executor harness, a state machine with a single ``execute``
site: a call per instruction range would cost about 20 ns, more than the instructions. A
kernel variant splices it in as source (:mod:`zeroevo.programs.splice`: cheaper to compile
than numba's IR inlining, which the generic templates still use). The one-lane harness
passes the constants ``L = 1, one = True`` and gets a copy with the lane loops folded away.
"""
from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Iterable

import numpy as np

from zeroevo.primitives.program import matrix_ops, scalar_ops, vector_ops
from zeroevo.primitives.program.matrix_ops import matrix_op
from zeroevo.primitives.program.ops import MATRIX, SCALAR, VECTOR
from zeroevo.primitives.program.scalar_ops import scalar_op
from zeroevo.primitives.program.vector_ops import vector_op

FAMILIES = {SCALAR: scalar_op, VECTOR: vector_op, MATRIX: matrix_op}
# Whose globals a flat interpreter's pasted branches may use.
FAMILY_MODULES = (scalar_ops, vector_ops, matrix_ops)


_EXECUTE_HEAD = '''@njit(cache=True, error_model="numpy", inline="always")
def execute(prog, cdata, lo, hi, F, L, one, mem, tv, tm, rs):
    """(Ops {codes}.) Run instructions ``lo..hi`` of translated bytecode ``prog`` on all ``L`` lanes.

    ``one`` (a constant at each call site) says ``L == 1``: reductions then keep their
    accumulator in a register, and with more lanes they accumulate lane-parallel in ``tv``.
    ``tv`` / ``tm`` are the offsets of the vector / matrix scratch in ``mem``; ``rs[l]`` is
    lane l's random stream (used by the set ops).
    """
    FL = F * L
    FFL = F * FL
    for k in range(lo, hi):
        op = prog[U(4 * k)]
        a = prog[U(4 * k + 1)]
        b = prog[U(4 * k + 2)]
        o = prog[U(4 * k + 3)]
        if op == 0:
            continue
'''


def execute(prog: np.ndarray, cdata: np.ndarray, lo: int, hi: int, F: int, L: int,
            one: bool, mem: np.ndarray, tv: int, tm: int, rs: np.ndarray) -> None:
    """The interpreter's place in the harness templates: a kernel variant defines it as the
    flat interpreter of :func:`execute_source`. The templates compile only inside a variant
    (:func:`zeroevo.programs.kernels.kernels_for`); called directly, this refuses."""
    raise RuntimeError("the program kernels run inside a kernel variant: use zeroevo.programs.kernels.kernels_for")


def op_branches() -> dict[int, str]:
    """Every op code's branch body, as source text (from the three family functions)."""
    out = {}
    for fn in FAMILIES.values():
        source = textwrap.dedent(inspect.getsource(fn.py_func))
        lines = source.splitlines()
        node = next(n for n in ast.parse(source).body[0].body if isinstance(n, ast.If))
        while node is not None:
            code = node.test.comparators[0].value
            out[code] = textwrap.dedent("\n".join(lines[node.body[0].lineno - 1:node.body[-1].end_lineno]))
            node = node.orelse[0] if node.orelse else None
    return out


def execute_source(ops: Iterable[int]) -> str:
    """Source of a flat ``execute`` (same signature and semantics) for the op codes ``ops``.

    Instructions of other ops must not reach it: programs are validated against their
    configuration's op lists before they run.
    """
    branches = op_branches()
    codes = sorted({int(op) for op in ops} - {0})
    unknown = [c for c in codes if c not in branches]
    if unknown:
        raise ValueError(f"op codes {unknown} do not exist")
    parts = [_EXECUTE_HEAD.format(codes=", ".join(map(str, codes)) or "none").rstrip()]
    for code in codes:
        parts.append(f"        elif op == {code}:")
        parts.append(textwrap.indent(branches[code], " " * 12))
    return "\n".join(parts) + "\n"
