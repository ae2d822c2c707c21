"""The numba interpreter: runs bytecode on several tasks at once, task as the innermost axis.

Memory of one evaluation is one flat float64 array ``mem``: scalars, then vectors, then
matrices, then scratch for one vector and one matrix. With L lanes, element ``l`` of scalar
``a`` sits at ``a*L + l``, element ``(i, l)`` of vector ``a`` at ``VB + a*F*L + i*L + l`` and
element ``(i, j, l)`` of matrix ``a`` at ``MB + a*F*F*L + (i*F + j)*L + l``, where the L
lanes are tasks running the *same* program (the FEC probe, FEC-off evaluation, a birth's
cache misses) or, with L = 1, one task. One op dispatch then serves every lane, and
elementwise ops become one contiguous loop that LLVM vectorizes. Lanes never interact, so a
lane computes exactly what a one-lane run of the same task computes (tests check this
against the numpy reference interpreter). :func:`layout` gives the offsets and
:func:`translate` turns bytecode addresses into them once per evaluation, so an op reads
``mem[a + i]``; every index is cast to unsigned (``U``), which spares numba's
negative-index wraparound: without it the lane loops do not vectorize (3-5x slower).

Semantics are AutoML-Zero's (see ``ops.py`` and docs/semantics.md): no
guarding, IEEE inf/NaN flow freely (``error_model="numpy"``: x/0 is inf, not an exception),
no fastmath, and outputs are computed into scratch first wherever an output may alias an
input (matrix products, transposes, row/column reductions). Every reduction is the
left-to-right sum from +0.0 of each lane's terms, whatever the loop order: with several
lanes the accumulators of all lanes advance together (in ``tv``/``tm``, or registers for
F = 4), so the lane loop vectorizes. Results are bit-identical to a one-lane run.
Addresses are trusted here: genomes are validated at the Python boundary, and the only
data-dependent indices (the const-set element indices) are clamped. Dispatch is one
``op ==`` test per op code, which LLVM turns into a jump table.

Performance notes. LLVM vectorizes a loop behind a runtime overlap check of its input and
output ranges; an in-place op (``v1 = v1 + v2``, ``s3 = s3 * s2``) fails that check and
would run scalar, so the common in-place forms have their own loops. The default feature size F = 4 gets
unrolled forms of the hottest ops of the search (inner product, scalar-vector product).

``execute`` is inlined (numba IR inlining) into each executor harness, a state machine with
a single ``execute`` site: a call per instruction range would cost about 20 ns, more than
the instructions. The one-lane harness passes the constants ``L = 1, one = True`` and gets a
copy with the lane loops folded away.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba import uint64 as U

from zeroevo.core.rng import gaussian, uniform
from zeroevo.primitives.program.ops import IN1_KIND, IN2_KIND, OUT_KIND


@njit(cache=True, inline="always")
def _index(frac: float, F: int) -> int:
    # The reference truncates F * frac; clamping keeps a malformed constant inside memory.
    k = int(F * frac) if frac == frac else 0
    if k < 0:
        return 0
    if k >= F:
        return F - 1
    return k


@njit(cache=True, error_model="numpy")
def _uniform_draw(rs: np.ndarray, low: float, high: float) -> float:
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
def _offset(kind: int, addr: int, F: int, L: int, vb: int, mb: int) -> int:
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
        prog[4 * k + 1] = _offset(IN1_KIND[op], code[k, 1], F, L, vb, mb)
        prog[4 * k + 2] = _offset(IN2_KIND[op], code[k, 2], F, L, vb, mb)
        prog[4 * k + 3] = _offset(OUT_KIND[op], code[k, 3], F, L, vb, mb)
        if op != 0 and OUT_KIND[op] == 1 and code[k, 3] == 0:
            writes_v0 = True
    return writes_v0


@njit(cache=True, error_model="numpy", inline="always")
def execute(prog: np.ndarray, cdata: np.ndarray, lo: int, hi: int, F: int, L: int,
            one: bool, mem: np.ndarray, tv: int, tm: int, rs: np.ndarray) -> None:
    """Run instructions ``lo..hi`` of translated bytecode ``prog`` on all ``L`` lanes.

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
        elif op == 1:
            if o == a:
                for l in range(L):
                    mem[U(o + l)] = mem[U(o + l)] + mem[U(b + l)]
            elif o == b:
                for l in range(L):
                    mem[U(o + l)] = mem[U(a + l)] + mem[U(o + l)]
            else:
                for l in range(L):
                    mem[U(o + l)] = mem[U(a + l)] + mem[U(b + l)]
        elif op == 2:
            if o == a:
                for l in range(L):
                    mem[U(o + l)] = mem[U(o + l)] - mem[U(b + l)]
            elif o == b:
                for l in range(L):
                    mem[U(o + l)] = mem[U(a + l)] - mem[U(o + l)]
            else:
                for l in range(L):
                    mem[U(o + l)] = mem[U(a + l)] - mem[U(b + l)]
        elif op == 3:
            if o == a:
                for l in range(L):
                    mem[U(o + l)] = mem[U(o + l)] * mem[U(b + l)]
            elif o == b:
                for l in range(L):
                    mem[U(o + l)] = mem[U(a + l)] * mem[U(o + l)]
            else:
                for l in range(L):
                    mem[U(o + l)] = mem[U(a + l)] * mem[U(b + l)]
        elif op == 4:
            if o == a:
                for l in range(L):
                    mem[U(o + l)] = mem[U(o + l)] / mem[U(b + l)]
            elif o == b:
                for l in range(L):
                    mem[U(o + l)] = mem[U(a + l)] / mem[U(o + l)]
            else:
                for l in range(L):
                    mem[U(o + l)] = mem[U(a + l)] / mem[U(b + l)]
        elif op == 5:
            for l in range(L):
                mem[U(o + l)] = abs(mem[U(a + l)])
        elif op == 6:
            for l in range(L):
                mem[U(o + l)] = 1.0 / mem[U(a + l)]
        elif op == 7:
            for l in range(L):
                mem[U(o + l)] = math.sin(mem[U(a + l)])
        elif op == 8:
            for l in range(L):
                mem[U(o + l)] = math.cos(mem[U(a + l)])
        elif op == 9:
            for l in range(L):
                mem[U(o + l)] = math.tan(mem[U(a + l)])
        elif op == 10:
            for l in range(L):
                mem[U(o + l)] = math.asin(mem[U(a + l)])
        elif op == 11:
            for l in range(L):
                mem[U(o + l)] = math.acos(mem[U(a + l)])
        elif op == 12:
            for l in range(L):
                mem[U(o + l)] = math.atan(mem[U(a + l)])
        elif op == 13:
            for l in range(L):
                mem[U(o + l)] = math.exp(mem[U(a + l)])
        elif op == 14:
            for l in range(L):
                mem[U(o + l)] = math.log(mem[U(a + l)])
        elif op == 15:
            for l in range(L):
                mem[U(o + l)] = 1.0 if mem[U(a + l)] >= 0.0 else 0.0
        elif op == 16:
            for i in range(FL):
                mem[U(o + i)] = 1.0 if mem[U(a + i)] > 0.0 else 0.0
        elif op == 17:
            for i in range(FFL):
                mem[U(o + i)] = 1.0 if mem[U(a + i)] > 0.0 else 0.0
        elif op == 18:
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
        elif op == 19:
            for i in range(F):
                for l in range(L):
                    mem[U(o + i * L + l)] = mem[U(a + l)]
        elif op == 20:
            for i in range(FL):
                mem[U(o + i)] = 1.0 / mem[U(a + i)]
        elif op == 21:
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
        elif op == 22:
            for i in range(FL):
                mem[U(o + i)] = abs(mem[U(a + i)])
        elif op == 23:
            if o == a:
                for i in range(FL):
                    mem[U(o + i)] = mem[U(o + i)] + mem[U(b + i)]
            elif o == b:
                for i in range(FL):
                    mem[U(o + i)] = mem[U(a + i)] + mem[U(o + i)]
            else:
                for i in range(FL):
                    mem[U(o + i)] = mem[U(a + i)] + mem[U(b + i)]
        elif op == 24:
            if o == a:
                for i in range(FL):
                    mem[U(o + i)] = mem[U(o + i)] - mem[U(b + i)]
            elif o == b:
                for i in range(FL):
                    mem[U(o + i)] = mem[U(a + i)] - mem[U(o + i)]
            else:
                for i in range(FL):
                    mem[U(o + i)] = mem[U(a + i)] - mem[U(b + i)]
        elif op == 25:
            if o == a:
                for i in range(FL):
                    mem[U(o + i)] = mem[U(o + i)] * mem[U(b + i)]
            elif o == b:
                for i in range(FL):
                    mem[U(o + i)] = mem[U(a + i)] * mem[U(o + i)]
            else:
                for i in range(FL):
                    mem[U(o + i)] = mem[U(a + i)] * mem[U(b + i)]
        elif op == 26:
            if o == a:
                for i in range(FL):
                    mem[U(o + i)] = mem[U(o + i)] / mem[U(b + i)]
            elif o == b:
                for i in range(FL):
                    mem[U(o + i)] = mem[U(a + i)] / mem[U(o + i)]
            else:
                for i in range(FL):
                    mem[U(o + i)] = mem[U(a + i)] / mem[U(b + i)]
        elif op == 27:
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
        elif op == 28:
            for i in range(F):
                for j in range(F):
                    for l in range(L):
                        mem[U(o + (i * F + j) * L + l)] = mem[U(a + i * L + l)] * mem[U(b + j * L + l)]
        elif op == 29:
            for i in range(F * F):
                for l in range(L):
                    mem[U(o + i * L + l)] = mem[U(b + i * L + l)] * mem[U(a + l)]
        elif op == 30:
            for i in range(FFL):
                mem[U(o + i)] = 1.0 / mem[U(a + i)]
        elif op == 31:
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
        elif op == 32:
            for i in range(F):
                for j in range(F):
                    for l in range(L):
                        mem[U(o + (i * F + j) * L + l)] = mem[U(a + i * L + l)]
        elif op == 33:
            for i in range(F):
                for j in range(F):
                    for l in range(L):
                        mem[U(o + (i * F + j) * L + l)] = mem[U(a + j * L + l)]
        elif op == 34:
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
        elif op == 35:
            # Column sums of squares accumulate row by row: each column's order is kept.
            for i in range(FL):
                mem[U(tv + i)] = 0.0
            for i in range(F):
                for j in range(FL):
                    x = mem[U(a + i * FL + j)]
                    mem[U(tv + j)] += x * x
            for i in range(FL):
                mem[U(o + i)] = math.sqrt(mem[U(tv + i)])
        elif op == 36:
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
        elif op == 37:
            for i in range(F):
                for j in range(F):
                    for l in range(L):
                        mem[U(tm + (i * F + j) * L + l)] = mem[U(a + (j * F + i) * L + l)]
            for i in range(FFL):
                mem[U(o + i)] = mem[U(tm + i)]
        elif op == 38:
            for i in range(FFL):
                mem[U(o + i)] = abs(mem[U(a + i)])
        elif op == 39:
            for i in range(FFL):
                x = mem[U(a + i)]
                y = mem[U(b + i)]
                mem[U(o + i)] = x + y
        elif op == 40:
            for i in range(FFL):
                x = mem[U(a + i)]
                y = mem[U(b + i)]
                mem[U(o + i)] = x - y
        elif op == 41:
            for i in range(FFL):
                x = mem[U(a + i)]
                y = mem[U(b + i)]
                mem[U(o + i)] = x * y
        elif op == 42:
            for i in range(FFL):
                x = mem[U(a + i)]
                y = mem[U(b + i)]
                mem[U(o + i)] = x / y
        elif op == 43:
            # Row i of the product accumulates over k in order for every (j, lane) at once:
            # each element's sum keeps its order, and the inner loop is contiguous.
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
        elif op == 44:
            for l in range(L):
                x = mem[U(a + l)]
                y = mem[U(b + l)]
                mem[U(o + l)] = y if y < x else x
        elif op == 45:
            for i in range(FL):
                x = mem[U(a + i)]
                y = mem[U(b + i)]
                mem[U(o + i)] = x if x < y else y
        elif op == 46:
            for i in range(FFL):
                x = mem[U(a + i)]
                y = mem[U(b + i)]
                mem[U(o + i)] = x if x < y else y
        elif op == 47:
            for l in range(L):
                x = mem[U(a + l)]
                y = mem[U(b + l)]
                mem[U(o + l)] = y if x < y else x
        elif op == 48:
            for i in range(FL):
                x = mem[U(a + i)]
                y = mem[U(b + i)]
                mem[U(o + i)] = x if x > y else y
        elif op == 49:
            for i in range(FFL):
                x = mem[U(a + i)]
                y = mem[U(b + i)]
                mem[U(o + i)] = x if x > y else y
        elif op == 50:
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
        elif op == 51:
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
        elif op == 52:
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
        elif op == 53:
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
        elif op == 54:
            for l in range(L):
                acc = 0.0
                sq = 0.0
                for i in range(F):
                    x = mem[U(a + i * L + l)]
                    acc += x
                    sq += x * x
                mean = acc / F
                mem[U(o + l)] = math.sqrt(sq / F - mean * mean)
        elif op == 55:
            for l in range(L):
                acc = 0.0
                sq = 0.0
                for i in range(F * F):
                    x = mem[U(a + i * L + l)]
                    acc += x
                    sq += x * x
                mean = acc / (F * F)
                mem[U(o + l)] = math.sqrt(sq / (F * F) - mean * mean)
        elif op == 56:
            c0 = cdata[k, 0]
            for l in range(L):
                mem[U(o + l)] = c0
        elif op == 57:
            i = _index(cdata[k, 0], F)
            c1 = cdata[k, 1]
            for l in range(L):
                mem[U(o + i * L + l)] = c1
        elif op == 58:
            i = _index(cdata[k, 0], F)
            j = _index(cdata[k, 1], F)
            c2 = cdata[k, 2]
            for l in range(L):
                mem[U(o + (i * F + j) * L + l)] = c2
        elif op == 59:
            for l in range(L):
                mem[U(o + l)] = _uniform_draw(rs[l], cdata[k, 0], cdata[k, 1])
        elif op == 60:
            for l in range(L):
                for i in range(F):
                    mem[U(o + i * L + l)] = _uniform_draw(rs[l], cdata[k, 0], cdata[k, 1])
        elif op == 61:
            for l in range(L):
                for i in range(F * F):
                    mem[U(o + i * L + l)] = _uniform_draw(rs[l], cdata[k, 0], cdata[k, 1])
        elif op == 62:
            for l in range(L):
                mem[U(o + l)] = cdata[k, 0] + cdata[k, 1] * gaussian(rs[l])
        elif op == 63:
            for l in range(L):
                for i in range(F):
                    mem[U(o + i * L + l)] = cdata[k, 0] + cdata[k, 1] * gaussian(rs[l])
        elif op == 64:
            for l in range(L):
                for i in range(F * F):
                    mem[U(o + i * L + l)] = cdata[k, 0] + cdata[k, 1] * gaussian(rs[l])
