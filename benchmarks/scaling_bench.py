"""Scaling on one machine: 2 workers against 1, for program islands and a neural population.

Prints, in one run:

- the machine's own ceiling: the same demo search run as one process, then as two
  independent processes at once (no controller, nothing shared). On a VM two vCPUs often
  give less than 2x; no dispatcher can beat this figure;
- programs, islands on the demo preset: births per second with 1 and 2 worker processes
  (the same seed, so both runs compute the very same births), their ratio, and the
  ratio as a share of the ceiling;
- neural, a central population on a small Fashion-MNIST proxy with lag L (the same births
  with 1 and 2 workers): births per minute once the workers are up, and the ratio;
- the controller's CPU time per birth (its own process time: proposing, committing,
  logging, packing states), which is what the controller costs a worker-bound run.

Each pair is measured ``--rounds`` times, alternating, and the median ratio is printed:
the VM's speed drifts by 10-20% from one minute to the next. Run on an idle machine:

    PYTHONPATH=. python benchmarks/scaling_bench.py [--births 1000000] [--neural-births 40]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from zeroevo.runs.presets import load_preset

_SOLO = """
import sys, time
import torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[1])
from scaling_bench import solo
print(solo(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
"""


def _neural_config(births: int):  # noqa: ANN202
    base = load_preset("fashion-layers").replace("run", max_births=births, seed=1)
    base = base.replace("fidelity", train_subset=2048, valid_subset=512, epochs=1)
    base = base.replace("evolution", population=8, tournament=3)
    return base.replace("final", top_k=0)


_WARM = 4  # neural births committed before the clock starts: workers up, torch and data loaded


def solo(kind: str, births: int, lag: int = 4) -> float:
    """One search in this process, nothing dispatched: births/s (programs) or births/min (neural)."""
    if kind == "programs":
        from zeroevo.programs.search import ProgramSearch

        cfg = load_preset("demo").replace("run", max_births=births, sufficient_fitness=0.0, seed=1)
        ProgramSearch(cfg.replace("run", max_births=20_000)).run()  # load the kernels first
        t = time.perf_counter()
        return ProgramSearch(cfg).run().births / (time.perf_counter() - t)
    from zeroevo.neural.search import NeuralSearch

    stamps: dict[int, float] = {}
    NeuralSearch(_neural_config(births).replace("dispatch", backend="serial", lag=lag),
                 progress=lambda p: stamps.__setitem__(p.births, time.perf_counter())).run()
    return 60 * (births - _WARM) / (stamps[births] - stamps[_WARM])


def ceiling(kind: str, births: int, lag: int = 4) -> float:
    """Two identical searches at once, each alone in its process, against one alone: the
    ratio of their summed rates, which no dispatcher can beat on this machine."""
    here = str(Path(__file__).parent)

    def run(n: int) -> float:
        procs = [subprocess.Popen([sys.executable, "-c", _SOLO, here, kind, str(births), str(lag)],
                                  stdout=subprocess.PIPE, text=True) for _ in range(n)]
        return sum(float(p.communicate()[0].split()[-1]) for p in procs)
    one, two = run(1), run(2)
    unit = "births/s" if kind == "programs" else "births/min"
    print(f"  ceiling: 1 process {one:>10,.1f} {unit}, 2 independent processes {two:>10,.1f} {unit}: "
          f"{two / one:.2f}x")
    return two / one


def _timed(run) -> tuple[float, float, int]:  # noqa: ANN001
    wall, cpu = time.perf_counter(), time.process_time()
    births = run()
    return time.perf_counter() - wall, time.process_time() - cpu, births


def islands(births: int, rounds: int) -> None:
    """Demo preset, 2 islands: 1 worker process against 2 (same seed, same births)."""
    from zeroevo.programs.islands import IslandSearch

    base = load_preset("demo").replace("run", max_births=births, sufficient_fitness=0.0, seed=1)
    print(f"programs: demo preset, 2 islands, migrate_every 100000, {births:,} births")
    ratios, steady_ratios, limit = [], [], []
    for r in range(rounds):
        limit.append(ceiling("programs", births // 2))
        rate, steady = {}, {}
        for workers in (1, 2):
            cfg = base.replace("dispatch", islands=2, migrate_every=100_000, migrants=5, backend="process",
                               workers=workers)
            stamps: list[tuple[int, float]] = []
            search = IslandSearch(cfg, progress=lambda p: stamps.append((p.births, time.perf_counter())))
            wall, cpu, n = _timed(lambda: search.run().births)
            rate[workers] = n / wall
            (b0, t0), (b1, t1) = stamps[0], stamps[-1]  # from the end of the first epoch
            steady[workers] = (b1 - b0) / (t1 - t0)
            print(f"  round {r + 1}: {workers} worker process{'es' if workers > 1 else '  '} "
                  f"{n / wall:>10,.0f} births/s with start-up, {steady[workers]:>10,.0f} after the first epoch;"
                  f"  controller CPU {1e9 * cpu / n:5.0f} ns/birth")
        ratios.append(rate[2] / rate[1])
        steady_ratios.append(steady[2] / steady[1])
    ratio, steady_ratio, cap = (statistics.median(x) for x in (ratios, steady_ratios, limit))
    print(f"  speed-up, 2 processes vs 1 (median of {rounds}): {ratio:.2f}x with start-up, "
          f"{steady_ratio:.2f}x after the first epoch; machine ceiling {cap:.2f}x")


def neural(births: int, rounds: int, lag: int) -> None:
    """fashion-layers preset shrunk, lag ``lag``: 1 worker process against 2 (same births)."""
    from zeroevo.neural.search import NeuralSearch

    base = _neural_config(births)
    print(f"neural: fashion-layers (1 epoch on 2048 images), central population, lag {lag}, "
          f"{births} births (rate over births {_WARM + 1}-{births})")
    ratios, steady_ratios, limit = [], [], []
    for r in range(rounds):
        limit.append(ceiling("neural", births, lag))
        rate, steady = {}, {}
        for workers in (1, 2):
            stamps: dict[int, tuple[float, float]] = {}

            def progress(p) -> None:  # noqa: ANN001
                stamps[p.births] = (time.perf_counter(), time.process_time())
            cfg = base.replace("dispatch", backend="process", workers=workers, lag=lag)
            NeuralSearch(cfg, progress=progress).run()
            (w0, c0), (w1, c1) = stamps[_WARM], stamps[births]
            n = births - _WARM
            rate[workers] = 60 * n / (w1 - w0)
            # Steady state: past the initial population (whose completion every later
            # proposal waits for) and before the last births (when workers run dry).
            lo, hi = cfg.evolution.population + 2, births - 2 * workers
            steady[workers] = 60 * (hi - lo) / (stamps[hi][0] - stamps[lo][0])
            print(f"  round {r + 1}: {workers} worker process{'es' if workers > 1 else '  '} "
                  f"{rate[workers]:>7.1f} births/min, {steady[workers]:>7.1f} in steady state (births "
                  f"{lo + 1}-{hi});  controller CPU {1e3 * (c1 - c0) / n:6.1f} ms/birth")
        ratios.append(rate[2] / rate[1])
        steady_ratios.append(steady[2] / steady[1])
    print(f"  speed-up, 2 processes vs 1 (median of {rounds}): {statistics.median(ratios):.2f}x, "
          f"{statistics.median(steady_ratios):.2f}x in steady state; machine ceiling {statistics.median(limit):.2f}x")


def main() -> None:
    """Run both comparisons."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--births", type=int, default=1_000_000)
    parser.add_argument("--neural-births", type=int, default=40)
    parser.add_argument("--lag", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip", nargs="*", default=[], choices=["islands", "neural"])
    args = parser.parse_args()
    if "islands" not in args.skip:
        islands(args.births, args.rounds)
    if "neural" not in args.skip:
        neural(args.neural_births, args.rounds, args.lag)


if __name__ == "__main__":
    main()
