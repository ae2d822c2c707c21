"""How well does a cheap proxy rank architectures? Spearman's rho and top-k overlap against full fidelity.

    PYTHONPATH=. python benchmarks/proxy_rank.py [--archs 30] [--spaces layers nasnet] [--jobs 2]

For each search space (with its Fashion-MNIST preset's options), draws ``--archs`` random
architectures (seeded), trains every one at full fidelity (the presets' final stage: 6
epochs on every training image not held out, measured on 5,000 held-out training images)
and at each proxy fidelity below (measured on 1,024 held-out images), and prints per proxy:
Spearman's rank correlation with full fidelity, the overlap of the top 5 (how many of the
full-fidelity top 5 the proxy also puts in its top 5), and the CPU-seconds of training one
candidate (median) with the ratio to full fidelity. Trainings run ``--jobs`` at a time, one
thread each; CPU time is each worker's process time around one training (data loading
excluded), so other load on the machine does not inflate it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

FULL = {"epochs": 6, "train_subset": 0, "valid_subset": 5000}
PROXIES = {
    "1 ep, 1k img": {"epochs": 1, "train_subset": 1024, "valid_subset": 1024},
    "2 ep, 2k img": {"epochs": 2, "train_subset": 2048, "valid_subset": 1024},
    "1 ep, 4k img": {"epochs": 1, "train_subset": 4096, "valid_subset": 1024},
    "2 ep, 4k img, width 0.5": {"epochs": 2, "train_subset": 4096, "valid_subset": 1024, "width": 0.5},
    "3 ep, 4k img": {"epochs": 3, "train_subset": 4096, "valid_subset": 1024},
    "2 ep, 8k img": {"epochs": 2, "train_subset": 8192, "valid_subset": 1024},
}
PRESETS = {"layers": "fashion-layers", "nasnet": "fashion-nasnet"}


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    def ranks(x: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="stable")
        r = np.empty(len(x))
        r[order] = np.arange(len(x), dtype=float)
        for v in np.unique(x):  # ties share their mean rank
            r[x == v] = r[x == v].mean()
        return r
    ra, rb = ranks(np.asarray(a, float)), ranks(np.asarray(b, float))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def top_overlap(a: np.ndarray, b: np.ndarray, k: int = 5) -> int:
    """How many of ``b``'s top ``k`` are also in ``a``'s top ``k``."""
    return len(set(np.argsort(-np.asarray(a), kind="stable")[:k]) & set(np.argsort(-np.asarray(b), kind="stable")[:k]))


def _train(job: tuple[str, dict, int, dict]) -> tuple[float, float]:
    """(validation accuracy, train seconds) of one genome at one fidelity (runs in a worker)."""
    from zeroevo.core.protocols import EvalRequest
    from zeroevo.neural.evaluator import NeuralEvaluator
    from zeroevo.runs.presets import load_preset

    space, genome, seed, budget = job
    cfg = load_preset(PRESETS[space])
    evaluator = _EVALUATORS.get(space) or _EVALUATORS.setdefault(space, NeuralEvaluator(cfg.evaluator_config()))
    evaluator.data  # loaded once per worker, outside the timing
    cpu = time.process_time()
    result = evaluator.evaluate(EvalRequest(space, genome, seed, budget=budget))
    return float(result.metrics.get("val_accuracy", 0.0)), time.process_time() - cpu


_EVALUATORS: dict = {}


def genomes(space: str, n: int, seed: int) -> list[dict]:
    """``n`` random architectures of ``space`` (its preset's options), encoded."""
    from zeroevo.core.registry import make_space
    from zeroevo.runs.presets import load_preset

    cfg = load_preset(PRESETS[space])
    live = make_space(space, dict(cfg.space.options))
    rng = np.random.default_rng(seed)
    return [live.encode(live.random(rng)) for _ in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", type=int, default=30)
    ap.add_argument("--spaces", nargs="+", default=["layers", "nasnet"])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="also write the raw accuracies here")
    args = ap.parse_args()
    fidelities = {"full": FULL, **PROXIES}
    raw = {}
    t0 = time.time()
    with ProcessPoolExecutor(args.jobs) as pool:
        for space in args.spaces:
            archs = genomes(space, args.archs, args.seed)
            jobs = [(space, g, 1000 + i, budget) for name, budget in fidelities.items() for i, g in enumerate(archs)]
            results = list(pool.map(_train, jobs))
            n = len(archs)
            raw[space] = {name: results[k * n:(k + 1) * n] for k, name in enumerate(fidelities)}
    print(f"{args.archs} random architectures per space, Fashion-MNIST; full fidelity = {FULL}; "
          f"{time.time() - t0:.0f} s wall on {args.jobs} processes")
    print("| space | proxy | Spearman rho | top-5 overlap | CPU-s per candidate | cost vs full |")
    print("|---|---|---|---|---|---|")
    for space, by in raw.items():
        full_acc = np.array([a for a, _ in by["full"]])
        full_cost = statistics.median(c for _, c in by["full"])
        print(f"| {space} | full | 1.00 | 5/5 | {full_cost:.1f} | 1 |")
        for name in PROXIES:
            acc = np.array([a for a, _ in by[name]])
            cost = statistics.median(c for _, c in by[name])
            print(f"| {space} | {name} | {spearman(acc, full_acc):.2f} | {top_overlap(acc, full_acc)}/5 | "
                  f"{cost:.1f} | 1/{full_cost / cost:.0f} |")
        print(f"| {space} | (full-fidelity accuracy: median {np.median(full_acc):.3f}, "
              f"range {full_acc.min():.3f}-{full_acc.max():.3f}) | | | | |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f)


if __name__ == "__main__":
    main()
