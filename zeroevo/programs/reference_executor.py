"""The numpy reference executor: train and validate one program on one task, as the C++
``Executor`` does, one example and one instruction at a time (ops in ``reference.py``).

The yardstick for the numba harnesses (``executor.py``, ``one_lane.py``); written from the
semantics (docs/semantics.md), plain code over speed.
"""
from __future__ import annotations

import math

import numpy as np

from zeroevo.core.rng import new_state
from zeroevo.primitives.program.reference import Memory, c_math, run_component
from zeroevo.programs.tasks import TaskSet
from zeroevo.spaces.program.genome import Program, ProgramSpec

__all__ = ["evaluate_task", "flip_and_squash"]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + c_math("exp", -x))


def flip_and_squash(rmse: float) -> float:
    """Regression fitness ``1 - (2/pi) atan(rmse)``; 0 for NaN or inf."""
    if math.isnan(rmse) or math.isinf(rmse):
        return 0.0
    return 1.0 + (-0.63661977236758138243) * c_math("atan", rmse)


def evaluate_task(program: Program, spec: ProgramSpec, tasks: TaskSet, task_index: int,
                  n_train: int, n_valid: int, max_abs_error: float = 100.0,
                  record_train: int | None = None, record_valid: int | None = None,
                  trace: list[dict] | None = None) -> tuple[float, int, list[float], list[float]]:
    """Train and validate ``program`` on task ``task_index``, as the C++ Executor does.

    Returns ``(fitness, train steps, train errors, valid errors)``. ``n_train`` caps the
    training steps over all epochs (``tasks.order`` gives each epoch's order);
    ``n_valid`` caps the validation examples run, while the loss is still divided by the
    full validation size. The errors are those of the first epoch only (absolute, after
    the sigmoid for classification; 0/1 for validation accuracy), at most
    ``record_train`` / ``record_valid`` of them (None: no cap).

    Memory is wiped once, setup runs once, and memory then carries across every example,
    epoch and validation pass. A training step counts even when it fails. A failure
    (NaN/inf or an error above ``max_abs_error``) in the first epoch gives fitness 0; a
    later one ends training and keeps the best validation fitness so far. A failure in
    validation gives that epoch fitness 0, ends that validation pass at once (the rest of
    the validation examples do not run) and training goes on.

    ``trace``, when given, receives one dict per validated epoch: ``epoch``, ``steps``
    (train steps so far), ``fitness`` and ``valid_failed``.
    """
    with np.errstate(all="ignore"):
        return _evaluate(program, spec, tasks, task_index, n_train, n_valid, max_abs_error,
                         record_train, record_valid, trace)


def _evaluate(program: Program, spec: ProgramSpec, tasks: TaskSet, t: int, n_train: int,
              n_valid: int, max_abs_error: float, record_train: int | None,
              record_valid: int | None, trace: list[dict] | None
              ) -> tuple[float, int, list[float], list[float]]:
    F = tasks.features
    x_train, y_train, order = tasks.x_train[t], tasks.y_train[t], tasks.order[t]
    x_valid, y_valid = tasks.x_valid[t], tasks.y_valid[t]
    classify = bool(tasks.classify[t])
    n_per_epoch = x_train.shape[0]
    n_valid_all = x_valid.shape[0]
    cap_train = math.inf if record_train is None else record_train
    cap_valid = math.inf if record_valid is None else record_valid

    mem = Memory.zeros(spec.scalars, spec.vectors, spec.matrices, F)
    rs = new_state(tasks.exec_keys[t])
    run_component(*program.component(0), mem, rs)

    train_errors: list[float] = []
    valid_errors: list[float] = []
    steps = 0
    total = min(n_train, n_per_epoch * order.shape[0])
    remaining = total
    best = 0.0
    epoch = 0
    while remaining > 0:
        record = epoch == 0
        failed = False
        for i in range(min(n_per_epoch, remaining)):
            e = order[epoch, i]
            steps += 1
            mem.v[0] = x_train[e]
            mem.s[0] = 0.0
            run_component(*program.component(1), mem, rs)
            if classify:
                mem.s[1] = _sigmoid(mem.s[1])
            error = abs(y_train[e] - mem.s[1])
            if math.isnan(error) or error > max_abs_error:
                failed = True
                break
            if record and len(train_errors) < cap_train:
                train_errors.append(float(error))
            mem.v[0] = x_train[e]
            mem.s[0] = y_train[e]
            run_component(*program.component(2), mem, rs)
        if failed:
            if remaining == total:
                return 0.0, steps, train_errors, valid_errors
            break
        remaining -= n_per_epoch
        fitness, valid_failed = _validate(program, mem, rs, x_valid, y_valid, classify, n_valid,
                                          n_valid_all, max_abs_error,
                                          valid_errors if record else None, cap_valid)
        if trace is not None:
            trace.append(dict(epoch=epoch, steps=steps, fitness=fitness, valid_failed=valid_failed))
        best = max(best, fitness)
        epoch += 1
    return best, steps, train_errors, valid_errors


def _validate(program: Program, mem: Memory, rs: np.ndarray, x_valid: np.ndarray,
              y_valid: np.ndarray, classify: bool, n_valid: int, n_valid_all: int,
              max_abs_error: float, errors: list[float] | None, cap: float
              ) -> tuple[float, bool]:
    """Predict-only pass over the first ``n_valid`` examples: (epoch fitness, failed).

    The pass stops at the first failing example, as the C++ ``Validate`` returns there.
    """
    loss = 0.0
    for i in range(min(n_valid, n_valid_all)):
        mem.v[0] = x_valid[i]
        mem.s[0] = 0.0
        run_component(*program.component(1), mem, rs)
        y = y_valid[i]
        if classify:
            prob = _sigmoid(mem.s[1])  # not written back: validation has no learn
            if prob > 1.0 or prob < 0.0:
                error = math.inf
            else:
                error = 0.0 if (y > 0.5) == (prob > 0.5) else 1.0
        else:
            error = y - mem.s[1]
        if math.isnan(abs(error)) or abs(error) > max_abs_error:
            return 0.0, True
        loss += error if classify else error * error
        if errors is not None and len(errors) < cap:
            errors.append(float(abs(error)))
    if classify:
        return 1.0 - loss / n_valid_all, False
    return flip_and_squash(float(np.sqrt(loss / n_valid_all))), False
