"""How far apart are the rungs between predicting 0 and backprop? Hand-built programs on a preset's tasks.

    PYTHONPATH=. python benchmarks/program_ladder.py [--preset nonlinear] [--tasks select] [--seed 1]
        [--climb RUNG ... --climb-seconds 600 | --climb-births N] [--climb-rate LR] [--set SECTION.FIELD=JSON ...]

A search climbs by single mutations, so what it can reach depends on the fitness of the
programs between where it is and where it should go. This script builds those programs by
hand, on the way from an empty program to the 2-layer ReLU network trained by backprop (the
``nonlinear`` preset's target), measures each at its best learning rate of the baselines'
grid on the preset's tasks (``--tasks search|select|final``, of the first restart for
``--seed``), and prints, per rung, its fitness and how many instructions it adds or changes
against the rung it grows from. A rung whose fitness is below its predecessor's is a valley:
the search has to cross it by several mutations at once, or by neutral drift.

``--climb`` then tests where the search gets stuck, not only where the valleys are: for each
rung named (by its name or a prefix of it), the preset's own search runs for ``--climb-seconds``
of wall-clock search with every initial program (at each restart) set to that rung at its
best learning rate, and a row reports what it reached: best search fitness, select fitness,
whether it solved the preset (``run.sufficient_fitness`` on select), births and CPU-seconds.
``--climb-births N`` stops each search after N births instead, so a climb repeats exactly.
``--climb-rate LR`` starts every climb at learning rate LR instead of its rung's best: a rung
and the one across a valley from it may be best at different rates, and at a rate where both
score the same the valley's far side is neutral.
A rung the search climbs away from is past the barrier; one it stays at is before it.
``--set`` changes a field of the preset for all of it, e.g. ``--set evolution.tournament=2``
to climb under weaker selection.

The programs use the memory layout of ``spaces/program/initial.py``'s learners: ``v0`` the
input, ``s0`` the label, ``s1`` the prediction, ``s2`` the learning rate, ``s3`` the scaled
error, ``m0`` the hidden weights, ``v1`` the output weights, ``v2`` the hidden
pre-activations, ``v3`` the ReLU mask, ``v4`` the hidden activations.
"""
from __future__ import annotations

import argparse
import math
from collections import Counter

from zeroevo.core.config import overridden
from zeroevo.core.errors import ConfigError
from zeroevo.programs.baselines import LR_GRID, baseline_spec
from zeroevo.programs.config import Config
from zeroevo.programs.evaluator import full_fitness
from zeroevo.programs.search import ProgramSearch, SearchResult
from zeroevo.runs.presets import load_preset
from zeroevo.spaces.program.genome import COMPONENTS, Program, ProgramSpec, from_rows

INIT = [("MATRIX_GAUSSIAN_SET", 0, 0, 0, 0.0, 0.5), ("VECTOR_GAUSSIAN_SET", 0, 0, 1, 0.0, 0.5)]
ERROR = [("SCALAR_DIFF", 0, 1, 3), ("SCALAR_PRODUCT", 3, 2, 3)]  # s3 = (label - prediction) * lr
HIDDEN = [("MATRIX_VECTOR_PRODUCT", 0, 0, 2)]  # v2 = m0 @ x
RELU = [("VECTOR_HEAVYSIDE", 2, 0, 3), ("VECTOR_PRODUCT", 2, 3, 4)]  # v4 = relu(v2), v3 its mask


def _out(h: int) -> list[tuple]:
    """Predict ``s1 = v_h . v1``."""
    return [("VECTOR_INNER_PRODUCT", h, 1, 1)]


def _learn_out(h: int) -> list[tuple]:
    """The output layer's SGD step: ``v1 += s3 * v_h``."""
    return [("SCALAR_VECTOR_PRODUCT", 3, h, 7), ("VECTOR_SUM", 1, 7, 1)]


