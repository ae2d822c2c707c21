"""Program-evaluation speed: demo search births per CPU-second, and ns per instruction.

Run from a checkout: ``PYTHONPATH=. python benchmarks/interpreter_bench.py [--seconds S]
[--seeds 1 2 3] [--births N]``. Prints, in one run so the numbers are comparable:

- births per CPU-second of the numba chunk loop (the demo's kernel variant of
  ``zeroevo.programs.chunk.run_chunk``, see ``zeroevo.programs.kernels``) on the demo
  configuration (docs/semantics.md, "The demo configuration": 10 linear tasks, F=4, 100 train /
  100 valid, P=1000, T=10), FEC on and off, per seed, with the best fitness reached;
- the interpreter alone: ns per executed instruction (per lane) of ``run_lanes`` on the demo's
  target program (linear regression by SGD) at L=1 and L=10 lanes, timed inside numba so
  dispatch from Python is not counted.

``--births N`` runs exactly N births per search instead of a time budget and prints a hash of
the birth-log columns: the same numbers before and after an interpreter change mean the
search is bit-identical (a search also stops at its 2e8 train-step budget, about 210k births
with FEC off). Rates depend on the stage of the search (early births cost more), so compare
runs of equal length. CPU time is process time; on a shared 2-core VM identical runs differ
by up to 20%, so compare two checkouts in alternating runs (``PYTHONPATH=<checkout>``).
The first run compiles the kernels (one to two minutes); later runs load numba's cache.
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import time
import types

import numpy as np
from numba import njit

from zeroevo.core.rng import PURPOSE_TASK_DATA, PURPOSE_TASK_PARAM, derive
from zeroevo.primitives.program.bytecode import to_bytecode
from zeroevo.programs.evaluation import EvalScratch, op_costs, task_tuple
from zeroevo.programs.fec import FecArrays
from zeroevo.programs.kernels import kernels_for_spec
from zeroevo.programs.memo import EvalMemo
from zeroevo.programs.tasks import TaskSpec, generate
from zeroevo.spaces.program.genome import ProgramSpec
from zeroevo.spaces.program.initial import linear_program

DEMO_OPS = ("SCALAR_CONST_SET", "VECTOR_INNER_PRODUCT", "SCALAR_DIFF", "SCALAR_PRODUCT",
            "SCALAR_VECTOR_PRODUCT", "VECTOR_SUM")
CHUNK = 10_000


def demo_task_spec(seed: int) -> TaskSpec:
    """The demo's search tasks for restart seed ``seed`` (``TaskSpec.with_seeds``)."""
    spec = TaskSpec(kind="linear", num_tasks=10)
    try:
        return spec.with_seeds(seed)
    except OverflowError:
        # numba boxes a uint64 result as a Python int; one above 2**63 overflows when the
        # dispatcher also holds an (int64, int64) overload of ``derive``. Same seeds, typed.
        def seeds(purpose: int) -> tuple[int, ...]:
            base = np.uint64(derive(np.uint64(seed), purpose))
            return tuple(int(np.uint64(derive(base, i)) >> np.uint64(33)) for i in range(10))
        return TaskSpec(kind="linear", num_tasks=10, data_seeds=seeds(PURPOSE_TASK_DATA),
                        param_seeds=seeds(PURPOSE_TASK_PARAM))


class DemoSearch:
    """One demo search (one restart), advanced in chunks of births."""

    def __init__(self, use_fec: bool, seed: int, eliminate: bool = True) -> None:
        spec = ProgramSpec(ops=(DEMO_OPS,) * 3)
        self.spec = spec
        self.run_chunk = kernels_for_spec(spec).run_chunk  # the demo's kernel variant
        P, cap = 1000, spec.capacity
        allowed, n_allowed, bounds, mem = spec.kernel_arrays()
        self.tasks = generate(demo_task_spec(seed))
        self.pop_fit = np.zeros(P)
        pop_ins = np.zeros((P, 3, cap, 4), np.int64)
        pop_data = np.zeros((P, 3, cap, 3))
        pop_sizes = np.zeros((P, 3), np.int64)
        icfg = np.array([int(use_fec), 10, 10, 0, int(eliminate), spec.scalars, spec.vectors,
                         spec.matrices], np.int64)
        self.cols = {}
        args = {
            "pop_ins": pop_ins, "pop_data": pop_data, "pop_sizes": pop_sizes,
            "pop_fit": self.pop_fit, "pop_birth": np.zeros(P, np.int64),
            "allowed": allowed, "n_allowed": n_allowed, "bounds": bounds, "mem": mem,
            "mutations": spec.mutation_codes(), "mutate_prob": 0.9, "tournament_size": 10,
            "init_random": True, "random_search": False,
            "tmpl_ins": pop_ins[0], "tmpl_data": pop_data[0], "tmpl_sizes": pop_sizes[0],
            "tk": task_tuple(self.tasks), "icfg": icfg, "fcfg": np.array([100.0, 0.0, 0.0, 0.0]),
            "op_cost": op_costs(spec.features), "fc": FecArrays.create(100_000, 100).as_tuple(),
            "sc": EvalScratch.create(3 * cap, 10, 10, 10).as_tuple(),
            "memo": EvalMemo.create(P, 3 * cap, 10).as_tuple(),
            "root_seed": seed, "island": 0, "steps0": 0, "max_steps": int(2e8),
        }
        self.names = list(inspect.signature(self.run_chunk.py_func).parameters)
        for name in self.names:
            if name.startswith("out_"):
                self.cols[name] = np.zeros(CHUNK, np.float64 if name == "out_fit" else np.int64)
        self.args = args
        self.births = 0
        self.steps = 0
        self.hash = hashlib.sha256()

    def chunk(self, n: int) -> int:
        """Run up to ``n`` births; returns how many ran (fewer once the budget is reached)."""
        a = dict(self.args, t0=self.births, b0=self.births, n_max=n, steps0=self.steps, **self.cols)
        done, self.steps = self.run_chunk(*(a[name] for name in self.names))
        for name in self.names:
            if name.startswith("out_"):
                self.hash.update(self.cols[name][:done].tobytes())
        self.births += done
        return done


