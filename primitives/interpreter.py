"""The numba interpreter: runs bytecode on several tasks at once, task as the innermost axis.

Memory of one evaluation is ``s[NS, L]``, ``v[NV, F, L]``, ``m[NM, F, F, L]`` where the L lanes
are tasks running the *same* program (the FEC probe, FEC-off evaluation, the cache misses of
one birth). One op dispatch then serves every lane, which costs about half as much per
instruction as running tasks one at a time. Lanes never interact, so a lane computes exactly
what a one-lane run of the same task computes (tests check this against the numpy reference).

Semantics are AutoML-Zero's (see ``primitives/ops.py`` and ../shared/AUTOML_ZERO.md): no
guarding, IEEE inf/NaN flow freely (``error_model="numpy"``: x/0 is inf, not an exception), outputs are computed into scratch first wherever an output
may alias an input. Addresses are trusted here: genomes are validated at the Python boundary,
and the only data-dependent indices (the const-set element indices) are clamped.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from zeroevo.rng import gaussian, uniform


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


@njit(cache=True, error_model="numpy")
def execute(code: np.ndarray, cdata: np.ndarray, lo: int, hi: int,
            s: np.ndarray, v: np.ndarray, m: np.ndarray, rs: np.ndarray,
            tv: np.ndarray, tm: np.ndarray) -> None:
    """Run instructions ``lo..hi`` of ``code`` (rows: op, in1, in2, out) on every lane.

    ``rs[l]`` is lane l's random stream (used by the set ops), ``tv[F, L]`` and
    ``tm[F, F, L]`` are scratch.
    """
    L = s.shape[1]
    F = v.shape[1]
    for k in range(lo, hi):
        op = code[k, 0]
        a = code[k, 1]
        b = code[k, 2]
        o = code[k, 3]
        if op == 0:
            continue
        elif op <= 15:
            for l in range(L):
                x = s[a, l]
                if op == 1:
                    r = x + s[b, l]
                elif op == 2:
                    r = x - s[b, l]
                elif op == 3:
                    r = x * s[b, l]
                elif op == 4:
                    r = x / s[b, l]
                elif op == 5:
                    r = abs(x)
                elif op == 6:
                    r = 1.0 / x
                elif op == 7:
                    r = math.sin(x)
                elif op == 8:
                    r = math.cos(x)
                elif op == 9:
                    r = math.tan(x)
                elif op == 10:
                    r = math.asin(x)
                elif op == 11:
                    r = math.acos(x)
                elif op == 12:
                    r = math.atan(x)
                elif op == 13:
                    r = math.exp(x)
                elif op == 14:
                    r = math.log(x)
                else:
                    r = 1.0 if x >= 0.0 else 0.0
                s[o, l] = r
        elif op == 16 or op == 20 or op == 22:
            for i in range(F):
                for l in range(L):
                    x = v[a, i, l]
                    if op == 16:
                        v[o, i, l] = 1.0 if x > 0.0 else 0.0
                    elif op == 20:
                        v[o, i, l] = 1.0 / x
                    else:
                        v[o, i, l] = abs(x)
        elif op == 17 or op == 30 or op == 38:
            for i in range(F):
                for j in range(F):
                    for l in range(L):
                        x = m[a, i, j, l]
                        if op == 17:
                            m[o, i, j, l] = 1.0 if x > 0.0 else 0.0
                        elif op == 30:
                            m[o, i, j, l] = 1.0 / x
                        else:
                            m[o, i, j, l] = abs(x)
        elif op == 18:
            for i in range(F):
                for l in range(L):
                    v[o, i, l] = v[b, i, l] * s[a, l]
        elif op == 19:
            for i in range(F):
                for l in range(L):
                    v[o, i, l] = s[a, l]
        elif op == 21 or op == 50 or op == 54:
            for l in range(L):
                acc = 0.0
                sq = 0.0
                for i in range(F):
                    x = v[a, i, l]
                    acc += x
                    sq += x * x
                if op == 21:
                    s[o, l] = math.sqrt(sq)
                elif op == 50:
                    s[o, l] = acc / F
                else:
                    mean = acc / F
                    var = sq / F - mean * mean
                    s[o, l] = math.sqrt(var)
        elif op >= 23 and op <= 26 or op == 45 or op == 48:
            for i in range(F):
                for l in range(L):
                    x = v[a, i, l]
                    y = v[b, i, l]
                    if op == 23:
                        v[o, i, l] = x + y
                    elif op == 24:
                        v[o, i, l] = x - y
                    elif op == 25:
                        v[o, i, l] = x * y
                    elif op == 26:
                        v[o, i, l] = x / y
                    elif op == 45:
                        v[o, i, l] = x if x < y else y
                    else:
                        v[o, i, l] = x if x > y else y
        elif op == 27:
            for l in range(L):
                acc = 0.0
                for i in range(F):
                    acc += v[a, i, l] * v[b, i, l]
                s[o, l] = acc
        elif op == 28:
            for i in range(F):
                for j in range(F):
                    for l in range(L):
                        m[o, i, j, l] = v[a, i, l] * v[b, j, l]
        elif op == 29:
            for i in range(F):
                for j in range(F):
                    for l in range(L):
                        m[o, i, j, l] = m[b, i, j, l] * s[a, l]
        elif op == 31:
            for i in range(F):
                for l in range(L):
                    acc = 0.0
                    for j in range(F):
                        acc += m[a, i, j, l] * v[b, j, l]
                    tv[i, l] = acc
            for i in range(F):
                for l in range(L):
                    v[o, i, l] = tv[i, l]
        elif op == 32 or op == 33:
            for i in range(F):
                for j in range(F):
                    for l in range(L):
                        m[o, i, j, l] = v[a, i, l] if op == 32 else v[a, j, l]
        elif op == 34 or op == 51 or op == 55:
            for l in range(L):
                acc = 0.0
                sq = 0.0
                for i in range(F):
                    for j in range(F):
                        x = m[a, i, j, l]
                        acc += x
                        sq += x * x
                if op == 34:
                    s[o, l] = math.sqrt(sq)
                elif op == 51:
                    s[o, l] = acc / (F * F)
                else:
                    mean = acc / (F * F)
                    var = sq / (F * F) - mean * mean
                    s[o, l] = math.sqrt(var)
        elif op == 35:
            for j in range(F):
                for l in range(L):
                    sq = 0.0
                    for i in range(F):
                        sq += m[a, i, j, l] * m[a, i, j, l]
                    tv[j, l] = math.sqrt(sq)
            for i in range(F):
                for l in range(L):
                    v[o, i, l] = tv[i, l]
        elif op == 36 or op == 52 or op == 53:
            for i in range(F):
                for l in range(L):
                    acc = 0.0
                    sq = 0.0
                    for j in range(F):
                        x = m[a, i, j, l]
                        acc += x
                        sq += x * x
                    if op == 36:
                        tv[i, l] = math.sqrt(sq)
                    elif op == 52:
                        tv[i, l] = acc / F
                    else:
                        mean = acc / F
                        var = sq / F - mean * mean
                        tv[i, l] = math.sqrt(var)
            for i in range(F):
                for l in range(L):
                    v[o, i, l] = tv[i, l]
        elif op == 37:
            for i in range(F):
                for j in range(F):
                    for l in range(L):
                        tm[i, j, l] = m[a, j, i, l]
            for i in range(F):
                for j in range(F):
                    for l in range(L):
                        m[o, i, j, l] = tm[i, j, l]
        elif op >= 39 and op <= 42 or op == 46 or op == 49:
            for i in range(F):
                for j in range(F):
                    for l in range(L):
                        x = m[a, i, j, l]
                        y = m[b, i, j, l]
                        if op == 39:
                            m[o, i, j, l] = x + y
                        elif op == 40:
                            m[o, i, j, l] = x - y
                        elif op == 41:
                            m[o, i, j, l] = x * y
                        elif op == 42:
                            m[o, i, j, l] = x / y
                        elif op == 46:
                            m[o, i, j, l] = x if x < y else y
                        else:
                            m[o, i, j, l] = x if x > y else y
        elif op == 43:
            for i in range(F):
                for j in range(F):
                    for l in range(L):
                        acc = 0.0
                        for k2 in range(F):
                            acc += m[a, i, k2, l] * m[b, k2, j, l]
                        tm[i, j, l] = acc
            for i in range(F):
                for j in range(F):
                    for l in range(L):
                        m[o, i, j, l] = tm[i, j, l]
        elif op == 44 or op == 47:
            for l in range(L):
                x = s[a, l]
                y = s[b, l]
                # std::min(a, b) is (b < a) ? b : a; std::max(a, b) is (a < b) ? b : a.
                if op == 44:
                    s[o, l] = y if y < x else x
                else:
                    s[o, l] = y if x < y else x
        elif op == 56:
            for l in range(L):
                s[o, l] = cdata[k, 0]
        elif op == 57:
            i = _index(cdata[k, 0], F)
            for l in range(L):
                v[o, i, l] = cdata[k, 1]
        elif op == 58:
            i = _index(cdata[k, 0], F)
            j = _index(cdata[k, 1], F)
            for l in range(L):
                m[o, i, j, l] = cdata[k, 2]
        elif op == 59 or op == 62:
            for l in range(L):
                if op == 59:
                    s[o, l] = _uniform_draw(rs[l], cdata[k, 0], cdata[k, 1])
                else:
                    s[o, l] = cdata[k, 0] + cdata[k, 1] * gaussian(rs[l])
        elif op == 60 or op == 63:
            for l in range(L):
                for i in range(F):
                    if op == 60:
                        v[o, i, l] = _uniform_draw(rs[l], cdata[k, 0], cdata[k, 1])
                    else:
                        v[o, i, l] = cdata[k, 0] + cdata[k, 1] * gaussian(rs[l])
        elif op == 61 or op == 64:
            for l in range(L):
                for i in range(F):
                    for j in range(F):
                        if op == 61:
                            m[o, i, j, l] = _uniform_draw(rs[l], cdata[k, 0], cdata[k, 1])
                        else:
                            m[o, i, j, l] = cdata[k, 0] + cdata[k, 1] * gaussian(rs[l])
