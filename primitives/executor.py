"""Train and validate one program on several tasks at once (the AutoML-Zero executor).

Per task: memory starts at zero and ``setup`` runs once. Each epoch walks the training
examples in that epoch's order: ``v0 = x, s0 = 0``, run ``predict``, read ``s1`` (through a
sigmoid, written back, for classification), stop the task if the error is NaN/inf or above
``max_abs_error``, then ``v0 = x, s0 = y`` and run ``learn``. After each epoch, ``predict``
runs on the validation examples (memory carries on: it is never wiped again). The task's
fitness is the best validation fitness over epochs; a failure in the first epoch gives 0,
a later one ends training with the best so far. Train steps are counted, failing step
included, exactly like the reference.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from zeroevo.primitives.interpreter import execute
from zeroevo.rng import seed_state

_TWO_OVER_PI = 0.63661977236758138243


@njit(cache=True, error_model="numpy")
def flip_and_squash(rmse: float) -> float:
    """Regression fitness ``1 - (2/pi) atan(rmse)``; 0 for NaN or inf."""
    if rmse != rmse or math.isinf(rmse):
        return 0.0
    return 1.0 - _TWO_OVER_PI * math.atan(rmse)


@njit(cache=True, error_model="numpy")
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
    """
    L = lanes.shape[0]
    F = x_train.shape[2]
    N = x_train.shape[1]
    V = x_valid.shape[1]
    n_epochs = order.shape[1]
    s = np.zeros((n_scalars, L))
    v = np.zeros((n_vectors, F, L))
    m = np.zeros((n_matrices, F, F, L))
    tv = np.empty((F, L))
    tm = np.empty((F, F, L))
    rs = np.empty((L, 1), dtype=np.uint64)
    best = np.zeros(L)
    done = np.zeros(L, dtype=np.bool_)
    active = np.zeros(L, dtype=np.bool_)
    vfail = np.zeros(L, dtype=np.bool_)
    loss = np.zeros(L)
    for l in range(L):
        seed_state(rs[l], exec_keys[lanes[l]])
        steps[l] = 0
        if record:
            n_err[l, 0] = 0
            n_err[l, 1] = 0
    execute(code, cdata, 0, seg[0], s, v, m, rs, tv, tm)

    remaining = min(n_train, N * n_epochs)
    epoch = 0
    n_done = 0
    while remaining > 0 and n_done < L:
        n_active = 0
        for l in range(L):
            active[l] = not done[l]
            n_active += active[l]
        for i in range(min(N, remaining)):
            if n_active == 0:
                break
            for l in range(L):
                t = lanes[l]
                e = order[t, epoch, i]
                for f in range(F):
                    v[0, f, l] = x_train[t, e, f]
                s[0, l] = 0.0
            execute(code, cdata, seg[0], seg[1], s, v, m, rs, tv, tm)
            for l in range(L):
                t = lanes[l]
                if classify[t]:
                    s[1, l] = 1.0 / (1.0 + math.exp(-s[1, l]))
                if not active[l]:
                    continue
                steps[l] += 1
                err = abs(y_train[t, order[t, epoch, i]] - s[1, l])
                if not err <= max_abs_error:  # NaN fails this test too
                    active[l] = False
                    n_active -= 1
                    done[l] = True
                    n_done += 1
                elif record and epoch == 0 and n_err[l, 0] < train_err.shape[1]:
                    train_err[l, n_err[l, 0]] = err
                    n_err[l, 0] += 1
            for l in range(L):
                t = lanes[l]
                e = order[t, epoch, i]
                for f in range(F):
                    v[0, f, l] = x_train[t, e, f]
                s[0, l] = y_train[t, e]
            execute(code, cdata, seg[1], seg[2], s, v, m, rs, tv, tm)
        if n_active > 0:
            for l in range(L):
                loss[l] = 0.0
                vfail[l] = False
            for i in range(n_valid):
                for l in range(L):
                    t = lanes[l]
                    for f in range(F):
                        v[0, f, l] = x_valid[t, i, f]
                    s[0, l] = 0.0
                execute(code, cdata, seg[0], seg[1], s, v, m, rs, tv, tm)
                for l in range(L):
                    if not active[l] or vfail[l]:
                        continue
                    t = lanes[l]
                    y = y_valid[t, i]
                    if classify[t]:
                        prob = 1.0 / (1.0 + math.exp(-s[1, l]))
                        if prob > 1.0 or prob < 0.0:
                            err = math.inf
                        else:
                            err = 0.0 if (y > 0.5) == (prob > 0.5) else 1.0
                    else:
                        err = abs(y - s[1, l])
                    if not err <= max_abs_error:
                        vfail[l] = True
                        continue
                    loss[l] += err if classify[t] else err * err
                    if record and epoch == 0 and n_err[l, 1] < valid_err.shape[1]:
                        valid_err[l, n_err[l, 1]] = err
                        n_err[l, 1] += 1
            for l in range(L):
                if not active[l]:
                    continue
                if vfail[l]:
                    f_epoch = 0.0
                elif classify[lanes[l]]:
                    f_epoch = 1.0 - loss[l] / V
                else:
                    f_epoch = flip_and_squash(math.sqrt(loss[l] / V))
                if f_epoch > best[l]:
                    best[l] = f_epoch
        remaining -= N
        epoch += 1
    for l in range(L):
        fitness[l] = best[l]
