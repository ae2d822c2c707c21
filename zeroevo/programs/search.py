"""The program search protocol: search -> select -> restart ... -> final (AutoML-Zero's).

Each restart evolves a fresh population on freshly seeded search tasks until its train-step
budget (checked per generation); the final population's best then meets fresh *select*
tasks (no FEC) and is kept if it is at least as good as the best so far. The search stops
once a select fitness exceeds ``sufficient_fitness`` or a global limit (births, seconds,
restarts, steps) is reached; the kept program is then measured on the *final* tasks.

The births themselves run in a :class:`Runner`: the numba chunk loop (default) or the
Python reference loop; both give the same birth log for the same config.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from zeroevo.core.births import BirthBatch, BirthSink, RunRecorder
from zeroevo.core.config import Objectives
from zeroevo.core.objectives import objective_value
from zeroevo.core.rng import PURPOSE_RESTART, key_of
from zeroevo.programs.baselines import TASK_KINDS as BASELINE_TASK_KINDS
from zeroevo.programs.baselines import baselines
from zeroevo.programs.config import Config
from zeroevo.programs.evaluator import full_fitness
from zeroevo.programs.runners import ChunkRunner, PythonRunner, Runner
from zeroevo.programs.tasks import TaskSet, TaskSpec, generate
from zeroevo.programs.warmup import warm_runner
from zeroevo.spaces.program.genome import Program, ProgramSpec
from zeroevo.spaces.program.space import render


def program_spec(config: Config) -> ProgramSpec:
    """The program space a config describes."""
    return config.program_spec()


def ranked_slots(fitness: np.ndarray, cost: np.ndarray, objectives: Objectives) -> np.ndarray:
    """Population slots best first (equals in slot order): by fitness, by the cost-limited
    fitness or the soft reward (``objectives`` modes limit and soft), by fitness on a front."""
    values = np.asarray(fitness, float)
    if objectives.mode in ("limit", "soft"):
        mode = ("accuracy", "limit", "soft", "pareto").index(objectives.mode)
        values = np.array([objective_value(float(f), float(c), mode, objectives.limit, objectives.target,
                                           objectives.weight) if np.isfinite(f) else -np.inf
                           for f, c in zip(fitness, cost)])
    return np.argsort(-values, kind="stable")


def select_candidate(top: list[tuple[Program, float, int]],
                     measure: Callable[[Program], float]) -> tuple[Program, float, float, int]:
    """The best by ``measure`` (select fitness) of ``top`` ((program, search fitness, birth),
    best by search fitness first), the first of equals: program, select, search, birth.

    With ``evolution.select_top = 1`` that is the population's best, as the reference; with
    more, a restart's best by search fitness is often the one most tuned to its search tasks.
    The first is always measured; after it, duplicates and programs without a search fitness
    are not.
    """
    best, measured = None, []
    for n, (program, search_fit, birth) in enumerate(top):
        if n and (not np.isfinite(search_fit) or any(program == p for p in measured)):
            continue
        measured.append(program)
        fit = measure(program)
        if best is None or fit > best[1]:
            best = (program, fit, search_fit, birth)
    return best


@dataclass(frozen=True)
class Progress:
    """What a progress callback sees after each chunk."""

    births: int
    restart: int
    births_per_second: float
    fec_hit_rate: float
    best_fitness: float
    mean_fitness: float
    best_select: float
    wall_seconds: float


@dataclass(frozen=True)
class Compiling:
    """What a progress callback sees while kernels compile, before the first birth."""

    stage: str
    index: int
    count: int
    wall_seconds: float


@dataclass(frozen=True)
class SearchResult:
    """The outcome of a search: the kept program and its fitness at every stage."""

    births: int
    restarts: int
    solved: bool
    search_fitness: float
    select_fitness: float | None  # None: the run stopped before any restart finished
    final_fitness: float
    fec_hit_rate: float
    cpu_seconds: float
    wall_seconds: float
    compile_seconds: float
    program: Program = field(repr=False)
    text: str = field(repr=False)
    baselines: dict | None = field(default=None, repr=False)  # hand-written learners' final fitness

    def to_json(self) -> dict:
        """The result as a JSON-able dict (``program`` is the readable text)."""
        return {"births": self.births, "restarts": self.restarts, "solved": self.solved,
                "search_fitness": self.search_fitness, "select_fitness": self.select_fitness,
                "final_fitness": self.final_fitness, "fec_hit_rate": self.fec_hit_rate,
                "cpu_seconds": self.cpu_seconds, "wall_seconds": self.wall_seconds,
                "compile_seconds": self.compile_seconds, "program": self.text, "baselines": self.baselines}


@dataclass
class SearchState:
    """Where a search stands between chunks (what a snapshot must hold besides the runner)."""

    restart: int = 0
    birth: int = 0          # next global birth number
    local: int = 0          # births so far in this restart
    steps: int = 0          # training steps in this restart
    total_steps: int = 0
    evaluations: int = 0    # task evaluations asked of the FEC (births x tasks)
    hits: int = 0
    selected: bool = False  # this restart's population best already went to select
    solved: bool = False
    best_select: float = -1.0
    best_search: float = 0.0
    best_program: Program | None = None


class ProgramSearch:
    """Runs the protocol for a config; ``tasks`` replaces generated search tasks (user data).

    With a ``recorder`` (see :func:`zeroevo.runs.lifecycle.start_run` / :func:`zeroevo.runs.lifecycle.resume_run`)
    births go to a run directory's log and the state is snapshotted at chunk boundaries.
    """

    def __init__(self, config: Config, tasks: TaskSet | None = None,
                 select_tasks: TaskSet | None = None, final_tasks: TaskSet | None = None,
                 sink: BirthSink | None = None,
                 progress: Callable[[Progress], None] | None = None,
                 recorder: RunRecorder | None = None) -> None:
        self.config = config
        self.spec = program_spec(config)
        self.user_tasks = (tasks, select_tasks or tasks, final_tasks or select_tasks or tasks)
        self.sink = sink
        self.progress = progress
        self.recorder = recorder
        runner_cls = ChunkRunner if config.run.engine == "chunk" else PythonRunner
        self.runner: Runner = runner_cls(config, self.spec)
        self.state = SearchState()
        self.started = False
        self.compile_seconds = 0.0

    def tasks_for(self, which: int, restart: int) -> TaskSet:
        """Search (0), select (1) or final (2) tasks for a restart (seeded by the root seed)."""
        given = self.user_tasks[which]
        if given is not None:
            return given
        spec: TaskSpec = (self.config.search_tasks, self.config.select_tasks, self.config.final_tasks)[which]
        if which < 2 and not spec.data_seeds:
            draw = restart if spec.redraw else 0
            spec = spec.with_seeds(int(key_of(self.config.run.seed, PURPOSE_RESTART, draw, which)))
        return generate(spec)

    def _population_top(self, k: int) -> list[tuple[Program, float, int]]:
        """The population's ``k`` best (the first best slot first, as the reference): program,
        search fitness, birth. With a cost limit or MnasNet's reward, best by that value."""
        r = self.runner
        return [(r.program(int(slot)), float(r.fitness[slot]), int(r.births[slot]))
                for slot in ranked_slots(r.fitness, r.cost, self.config.objectives)[:k]]

    def _population_best(self) -> tuple[Program, float, int]:
        return self._population_top(1)[0]

    def _candidate(self) -> tuple[Program, float, float, int]:
        """The restart's candidate with its select fitness: program, select, search, birth
        (see :func:`select_candidate`)."""
        tasks = self.tasks_for(1, self.state.restart)
        return select_candidate(self._population_top(self.config.evolution.select_top),
                                lambda program: full_fitness(self.config, self.spec, program, tasks))

    def _select(self) -> None:
        """End of a restart: its candidate (see :meth:`_candidate`) meets the select tasks."""
        s = self.state
        program, fit, search_fit, birth = self._candidate()
        if fit >= s.best_select:
            s.best_select, s.best_program, s.best_search = fit, program, search_fit
        s.selected = True
        suff = self.config.run.sufficient_fitness
        s.solved = suff > 0 and s.best_select > suff
        if self.recorder is not None:
            from zeroevo.spaces.program.space import encode

            entries = (self.recorder.document("best") or []) + [{
                "restart": s.restart, "birth": birth, "search_fitness": search_fit,
                "select_fitness": fit, "kept": fit == s.best_select, "genome": encode(program)}]
            self.recorder.save_document("best", entries)

    def _limits_hit(self, wall0: float) -> bool:
        r, s = self.config.run, self.state
        return bool((r.max_births and s.birth >= r.max_births)
                    or (r.max_seconds and time.time() - wall0 >= r.max_seconds)
                    or (r.max_train_steps and s.total_steps >= r.max_train_steps))

    def run(self) -> SearchResult:
        """Search until solved or a limit; then measure the kept program on the final tasks."""
        cfg, s = self.config, self.state
        if not self.started:
            self.runner.start(self.tasks_for(0, s.restart))
            self.started = True
        self.compile_seconds = self.warm(self.runner)
        # Limits, rates and CPU time count the search, not the first run's compilation.
        wall0, cpu0, births0 = time.time(), time.process_time(), s.birth
        max_steps = int(cfg.evolution.max_train_steps)
        # Chunks of about a second (at most run.chunk births), so limits and progress stay
        # responsive on slow presets; chunking never changes the births themselves. A birth
        # costs 30 us on the demo but 0.3 s on binary-fashion-adapt-nn when it misses FEC,
        # and a chunk of cheap FEC hits predicts the next one badly: a first chunk of 1,000
        # and then the rate alone made --max-seconds 60 run 530 s there. So the first chunk
        # is 16 births and each next one at most twice the last.
        chunk_loop = cfg.run.engine == "chunk"
        n = min(cfg.run.chunk, 16 if chunk_loop else 100)
        while not s.solved and not self._limits_hit(wall0):
            m = min(n, cfg.run.max_births - s.birth) if cfg.run.max_births else n
            t_chunk = time.perf_counter()
            batch, _ = self.runner.run(s.birth, s.local, m, s.steps, max_steps, s.restart)
            if chunk_loop:
                rate = len(batch) / max(time.perf_counter() - t_chunk, 1e-6)
                n = min(cfg.run.chunk, max(16, min(int(rate), 2 * n)))
            self._account(batch, self.runner.num_tasks)
            self._report(wall0, births0)
            if len(batch) < m and self._end_restart():  # the restart's budget is spent
                break
            if self.recorder is not None and self.recorder.due(s.birth):
                self.snapshot()
        return self._finish(cpu0, wall0)

    def warm(self, runner: Runner) -> float:
        """Compile ``runner``'s kernels stage by stage, reporting each stage, unless they are
        compiled on disk already; returns the CPU seconds compiling took."""
        if not isinstance(runner, ChunkRunner) or runner.compiled():
            return 0.0
        report = None
        if self.progress is not None:
            def report(stage: str, index: int, count: int, wall: float) -> None:
                self.progress(Compiling(stage, index, count, wall))
        return warm_runner(runner, report)

    def _account(self, batch: BirthBatch, num_tasks: int) -> None:
        """Count a batch of births and hand it to the sinks."""
        s = self.state
        steps = int(batch.steps.sum())
        s.steps += steps
        s.total_steps += steps
        s.birth += len(batch)
        s.local += len(batch)
        if self.config.evaluation.fec:
            s.evaluations += len(batch) * num_tasks
        s.hits += int(batch.fec_hits.sum())
        for sink in (self.sink, self.recorder):
            if sink is not None and len(batch):
                sink.append(batch)

    def _end_restart(self) -> bool:
        """Select this restart's best; True when the search stops, else start the next restart."""
        cfg, s = self.config, self.state
        self._select()
        if s.solved or (cfg.run.max_restarts and s.restart + 1 >= cfg.run.max_restarts):
            return True
        s.restart += 1
        s.local = s.steps = 0
        s.selected = False
        self._fresh_population()
        return False

    def _fresh_population(self) -> None:
        self.runner.start(self.tasks_for(0, self.state.restart))

    def _finish(self, cpu0: float, wall0: float) -> SearchResult:
        cpu, wall = time.process_time() - cpu0, time.time() - wall0
        if self.recorder is not None:
            self.snapshot()
            if self.config.final_tasks.kind in BASELINE_TASK_KINDS and self.recorder.document("baselines") is None:
                # What the evolved program has to beat, once per run (see programs.baselines).
                self.recorder.save_document("baselines", baselines(self.config, self.tasks_for(1, 0),
                                                                   self.tasks_for(2, 0)))
            self.recorder.close()
        result = self._result(cpu, wall)
        if self.recorder is not None:
            result = dataclasses.replace(result, baselines=self.recorder.document("baselines"))
        return result

    # ---- snapshots ----------------------------------------------------------------------
    def snapshot(self) -> None:
        """Write the current state to the run directory (at a chunk boundary)."""
        s = self.state
        arrays = dict(self.runner.export_state())
        if s.best_program is not None:
            arrays.update(best_ins=s.best_program.ins, best_data=s.best_program.data,
                          best_sizes=s.best_program.sizes)
        scalars = {k: v for k, v in s.__dict__.items() if k != "best_program"}
        self.recorder.snapshot(s.birth, arrays, {"search": scalars})

    def load_snapshot(self, arrays: dict[str, np.ndarray], meta: dict) -> None:
        """Continue from a snapshot written by :meth:`snapshot`."""
        s = self.state
        for key, value in meta["search"].items():
            setattr(s, key, value)
        if "best_ins" in arrays:
            s.best_program = Program(arrays["best_ins"], arrays["best_data"], arrays["best_sizes"])
        self.runner.start(self.tasks_for(0, s.restart))
        self.runner.import_state(arrays)
        self.started = True

    def _report(self, wall0: float, births0: int) -> None:
        if self.progress is None:
            return
        s = self.state
        fit = self.runner.fitness
        fit = fit[np.isfinite(fit)]
        wall = time.time() - wall0
        self.progress(Progress(
            births=s.birth, restart=s.restart,
            births_per_second=(s.birth - births0) / wall if wall > 0 else 0.0,
            fec_hit_rate=s.hits / s.evaluations if s.evaluations else 0.0,
            best_fitness=float(fit.max()) if len(fit) else 0.0,
            mean_fitness=float(fit.mean()) if len(fit) else 0.0,
            best_select=max(s.best_select, 0.0), wall_seconds=wall))

    def _result(self, cpu: float, wall: float) -> SearchResult:
        s = self.state
        program, select, search, solved = s.best_program, s.best_select, s.best_search, s.solved
        if program is None and not s.selected and (self.config.evolution.select_top == 1 or s.local == 0):
            # No restart finished: nothing was selected, and the result says so (select is
            # None); the population's best by search fitness is what there is to report.
            # (With select_top > 1 the stop measures candidates on the select tasks, below.)
            program, search, _ = self._population_best() if s.local > 0 else (self.runner.program(0), 0.0, 0)
            final = full_fitness(self.config, self.spec, program, self.tasks_for(2, s.restart))
            return SearchResult(
                births=s.birth, restarts=s.restart + 1, solved=False, search_fitness=search, select_fitness=None,
                final_fitness=final, fec_hit_rate=s.hits / s.evaluations if s.evaluations else 0.0,
                cpu_seconds=cpu, wall_seconds=wall, compile_seconds=self.compile_seconds, program=program,
                text=render(program, self.spec.features))
        if not s.selected and s.local > 0:
            # Stopped inside a restart: its current best competes too, without touching the
            # saved state (a resumed run must continue exactly like a straight one).
            cand, fit, search_fit, _ = self._candidate()
            if fit >= select:
                program, select, search = cand, fit, search_fit
                suff = self.config.run.sufficient_fitness
                solved = suff > 0 and select > suff
        program = program if program is not None else self.runner.program(0)
        final = full_fitness(self.config, self.spec, program, self.tasks_for(2, s.restart))
        return SearchResult(
            births=s.birth, restarts=s.restart + 1, solved=solved, search_fitness=search,
            select_fitness=max(select, 0.0), final_fitness=final,
            fec_hit_rate=s.hits / s.evaluations if s.evaluations else 0.0,
            cpu_seconds=cpu, wall_seconds=wall, compile_seconds=self.compile_seconds, program=program,
            text=render(program, self.spec.features))