def _backprop(h: int, mask: bool) -> list[tuple]:
    """Both layers' steps, in ``neural_net_program``'s order: the error sent back through ``v1``
    (``v5``, times the ReLU mask into ``v6`` when ``mask``) before ``v1`` moves, then
    ``m0 += outer(v5 or v6, x)``."""
    back = [("SCALAR_VECTOR_PRODUCT", 3, 1, 5)] + ([("VECTOR_PRODUCT", 5, 3, 6)] if mask else [])
    return back + _learn_out(h) + [("VECTOR_OUTER_PRODUCT", 6 if mask else 5, 0, 1), ("MATRIX_SUM", 0, 1, 0)]


# name: (grows from, setup after the learning rate, predict, learn)
RUNGS: dict[str, tuple[str | None, list, list, list]] = {
    "predict 0 (empty program)": (None, [], [], []),
    "linear regression": ("predict 0 (empty program)", [], _out(0), ERROR + _learn_out(0)),
    # Linear regression computing a random ReLU layer it does not use: neutral drift can get
    # here, and random ReLU features are two changed instructions (v0 -> v4 in the prediction
    # and the update) away.
    "linear regression beside an unused random ReLU layer": (
        "linear regression", INIT, HIDDEN + RELU + _out(0), ERROR + _learn_out(0)),
    "half of that pair: the prediction reads the layer, the update the input": (
        "linear regression beside an unused random ReLU layer", INIT, HIDDEN + RELU + _out(4),
        ERROR + _learn_out(0)),
    "the other half: the prediction reads the input, the update the layer": (
        "linear regression beside an unused random ReLU layer", INIT, HIDDEN + RELU + _out(0),
        ERROR + _learn_out(4)),
    "linear on a fixed random projection W x": (
        "linear regression", INIT, HIDDEN + _out(2), ERROR + _learn_out(2)),
    "random ReLU features (output layer learned)": (
        "linear on a fixed random projection W x", INIT, HIDDEN + RELU + _out(4), ERROR + _learn_out(4)),
    "deep linear network by backprop (no ReLU)": (
        "linear on a fixed random projection W x", INIT, HIDDEN + _out(2),
        ERROR + _backprop(2, mask=False)),
    "ReLU network, backprop without the ReLU mask": (
        "random ReLU features (output layer learned)", INIT, HIDDEN + RELU + _out(4),
        ERROR + _backprop(4, mask=False)),
    "2-layer ReLU network by backprop (the target)": (
        "ReLU network, backprop without the ReLU mask", INIT, HIDDEN + RELU + _out(4),
        ERROR + _backprop(4, mask=True)),
}


def program(spec: ProgramSpec, name: str, lr: float) -> Program:
    """The rung ``name`` with learning rate ``lr`` (``s2``; the empty program has none)."""
    _, setup, predict, learn = RUNGS[name]
    rate = [("SCALAR_CONST_SET", 0, 0, 2, lr)] if predict else []
    rows = {"setup": rate + setup, "predict": predict, "learn": learn}
    return from_rows(spec, rows)


def edits(spec: ProgramSpec, name: str) -> int:
    """Instructions of rung ``name`` that its predecessor lacks (new or changed; constants aside)."""
    parent = RUNGS[name][0]
    if parent is None:
        return 0
    return new_instructions(program(spec, parent, 0.1), program(spec, name, 0.1))


def new_instructions(a: Program, b: Program) -> int:
    """Instructions of ``b`` that ``a`` lacks, per component (new or changed; constants aside)."""
    count = 0
    for c in range(len(COMPONENTS)):
        old = Counter(map(tuple, a.component(c)[0].tolist()))
        new = Counter(map(tuple, b.component(c)[0].tolist()))
        count += sum((new - old).values())
    return count


def climb(cfg: Config, name: str, lr: float, seconds: float, births: int = 0) -> SearchResult:
    """The preset's search for ``seconds`` (or ``births``, when given), every initial program
    being rung ``name`` at ``lr``."""
    limit = {"max_births": births, "max_seconds": 0.0} if births else {"max_seconds": seconds}
    cfg = cfg.replace("program", initial="noop").replace("run", **limit)
    search = ProgramSearch(cfg)
    # Each restart's population starts as copies of the runner's template (the config's
    # `initial`); a rung is no kind a config can name, so the benchmark sets it here.
    search.runner.template = program(search.spec, name, lr)
    return search.run()


