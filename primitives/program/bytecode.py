"""Compile a program to flat bytecode, dropping instructions that cannot affect a prediction.

A program is held padded: ``ins[3, max_size, 4]`` rows of (op, in1, in2, out) and
``data[3, max_size, 3]`` constants for the setup / predict / learn components, with
``sizes[3]`` instructions in use. Bytecode is one ``code[n, 4]`` / ``cdata[n, 3]`` pair and
``seg = (end of setup, end of predict, end of learn)``.

Dead-code elimination is a backward liveness pass over whole addresses. The execution
harness is a loop (setup; then predict, learn, predict, learn, ... and predict on validation
examples), so predict's and learn's live sets are iterated to a fixed point. The harness
writes ``s0`` and ``v0`` before every predict and learn, and reads ``s1`` after predict.
Partial writes (the vector/matrix element const-set ops) do not kill their output, and the
random-set ops are always kept: they advance the random stream that later random ops read.
In evolved populations 20-35% of executed instructions are dead, so this pays directly.

Compilation runs once per birth, so it allocates nothing when memory has at most 64
addresses (live sets are the bits of one uint64); larger memories use boolean arrays. The
small helpers are plain functions, not numba-inlined: LLVM inlines them all the same, and
numba's IR inlining at each of their ~25 call sites cost seconds of a first run's compile.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from zeroevo.primitives.program.ops import IN1_KIND, IN2_KIND, OUT_KIND

_FIRST_RANDOM_OP = 59  # 59..64 are the uniform / gaussian set ops
_VECTOR_CONST_SET = 57
_MATRIX_CONST_SET = 58


@njit(cache=True)
def _slot(kind: int, address: int, ns: int, nv: int) -> int:
    if kind == 0:
        return address
    if kind == 1:
        return ns + address
    return ns + nv + address


@njit(cache=True)
def _backward(ins: np.ndarray, size: int, live_out: np.ndarray, keep: np.ndarray,
              ns: int, nv: int) -> np.ndarray:
    live = live_out.copy()
    for k in range(size - 1, -1, -1):
        op = ins[k, 0]
        keep[k] = False
        if op == 0:
            continue
        o = _slot(OUT_KIND[op], ins[k, 3], ns, nv)
        if not (live[o] or op >= _FIRST_RANDOM_OP):
            continue
        keep[k] = True
        if op != _VECTOR_CONST_SET and op != _MATRIX_CONST_SET:
            live[o] = False
        if IN1_KIND[op] >= 0:
            live[_slot(IN1_KIND[op], ins[k, 1], ns, nv)] = True
        if IN2_KIND[op] >= 0:
            live[_slot(IN2_KIND[op], ins[k, 2], ns, nv)] = True
    return live


@njit(cache=True)
def _harness_writes(live: np.ndarray, ns: int) -> np.ndarray:
    # What must be live before the harness sets s0 (label) and v0 (features).
    out = live.copy()
    out[0] = False
    out[ns] = False
    return out


@njit(cache=True)
def compile_program(ins: np.ndarray, data: np.ndarray, sizes: np.ndarray,
                    ns: int, nv: int, nm: int, eliminate: bool,
                    code: np.ndarray, cdata: np.ndarray, seg: np.ndarray) -> int:
    """Write the bytecode of a padded program into ``code``/``cdata``/``seg``.

    ``code`` must have room for ``sizes.sum()`` rows. Returns the number of rows written.
    With ``eliminate`` false every non-no-op instruction is kept.
    """
    if ns + nv + nm <= 64:
        return _compile_bits(ins, data, sizes, ns, nv, nm, eliminate, code, cdata, seg)
    return _compile_arrays(ins, data, sizes, ns, nv, nm, eliminate, code, cdata, seg)


_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True)
def _bit(kind: int, address: int, ns: int, nv: int) -> np.uint64:
    return _ONE << np.uint64(_slot(kind, address, ns, nv))


@njit(cache=True)
def _needed(op: int, out: int, live: np.uint64, ns: int, nv: int) -> bool:
    # Random-set ops are always kept: later random ops read the stream they advance.
    return op != 0 and (op >= _FIRST_RANDOM_OP or (live & _bit(OUT_KIND[op], out, ns, nv)) != 0)


@njit(cache=True)
def _transfer(op: int, in1: int, in2: int, out: int, live: np.uint64, ns: int,
              nv: int) -> np.uint64:
    # Live set before a kept instruction, given the live set after it.
    if op != _VECTOR_CONST_SET and op != _MATRIX_CONST_SET:
        live &= ~_bit(OUT_KIND[op], out, ns, nv)
    if IN1_KIND[op] >= 0:
        live |= _bit(IN1_KIND[op], in1, ns, nv)
    if IN2_KIND[op] >= 0:
        live |= _bit(IN2_KIND[op], in2, ns, nv)
    return live


@njit(cache=True)
def _backward_bits(ins: np.ndarray, c: int, size: int, live: np.uint64, ns: int,
                   nv: int) -> np.uint64:
    for k in range(size - 1, -1, -1):
        op = ins[c, k, 0]
        if _needed(op, ins[c, k, 3], live, ns, nv):
            live = _transfer(op, ins[c, k, 1], ins[c, k, 2], ins[c, k, 3], live, ns, nv)
    return live


@njit(cache=True)
def _compile_bits(ins: np.ndarray, data: np.ndarray, sizes: np.ndarray, ns: int, nv: int,
                  nm: int, eliminate: bool, code: np.ndarray, cdata: np.ndarray,
                  seg: np.ndarray) -> int:
    """:func:`compile_program` with live sets as bits of one uint64 (at most 64 addresses).

    No allocation: each component's kept rows are first written backwards at the end of
    its own stretch of ``code`` (rows ``sum(sizes[:c]) .. sum(sizes[:c+1])``), then moved
    forward behind the rows already emitted.
    """
    n_slots = ns + nv + nm
    harness = _ALL & ~(_ONE | (_ONE << np.uint64(ns)))  # clears s0 and v0
    s1 = _ONE << np.uint64(1)
    out_setup = np.uint64(0)
    out_pred = np.uint64(0)
    out_learn = np.uint64(0)
    if eliminate:
        in_pred = np.uint64(0)
        for _ in range(n_slots + 2):
            in_learn = _backward_bits(ins, 2, sizes[2], in_pred & harness, ns, nv)
            out_pred = (in_learn & harness) | (in_pred & harness) | s1
            new_in_pred = _backward_bits(ins, 1, sizes[1], out_pred, ns, nv)
            if new_in_pred == in_pred:
                break
            in_pred = new_in_pred
        in_learn = _backward_bits(ins, 2, sizes[2], in_pred & harness, ns, nv)
        out_setup = in_pred & harness
        out_pred = (in_learn & harness) | (in_pred & harness) | s1
        out_learn = in_pred & harness
    n = 0
    base = 0
    for c in range(3):
        size = sizes[c]
        end = base + size
        pos = end
        live = out_setup if c == 0 else (out_pred if c == 1 else out_learn)
        for k in range(size - 1, -1, -1):
            op = ins[c, k, 0]
            if op == 0:
                continue
            if eliminate:
                if not _needed(op, ins[c, k, 3], live, ns, nv):
                    continue
                live = _transfer(op, ins[c, k, 1], ins[c, k, 2], ins[c, k, 3], live, ns, nv)
            pos -= 1
            for j in range(4):
                code[pos, j] = ins[c, k, j]
            for j in range(3):
                cdata[pos, j] = data[c, k, j]
        for r in range(pos, end):
            for j in range(4):
                code[n, j] = code[r, j]
            for j in range(3):
                cdata[n, j] = cdata[r, j]
            n += 1
        seg[c] = n
        base = end
    return n


@njit(cache=True)
def _compile_arrays(ins: np.ndarray, data: np.ndarray, sizes: np.ndarray,
                    ns: int, nv: int, nm: int, eliminate: bool,
                    code: np.ndarray, cdata: np.ndarray, seg: np.ndarray) -> int:
    # The same liveness with boolean arrays, for more than 64 addresses.
    n_slots = ns + nv + nm
    keep = np.ones((3, ins.shape[1]), dtype=np.bool_)
    if eliminate:
        in_pred = np.zeros(n_slots, dtype=np.bool_)
        in_learn = np.zeros(n_slots, dtype=np.bool_)
        for _ in range(n_slots + 2):
            out_learn = _harness_writes(in_pred, ns)
            in_learn = _backward(ins[2], sizes[2], out_learn, keep[2], ns, nv)
            out_pred = _harness_writes(in_learn, ns) | _harness_writes(in_pred, ns)
            out_pred[1] = True
            new_in_pred = _backward(ins[1], sizes[1], out_pred, keep[1], ns, nv)
            if np.array_equal(new_in_pred, in_pred):
                break
            in_pred = new_in_pred
        _backward(ins[0], sizes[0], _harness_writes(in_pred, ns), keep[0], ns, nv)
    n = 0
    for c in range(3):
        for k in range(sizes[c]):
            if ins[c, k, 0] == 0 or not keep[c, k]:
                continue
            for j in range(4):
                code[n, j] = ins[c, k, j]
            for j in range(3):
                cdata[n, j] = data[c, k, j]
            n += 1
        seg[c] = n
    return n


def to_bytecode(ins: np.ndarray, data: np.ndarray, sizes: np.ndarray,
                ns: int, nv: int, nm: int, eliminate: bool = True
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bytecode ``(code, cdata, seg)`` of a padded program (Python convenience)."""
    total = int(np.sum(sizes))
    code = np.zeros((max(total, 1), 4), dtype=np.int64)
    cdata = np.zeros((max(total, 1), 3), dtype=np.float64)
    seg = np.zeros(3, dtype=np.int64)
    n = compile_program(ins, data, sizes, ns, nv, nm, eliminate, code, cdata, seg)
    return code[:max(n, 1)], cdata[:max(n, 1)], seg
