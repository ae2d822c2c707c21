"""Islands: several program populations evolving apart, migrating their best at fixed counts.

A program birth costs microseconds, so sending single candidates to workers would cost more
than evaluating them. Islands instead send whole *epochs*: island i runs ``migrate_every``
births in the numba chunk loop from its state, a pure function of (state, island, restart,
birth counters). Any worker (this process, a local process, a Dask worker) may run it; the
controller then logs the epoch's births island by island, moves each island's best
``migrants`` into the next island (logged as ``migrate`` births), and checks the restart's
step budget. The log is therefore the same for the same seed whatever the number of
workers or where they ran.

Birth numbers interleave islands: island i's k-th birth is ``k * K + i``. The restart
budget is checked at epoch boundaries (not generations), summed over islands, and a run
stops at the first epoch boundary at or past ``max_births`` / ``max_seconds``.
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable

import numpy as np

from zeroevo.core.births import BirthBatch, RunRecorder
from zeroevo.core.protocols import STATUS_OK, EvalRequest, EvalResult
from zeroevo.core.registry import register_evaluator
from zeroevo.programs.config import Config
from zeroevo.programs.fec import FecArrays
from zeroevo.programs.runners import ChunkRunner
from zeroevo.programs.search import ProgramSearch, program_spec, ranked_slots
from zeroevo.spaces.program.genome import MUTATION_CODE, Program

_FEC_FIELDS = ("table", "rec", "key", "meta")
_POP_FIELDS = ("ins", "data", "sizes", "fitness", "births", "cost")


def pack(arrays: dict[str, np.ndarray]) -> bytes:
    """Arrays as one bytes object: a JSON header (names, dtypes, shapes), then raw buffers.

    No pickle, and no zip either: an island state is ~15 MB per epoch each way, and npz's
    CRC and copies cost 25 ms per island per epoch, time during which workers wait.
    """
    head = json.dumps([[k, a.dtype.str, list(a.shape)] for k, a in arrays.items()]).encode()
    head += b" " * (-len(head) % 8)  # keep every buffer 8-byte aligned
    parts = [len(head).to_bytes(8, "little"), head]
    for a in arrays.values():
        parts.append(np.ascontiguousarray(a).reshape(-1).view(np.uint8).data)
        parts.append(b"\0" * (-a.nbytes % 8))
    return b"".join(parts)


def unpack(blob: bytes) -> dict[str, np.ndarray]:
    """Inverse of :func:`pack`: read-only arrays viewing ``blob`` (no copy)."""
    n = int.from_bytes(blob[:8], "little")
    at, out = 8 + n, {}
    for name, dtype, shape in json.loads(blob[8:at]):
        dt = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        out[name] = np.frombuffer(blob, dt, count, at).reshape(shape)
        at += count * dt.itemsize
        at += -at % 8
    if at != len(blob):
        raise ValueError(f"island state: {len(blob)} bytes, header describes {at}")
    return out


class IslandEvaluator:
    """Runs one island epoch (registered as evaluator ``island``; state travels as npz bytes).

    The request's genome is ``{"island", "restart", "t0", "b0", "n"}``; ``parent_state`` the
    island's state (None: a fresh population); the result's ``state`` the new state plus
    the epoch's birth columns.
    """

    def __init__(self, config: dict) -> None:
        self.config: Config = Config.from_data(config)
        self.search = ProgramSearch(self.config)  # for tasks_for()
        self._runners: dict[int, ChunkRunner] = {}
        self._restart: dict[int, int] = {}

    def _runner(self, island: int, restart: int) -> ChunkRunner:
        runner = self._runners.get(island)
        if runner is None:
            runner = self._runners[island] = ChunkRunner(self.config, program_spec(self.config), island)
        if self._restart.get(island) != restart:
            runner.start(self.search.tasks_for(0, restart))
            self._restart[island] = restart
        return runner

    def evaluate(self, request: EvalRequest) -> EvalResult:
        """Run ``n`` births of one island and return its new state."""
        g = request.genome
        runner = self._runner(g["island"], g["restart"])
        if request.parent_state is None:
            runner.start(self.search.tasks_for(0, g["restart"]))
        else:
            state = unpack(request.parent_state)
            for name in _POP_FIELDS:
                getattr(runner, name)[...] = state[f"pop_{name}"]
            runner.fec = FecArrays(*(state[f"fec_{n}"].copy() for n in _FEC_FIELDS))
            runner.hurdles.restore(state)
        batch, steps = runner.run(g["t0"], g["b0"], g["n"], 0, 0, g["restart"])
        out = {f"pop_{n}": getattr(runner, n) for n in _POP_FIELDS}
        out.update({f"fec_{n}": getattr(runner.fec, n) for n in _FEC_FIELDS})
        out.update(runner.hurdles.export())
        out.update({f"log_{k}": v for k, v in batch.columns().items()})
        return EvalResult(float(np.max(runner.fitness)), STATUS_OK, {"steps": int(steps)}, int(steps),
                          state=pack(out))


register_evaluator("island", IslandEvaluator)


class IslandSearch(ProgramSearch):
    """The search -> select -> final protocol over K islands (see the module docstring)."""

    def __init__(self, config: Config, progress: Callable | None = None, recorder: RunRecorder | None = None) -> None:
        super().__init__(config, progress=progress, recorder=recorder)
        K = config.dispatch.islands
        self.K = K
        self.states: list[dict[str, np.ndarray] | None] = [None] * K
        self.local = [0] * K      # per-island birth counters (births so far, all restarts)
        self.in_restart = [0] * K  # per-island births in the current restart

    # ---- the population seen by select ----------------------------------------------
    def _population_top(self, k: int) -> list[tuple[Program, float, int]]:
        # The k best over all islands' populations laid end to end in island order (first of
        # equals wins); ``starts`` maps a position there back to its island and slot.
        present = [(i, st) for i, st in enumerate(self.states) if st is not None]
        fitness = np.concatenate([st["pop_fitness"] for _, st in present])
        cost = np.concatenate([st.get("pop_cost", np.zeros(len(st["pop_fitness"]))) for _, st in present])
        starts = np.cumsum([0] + [len(st["pop_fitness"]) for _, st in present])
        top = []
        for j in ranked_slots(fitness, cost, self.config.objectives)[:k]:
            n = int(np.searchsorted(starts, j, side="right")) - 1
            (i, st), slot = present[n], int(j - starts[n])
            program = Program(st["pop_ins"][slot].copy(), st["pop_data"][slot].copy(), st["pop_sizes"][slot].copy())
            top.append((program, float(st["pop_fitness"][slot]), int(st["pop_births"][slot]) * self.K + i))
        return top

    # ---- one epoch ----------------------------------------------------------------------
    def _epoch(self, dispatcher: Any, n: int) -> list[BirthBatch]:
        s = self.state
        for i in range(self.K):
            genome = {"island": i, "restart": s.restart, "t0": self.local[i], "b0": self.in_restart[i], "n": n}
            blob = None if self.states[i] is None else pack(self.states[i])
            dispatcher.submit(s.birth * self.K + i, EvalRequest("island", genome, 0, parent_state=blob))
        batches = []
        for i in range(self.K):
            out = unpack(dispatcher.wait(s.birth * self.K + i).state)
            # Migration writes the (small) populations; the cache travels on untouched.
            self.states[i] = {k: v.copy() if k.startswith("pop_") else v
                              for k, v in out.items() if not k.startswith("log_")}
            cols = {k[4:]: v for k, v in out.items() if k.startswith("log_")}
            cols["birth"] = cols["birth"] * self.K + i
            cols["parent"] = np.where(cols["parent"] >= 0, cols["parent"] * self.K + i, -1)
            batches.append(BirthBatch(**cols))
            self.local[i] += n
            self.in_restart[i] += n
        return batches + self._migrate()

    def _migrate(self) -> list[BirthBatch]:
        d, P = self.config.dispatch, self.config.evolution.population
        if self.K < 2 or d.migrants == 0:
            return []
        chosen = []
        for i in range(self.K):  # pick every island's emigrants before anyone receives
            fit = self.states[i]["pop_fitness"]
            order = np.argsort(-fit, kind="stable")[: min(d.migrants, P)]
            chosen.append([(int(k), {n: self.states[i][n][k].copy() for n in self.states[i] if n.startswith("pop_")})
                           for k in order])
        batches = []
        for i in range(self.K):
            dest = (i + 1) % self.K
            st, rows = self.states[dest], []
            for _, member in chosen[i]:
                slot = self.in_restart[dest] % P
                t = self.local[dest]
                for name in ("pop_ins", "pop_data", "pop_sizes", "pop_fitness", "pop_cost"):
                    st[name][slot] = member[name]
                st["pop_births"][slot] = t
                rows.append((t * self.K + dest, dest, self.state.restart, int(member["pop_births"]) * self.K + i,
                             MUTATION_CODE["migrate"], STATUS_OK, float(member["pop_fitness"]), 0, 0, 0,
                             float(member["pop_cost"])))
                self.local[dest] += 1
                self.in_restart[dest] += 1
            batches.append(BirthBatch(*(np.array(c) for c in zip(*rows))))
        return batches

    def run(self) -> Any:
        """Evolve all islands until solved or a limit; then select / final as usual."""
        from zeroevo.dispatch import make_dispatcher

        cfg, s = self.config, self.state
        # Compile in this process first: workers then load the kernels from the cache.
        runner = ChunkRunner(cfg, self.spec)
        runner.start(self.tasks_for(0, s.restart))
        self.compile_seconds = self.warm(runner)
        wall0, cpu0, births0 = time.time(), time.process_time(), s.birth
        d = cfg.dispatch
        dispatcher = make_dispatcher(d.backend, "island", cfg.to_dict(), workers=d.workers,
                                     address=d.scheduler or None)
        max_steps = int(cfg.evolution.max_train_steps)
        try:
            while not s.solved and not self._limits_hit(wall0):
                # Always whole epochs: a run stops at the first epoch boundary at or past its
                # limits, so stopping and resuming gives the straight run's log.
                for batch in self._epoch(dispatcher, d.migrate_every):
                    self._account(batch, cfg.search_tasks.num_tasks)
                self._report(wall0, births0)
                if s.steps >= max_steps and self._end_restart():
                    break
                if self.recorder is not None and self.recorder.due(s.birth):
                    self.snapshot()
        finally:
            dispatcher.close()
        return self._finish(cpu0, wall0)

    def _fresh_population(self) -> None:
        self.states = [None] * self.K
        self.in_restart = [0] * self.K

    @property
    def _pop_fitness(self) -> np.ndarray:
        fits = [st["pop_fitness"] for st in self.states if st is not None]
        return np.concatenate(fits) if fits else np.zeros(0)

    def _report(self, wall0: float, births0: int) -> None:
        if self.progress is None:
            return
        from zeroevo.programs.search import Progress

        s, fit, wall = self.state, self._pop_fitness, time.time() - wall0
        fit = fit[np.isfinite(fit)]
        self.progress(Progress(
            births=s.birth, restart=s.restart, births_per_second=(s.birth - births0) / wall if wall else 0.0,
            fec_hit_rate=s.hits / s.evaluations if s.evaluations else 0.0,
            best_fitness=float(fit.max()) if len(fit) else 0.0, mean_fitness=float(fit.mean()) if len(fit) else 0.0,
            best_select=max(s.best_select, 0.0), wall_seconds=wall))

    # ---- snapshots ----------------------------------------------------------------------
    def snapshot(self) -> None:
        """Every island's state, counters and the search state."""
        s = self.state
        arrays = {f"island{i}_{k}": v for i, st in enumerate(self.states) if st is not None for k, v in st.items()}
        if s.best_program is not None:
            arrays.update(best_ins=s.best_program.ins, best_data=s.best_program.data, best_sizes=s.best_program.sizes)
        scalars = {k: v for k, v in s.__dict__.items() if k != "best_program"}
        self.recorder.snapshot(s.birth, arrays, {"search": scalars, "islands": {
            "local": self.local, "in_restart": self.in_restart, "present": [st is not None for st in self.states]}})

    def load_snapshot(self, arrays: dict[str, np.ndarray], meta: dict) -> None:
        """Continue from :meth:`snapshot` output."""
        s = self.state
        for key, value in meta["search"].items():
            setattr(s, key, value)
        if "best_ins" in arrays:
            s.best_program = Program(arrays["best_ins"], arrays["best_data"], arrays["best_sizes"])
        isl = meta["islands"]
        self.local, self.in_restart = list(isl["local"]), list(isl["in_restart"])
        self.states = [{k.split("_", 1)[1]: v for k, v in arrays.items() if k.startswith(f"island{i}_")}
                       if present else None for i, present in enumerate(isl["present"])]
        self.started = True
