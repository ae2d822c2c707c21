"""Runners: where the births of one restart on one island happen.

:class:`ChunkRunner` drives the numba chunk kernel; :class:`PythonRunner` the Python
reference loop. Both give the same birth log for the same config (a test checks it), and
both export their population and FEC cache as layout-free arrays for snapshots.
"""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from zeroevo.core.births import BirthBatch
from zeroevo.core.engine import Engine
from zeroevo.core.rng import birth_key, seed64, seed_state
from zeroevo.primitives.program.bytecode import compile_program
from zeroevo.programs.chunk import budget_reached, copy_program, program_cost
from zeroevo.programs.config import PROGRAM_COSTS, Config
from zeroevo.programs.evaluation import (
    ELIMINATE,
    MEDIAN,
    NM,
    NS,
    NV,
    EvalScratch,
    HurdleState,
    combine,
    hurdle_value,
    lookup_tasks,
    op_costs,
    task_tuple,
    train_examples,
)
from zeroevo.programs.evaluator import PythonProgramEvaluator, eval_arrays, hurdle_state, kernel_flags, run_tasks
from zeroevo.programs.fec import (
    FecArrays,
    export_entries,
    import_entries,
    insert,
    lru_entries,
    lru_from_entries,
    probe_hash,
)
from zeroevo.programs.kernels import is_cached, kernels_for_spec
from zeroevo.programs.memo import EvalMemo, same_code
from zeroevo.programs.tasks import TaskSet
from zeroevo.spaces.program.genome import MUTATIONS, Program, ProgramSpec
from zeroevo.spaces.program.initial import initial_program
from zeroevo.spaces.program.mutation import random_program
from zeroevo.spaces.program.space import ProgramSpace


