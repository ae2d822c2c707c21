"""Does a program run overfit its search tasks? Its top births, measured again on select and final tasks.

    PYTHONPATH=. python benchmarks/program_overfit.py RUN_DIR [--top 40] [--restart 0]

A restart searches on the same few search tasks from its first birth to its last, so a high
search fitness may be a program tuned to those tasks. This script takes a recorded program
run (``zeroevo evolve --out RUN_DIR``), replays the genomes of its ``--top`` best births of one restart by search fitness (one per
distinct fitness, from the birth log: no genome needs to have been stored), and measures each
on the run's select and final tasks. It prints them best first, the Spearman correlation
between search and final fitness over them, and, on binary and ReLU-teacher tasks, the
hand-written learners (linear / logistic regression and the 2-layer net, each at every
learning rate of the baseline grid) on the same search, select and final tasks: what "as
good as logistic regression" means on each set.

Then the run's last population (its latest snapshot): which program ``evolution.select_top
= k`` would keep, for k = 1 (the best by search fitness, the reference's choice), 10,
``evolution.population`` and (with islands) every island's population, and that program's
select and final fitness.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.proxy_rank import spearman


def population(run: Path, config, search, sets: dict) -> None:
    """What ``evolution.select_top = k`` keeps from the run's last population, for a few k."""
    from zeroevo.analysis.lineage import snapshot_populations
    from zeroevo.programs.evaluator import full_fitness
    from zeroevo.programs.search import ranked_slots, select_candidate
    from zeroevo.runs.storage import read_bundle
    from zeroevo.spaces.program.genome import Program

    snaps = sorted((run / "snapshots").glob("snap-*.arrow"))
    if not snaps:
        return
    arrays, _ = read_bundle(snaps[-1])
    pops = snapshot_populations(arrays, config.dispatch.islands)
    fit = np.concatenate([p["fitness"] for p in pops])
    programs = [Program(p["ins"][k], p["data"][k], p["sizes"][k]) for p in pops for k in range(len(p["fitness"]))]
    order = [int(k) for k in ranked_slots(fit, np.zeros(len(fit)), config.objectives) if np.isfinite(fit[k])]
    top = [(programs[slot], float(fit[slot]), slot) for slot in order]
    selects: dict[int, float] = {}  # select fitness by program (the same objects for every k)

    def select(program: Program) -> float:
        if id(program) not in selects:
            selects[id(program)] = full_fitness(config, search.spec, program, sets["select"])
        return selects[id(program)]

    print(f"\nthe last population ({snaps[-1].name}, {len(order)} programs): the program select_top = k keeps")
    print("| k | its search fitness | select | final |\n|---|---|---|---|")
    for k in sorted({1, 10, min(config.evolution.population, len(order)), len(order)}):
        program, select_fit, search_fit, _ = select_candidate(top[:k], select)
        final = full_fitness(config, search.spec, program, sets["final"])
        print(f"| {k} | {search_fit:.4f} | {select_fit:.4f} | {final:.4f} |")

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--top", type=int, default=40, help="births to measure (distinct search fitness)")
    ap.add_argument("--restart", type=int, default=0, help="which restart's births (and tasks)")
    args = ap.parse_args()

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
    population(args.run, config, search, sets)
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
