"""Candidates per GPU-minute, training several candidates at once so the GPU stays busy.

Runs the same neural search (same seed, same lag, so the same candidates) with 1, 2 and 4
worker processes sharing one CUDA device, and prints candidates per GPU-minute and the
speed-up of each over one worker. Needs a GPU (exits with a message otherwise):

    PYTHONPATH=. python benchmarks/gpu_bench.py [--space nasnet] [--candidates 48] [--workers 1 2 4]
"""
from __future__ import annotations

import argparse
import sys
import time

from zeroevo.runs.presets import load_preset


def main() -> None:
    """Time the search for each worker count."""
    import torch

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--space", choices=["layers", "nasnet"], default="nasnet")
    parser.add_argument("--candidates", type=int, default=48)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--dataset", default="fashion_mnist")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("gpu_bench: no CUDA device here; run it where a GPU is lent")
    from zeroevo.neural.search import NeuralSearch

    preset = "fashion-layers" if args.space == "layers" else "fashion-nasnet"
    lag = max(args.workers)
    base = load_preset(preset).replace("run", max_births=args.candidates, seed=1)
    base = base.replace("data", dataset=args.dataset)
    base = base.replace("fidelity", train_subset=8192, valid_subset=2048, epochs=2, batch_size=128)
    base = base.replace("evaluation", device="cuda")
    print(f"{torch.cuda.get_device_name(0)}: {args.space}, {args.candidates} candidates, lag {lag}")
    rates = {}
    for workers in args.workers:
        cfg = base.replace("dispatch", backend="process", workers=workers, lag=lag)
        t = time.perf_counter()
        result = NeuralSearch(cfg).run()
        minutes = (time.perf_counter() - t) / 60
        rates[workers] = result.births / minutes
        print(f"  {workers} worker(s): {rates[workers]:7.1f} candidates per GPU-minute, best "
              f"{result.best_fitness:.4f} ({result.failed} failed)")
    first = rates[args.workers[0]]
    for workers, rate in rates.items():
        print(f"  speed-up with {workers} worker(s): {rate / first:.2f}x")


if __name__ == "__main__":
    main()