class Runner(Protocol):
    """Runs the births of one restart on one island."""

    fitness: np.ndarray
    births: np.ndarray
    num_tasks: int

    def start(self, tasks: TaskSet) -> None:
        """Begin a restart: empty population and cache, these search tasks."""

    def run(self, t0: int, b0: int, n_max: int, steps0: int, max_steps: int,
            restart: int) -> tuple[BirthBatch, int]:
        """Up to ``n_max`` births; returns them and the restart's steps so far."""

    def program(self, slot: int) -> Program:
        """The program in population slot ``slot``."""

    def export_state(self) -> dict[str, np.ndarray]:
        """Population and FEC as arrays (layout-free, for snapshots)."""

    def import_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`export_state` output after :meth:`start`."""


class ChunkRunner:
    """Births in the numba chunk kernel."""

    def __init__(self, config: Config, spec: ProgramSpec, island: int = 0) -> None:
        self.config, self.spec, self.island = config, spec, island
        self.icfg, self.fcfg = eval_arrays(config, spec)
        self.arrays = spec.kernel_arrays()
        self.mutations = spec.mutation_codes()
        self.op_cost = op_costs(spec.features)
        P, cap = config.evolution.population, spec.capacity
        self.ins = np.zeros((P, 3, cap, 4), np.int64)
        self.data = np.zeros((P, 3, cap, 3))
        self.sizes = np.zeros((P, 3), np.int64)
        self.fitness = np.full(P, -np.inf)
        self.births = np.full(P, -1, np.int64)
        self.cost = np.zeros(P)
        self.ocfg = config.objectives.codes(PROGRAM_COSTS)
        kind = config.program.initial
        self.template = initial_program(kind, spec, np.zeros(1, np.uint64)) if kind != "random" \
            else spec.empty()
        self.flags = kernel_flags(config)
        self.kern = kernels_for_spec(spec, (self.template,), self.flags)

    def start(self, tasks: TaskSet) -> None:
        """Begin a restart: empty population and cache, these search tasks."""
        ev = self.config.evaluation
        self.num_tasks = tasks.num_tasks
        self.tk = task_tuple(tasks)
        self.fec = FecArrays.create(ev.fec_cache_size, ev.fec_forget_every)
        self.sc = EvalScratch.create(3 * self.spec.capacity, tasks.num_tasks, ev.fec_train, ev.fec_valid)
        self.hurdles = hurdle_state(self.config)
        self.memo = EvalMemo.create(self.config.evolution.population, 3 * self.spec.capacity, tasks.num_tasks,
                                    len(self.hurdles.examples))
        self.fitness[:] = -np.inf
        self.births[:] = -1
        self.cost[:] = 0.0

    def run(self, t0: int, b0: int, n_max: int, steps0: int, max_steps: int,
            restart: int) -> tuple[BirthBatch, int]:
        """Up to ``n_max`` births in one kernel call."""
        cols = [np.zeros(n_max, np.int64), np.zeros(n_max, np.int64), np.zeros(n_max, np.int8),
                np.zeros(n_max, np.int8), np.zeros(n_max), np.zeros(n_max, np.int64),
                np.zeros(n_max, np.int16), np.zeros(n_max, np.int8), np.zeros(n_max)]
        allowed, n_allowed, bounds, mem = self.arrays
        evo = self.config.evolution
        done, steps = self.kern.run_chunk(
            self.ins, self.data, self.sizes, self.fitness, self.births, self.cost, self.ocfg, allowed, n_allowed,
            bounds,
            mem, self.mutations, evo.mutate_prob, evo.tournament, self.config.program.initial == "random",
            evo.algorithm == "random", self.template.ins, self.template.data, self.template.sizes,
            self.tk, self.icfg, self.fcfg, self.op_cost, self.fec.as_tuple(), self.sc.as_tuple(),
            self.memo.as_tuple(), self.hurdles.as_tuple(), seed64(self.config.run.seed), self.island, t0, b0,
            n_max, steps0, max_steps, *cols)
        birth, parent, mut, status, fit, st, hits, stage, cost = (c[:done] for c in cols)
        batch = BirthBatch(birth, np.full(done, self.island, np.int32), np.full(done, restart, np.int32),
                           parent, mut, status, fit, st, hits, stage, cost)
        return batch, int(steps)

    def program(self, slot: int) -> Program:
        """The program in population slot ``slot``."""
        return Program(self.ins[slot].copy(), self.data[slot].copy(), self.sizes[slot].copy())

    def compiled(self) -> bool:
        """Whether this runner's kernels are compiled on disk already (then loading is quick)."""
        return is_cached(self.kern.run_chunk)

    def leaf_stages(self) -> list[tuple[str, Callable[[], object]]]:
        """Calls that compile (or load) the chunk loop's kernels that need no tasks: mutation,
        selection and the FEC, with the argument types the chunk kernel passes, and only
        those its flags reach (:func:`~zeroevo.programs.evaluator.kernel_flags`). Another
        process may run them while this one compiles the interpreter and the bytecode
        compiler (the two halves take about the same time)."""
        allowed, n_allowed, bounds, mem = self.arrays
        prog = self.spec.empty()
        st = np.zeros(1, np.uint64)
        sc = EvalScratch.create(3 * self.spec.capacity, 1, 1, 1).as_tuple()

        def mutation() -> None:
            random_program(prog.ins, prog.data, prog.sizes, allowed, n_allowed, bounds, mem, st)
            self.kern.mutate(prog.ins, prog.data, prog.sizes, self.mutations, self.config.evolution.mutate_prob,
                             allowed, n_allowed, bounds, mem, st)

        def selection() -> None:
            # The chunk loop's small kernels, with the argument types it passes (a type that
            # differs only costs the chunk loop compiling that kernel itself).
            t, f, u = np.int64(0), np.float64(0.0), np.uint64(1)
            memo = EvalMemo.create(1, 3 * self.spec.capacity, 1, 1).as_tuple()
            size = self.config.evolution.tournament
            fit, members = np.zeros(1), np.zeros(max(1, size), np.int64)
            self.kern.tournament(fit, fit.copy(), self.ocfg, size, st, members)
            copy_program(prog.ins, prog.data, prog.sizes, self.template.ins, self.template.data,
                         self.template.sizes)
            budget_reached(t, t, t, t)
            seed_state(st, birth_key(seed64(self.config.run.seed), self.island, t))
            program_cost(prog.sizes, sc[2], t)
            same_code(sc[0], sc[1], sc[2], memo[0], memo[1], memo[2], t)
            train_examples(sc[0], sc[2], t, self.op_cost, self.fcfg)
            if self.flags.hurdles:
                hs = HurdleState.create([1], [0.5], 2).as_tuple()
                hurdle_value(hs[2][0], hs[3][0, 0], hs[1][0])
            if self.flags.fec is not False:
                fc = FecArrays.create(4, 0).as_tuple()
                probe_hash(sc[5][0], sc[7][0, 0], sc[6][0], sc[7][0, 1], t, t)
                lookup_tasks(fc, sc[8], t, sc[3], sc[10])
                insert(*fc, u, f)
            combine(sc[3], self.icfg[MEDIAN] != 0)

        return [("mutation", mutation), ("selection and cache", selection)]

    def kernel_stages(self) -> list[tuple[str, Callable[[], object]]]:
        """Calls that compile (or load) this runner's kernel variant piece by piece (after
        :meth:`start`): the interpreter's harnesses (one or two), the bytecode compiler
        (shared by every variant), then the chunk loop, which links everything before it."""
        sc = self.sc.as_tuple()
        prog = self.spec.empty()
        T = self.num_tasks
        fit, steps = np.zeros(T), np.zeros(T, np.int64)

        def interpreter() -> None:
            harnesses = ("_lanes",) if self.kern.run_serial is self.kern._lanes else ("run_serial", "_lanes")
            for harness in harnesses:
                run_tasks(self.kern, sc[0], sc[1], sc[2], self.tk, sc[9][:T], 1, self.icfg, self.fcfg, fit, steps,
                          harness)

        def bytecode() -> None:
            compile_program(prog.ins, prog.data, prog.sizes, self.icfg[NS], self.icfg[NV], self.icfg[NM],
                            self.icfg[ELIMINATE] != 0, sc[0], sc[1], sc[2])

        # The FEC probe, hurdles and memo are spliced into the chunk loop (compiled apart, each
        # would re-optimize the interpreter it links in), so they compile with it.
        return [("interpreter", interpreter), ("bytecode", bytecode),
                ("chunk loop", lambda: self.run(0, 0, 0, 0, 0, 0))]

    def export_state(self) -> dict[str, np.ndarray]:
        """Population and FEC as arrays (layout-free, for snapshots)."""
        return {"pop_ins": self.ins, "pop_data": self.data, "pop_sizes": self.sizes,
                "pop_fitness": self.fitness, "pop_births": self.births, "pop_cost": self.cost,
                **export_entries(self.fec), **self.hurdles.export()}

    def import_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`export_state` output after :meth:`start`."""
        for name, target in (("pop_ins", self.ins), ("pop_data", self.data), ("pop_sizes", self.sizes),
                             ("pop_fitness", self.fitness), ("pop_births", self.births)):
            if arrays[name].shape != target.shape:
                from zeroevo.core.errors import RunDirError
                raise RunDirError(f"the snapshot's {name} has shape {arrays[name].shape} but this config "
                                  f"needs {target.shape}: population or program sizes changed")
            target[...] = arrays[name]
        if "pop_cost" in arrays:  # absent in snapshots of runs from before costs
            self.cost[...] = arrays["pop_cost"]
        import_entries(self.fec, arrays)
        self.hurdles.restore(arrays)


class PythonRunner:
    """Births in the Python reference loop (same results, about 100x slower)."""

    def __init__(self, config: Config, spec: ProgramSpec, island: int = 0) -> None:
        self.config, self.spec, self.island = config, spec, island
        self.space = ProgramSpace(spec, config.program.initial)
        self.icfg, self.fcfg = eval_arrays(config, spec)

    def start(self, tasks: TaskSet) -> None:
        """Begin a restart: empty population and cache, these search tasks."""
        evo, ev = self.config.evolution, self.config.evaluation
        self.num_tasks = tasks.num_tasks
        self.engine = Engine(self.space, evo.population, evo.tournament, seed64(self.config.run.seed),
                             self.island, evo.algorithm, MUTATIONS, self._objectives())
        self.evaluate = PythonProgramEvaluator(self.spec, tasks, self.icfg, self.fcfg,
                                               ev.fec_cache_size, ev.fec_forget_every, hurdle_state(self.config),
                                               int(self.config.objectives.codes(PROGRAM_COSTS)[4]),
                                               kernel_flags(self.config))

    def _objectives(self) -> np.ndarray | None:
        codes = self.config.objectives.codes(PROGRAM_COSTS)
        return codes if self.config.objectives.mode != "accuracy" else None

    @property
    def fitness(self) -> np.ndarray:  # type: ignore[override]
        """Population fitness by slot."""
        return self.engine.fitness

    @property
    def births(self) -> np.ndarray:
        """Birth number of each slot's program."""
        return self.engine.births

    @property
    def cost(self) -> np.ndarray:
        """Cost of each slot's program ([objectives] cost; 0 without one)."""
        return self.engine.cost

    def run(self, t0: int, b0: int, n_max: int, steps0: int, max_steps: int,
            restart: int) -> tuple[BirthBatch, int]:
        """Up to ``n_max`` births, one Python step each."""
        return self.engine.run(self.evaluate, t0, b0, n_max, steps0, max_steps, restart)

    def program(self, slot: int) -> Program:
        """The program in population slot ``slot``."""
        return self.engine.genomes[slot]

    def export_state(self) -> dict[str, np.ndarray]:
        """Population and FEC as arrays (layout-free, for snapshots)."""
        empty = self.spec.empty()
        progs = [g if g is not None else empty for g in self.engine.genomes]
        return {"pop_ins": np.stack([g.ins for g in progs]), "pop_data": np.stack([g.data for g in progs]),
                "pop_sizes": np.stack([g.sizes for g in progs]), "pop_fitness": self.engine.fitness,
                "pop_births": self.engine.births, "pop_cost": self.engine.cost, **lru_entries(self.evaluate.cache),
                **self.evaluate.hurdles.export()}

    def import_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`export_state` output after :meth:`start`."""
        e = self.engine
        e.fitness[:] = arrays["pop_fitness"]
        e.births[:] = arrays["pop_births"]
        if "pop_cost" in arrays:
            e.cost[:] = arrays["pop_cost"]
        e.genomes = [Program(arrays["pop_ins"][k].copy(), arrays["pop_data"][k].copy(),
                             arrays["pop_sizes"][k].copy()) if e.births[k] >= 0 else None
                     for k in range(e.P)]
        lru_from_entries(self.evaluate.cache, arrays)
        self.evaluate.hurdles.restore(arrays)
