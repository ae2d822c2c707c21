"""Program memory: one flat float64 array per evaluation, lanes interleaved.

Memory of one evaluation is one flat float64 array ``mem``: scalars, then vectors, then
matrices, then scratch for one vector and one matrix. With L lanes, element ``l`` of scalar
``a`` sits at ``a*L + l``, element ``(i, l)`` of vector ``a`` at ``VB + a*F*L + i*L + l`` and
element ``(i, j, l)`` of matrix ``a`` at ``MB + a*F*F*L + (i*F + j)*L + l``, where the L
lanes are tasks running the *same* program (the FEC probe, FEC-off evaluation, a birth's
cache misses) or, with L = 1, one task. One op dispatch then serves every lane, and
elementwise ops become one contiguous loop that LLVM vectorizes. :func:`layout` gives the
offsets and :func:`translate` turns bytecode addresses into them once per evaluation, so an
op reads ``mem[a + i]``; every index is cast to unsigned (``U``), which spares numba's
negative-index wraparound: without it the lane loops do not vectorize (3-5x slower).

``FEATURES`` is the feature size a kernel variant is compiled for (:mod:`zeroevo.programs.kernels`
sets it in each variant; 0 here: read it from the data). As a compile-time constant it lets
LLVM unroll every F-loop.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from zeroevo.core.rng import uniform
from zeroevo.primitives.program.ops import IN1_KIND, IN2_KIND, OUT_KIND

FEATURES = 0


@njit(cache=True, inline="always")
def index_of(frac: float, F: int) -> int:
    """The element index ``int(F * frac)`` of a const-set op, clamped into ``0..F-1``."""
    # The reference truncates F * frac; clamping keeps a malformed constant inside memory.
    k = int(F * frac) if frac == frac else 0
    if k < 0:
        return 0
    if k >= F:
        return F - 1
    return k


@njit(cache=True, error_model="numpy")
def uniform_draw(rs: np.ndarray, low: float, high: float) -> float:
    """A uniform draw in ``[low, high)`` from stream ``rs``; ``low`` for an empty range."""
    # absl's open-interval Uniform returns ``low`` for an empty or inverted range.
    if not low < high:
        return low
    return low + (high - low) * uniform(rs)


@njit(cache=True, inline="always")
def layout(ns: int, nv: int, nm: int, F: int, L: int) -> tuple:
    """``(VB, MB, TV, TM, size)``: where vectors, matrices, the vector and matrix scratch
    start in ``mem``, and its length."""
    vb = ns * L
    mb = vb + nv * F * L
    tv = mb + nm * F * F * L
    tm = tv + F * L
    return vb, mb, tv, tm, tm + F * F * L


@njit(cache=True, inline="always")
def offset(kind: int, addr: int, F: int, L: int, vb: int, mb: int) -> int:
    """Where address ``addr`` of operand kind ``kind`` starts in ``mem``."""
    if kind == 0:
        return addr * L
    if kind == 1:
        return vb + addr * F * L
    if kind == 2:
        return mb + addr * F * F * L
    return 0


@njit(cache=True, inline="always")
def translate(code: np.ndarray, n: int, F: int, L: int, vb: int, mb: int,
              prog: np.ndarray) -> bool:
    """Write ``prog[4*k:4*k+4] = (op, in1, in2, out)`` with addresses as ``mem`` offsets.

    Returns whether an instruction writes ``v0`` (the features; validated genomes never do).
    """
    writes_v0 = False
    for k in range(n):
        op = code[k, 0]
        prog[4 * k] = op
        prog[4 * k + 1] = offset(IN1_KIND[op], code[k, 1], F, L, vb, mb)
        prog[4 * k + 2] = offset(IN2_KIND[op], code[k, 2], F, L, vb, mb)
        prog[4 * k + 3] = offset(OUT_KIND[op], code[k, 3], F, L, vb, mb)
        if op != 0 and OUT_KIND[op] == 1 and code[k, 3] == 0:
            writes_v0 = True
    return writes_v0
