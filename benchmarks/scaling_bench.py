"""Scaling on one machine: 2 workers against 1, for program islands and a neural population.

Prints births per second (programs, islands on the demo preset) and births per minute
(neural, central population on a small Fashion-MNIST proxy) with 1 and 2 worker processes,
their ratio, and the controller's own time per birth (wall time not spent waiting for
workers). Run on an otherwise idle machine:

    PYTHONPATH=. python benchmarks/scaling_bench.py [--births 2000000] [--neural-births 16]
"""
from __future__ import annotations

import argparse
import time

import zeroevo.dispatch as dispatch
from zeroevo.presets import load_preset

WAITED = [0.0]


def _timed_dispatchers() -> None:
    make = dispatch.make_dispatcher

    def timed(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        d = make(*args, **kw)
        wait = d.wait

        def timed_wait(key):  # noqa: ANN001, ANN202
            t = time.perf_counter()
            try:
                return wait(key)
            finally:
                WAITED[0] += time.perf_counter() - t
        d.wait = timed_wait
        return d
    dispatch.make_dispatcher = timed


def _run(search) -> tuple[float, int]:  # noqa: ANN001
    WAITED[0] = 0.0
    t = time.perf_counter()
    result = search.run()
    return time.perf_counter() - t, result.births


def islands(births: int) -> None:
    """Demo preset, 2 islands, serial in-process worker vs 2 worker processes."""
    from zeroevo.islands import IslandSearch

    base = load_preset("demo").replace("run", max_births=births, sufficient_fitness=0.0, seed=1)
    print(f"programs: demo preset, 2 islands, migrate_every 100000, {births:,} births")
    rates = {}
    for label, backend, workers in (("1 worker (in process)", "serial", 1), ("1 worker process", "process", 1),
                                    ("2 worker processes", "process", 2)):
        cfg = base.replace("dispatch", islands=2, migrate_every=100_000, migrants=5, backend=backend,
                           workers=workers)
        wall, n = _run(IslandSearch(cfg))
        rates[label] = n / wall
        print(f"  {label:<24} {n / wall:>10,.0f} births/s   controller {1e9 * (wall - WAITED[0]) / n:6.0f} ns/birth")
    print(f"  speed-up, 2 processes vs 1 process: {rates['2 worker processes'] / rates['1 worker process']:.2f}x")


def neural(births: int) -> None:
    """fashion-layers preset shrunk, lag 2: 1 worker process vs 2."""
    from zeroevo.neural_search import NeuralSearch

    base = load_preset("fashion-layers").replace("run", max_births=births, seed=1)
    base = base.replace("fidelity", train_subset=1024, valid_subset=512, epochs=1)
    base = base.replace("evolution", population=8, tournament=3)
    print(f"neural: fashion-layers (1 epoch on 1024 images), central population, lag 2, {births} births")
    rates = {}
    for label, workers in (("1 worker process", 1), ("2 worker processes", 2)):
        cfg = base.replace("dispatch", backend="process", workers=workers, lag=2)
        wall, n = _run(NeuralSearch(cfg))
        rates[label] = 60 * n / wall
        print(f"  {label:<24} {60 * n / wall:>10.1f} births/min  controller {1e3 * (wall - WAITED[0]) / n:6.1f} ms/birth")
    print(f"  speed-up, 2 processes vs 1: {rates['2 worker processes'] / rates['1 worker process']:.2f}x")


def main() -> None:
    """Run both comparisons."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--births", type=int, default=2_000_000)
    parser.add_argument("--neural-births", type=int, default=16)
    args = parser.parse_args()
    _timed_dispatchers()
    islands(args.births)
    neural(args.neural_births)


if __name__ == "__main__":
    main()
