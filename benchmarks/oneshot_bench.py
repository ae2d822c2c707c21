"""How far to trust one-shot scores? Kendall tau against stand-alone training, and a search race.

    PYTHONPATH=. python benchmarks/oneshot_bench.py [--spaces layers nasnet] [--archs 30]
        [--standalone proxy_rank.jsonl] [--supernets 2048x10 8192x30] [--race-seconds 600 --race-seeds 1 2 3]
        [--skip rank race]

**Rank**: per space (its Fashion-MNIST preset), trains the single-path supernet once
(``[evaluation] supernet_epochs`` of uniform path sampling on ``supernet_subset`` training
images; ``--supernets`` compares other budgets side by side), scores ``--archs`` random
architectures by their path (shared weights, batch norm recalibrated) and prints Kendall's tau and Spearman's rho of those scores against the same
architectures' stand-alone accuracy, with the supernet's training CPU-seconds and the
scoring cost per architecture. The architectures are ``benchmarks/proxy_rank.py``'s (same
seed), so ``--standalone`` may name its results file and reuse its full-fidelity trainings
(the preset's final stage); without it, each is trained here at the preset's proxy fidelity.

**Race**: per space and seed, a from-scratch search (every birth trained at the preset's
proxy, two worker processes) and a one-shot search (supernet training included), both
stopped after ``--race-seconds`` of wall time, then both through the preset's final stage
(retrained from scratch, test split). Prints the final test accuracy of each, mean +- std,
and the births each searched.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.proxy_rank import PRESETS, genomes, spearman


def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-b (ties in either ranking corrected)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    i, j = np.triu_indices(len(a), 1)
    da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    pairs_a, pairs_b = np.count_nonzero(da), np.count_nonzero(db)
    if not pairs_a or not pairs_b:
        return float("nan")
    return float((da * db).sum() / np.sqrt(pairs_a * pairs_b))


def standalone(space: str, archs: list[dict], path: str | None) -> tuple[np.ndarray, str]:
    """Stand-alone accuracy of every architecture: from a proxy_rank results file, else trained."""
    if path:
        full = {}
        for line in Path(path).read_text().splitlines():
            r = json.loads(line)
            if r["space"] == space and r["fidelity"] == "full":
                full[r["arch"]] = r["accuracy"]
        if all(i in full for i in range(len(archs))):
            return np.array([full[i] for i in range(len(archs))]), "the preset's final stage (from " + path + ")"
    from concurrent.futures import ProcessPoolExecutor

    from benchmarks.proxy_rank import _train
    from zeroevo.runs.presets import load_preset

    fid = load_preset(PRESETS[space]).fidelity
    budget = {"epochs": fid.epochs, "train_subset": fid.train_subset, "valid_subset": fid.valid_subset}
    with ProcessPoolExecutor(2) as pool:
        accs = [a for a, _ in pool.map(_train, [(space, g, 1000 + i, budget) for i, g in enumerate(archs)])]
    return np.array(accs), f"the preset proxy ({fid.epochs} ep, {fid.train_subset:,} img)"


def rank(space: str, n: int, seed: int, path: str | None, budget: tuple[int, int] | None = None) -> None:
    """Train one supernet (``budget`` = (images, epochs); None = the preset's), score ``n``
    architectures, print the rank agreement."""
    from zeroevo.core.protocols import EvalRequest
    from zeroevo.neural.evaluator import NeuralEvaluator
    from zeroevo.neural.oneshot import OneShot
    from zeroevo.runs.presets import load_preset

    cfg = load_preset(PRESETS[space])
    if budget:
        cfg = cfg.replace("evaluation", supernet_subset=budget[0], supernet_epochs=budget[1])
    one_shot = OneShot(NeuralEvaluator(cfg.evaluator_config()), seed, cfg.evaluation)
    cpu = time.process_time()
    losses: list[float] = []
    one_shot.train(None, lambda p: losses.append(p.loss))
    train_cpu = time.process_time() - cpu
    archs = genomes(space, n, seed)
    cpu = time.process_time()
    scores = np.array([one_shot.evaluate(EvalRequest(space, g, 0)).fitness for g in archs])
    score_cpu = (time.process_time() - cpu) / n
    truth, source = standalone(space, archs, path)
    print(f"| {space} | {cfg.evaluation.supernet_epochs} ep on {len(one_shot.split.y_train):,} img, loss "
          f"{losses[0]:.2f} -> {losses[-1]:.2f}, {train_cpu:.0f} CPU-s | {kendall_tau(scores, truth):.2f} | "
          f"{spearman(scores, truth):.2f} | {np.mean(scores):.3f} ({scores.min():.3f}-{scores.max():.3f}) | "
          f"{np.mean(truth):.3f} | {score_cpu:.2f} | {source} |", flush=True)


def race(space: str, seed: int, seconds: float, strategy: str, out: Path) -> dict:
    """One search stopped after ``seconds`` of wall time, then the preset's final stage."""
    from zeroevo.runs.lifecycle import resume_run, start_run
    from zeroevo.runs.presets import load_preset

    cfg = load_preset(PRESETS[space]).replace("run", seed=seed, max_births=100_000, max_seconds=seconds)
    cfg = cfg.replace("evaluation", strategy=strategy).replace("dispatch", backend="process", workers=2, lag=8)
    t0 = time.time()
    result = start_run(cfg, out)[0].run()
    # A run stopped by its time limit leaves the final stage to a resume; this one adds no births.
    resume_run(out, max_births=result.births, max_seconds=0.0).run()
    final = json.loads((out / "final.json").read_text())
    won = final["candidates"][final["winner"]]
    return {"births": result.births, "test": won["test_accuracy"], "params": won["params"],
            "wall": time.time() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spaces", nargs="+", default=["layers", "nasnet"])
    ap.add_argument("--archs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1, help="architectures and supernet seed (proxy_rank's)")
    ap.add_argument("--standalone", help="a proxy_rank.py --results file to take stand-alone accuracies from")
    ap.add_argument("--race-seconds", type=float, default=600)
    ap.add_argument("--race-seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--skip", nargs="*", default=[], choices=["rank", "race"])
    ap.add_argument("--supernets", nargs="*", default=[], metavar="IMAGESxEPOCHS",
                    help="rank: supernet budgets to compare, e.g. 2048x10 8192x30 (default: the preset's)")
    args = ap.parse_args()
    budgets = [tuple(int(v) for v in b.lower().split("x")) for b in args.supernets] or [None]
    if "rank" not in args.skip:
        print(f"One-shot scores of {args.archs} random architectures (seed {args.seed}) against stand-alone accuracy")
        print("| space | supernet | Kendall tau | Spearman rho | one-shot score mean (range) | stand-alone mean | "
              "CPU-s per score | stand-alone = |")
        print("|---|---|---|---|---|---|---|---|")
        for space in args.spaces:
            for budget in budgets:
                rank(space, args.archs, args.seed, args.standalone, budget)
    if "race" not in args.skip:
        tmp = Path(tempfile.mkdtemp(prefix="zeroevo-oneshot-"))
        print(f"\nThe same wall budget ({args.race_seconds:.0f} s of search, 2 cores), then the preset's final stage")
        print("| space | search | final test accuracy (mean +- std) | births searched (median) | seeds |")
        print("|---|---|---|---|---|")
        for space in args.spaces:
            for strategy in ("train", "one_shot"):
                runs = [race(space, s, args.race_seconds, strategy, tmp / f"{space}-{strategy}-{s}")
                        for s in args.race_seeds]
                acc = [r["test"] for r in runs]
                print(f"| {space} | {'from scratch' if strategy == 'train' else 'one-shot'} | "
                      f"{statistics.fmean(acc):.4f} +- {statistics.pstdev(acc):.4f} | "
                      f"{int(statistics.median(r['births'] for r in runs)):,} | {args.race_seeds} |", flush=True)


if __name__ == "__main__":
    main()
