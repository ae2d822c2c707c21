"""Program fitness from Python: the reference loop's evaluator and full (FEC-free) fitness.

The kernels are :mod:`zeroevo.programs.evaluation`'s, compiled in the variant for the
program space (:mod:`zeroevo.programs.kernels`); the orchestration (probe, lookups in task
order, misses, inserts in task order) is written out here in Python, so comparing the Python
reference loop with the chunk kernel also checks the numba cache and the kernel's bookkeeping.
"""
from __future__ import annotations

import numpy as np

from zeroevo.core.engine import program_status
from zeroevo.core.protocols import STATUS_STOPPED, EvalResult
from zeroevo.primitives.program.bytecode import compile_program
from zeroevo.primitives.program.executor import MAX_SERIAL_LANES
from zeroevo.programs.chunk import program_cost
from zeroevo.programs.config import PROGRAM_COSTS, Config
from zeroevo.programs.evaluation import (
    ELIMINATE,
    FEC_TRAIN,
    FEC_VALID,
    MAX_ABS_ERROR,
    MEDIAN,
    NM,
    NS,
    NV,
    USE_FEC,
    EvalScratch,
    HurdleState,
    combine,
    op_costs,
    task_tuple,
    train_examples,
)
from zeroevo.programs.fec import OrderedLRU
from zeroevo.programs.kernels import KernelFlags, kernels_for_spec, needs_serial
from zeroevo.programs.tasks import TaskSet
from zeroevo.spaces.program.genome import Program, ProgramSpec


def run_tasks(kern, code: np.ndarray, cdata: np.ndarray, seg: np.ndarray, tk: tuple, lanes: np.ndarray,  # noqa: ANN001
              n_train: int, icfg: np.ndarray, fcfg: np.ndarray, fit: np.ndarray, steps: np.ndarray,
              harness: str = "") -> int:
    """The ``run_tasks`` kernel of variant ``kern``, from Python: it calls the harness that
    kernel would, with the argument types the chunk loop passes, so it runs the harnesses
    the chunk loop links (compiling no library of its own). ``harness`` ("run_serial" or
    "_lanes") overrides the choice by lane count. Returns the training steps."""
    n = lanes.shape[0]
    if n_train == 0:
        fit[:n] = 0.0
        steps[:n] = 0
        return 0
    name = harness or ("run_serial" if n <= MAX_SERIAL_LANES else "_lanes")
    dummy, nerr = np.zeros((1, 1)), np.zeros((1, 2), np.int64)
    getattr(kern, name)(code, cdata, seg, lanes, *tk, int(n_train), int(tk[3].shape[1]), float(fcfg[MAX_ABS_ERROR]),
                        int(icfg[NS]), int(icfg[NV]), int(icfg[NM]), fit, steps, False, dummy, dummy, nerr)
    return int(steps[:n].sum())


