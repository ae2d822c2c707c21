"""Train and validate one program on several tasks at once (the AutoML-Zero executor).

Per task: memory starts at zero and ``setup`` runs once. Each epoch walks the training
examples in that epoch's order: ``v0 = x, s0 = 0``, run ``predict``, read ``s1`` (through a
sigmoid, written back, for classification), stop the task if the error is NaN/inf or above
``max_abs_error``, then ``v0 = x, s0 = y`` and run ``learn``. After each epoch, ``predict``
runs on the validation examples (memory carries on: it is never wiped again). The task's
fitness is the best validation fitness over epochs; a failure in the first epoch gives 0,
a later one ends training with the best so far. Train steps are counted, failing step
included, exactly like the reference.

Two harnesses share the interpreter (``interpreter.py``): :func:`_lanes` here runs one
instruction across all tasks, task innermost (the FEC probe, FEC-off evaluation, three or
more cache misses), and ``one_lane.py`` runs one task at a time on a copy of the
interpreter specialised for a single lane (no lane loops), for calls with one or two
lanes. Each is a state machine around a single ``execute`` site, so the interpreter is
inlined once per harness (spliced in as source by the kernel variants,
:mod:`zeroevo.programs.splice`) and no call happens per instruction range. Both keep everything in
one allocation per call and read the task arrays flat (they must be C-contiguous, as
:class:`~zeroevo.programs.tasks.TaskSet` makes them). Stores that cannot change a result are skipped:
``v0`` is rewritten before ``learn`` only if an instruction writes it (validated genomes
never do), and ``s0 = 0`` before ``predict`` only if ``predict`` reads ``s0``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba import uint64 as U

from zeroevo.core.rng import seed_state
from zeroevo.primitives.program.interpreter import execute
from zeroevo.primitives.program.memory import FEATURES, layout, translate
from zeroevo.primitives.program.one_lane import (
    PHASE_SETUP,
    PHASE_TRAIN_LEARN,
    PHASE_TRAIN_PREDICT,
    PHASE_VALID_PREDICT,
    flip_and_squash,
    run_serial,
)
from zeroevo.primitives.program.ops import IN1_KIND, IN2_KIND

# Up to this many lanes, tasks run one at a time on the one-lane interpreter: a lane loop
# only pays for itself from about three lanes on.
MAX_SERIAL_LANES = 2


@njit(cache=True, inline="always")
def _reads_s0(code: np.ndarray, lo: int, hi: int) -> bool:
    # Whether instructions lo..hi read s0 (the label; 0 while predicting).
    for k in range(lo, hi):
        op = code[k, 0]
        if (IN1_KIND[op] == 0 and code[k, 1] == 0) or (IN2_KIND[op] == 0 and code[k, 2] == 0):
            return True
    return False


@njit(cache=True, inline="always")
def _load_features(mem: np.ndarray, vb: int, x: np.ndarray, ibuf: np.ndarray, row: int,
                   offset: int, F: int, L: int) -> None:
    # v0 of every lane <- the flat feature array x from lane l's row (ibuf[row + l]) + offset.
    if F == 4:  # the default feature size: one lane loop, the copy unrolled
        for l in range(L):
            r = ibuf[U(row + l)] + offset
            mem[U(vb + l)] = x[U(r)]
            mem[U(vb + L + l)] = x[U(r + 1)]
            mem[U(vb + 2 * L + l)] = x[U(r + 2)]
            mem[U(vb + 3 * L + l)] = x[U(r + 3)]
    else:
        for f in range(F):
            for l in range(L):
                mem[U(vb + f * L + l)] = x[U(ibuf[U(row + l)] + offset + f)]


@njit(cache=True, error_model="numpy", inline="always")
def run_lanes(code: np.ndarray, cdata: np.ndarray, seg: np.ndarray, lanes: np.ndarray,
              x_train: np.ndarray, y_train: np.ndarray, order: np.ndarray,
              x_valid: np.ndarray, y_valid: np.ndarray, classify: np.ndarray,
              exec_keys: np.ndarray, n_train: int, n_valid: int, max_abs_error: float,
              n_scalars: int, n_vectors: int, n_matrices: int,
              fitness: np.ndarray, steps: np.ndarray, record: bool,
              train_err: np.ndarray, valid_err: np.ndarray, n_err: np.ndarray) -> None:
    """Evaluate bytecode on tasks ``lanes`` (indices into the task arrays).

    ``seg = (end of setup, end of predict, end of learn)`` in ``code``. ``n_train`` caps the
    training steps over all epochs; ``n_valid`` the validation examples run (the loss is
    still divided by the full validation size, as the reference's FEC probe does).
    Writes ``fitness[l]`` and ``steps[l]``. With ``record``, the first-epoch absolute errors
    go to ``train_err[l, :]`` / ``valid_err[l, :]`` and their counts to ``n_err[l, 0:2]``.

    A thin wrapper, inlined into its callers: the arithmetic below turns constant
    arguments (``record=True`` at a call site) into plain values, so the kernel behind it
    is compiled once rather than once per constant.
    """
    if lanes.shape[0] <= MAX_SERIAL_LANES:
        run_serial(code, cdata, seg, lanes, x_train, y_train, order, x_valid, y_valid, classify,
                exec_keys, n_train + 0, n_valid + 0, max_abs_error + 0.0, n_scalars + 0,
                n_vectors + 0, n_matrices + 0, fitness, steps, record != False,  # noqa: E712
                train_err, valid_err, n_err)
    else:
        _lanes(code, cdata, seg, lanes, x_train, y_train, order, x_valid, y_valid, classify,
               exec_keys, n_train + 0, n_valid + 0, max_abs_error + 0.0, n_scalars + 0,
               n_vectors + 0, n_matrices + 0, fitness, steps, record != False,  # noqa: E712
               train_err, valid_err, n_err)


@njit(cache=True, error_model="numpy")
def _lanes(code, cdata, seg, lanes, x_train, y_train, order, x_valid, y_valid, classify,
           exec_keys, n_train, n_valid, max_abs_error, n_scalars, n_vectors, n_matrices,
           fitness, steps, record, train_err, valid_err, n_err):
    """Run all ``lanes`` together, one instruction across every lane.

    Active lanes advance in lockstep, so one counter gives every lane's train steps (a lane
    that fails keeps the count at its failure), and a lane still recording in epoch 0 has
    recorded every example before the current one: errors go straight to index ``i`` and
    the counts are written when a lane fails or the pass ends.
    """
    L = lanes.shape[0]
    F = FEATURES if FEATURES > 0 else x_train.shape[2]
    N = x_train.shape[1]
    V = x_valid.shape[1]
    n = seg[2]
    vb, mb, tv, tm, size = layout(n_scalars, n_vectors, n_matrices, F, L)
    W = tv // L  # memory words of one lane (scalars, vectors, matrices), stride L
    remaining = min(n_train, N * order.shape[1])
    multi = remaining > N  # several epochs: a validation failure must be undone (below)
    # One allocation, zeroed, seen as floats (memory and scratch, then per-lane best, loss
    # and label) and as ints (the translated program, then per-lane task, live (active and
    # not failed in validation) and done flags and feature row, then the random streams;
    # with several epochs, per lane a saved flag, random stream and memory).
    nf = size + 3 * L
    words = np.zeros(nf + 4 * n + 5 * L + (L * (W + 2) if multi else 0), dtype=np.int64)
    mem = words.view(np.float64)
    best = size
    loss = size + L
    label = size + 2 * L
    prog = words[nf:nf + 4 * n]
    writes_v0 = translate(code, n, F, L, vb, mb, prog)
    ibuf = words
    tl = nf + 4 * n
    live = tl + L
    done = live + L
    row = done + L  # per lane: where the example's features start in the flat task arrays
    rs = words[row + L:row + 2 * L].view(np.uint64).reshape((L, 1))
    # A lane that fails validation stops there in the reference, and the next epoch trains
    # from that memory; here it runs on in lockstep, so its memory and random stream are
    # saved when it fails and put back when the pass ends.
    saved = row + 2 * L
    saved_rs = words[saved + L:saved + 2 * L].view(np.uint64)
    saved_mem = saved + 2 * L
    reads_s0 = _reads_s0(code, seg[0], seg[1])
    any_classify = False
    for l in range(L):
        ibuf[tl + l] = lanes[l]
        any_classify = any_classify or classify[lanes[l]]
        seed_state(rs[l], exec_keys[lanes[l]])
        if record:
            n_err[l, 0] = 0
            n_err[l, 1] = 0
    cap_train = train_err.shape[1]
    cap_valid = valid_err.shape[1]
    xt = x_train.reshape(-1)
    xv = x_valid.reshape(-1)

    epoch = 0
    n_done = 0
    n_active = 0
    n_steps = 0  # train predicts run so far: the steps of every lane still active
    i = 0  # example index within the current phase
    epoch_steps = 0
    phase = PHASE_SETUP
    lo = 0
    hi = seg[0]
    while True:
        execute(prog, cdata, lo, hi, F, L, False, mem, tv, tm, rs)
        # --- what the phase that just ran leaves to the harness ---
        if phase == PHASE_TRAIN_PREDICT:
            n_steps += 1
            if any_classify:
                for l in range(L):
                    if classify[ibuf[U(tl + l)]]:
                        mem[U(L + l)] = 1.0 / (1.0 + math.exp(-mem[U(L + l)]))
            n_bad = 0
            for l in range(L):
                y = mem[U(label + l)]
                mem[U(l)] = y
                if not abs(y - mem[U(L + l)]) <= max_abs_error:  # NaN fails this test too
                    n_bad += ibuf[U(live + l)]
            if n_bad > 0:
                for l in range(L):
                    if ibuf[U(live + l)] and not abs(mem[U(label + l)] - mem[U(L + l)]) <= max_abs_error:
                        ibuf[U(live + l)] = 0
                        ibuf[U(done + l)] = 1
                        steps[l] = n_steps
                        n_active -= 1
                        n_done += 1
                        if record and epoch == 0:  # errors recorded: the steps before
                            n_err[l, 0] = min(i, cap_train)
            if record and epoch == 0 and i < cap_train:
                # A lane still active in epoch 0 has recorded every step before this one.
                for l in range(L):
                    if ibuf[U(live + l)]:
                        train_err[l, i] = abs(mem[U(label + l)] - mem[U(L + l)])
            if writes_v0:
                _load_features(mem, vb, xt, ibuf, row, 0, F, L)
            phase = PHASE_TRAIN_LEARN
            lo = seg[1]
            hi = seg[2]
            continue
        elif phase == PHASE_TRAIN_LEARN:
            i += 1
        elif phase == PHASE_VALID_PREDICT:
            if any_classify or (record and epoch == 0):
                for l in range(L):
                    if not ibuf[U(live + l)]:
                        continue
                    y = y_valid[U(ibuf[U(tl + l)]), U(i)]
                    s1 = mem[U(L + l)]
                    if classify[ibuf[U(tl + l)]]:
                        prob = 1.0 / (1.0 + math.exp(-s1))
                        if prob > 1.0 or prob < 0.0:
                            err = math.inf
                        else:
                            err = 0.0 if (y > 0.5) == (prob > 0.5) else 1.0
                    else:
                        err = abs(y - s1)
                    if not err <= max_abs_error:
                        ibuf[U(live + l)] = 0
                        if record and epoch == 0:
                            n_err[l, 1] = min(i, cap_valid)
                        continue
                    if classify[ibuf[U(tl + l)]]:
                        mem[U(loss + l)] += err
                    else:
                        mem[U(loss + l)] += err * err
                    if record and epoch == 0 and i < cap_valid:
                        valid_err[l, i] = err
            else:  # regression, nothing to record: the same without branches
                for l in range(L):
                    err = abs(y_valid[U(ibuf[U(tl + l)]), U(i)] - mem[U(L + l)])
                    ok = (err <= max_abs_error) & (ibuf[U(live + l)] != 0)
                    acc = mem[U(loss + l)]
                    mem[U(loss + l)] = acc + err * err if ok else acc
                    ibuf[U(live + l)] = 1 if ok else 0
            i += 1
            if remaining > N:  # another epoch follows: keep failed lanes' memory
                for l in range(L):
                    if not (ibuf[U(live + l)] or ibuf[U(done + l)] or ibuf[U(saved + l)]):
                        ibuf[U(saved + l)] = 1
                        saved_rs[l] = rs[l, 0]
                        for j in range(W):
                            mem[U(saved_mem + l * W + j)] = mem[U(j * L + l)]
        else:  # PHASE_SETUP
            if remaining <= 0:
                break
            epoch_steps = min(N, remaining)
            for l in range(L):
                ibuf[U(live + l)] = 1
            n_active = L
            i = 0
        # --- choose the next phase ---
        if phase != PHASE_VALID_PREDICT:
            if i < epoch_steps and n_active > 0:
                for l in range(L):
                    t = ibuf[U(tl + l)]
                    e = order[U(t), U(epoch), U(i)]
                    mem[U(label + l)] = y_train[U(t), U(e)]
                    ibuf[U(row + l)] = (t * N + e) * F
                _load_features(mem, vb, xt, ibuf, row, 0, F, L)
                if reads_s0:
                    for l in range(L):
                        mem[U(l)] = 0.0
                phase = PHASE_TRAIN_PREDICT
                lo = seg[0]
                hi = seg[1]
                continue
            if record and epoch == 0:
                for l in range(L):
                    if not ibuf[U(done + l)]:
                        n_err[l, 0] = min(epoch_steps, cap_train)
            if n_active > 0:  # training of this epoch is over: validate (n_valid may be 0)
                for l in range(L):
                    mem[U(loss + l)] = 0.0
                    ibuf[U(row + l)] = ibuf[U(tl + l)] * V * F  # x_valid[t] block
                i = 0
                phase = PHASE_VALID_PREDICT
        if phase == PHASE_VALID_PREDICT and i < n_valid:
            _load_features(mem, vb, xv, ibuf, row, i * F, F, L)
            if reads_s0:
                for l in range(L):
                    mem[U(l)] = 0.0
            lo = seg[0]
            hi = seg[1]
            continue
        # --- the epoch is over ---
        if phase == PHASE_VALID_PREDICT:
            for l in range(L):
                if ibuf[U(done + l)]:
                    continue
                if record and epoch == 0 and ibuf[U(live + l)]:
                    n_err[l, 1] = min(n_valid, cap_valid)
                if not ibuf[U(live + l)]:  # failed in validation
                    f_epoch = 0.0
                elif classify[ibuf[U(tl + l)]]:
                    f_epoch = 1.0 - mem[U(loss + l)] / V
                else:
                    f_epoch = flip_and_squash(math.sqrt(mem[U(loss + l)] / V))
                if f_epoch > mem[U(best + l)]:
                    mem[U(best + l)] = f_epoch
        remaining -= N
        epoch += 1
        if remaining <= 0 or n_done >= L:
            break
        epoch_steps = min(N, remaining)
        n_active = L - n_done
        for l in range(L):
            if multi and ibuf[U(saved + l)]:
                ibuf[U(saved + l)] = 0
                rs[l, 0] = saved_rs[l]
                for j in range(W):
                    mem[U(j * L + l)] = mem[U(saved_mem + l * W + j)]
        for l in range(L):
            ibuf[U(live + l)] = 1 - ibuf[U(done + l)]
        # Re-enter with an empty range, as if example -1's learn had just run.
        phase = PHASE_TRAIN_LEARN
        i = -1
        lo = 0
        hi = 0
    for l in range(L):
        fitness[l] = mem[U(best + l)]
        if not ibuf[U(done + l)]:
            steps[l] = n_steps
