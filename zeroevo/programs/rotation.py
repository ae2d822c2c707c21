"""Task rotation: search tasks drawn anew from a pool every few births, against overfitting.

With the reference's protocol a restart searches on the same few tasks from its first birth
to its last, and on real data the search learns those tasks: on binary-fashion-basic the
population's best by search fitness scores *worse* on held-out pairs the longer it searches
(``benchmarks/program_quality.py`` measures it). With ``[evaluation] task_pool = N`` a
restart generates N search tasks and every ``rotate_every`` births of each island draws
``search_tasks.num_tasks`` of them afresh. A program then keeps its place only by learning
tasks it has not been tuned to; the population's fitness values come from different draws,
which regularized evolution's aging absorbs as it absorbs any noisy fitness.

The draw is a pure function of (root seed, restart, island, births of the island in this
restart // rotate_every), and chunks split at draw boundaries, so logs stay the same for the
same seed whatever the chunking, the workers or a resume.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from zeroevo.core.births import BirthBatch
from zeroevo.core.errors import ConfigError
from zeroevo.core.rng import PURPOSE_ROTATION, numpy_generator, seed64
from zeroevo.programs.tasks import TaskSet

if TYPE_CHECKING:
    from zeroevo.programs.config import Config

Segment = Callable[[int, int, int, int, int, int], "tuple[BirthBatch, int]"]


def rotation_for(config: "Config", tasks: TaskSet, island: int) -> TaskRotation | None:
    """The rotation a config asks for over the pool ``tasks`` (None: no ``task_pool``)."""
    ev = config.evaluation
    if not ev.task_pool:
        return None
    return TaskRotation(tasks, config.search_tasks.num_tasks, ev.rotate_every, seed64(config.run.seed), island)


def subset(tasks: TaskSet, index: np.ndarray) -> TaskSet:
    """The tasks at ``index`` (in that order), as contiguous arrays for the kernels."""
    return TaskSet(*(np.ascontiguousarray(a[index]) for a in (
        tasks.x_train, tasks.y_train, tasks.order, tasks.x_valid, tasks.y_valid, tasks.classify, tasks.exec_keys)))


class TaskRotation:
    """Draws of ``draw`` tasks from ``pool``, one per ``every`` births of an island's restart."""

    def __init__(self, pool: TaskSet, draw: int, every: int, seed: int, island: int) -> None:
        if not 0 < draw < pool.num_tasks:
            raise ConfigError(f"evaluation.task_pool: a pool of {pool.num_tasks} search tasks cannot rotate "
                              f"search_tasks.num_tasks = {draw}; the pool needs more tasks than one draw")
        self.pool, self.draw, self.every, self.seed, self.island = pool, draw, every, seed, island
        self.current: tuple[int, int] | None = None

    def first(self) -> TaskSet:
        """A draw's worth of tasks (the pool's first), to size buffers and compile kernels with."""
        return subset(self.pool, np.arange(self.draw))

    def tasks(self, restart: int, rotation: int) -> TaskSet:
        """The draw for ``rotation`` (births // every) of ``restart`` on this island."""
        rng = numpy_generator(self.seed, PURPOSE_ROTATION, restart, self.island, rotation)
        # Sorted: a draw keeps the pool's order, so which task is "task 0" (the one the FEC
        # probe and hurdles use) does not depend on the draw's order.
        return subset(self.pool, np.sort(rng.choice(self.pool.num_tasks, self.draw, replace=False)))

    def run(self, segment: Segment, use: Callable[[TaskSet], None], t0: int, b0: int, n_max: int, steps0: int,
            max_steps: int, restart: int) -> tuple[BirthBatch, int]:
        """Births ``b0 ..`` as ``segment`` runs them, split where a new draw begins (``use``
        switches the runner's tasks). Returns early, as ``segment`` does, when the restart's
        step budget is spent."""
        batches, steps = [], steps0
        while True:
            rotation = b0 // self.every
            if self.current != (restart, rotation):
                use(self.tasks(restart, rotation))
                self.current = (restart, rotation)
            m = min(n_max, (rotation + 1) * self.every - b0)
            batch, steps = segment(t0, b0, m, steps, max_steps, restart)
            batches.append(batch)
            n = len(batch)
            t0, b0, n_max = t0 + n, b0 + n, n_max - n
            if n < m or n_max <= 0:
                return BirthBatch.concat(batches), steps
