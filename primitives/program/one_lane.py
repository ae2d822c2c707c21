"""The one-lane harness: tasks run one after the other on an interpreter copy for L = 1.

The executor's semantics (``executor.py``'s docstring) on a single task at a time, used for
calls with one or two lanes (a birth's few FEC cache misses): the interpreter is inlined
with ``L = 1`` so its lane loops fold away (and, in a kernel variant with a fixed feature
size, every vector loop unrolls). A state machine with one ``execute`` site walks setup,
each training example's predict and learn, and each validation pass. A kernel variant
splices the interpreter into ``_one_lane``, and ``_one_lane`` into ``run_serial``, as source.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba import uint64 as U

from zeroevo.core.rng import seed_state
from zeroevo.primitives.program.interpreter import execute
from zeroevo.primitives.program.memory import FEATURES, layout, translate

_TWO_OVER_PI = 0.63661977236758138243


@njit(cache=True, error_model="numpy")
def flip_and_squash(rmse: float) -> float:
    """Regression fitness ``1 - (2/pi) atan(rmse)``; 0 for NaN or inf."""
    if rmse != rmse or math.isinf(rmse):
        return 0.0
    return 1.0 - _TWO_OVER_PI * math.atan(rmse)


# Harness phases: which instruction range ran last.
PHASE_SETUP, PHASE_TRAIN_PREDICT, PHASE_TRAIN_LEARN, PHASE_VALID_PREDICT = 0, 1, 2, 3


@njit(cache=True, error_model="numpy")
def run_serial(code, cdata, seg, lanes, x_train, y_train, order, x_valid, y_valid, classify,
            exec_keys, n_train, n_valid, max_abs_error, n_scalars, n_vectors, n_matrices,
            fitness, steps, record, train_err, valid_err, n_err):
    """Run ``lanes`` one after the other on the one-lane interpreter."""
    F = FEATURES if FEATURES > 0 else x_train.shape[2]
    n = seg[2]
    # One lane's memory, program and random stream, reused lane after lane.
    vb, mb, tv, tm, size = layout(n_scalars, n_vectors, n_matrices, F, 1)
    words = np.empty(size + 4 * n + 1, dtype=np.int64)
    mem = words.view(np.float64)
    prog = words[size:size + 4 * n]
    writes_v0 = translate(code, n, F, 1, vb, mb, prog)
    rs = words[size + 4 * n:].view(np.uint64).reshape((1, 1))
    for l in range(lanes.shape[0]):
        t = lanes[l]
        for j in range(tv):
            mem[U(j)] = 0.0
        seed_state(rs[0], exec_keys[t])
        fitness[l], steps[l] = _one_lane(
            prog, cdata, seg, t, l, x_train, y_train, order, x_valid, y_valid, classify[t],
            n_train, n_valid, max_abs_error, record, train_err, valid_err, n_err, writes_v0,
            mem, vb, tv, tm, rs, F)


@njit(cache=True, error_model="numpy", inline="always")
def _one_lane(prog, cdata, seg, t, l, x_train, y_train, order, x_valid, y_valid, cls,
              n_train, n_valid, max_abs_error, record, train_err, valid_err, n_err,
              writes_v0, mem, vb, tv, tm, rs, F):
    """Run task ``t`` alone (result slot ``l``); memory arrives wiped. ``(fitness, steps)``.

    ``F`` is the feature size (a constant in a kernel variant)."""
    N = x_train.shape[1]
    V = x_valid.shape[1]
    cap_train = train_err.shape[1]
    cap_valid = valid_err.shape[1]
    n_steps = 0
    n_rec_train = 0
    n_rec_valid = 0
    best = 0.0
    loss = 0.0
    vfail = False
    remaining = min(n_train, N * order.shape[1])
    epoch = 0
    epoch_steps = 0
    i = 0  # example index within the current phase
    e = 0  # training example being run
    phase = PHASE_SETUP
    lo = 0
    hi = seg[0]
    while True:
        execute(prog, cdata, lo, hi, F, 1, True, mem, tv, tm, rs)
        # --- what the phase that just ran leaves to the harness ---
        if phase == PHASE_TRAIN_PREDICT:
            p = mem[1]
            if cls:
                p = 1.0 / (1.0 + math.exp(-p))
                mem[1] = p
            n_steps += 1
            y = y_train[U(t), U(e)]
            err = abs(y - p)
            if not err <= max_abs_error:  # NaN fails this test too
                break
            if record and epoch == 0 and n_rec_train < cap_train:
                train_err[l, n_rec_train] = err
                n_rec_train += 1
            if writes_v0:
                for f in range(F):
                    mem[U(vb + f)] = x_train[U(t), U(e), U(f)]
            mem[0] = y
            phase = PHASE_TRAIN_LEARN
            lo = seg[1]
            hi = seg[2]
            continue
        elif phase == PHASE_TRAIN_LEARN:
            i += 1
        elif phase == PHASE_VALID_PREDICT:
            y = y_valid[U(t), U(i)]
            if cls:
                prob = 1.0 / (1.0 + math.exp(-mem[1]))
                if prob > 1.0 or prob < 0.0:
                    err = math.inf
                else:
                    err = 0.0 if (y > 0.5) == (prob > 0.5) else 1.0
            else:
                err = abs(y - mem[1])
            if not err <= max_abs_error:
                # The reference's Validate returns at once: the pass's remaining examples
                # never run, so the memory the next epoch trains from is this one.
                vfail = True
                i = n_valid - 1
            else:
                loss += err if cls else err * err
                if record and epoch == 0 and n_rec_valid < cap_valid:
                    valid_err[l, n_rec_valid] = err
                    n_rec_valid += 1
            i += 1
        else:  # PHASE_SETUP
            if remaining <= 0:
                break
            epoch_steps = min(N, remaining)
            i = 0
        # --- choose the next phase ---
        if phase != PHASE_VALID_PREDICT:
            if i < epoch_steps:
                e = order[U(t), U(epoch), U(i)]
                for f in range(F):
                    mem[U(vb + f)] = x_train[U(t), U(e), U(f)]
                mem[0] = 0.0
                phase = PHASE_TRAIN_PREDICT
                lo = seg[0]
                hi = seg[1]
                continue
            # Training of this epoch is over: validate (with no examples the loss is 0).
            loss = 0.0
            vfail = False
            i = 0
            phase = PHASE_VALID_PREDICT
        if phase == PHASE_VALID_PREDICT and i < n_valid:
            for f in range(F):
                mem[U(vb + f)] = x_valid[U(t), U(i), U(f)]
            mem[0] = 0.0
            lo = seg[0]
            hi = seg[1]
            continue
        # --- the epoch is over ---
        if phase == PHASE_VALID_PREDICT:
            if vfail:
                f_epoch = 0.0
            elif cls:
                f_epoch = 1.0 - loss / V
            else:
                f_epoch = flip_and_squash(math.sqrt(loss / V))
            if f_epoch > best:
                best = f_epoch
        remaining -= N
        epoch += 1
        if remaining <= 0:
            break
        epoch_steps = min(N, remaining)
        # Re-enter with an empty range, as if example -1's learn had just run.
        phase = PHASE_TRAIN_LEARN
        i = -1
        lo = 0
        hi = 0
    if record:
        n_err[l, 0] = n_rec_train
        n_err[l, 1] = n_rec_valid
    return best, n_steps
