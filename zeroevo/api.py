"""The Python API: a few calls that cover the common uses.

- :func:`evolve` runs a program search from a preset (and optional overrides or your own
  numpy tasks) and returns a :class:`~zeroevo.programs.search.SearchResult`.
- :func:`evolve_space` runs the same regularized evolution over *any* registered search
  space with any registered evaluator (your own, the neural ones) and returns the best
  genome with the birth log.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from zeroevo.core.births import BirthBatch, ListSink
from zeroevo.core.engine import Engine
from zeroevo.core.protocols import EvalRequest, EvalResult
from zeroevo.core.registry import make_evaluator, make_space
from zeroevo.core.rng import train_seed


def evolve(preset: str = "demo", seed: int = 1, tasks: Any = None, progress: Callable | None = None,
           **sections: dict) -> Any:
    """Run a program search: ``evolve("demo", seed=3, run={"max_seconds": 60})``.

    ``sections`` override config sections field by field; ``tasks`` (a
    :class:`~zeroevo.programs.tasks.TaskSet`, e.g. from :func:`zeroevo.programs.tasks.from_arrays`) replaces the
    generated search, select and final tasks.
    """
    from zeroevo.programs.search import ProgramSearch
    from zeroevo.runs.presets import load_preset

    cfg = load_preset(preset).replace("run", seed=seed)
    for name, changes in sections.items():
        cfg = cfg.replace(name, **changes)
    if tasks is not None:
        from zeroevo.programs.config import Config

        data = cfg.to_dict()
        for name in ("program", "search_tasks", "select_tasks", "final_tasks"):
            data[name]["features"] = tasks.features
        cfg = Config.from_data(data)
    return ProgramSearch(cfg.capped(), tasks=tasks, progress=progress).run()


@dataclass(frozen=True)
class SpaceResult:
    """Outcome of :func:`evolve_space`: the best genome ever evaluated and the birth log."""

    genome: Any
    fitness: float
    result: EvalResult
    log: BirthBatch = field(repr=False)


def evolve_space(space: str, evaluator: str, space_config: dict | None = None,
                 evaluator_config: dict | None = None, *, population: int = 20,
                 tournament: int = 5, max_births: int = 100, seed: int = 1,
                 algorithm: str = "regularized") -> SpaceResult:
    """Regularized evolution (or random search) over a registered space, evaluated serially.

    The evaluator gets an :class:`~zeroevo.core.protocols.EvalRequest` per birth, with a training
    seed derived from ``(seed, birth)``, so results do not depend on evaluation order.
    """
    live_space = make_space(space, space_config)
    live_eval = make_evaluator(evaluator, evaluator_config)
    mutations: list[str] = ["init", "random"]
    engine = Engine(live_space, population, tournament, seed, algorithm=algorithm,
                    mutation_names=_Names(mutations))
    best: list = [None, -np.inf, None]

    def evaluate(genome: Any, birth: int) -> EvalResult:
        request = EvalRequest(space, live_space.encode(genome), train_seed(seed, birth), birth)
        result = live_eval.evaluate(request)
        if result.fitness > best[1]:
            best[:] = [genome, result.fitness, result]
        return result

    sink = ListSink()
    batch, _ = engine.run(evaluate, 0, 0, max_births, 0, 0)
    sink.append(batch)
    return SpaceResult(best[0], float(best[1]), best[2], sink.all())


class _Names(list):
    """A mutation-name list that grows as a space reports new mutation names."""

    def index(self, name: str, *args: Any) -> int:  # type: ignore[override]
        if name not in self:
            self.append(name)
        return super().index(name)