def _rung(prefix: str) -> str:
    found = [prefix] if prefix in RUNGS else [name for name in RUNGS if name.startswith(prefix)]
    if len(found) != 1:
        raise SystemExit(f"error: --climb {prefix!r} names {len(found)} rungs; rungs: {', '.join(RUNGS)}")
    return found[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="nonlinear")
    ap.add_argument("--tasks", choices=("search", "select", "final"), default="select")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--climb", nargs="*", default=[], metavar="RUNG", help="rungs (name prefixes) to search from")
    ap.add_argument("--climb-seconds", type=float, default=600.0)
    ap.add_argument("--climb-births", type=int, default=0, help="a births limit instead of seconds")
    ap.add_argument("--climb-rate", type=float, default=0.0, help="start climbs at this learning rate "
                    "(0 = each rung's best)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=JSON",
                    help="override a config field of the preset, e.g. evolution.tournament=2")
    args = ap.parse_args()
    climbs = [_rung(prefix) for prefix in args.climb]
    if not (math.isfinite(args.climb_rate) and args.climb_rate >= 0):
        ap.error(f"--climb-rate {args.climb_rate:g} is not allowed; allowed: a finite rate > 0, or 0 for each "
                 "rung's best")
    try:
        cfg = overridden(load_preset(args.preset), args.set).replace("run", seed=args.seed)
    except ConfigError as e:
        ap.error(str(e))
    spec = baseline_spec(cfg.program_spec())
    first_restart = ProgramSearch(cfg)  # only for its tasks, each generated once
    kinds = ("search", "select", "final")
    task_sets = {k: first_restart.tasks_for(i, 0) for i, k in enumerate(kinds) if k in ("search", "select", args.tasks)}
    search_tasks, select_tasks, tasks = task_sets["search"], task_sets["select"], task_sets[args.tasks]
    print(f"{args.preset}, {args.tasks} tasks (seed {args.seed}); each rung at its best learning rate of {LR_GRID}")
    print("| rung | grows from | new or changed instructions | fitness | learning rate |")
    print("|---|---|---|---|---|")
    fitness: dict[str, float] = {}
    best_lr: dict[str, float] = {}
    for name, (parent, *_) in RUNGS.items():
        tried = {lr: full_fitness(cfg, spec, program(spec, name, lr), tasks) for lr in LR_GRID}
        lr = max(LR_GRID, key=lambda x: (tried[x], -x))
        fitness[name] = tried[lr]
        step = "" if parent is None else f" ({tried[lr] - fitness[parent]:+.4f})"
        print(f"| {name} | {parent or '-'} | {edits(spec, name)} | {tried[lr]:.4f}{step} | {lr:g} |", flush=True)
        best_lr[name] = lr
    if climbs:
        budget = f"{args.climb_births:,} births" if args.climb_births else f"{args.climb_seconds:g} s of search"
        sets = (f", learning rate {args.climb_rate:g}" if args.climb_rate else "") + \
            (f", {' '.join(args.set)}" if args.set else "")
        print(f"\nthe {args.preset} search from each rung, {budget} (seed {args.seed}{sets})")
        print("| from rung | its search fitness | kept program's search fitness | select fitness (* measured "
              "here) | solved | births | CPU-s |")
        print("|---|---|---|---|---|---|---|")
    for name in climbs:
        lr = args.climb_rate or best_lr[name]
        r = climb(cfg, name, lr, args.climb_seconds, args.climb_births)
        start = full_fitness(cfg, spec, program(spec, name, lr), search_tasks)
        # No restart may have ended within the budget: then measure the kept program on the
        # first restart's select tasks here (marked *), as program_quality.py does.
        here = r.select_fitness is None
        sel = full_fitness(cfg, cfg.program_spec(), r.program, select_tasks) if here else r.select_fitness
        mark = "*" if here else ""
        solved = sel >= cfg.run.sufficient_fitness
        print(f"| {name} | {start:.4f} | {r.search_fitness:.4f} | {sel:.4f}{mark} | {solved} | {r.births:,} | "
              f"{r.cpu_seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