def search_rate(use_fec: bool, seed: int, seconds: float, births: int | None) -> dict:
    """Births per CPU-second of one demo search (after a 10-birth warm-up)."""
    s = DemoSearch(use_fec, seed)
    s.chunk(10)
    c0, w0 = time.process_time(), time.time()
    while True:
        n = CHUNK if births is None else min(CHUNK, births - s.births)
        if n <= 0 or s.chunk(n) < n:
            break
        if births is None and time.time() - w0 > seconds:
            break
    cpu = time.process_time() - c0
    return {"births": s.births, "cpu": cpu, "rate": (s.births - 10) / max(cpu, 1e-9),
            "best": float(s.pop_fit.max()), "hash": s.hash.hexdigest()[:16]}


def _repeat_run_lanes(reps, code, cdata, seg, lanes, tk, ns, nv, nm, fit, steps):
    dummy = np.zeros((1, 1))
    nerr = np.zeros((1, 2), np.int64)
    total = 0
    for _ in range(reps):
        run_lanes(code, cdata, seg, lanes, tk[0], tk[1], tk[2], tk[3], tk[4], tk[5], tk[6],  # noqa: F821 (a variant global)
                  tk[0].shape[1], tk[3].shape[1], 100.0, ns, nv, nm, fit, steps, False,
                  dummy, dummy, nerr)
        total += steps[0]
    return total


def ns_per_instruction(L: int, reps: int = 300, rounds: int = 30) -> float:
    """ns per executed instruction per lane of the demo's target program at ``L`` lanes.

    Harness work (features in, errors checked) is included: it is part of what an
    instruction costs. Thread CPU time, best of ``rounds``.
    """
    spec = ProgramSpec(ops=(DEMO_OPS,) * 3)
    prog = linear_program(spec)
    tasks = generate(TaskSpec(kind="linear", num_tasks=10, data_seeds=(7,), param_seeds=(8,)))
    code, cdata, seg = to_bytecode(prog.ins, prog.data, prog.sizes, spec.scalars, spec.vectors,
                                   spec.matrices)
    lanes = np.arange(L, dtype=np.int64)
    fit, steps = np.zeros(L), np.zeros(L, np.int64)
    tk = task_tuple(tasks)
    args = (code, cdata, seg, lanes, tk, spec.scalars, spec.vectors, spec.matrices, fit, steps)
    # Compiled against the demo's kernel variant (its run_lanes), not cached.
    repeat = njit(types.FunctionType(_repeat_run_lanes.__code__, vars(kernels_for_spec(spec))))
    repeat(1, *args)
    assert np.all(steps == tasks.train_steps), "the benchmark program must train to the end"
    n_pred, n_learn = seg[1] - seg[0], seg[2] - seg[1]
    per_run = seg[0] + tasks.train_steps * (n_pred + n_learn) + tasks.x_valid.shape[1] * n_pred
    best = np.inf
    for _ in range(rounds):
        c0 = time.thread_time()
        repeat(reps, *args)
        best = min(best, time.thread_time() - c0)
    return best / (reps * per_run * L) * 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--seconds", type=float, default=6.0, help="wall time per search")
    ap.add_argument("--births", type=int, default=None, help="exact births per search")
    ap.add_argument("--no-ns", action="store_true", help="skip the ns/instruction measure")
    opts = ap.parse_args()
    t0 = time.time()
    DemoSearch(True, 1).chunk(10)
    DemoSearch(False, 1).chunk(10)
    print(f"compile / cache load: {time.time() - t0:.1f} s")
    for use_fec in (True, False):
        rates = []
        for seed in opts.seeds:
            r = search_rate(use_fec, seed, opts.seconds, opts.births)
            rates.append(r["rate"])
            print(f"FEC {'on ' if use_fec else 'off'} seed {seed}: {r['rate']:9.0f} births/CPU-s "
                  f"({r['births']} births, {r['cpu']:.1f} CPU-s) best {r['best']:.6f} "
                  f"log hash {r['hash']}")
        print(f"FEC {'on ' if use_fec else 'off'} median: {np.median(rates):9.0f} births/CPU-s")
    if not opts.no_ns:
        for L in (1, 10):
            print(f"interpreter, demo target program, L={L:2d}: "
                  f"{ns_per_instruction(L):.2f} ns per instruction per lane")


if __name__ == "__main__":
    main()
