"""Hand-written learners on a run's final tasks: what an evolved program has to beat.

Two classic learners, written as zeroevo programs (``spaces.program.initial``) and run by
the very executor that runs every evolved program, on the same tasks and budget: linear
regression by SGD (logistic regression on classification tasks, where the executor puts a
sigmoid on the prediction) and a 2-layer ReLU network trained by backpropagation. Each
learner's learning rate is chosen on the *select* tasks from a small grid; the chosen one
is then measured once on the *final* tasks. Binary-classification and ReLU-teacher runs
record the result in the run directory (``baselines.json``) and ``zeroevo analyze best``
reports it beside the evolved program's final fitness. On ReLU-teacher tasks the 2-layer
network is what the ``nonlinear`` preset should rediscover, so its select fitness is the
ceiling a "solved" threshold has to sit under.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from zeroevo.programs.config import Config
from zeroevo.programs.evaluator import full_fitness
from zeroevo.programs.tasks import TaskSet
from zeroevo.spaces.program.genome import ProgramSpec
from zeroevo.spaces.program.initial import linear_program, neural_net_program

# Linear-regression runs (the demo) get none: the linear learner is their target itself, and
# the network's matrix ops would compile a kernel variant the run does not otherwise need.
TASK_KINDS = ("relu_teacher", "binary_projected")
LR_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
LEARNERS = {"linear": linear_program, "neural_net": neural_net_program}
_NEEDS = {"scalars": 4, "vectors": 8, "matrices": 2}  # the 2-layer network's memory
_OPS = ("SCALAR_CONST_SET", "MATRIX_GAUSSIAN_SET", "VECTOR_GAUSSIAN_SET", "MATRIX_VECTOR_PRODUCT",
        "VECTOR_HEAVYSIDE", "VECTOR_PRODUCT", "VECTOR_INNER_PRODUCT", "SCALAR_DIFF", "SCALAR_PRODUCT",
        "SCALAR_VECTOR_PRODUCT", "VECTOR_SUM", "VECTOR_OUTER_PRODUCT", "MATRIX_SUM")


def baseline_spec(spec: ProgramSpec) -> ProgramSpec:
    """A program space that holds both learners and the run's own programs: the run's feature
    size, at least the learners' memory, op lists widened by the learners' ops (so the run's
    kernel variant usually serves them too)."""
    ops = tuple(tuple(dict.fromkeys((*component, *_OPS))) for component in spec.ops)
    cap = max(spec.capacity, 8)
    return dataclasses.replace(
        spec, ops=ops, **{k: max(getattr(spec, k), v) for k, v in _NEEDS.items()},
        init_sizes=(0, 0, 0), min_sizes=(0, 0, 0), max_sizes=(cap, cap, cap))


def baselines(config: Config, select: TaskSet, final: TaskSet) -> dict[str, Any]:
    """``{learner: {"lr", "select_fitness", "final_fitness"}}`` for the linear model and the
    2-layer network (learning rates chosen on ``select``)."""
    spec = baseline_spec(config.program_spec())
    out = {}
    for name, make in LEARNERS.items():
        tried = {lr: full_fitness(config, spec, make(spec, lr=lr), select) for lr in LR_GRID}
        lr = max(LR_GRID, key=lambda x: (tried[x], -x))  # the smaller rate among equals
        out[name] = {"lr": lr, "select_fitness": tried[lr],
                     "final_fitness": full_fitness(config, spec, make(spec, lr=lr), final)}
    return out
