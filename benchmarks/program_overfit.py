"""Does a program run overfit its search tasks? Its top births, measured again on select and final tasks.

    PYTHONPATH=. python benchmarks/program_overfit.py RUN_DIR [--top 40] [--restart 0]
    PYTHONPATH=. python benchmarks/program_overfit.py --compare [--preset binary-fashion-basic]
        [--seeds 1 2 3 4 5] [--seconds 600] [--pool 100] [--rotate-every 1000]

A restart searches on the same few search tasks from its first birth to its last (unless
``[evaluation] task_pool`` rotates them), so a high search fitness may be a program tuned to
those tasks. This script takes a recorded program run (``zeroevo evolve --out RUN_DIR``),
replays the genomes of its ``--top`` best births of one restart by search fitness (one per
distinct fitness, from the birth log: no genome needs to have been stored), and measures each
on the run's select and final tasks. It prints them best first, the Spearman correlation
between search and final fitness over them, and, on binary and ReLU-teacher tasks, the
hand-written learners (linear / logistic regression and the 2-layer net, each at every
learning rate of the baseline grid) on the same search, select and final tasks: what "as
good as logistic regression" means on each set.

``--compare`` runs the remedy side by side: for each seed, one island of the preset with its
search tasks fixed and one drawing them from a pool of ``--pool`` every ``--rotate-every``
births (``[evaluation] task_pool``), both at once with ``run.max_seconds = --seconds``
(one core each). Each run's whole final population is measured on select and final tasks;
the table gives births, the population's best by search fitness (its search, select and
final fitness) and its best by select fitness (final), per seed, then the mean final of each
arm and in how many seeds rotation ended higher.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.proxy_rank import spearman


def one_island(preset: str, seed: int, seconds: float, pool: int, every: int) -> dict:
    """One single-island search (runs in a worker process), its population measured again."""
    from zeroevo.programs.evaluator import full_fitness
    from zeroevo.programs.search import ProgramSearch
    from zeroevo.runs.presets import load_preset

    cfg = load_preset(preset).replace("run", seed=seed, max_seconds=seconds)
    if pool:
        cfg = cfg.replace("evaluation", fec=False, task_pool=pool, rotate_every=every)
    search = ProgramSearch(cfg)
    result = search.run()
    runner, select, final = search.runner, search.tasks_for(1, 0), search.tasks_for(2, 0)
    rows = np.array([(runner.fitness[k], full_fitness(cfg, search.spec, runner.program(k), select),
                      full_fitness(cfg, search.spec, runner.program(k), final))
                     for k in range(cfg.evolution.population) if np.isfinite(runner.fitness[k])])
    i, j = int(np.argmax(rows[:, 0])), int(np.argmax(rows[:, 1]))
    return {"seed": seed, "pool": pool, "births": result.births, "search": rows[i, 0], "select": rows[i, 1],
            "final": rows[i, 2], "final_of_best_select": rows[j, 2]}


def compare(args: argparse.Namespace) -> None:
    """Fixed against rotated search tasks, side by side (see the module docstring)."""
    from concurrent.futures import ProcessPoolExecutor

    from zeroevo.programs.warmup import warm_configs
    from zeroevo.runs.presets import load_preset

    base = load_preset(args.preset)
    warm_configs([base.to_dict(), base.replace("evaluation", fec=False, task_pool=args.pool,
                                               rotate_every=args.rotate_every).to_dict()], 2)
    print(f"{args.preset}: one island, {args.seconds:.0f} s of search per run, two runs at a time; "
          f"rotation draws {base.search_tasks.num_tasks} of {args.pool} tasks every {args.rotate_every} births")
    print("| seed | search tasks | births | best by search: search / select / final | best by select: final |")
    print("|---|---|---|---|---|")
    finals: dict[int, list[float]] = {0: [], args.pool: []}
    with ProcessPoolExecutor(2) as pool:
        for seed in args.seeds:
            runs = [pool.submit(one_island, args.preset, seed, args.seconds, p, args.rotate_every)
                    for p in (0, args.pool)]
            for run in (r.result() for r in runs):
                finals[run["pool"]].append(run["final"])
                label = f"rotated ({args.pool})" if run["pool"] else "fixed"
                print(f"| {seed} | {label} | {run['births']:,} | {run['search']:.4f} / {run['select']:.4f} / "
                      f"{run['final']:.4f} | {run['final_of_best_select']:.4f} |", flush=True)
    fixed, rotated = np.array(finals[0]), np.array(finals[args.pool])
    print(f"final fitness, mean +- std: fixed {fixed.mean():.4f} +- {fixed.std():.4f}, rotated "
          f"{rotated.mean():.4f} +- {rotated.std():.4f}; rotated higher in {int((rotated > fixed).sum())} "
          f"of {len(fixed)} seeds")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, nargs="?")
    ap.add_argument("--compare", action="store_true", help="fixed against rotated search tasks, side by side")
    ap.add_argument("--preset", default="binary-fashion-basic")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--pool", type=int, default=100)
    ap.add_argument("--rotate-every", type=int, default=1000)
    ap.add_argument("--top", type=int, default=40, help="births to measure (distinct search fitness)")
    ap.add_argument("--restart", type=int, default=0, help="which restart's births (and tasks)")
    args = ap.parse_args()
    if args.compare:
        compare(args)
        return
    if args.run is None:
        ap.error("give a RUN directory, or --compare")

    from zeroevo.analysis.lineage import open_lineage
    from zeroevo.programs.baselines import LEARNERS, LR_GRID, TASK_KINDS, baseline_spec
    from zeroevo.programs.evaluator import full_fitness
    from zeroevo.programs.search import ProgramSearch
    from zeroevo.runs.lifecycle import load_config
    from zeroevo.runs.rundir import RunDir

    config = load_config(RunDir(args.run))
    search = ProgramSearch(config)
    sets = {"search": search.tasks_for(0, args.restart), "select": search.tasks_for(1, args.restart),
            "final": search.tasks_for(2, args.restart)}
    t0 = time.time()
    lineage = open_lineage(args.run, True)  # start replays from stored genomes where there are some
    fit = np.where(np.isfinite(lineage.fitness) & (lineage.restarts == args.restart), lineage.fitness, -np.inf)
    seen, rows = set(), []
    for row in np.argsort(-fit, kind="stable"):
        if len(rows) >= args.top or not np.isfinite(fit[row]):
            break
        if float(fit[row]) in seen:
            continue
        seen.add(float(fit[row]))
        birth = int(lineage.births[row])
        program = lineage.genome(birth)
        rows.append((birth, float(fit[row]), full_fitness(config, search.spec, program, sets["select"]),
                     full_fitness(config, search.spec, program, sets["final"])))
    print(f"{args.run}: restart {args.restart}, the {len(rows)} best births by search fitness "
          f"({time.time() - t0:.0f} s to replay and measure)")
    print("| birth | search | select | final |\n|---|---|---|---|")
    for birth, s, sel, fin in rows:
        print(f"| {birth} | {s:.4f} | {sel:.4f} | {fin:.4f} |")
    a = np.array([r[1:] for r in rows])
    if len(a) > 2:
        best_select = int(np.argmax(a[:, 1]))
        print(f"Spearman rho, search against final fitness over these births: {spearman(a[:, 0], a[:, 2]):.2f}; "
              f"against select: {spearman(a[:, 0], a[:, 1]):.2f}")
        print(f"best by search: final {a[0, 2]:.4f}; best by select: final {a[best_select, 2]:.4f}; "
              f"best final among them: {a[:, 2].max():.4f}")
    if config.final_tasks.kind in TASK_KINDS:
        spec = baseline_spec(config.program_spec())
        print("\nhand-written learners by learning rate (search / select / final):")
        for name, make in LEARNERS.items():
            cells = []
            for lr in LR_GRID:
                f = [full_fitness(config, spec, make(spec, lr=lr), sets[k]) for k in ("search", "select", "final")]
                cells.append(f"lr {lr}: {f[0]:.4f} / {f[1]:.4f} / {f[2]:.4f}")
            print(f"  {name}: " + "; ".join(cells))


if __name__ == "__main__":
    main()