def eval_arrays(config: Config, spec: ProgramSpec, use_fec: bool | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """The ``icfg`` / ``fcfg`` arrays of :mod:`zeroevo.programs.evaluation` for a config."""
    ev = config.evaluation
    fec = ev.fec if use_fec is None else use_fec
    icfg = np.array([int(fec), ev.fec_train, ev.fec_valid, int(ev.combine == "median"),
                     int(config.program.eliminate_dead_code), spec.scalars, spec.vectors,
                     spec.matrices], dtype=np.int64)
    base_setup = base_step = 0.0
    if ev.train_budget > 0:
        from zeroevo.spaces.program.initial import neural_net_program

        base = neural_net_program(ProgramSpec(features=spec.features, scalars=4, vectors=8, matrices=2,
                                              ops=(("SCALAR_CONST_SET", "MATRIX_GAUSSIAN_SET", "VECTOR_GAUSSIAN_SET"),
                                                   ("MATRIX_VECTOR_PRODUCT", "VECTOR_HEAVYSIDE", "VECTOR_PRODUCT",
                                                    "VECTOR_INNER_PRODUCT"),
                                                   ("SCALAR_DIFF", "SCALAR_PRODUCT", "SCALAR_VECTOR_PRODUCT",
                                                    "VECTOR_PRODUCT", "VECTOR_SUM", "VECTOR_OUTER_PRODUCT",
                                                    "MATRIX_SUM")),
                                              init_sizes=(3, 4, 8), max_sizes=(3, 4, 8)))
        cost = op_costs(spec.features)
        base_setup = float(sum(cost[op] for op in base.component(0)[0][:, 0]))
        base_step = float(sum(cost[op] for c in (1, 2) for op in base.component(c)[0][:, 0]))
    fcfg = np.array([ev.max_abs_error, ev.train_budget, base_setup, base_step])
    return icfg, fcfg


def kernel_flags(config: Config) -> KernelFlags:
    """What ``config``'s kernel variant must hold besides its ops (:class:`KernelFlags`)."""
    ev = config.evaluation
    hurdles = bool(ev.hurdle_examples)
    mutations = tuple(sorted({int(code) for code in config.program_spec().mutation_codes()}))
    return KernelFlags(needs_serial(hurdles, config.search_tasks.num_tasks), bool(ev.fec), hurdles, mutations,
                       int(config.objectives.codes(PROGRAM_COSTS)[0]))


def hurdle_state(config: Config) -> HurdleState:
    """Empty hurdle rings for a config's ``[evaluation]`` hurdle stages (none: hurdles off)."""
    ev = config.evaluation
    return HurdleState.create(list(ev.hurdle_examples), list(ev.hurdle_quantiles), ev.hurdle_window)


class PythonProgramEvaluator:
    """Program evaluation for the Python reference loop: same kernels, an ``OrderedDict`` FEC.

    Orchestration (probe, lookups in task order, misses, inserts in task order) is written
    out here in Python, so comparing the two loops also checks the numba cache and the
    chunk kernel's bookkeeping.
    """

    def __init__(self, spec, tasks: TaskSet, icfg: np.ndarray, fcfg: np.ndarray,
                 cache_size: int, forget_every: int, hurdles: HurdleState | None = None,
                 cost_kind: int = -1, flags: KernelFlags = KernelFlags()) -> None:
        self.spec, self.tasks, self.icfg, self.fcfg, self.flags = spec, tasks, icfg, fcfg, flags
        self.cost_kind = cost_kind  # PROGRAM_COSTS index (-1: no cost), as the chunk kernel
        self.hurdles = hurdles if hurdles is not None else HurdleState.create([], [], 1)
        self.tk = task_tuple(tasks)
        self.kern = kernels_for_spec(spec, flags=flags)
        self.op_cost = op_costs(spec.features)
        self.sc = EvalScratch.create(3 * spec.capacity, tasks.num_tasks, int(icfg[FEC_TRAIN]),
                                     int(icfg[FEC_VALID]))
        self.cache = OrderedLRU(cache_size, forget_every)

    def __call__(self, program, birth: int = 0):
        """``EvalResult`` of ``program`` (``birth`` is unused: programs evaluate alike)."""
        # This spec's variant, unless the program has ops beyond its lists.
        kern = kernels_for_spec(self.spec, (program,), self.flags)
        sc = self.sc.as_tuple()
        code, cdata, seg = sc[0], sc[1], sc[2]
        compile_program(program.ins, program.data, program.sizes, self.spec.scalars,
                        self.spec.vectors, self.spec.matrices, bool(self.icfg[ELIMINATE]), code, cdata, seg)
        T = self.tasks.num_tasks
        cost = program_cost(program.sizes, seg, self.cost_kind)
        n_train = train_examples(code, seg, self.tasks.train_steps, self.op_cost, self.fcfg)
        task_fit = np.zeros(T)
        fit, steps = np.zeros(T), np.zeros(T, np.int64)
        hits = 0
        self.hurdles.known_fit[:] = np.nan
        hs = self.hurdles.as_tuple()
        if not self.icfg[USE_FEC]:
            stage, f_stage, total = 0, 0.0, 0
            if self.hurdles.examples.size:  # (no stages: spare compiling pass_hurdles apart)
                stage, f_stage, total = kern.pass_hurdles(code, cdata, seg, self.tk, n_train, self.icfg, self.fcfg,
                                                          hs, fit, steps, sc[9])
            if stage:
                return EvalResult(float(f_stage), STATUS_STOPPED, {"fec_hits": 0, "stage": stage, "cost": cost},
                                  int(total))
            total += run_tasks(kern, code, cdata, seg, self.tk, np.arange(T), n_train, self.icfg, self.fcfg, fit, steps)
            task_fit[:] = fit
        else:
            total = kern.probe_and_hash(code, cdata, seg, self.tk, n_train, self.icfg, self.fcfg, sc)
            keys = sc[8].copy()
            misses = []
            for t in range(T):
                f = self.cache.lookup(int(keys[t]))
                if f >= 0.0:
                    task_fit[t] = f
                    hits += 1
                else:
                    misses.append(t)
            if misses:
                stage, f_stage, st = kern.pass_hurdles(code, cdata, seg, self.tk, n_train, self.icfg, self.fcfg, hs,
                                                       fit, steps, sc[9])
                total += st
                if stage:
                    return EvalResult(float(f_stage), STATUS_STOPPED, {"fec_hits": hits, "stage": stage, "cost": cost},
                                      int(total))
                lanes = np.array(misses, dtype=np.int64)
                total += run_tasks(kern, code, cdata, seg, self.tk, lanes, n_train, self.icfg, self.fcfg, fit, steps)
                for i, t in enumerate(misses):
                    task_fit[t] = fit[i]
                    self.cache.insert(int(keys[t]), fit[i])
        fitness = combine(task_fit, bool(self.icfg[MEDIAN]))
        return EvalResult(float(fitness), program_status(hits, T), {"fec_hits": hits, "cost": cost}, int(total))


def full_fitness(config: Config, spec: ProgramSpec, program: Program, tasks: TaskSet) -> float:
    """Fitness of ``program`` on ``tasks`` by one full training each (no FEC)."""
    icfg, fcfg = eval_arrays(config, spec, use_fec=False)
    return PythonProgramEvaluator(spec, tasks, icfg, fcfg, 1, 0, flags=kernel_flags(config))(program).fitness
