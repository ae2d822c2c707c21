"""The demo preset against the C++ reference's figures (docs/semantics.md, "The demo configuration").

Prints, FEC on and off:
1. individuals per CPU-second (a fixed number of births per seed);
2. CPU-seconds until select fitness > 0.9999, seeds 1..5 (median and range);
3. the share of restarts that solve (select fitness > 0.9999) over N restarts.
Each measurement is its own process, two at a time (this machine has 2 cores); CPU time is
each process's own. The C++ reference on this kind of machine: 50-53k / 39-42k individuals
per CPU-second, median 58 / 21 CPU-s to solution, 26% / 20% of restarts solve (the figures
in docs/semantics.md; ``reference_compare.py`` measures the reference itself, built here).

    PYTHONPATH=. python benchmarks/demo_bench.py [--restarts 50] [--seeds 1 2 3 4 5] [--jobs 2]
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor


def rate(fec: bool, seed: int, births: int) -> float:
    """Individuals per CPU-second over ``births`` births (sufficient fitness off)."""
    from zeroevo.programs.search import ProgramSearch
    from zeroevo.runs.presets import load_preset

    cfg = load_preset("demo").replace("run", seed=seed, max_births=births, sufficient_fitness=0.0)
    cfg = cfg.replace("evaluation", fec=fec)
    search = ProgramSearch(cfg)
    search.runner.start(search.tasks_for(0, 0))  # warm: load the kernels before timing
    search.started = True
    cpu = time.process_time()
    result = search.run()
    return result.births / (time.process_time() - cpu)


def to_solution(fec: bool, seed: int) -> tuple[float, int, int]:
    """CPU-seconds, births and restarts until select fitness > 0.9999."""
    from zeroevo.programs.search import ProgramSearch
    from zeroevo.runs.presets import load_preset

    cfg = load_preset("demo").replace("run", seed=seed, max_seconds=1800.0)
    cfg = cfg.replace("evaluation", fec=fec)
    cpu = time.process_time()
    result = ProgramSearch(cfg).run()
    return (time.process_time() - cpu, result.births, result.restarts) if result.solved else (float("inf"), result.births, result.restarts)


def restart_fitness(fec: bool, seed: int, restarts: int) -> list[tuple[float, int, list[tuple[int, float, float]]]]:
    """Per restart (no early stop): its select fitness; how many births into the restart a
    birth first scored search fitness > 0.9999 (-1: never), which tells *when* a search finds
    the solution (a FEC-off restart ends near 210k births, a FEC-on one near 870k); and the
    population's (births, mean, best) fitness where the C++ reference prints its progress
    lines (after the initial 1000, then every 10,000 births). The population is a ring of
    the last 1000 births, so it is read off the birth log."""
    import numpy as np

    from zeroevo.runs.birthlog import read_log
    from zeroevo.runs.lifecycle import start_run
    from zeroevo.runs.presets import load_preset

    cfg = load_preset("demo").replace("run", seed=seed, max_restarts=restarts, sufficient_fitness=0.0,
                                      snapshot_every=10_000_000)
    cfg = cfg.replace("evaluation", fec=fec)
    size = cfg.evolution.population
    with tempfile.TemporaryDirectory() as tmp:
        search, run_dir = start_run(cfg, f"{tmp}/run")
        search.run()
        log = read_log(run_dir.path)
        restart, fit = log.column("restart").to_numpy(), log.column("fitness").to_numpy()
        out = []
        for entry in json.loads((run_dir.path / "best.json").read_text()):
            f = fit[restart == entry["restart"]]
            hits = np.flatnonzero(f > 0.9999)
            progress = [(n, float(f[n - size:n].mean()), float(f[n - size:n].max()))
                        for n in range(size, len(f) + 1, 10_000)]
            out.append((entry["select_fitness"], int(hits[0]) if len(hits) else -1, progress))
        return out


def many_restarts(pool: ProcessPoolExecutor, fec: bool, restarts: int, jobs: int,
                  first_seed: int = 101) -> list[tuple[float, int, list[tuple[int, float, float]]]]:
    """:func:`restart_fitness` for ``restarts`` restarts spread over ``jobs`` processes of
    ``pool``, seeds ``first_seed``, ``first_seed + 1``, ... (one per job)."""
    per_job = [restarts // jobs + (j < restarts % jobs) for j in range(jobs)]
    chunks = pool.map(restart_fitness, [fec] * jobs, range(first_seed, first_seed + jobs), per_job)
    return [r for chunk in chunks for r in chunk]


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a success share ``k / n``: is a gap to the reference noise?"""
    p = k / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, mid - half), min(1.0, mid + half)


def main() -> None:
    """Run the three measurements and print them next to the reference."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--restarts", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--births", type=int, default=1_000_000)
    parser.add_argument("--skip", nargs="*", default=[], choices=["rate", "solution", "restarts"])
    args = parser.parse_args()
    with ProcessPoolExecutor(args.jobs) as pool:
        if "rate" not in args.skip:
            for fec in (True, False):
                rates = list(pool.map(rate, [fec] * len(args.seeds), args.seeds,
                                      [args.births if fec else args.births // 3] * len(args.seeds)))
                print(f"FEC {'on ' if fec else 'off'}: individuals per CPU-second "
                      f"median {statistics.median(rates):,.0f} (range {min(rates):,.0f} - {max(rates):,.0f})"
                      f"   C++ reference {'50-53k' if fec else '39-42k'}", flush=True)
        if "solution" not in args.skip:
            for fec in (True, False):
                runs = list(pool.map(to_solution, [fec] * len(args.seeds), args.seeds))
                cpu = [r[0] for r in runs]
                print(f"FEC {'on ' if fec else 'off'}: CPU-seconds to select fitness > 0.9999, seeds "
                      f"{args.seeds}: {', '.join(f'{c:.0f}' for c in cpu)}; median {statistics.median(cpu):.0f}"
                      f"   C++ reference median {58 if fec else 21}", flush=True)
        if "restarts" not in args.skip:
            for fec in (True, False):
                runs = many_restarts(pool, fec, args.restarts, args.jobs)
                fits = [f for f, _, _ in runs]
                solved = sum(f > 0.9999 for f in fits)
                first = sorted(b for f, b, _ in runs if f > 0.9999 and b >= 0)
                lo, hi = wilson(solved, len(fits))
                print(f"FEC {'on ' if fec else 'off'}: {solved}/{len(fits)} restarts solve "
                      f"({solved / len(fits):.0%}, 95% interval {lo:.0%}-{hi:.0%})   "
                      f"C++ reference {'26%' if fec else '20%'}", flush=True)
                print(f"  births into a solving restart at which search fitness first passed 0.9999: "
                      f"{', '.join(f'{b // 1000}k' for b in first)}", flush=True)


if __name__ == "__main__":
    main()
