"""How well does a cheap proxy rank architectures? Spearman's rho and top-k overlap against full fidelity.

    PYTHONPATH=. python benchmarks/proxy_rank.py [--archs 30] [--spaces layers nasnet] [--jobs 2] [--results r.jsonl]
        [--proxies NAME ...] [--retest]

For each search space (with its Fashion-MNIST preset's options), draws ``--archs`` random
architectures (seeded), trains every one at full fidelity and at each proxy fidelity below,
and prints per proxy: Spearman's rank correlation with full fidelity, the overlap of the top
5 (how many of the full-fidelity top 5 the proxy also puts in its top 5), and the CPU-seconds
of training one candidate (median) with the ratio to full fidelity. *Full fidelity* is the
preset's final stage (what a run's winner is retrained with, measured on 5,000 held-out
training images). No time limit applies. Trainings run ``--jobs`` at a time, one thread
each; CPU time is each worker's process time around one training (data loading excluded),
so other load on the machine does not inflate it. Every training is appended to
``--results`` as it finishes, and a rerun skips what is there (a long run survives a stop).

The row ``full, 2nd seed`` (name it in ``--proxies``) retrains every architecture at full
fidelity with another training seed: its rho says how well full fidelity agrees with itself.
Against one full-fidelity training per architecture, a proxy as noisy as that cannot do
better, and even a noiseless one reaches only about the square root of it (for a
correlation r between two noisy measurements of one truth, each correlates sqrt(r) with it).

``--retest`` asks how much of a proxy's ranking is training noise, without full fidelity: it
trains every architecture at each chosen proxy four times, twice with a seed of its own
(1000 + i, then 3000 + i: how a search seeds its births) and twice with one seed shared by
all (1000, then 3000: common random numbers, one batch order and one random stream for the
initial weights of every architecture), and prints Spearman's rho between the two trainings
of each kind. A proxy whose ranking repeats under another seed measures the architecture,
not the draw.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

PROXIES = {
    "layers": {
        "1 ep, 1k img": {"epochs": 1, "train_subset": 1024, "valid_subset": 1024},
        "2 ep, 2k img": {"epochs": 2, "train_subset": 2048, "valid_subset": 1024},
        "1 ep, 4k img": {"epochs": 1, "train_subset": 4096, "valid_subset": 1024},
        "2 ep, 4k img, width 0.5": {"epochs": 2, "train_subset": 4096, "valid_subset": 1024, "width": 0.5},
        "3 ep, 4k img": {"epochs": 3, "train_subset": 4096, "valid_subset": 1024},
    },
    "nasnet": {  # batch sizes named: the preset's proxy trains at 16, its final stage at 64
        "1 ep, 1k img, batch 64": {"epochs": 1, "train_subset": 1024, "valid_subset": 512, "batch_size": 64},
        "2 ep, 1k img, batch 64": {"epochs": 2, "train_subset": 1024, "valid_subset": 512, "batch_size": 64},
        "1 ep, 2k img, batch 64": {"epochs": 1, "train_subset": 2048, "valid_subset": 1024, "batch_size": 64},
        "2 ep, 4k img, batch 64": {"epochs": 2, "train_subset": 4096, "valid_subset": 1024, "batch_size": 64},
        "1 ep, 1k img, batch 16": {"epochs": 1, "train_subset": 1024, "valid_subset": 512, "batch_size": 16},
        "1 ep, 1k img, batch 16, 2k val": {"epochs": 1, "train_subset": 1024, "valid_subset": 2048,
                                           "batch_size": 16},
        "2 ep, 2k img, batch 32, 2k val": {"epochs": 2, "train_subset": 2048, "valid_subset": 2048,
                                           "batch_size": 32},
    },
}
PRESETS = {"layers": "fashion-layers", "nasnet": "fashion-nasnet"}
RESEED = "full, 2nd seed"  # full fidelity, another training seed: how well it agrees with itself
# --retest's four trainings of a proxy: (name suffix, training seed of architecture i); "" is the plain proxy
RETESTS = {"": lambda i: 1000 + i, ", 2nd seed": lambda i: 3000 + i,
           ", common seed": lambda i: 1000, ", common 2nd seed": lambda i: 3000}


def full_fidelity(space: str) -> dict:
    """The preset's final stage as a training budget."""
    from zeroevo.runs.presets import load_preset

    return load_preset(PRESETS[space]).final.budget()


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
    result = evaluator.evaluate(EvalRequest(space, genome, seed, budget={**budget, "max_seconds": None}))
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


def print_retest(spaces: list[str], chosen: Callable[[str], dict],
                 column: Callable[[str, str], tuple[np.ndarray, float]]) -> None:
    """``--retest``'s table: each proxy's agreement with itself, seeded per architecture and in common."""
    print("| space | proxy | rho, a seed per architecture | top-5 overlap | rho, one seed for all | top-5 overlap "
          "| mean accuracy | CPU-s per candidate |")
    print("|---|---|---|---|---|---|---|---|")
    for space in spaces:
        for name in chosen(space):
            (each, cost), (each2, _) = column(space, name), column(space, name + ", 2nd seed")
            (common, _), (common2, _) = column(space, name + ", common seed"), column(space, name + ", common 2nd seed")
            print(f"| {space} | {name} | {spearman(each, each2):.2f} | {top_overlap(each, each2)}/5 | "
                  f"{spearman(common, common2):.2f} | {top_overlap(common, common2)}/5 | "
                  f"{np.mean([each, each2, common, common2]):.3f} | {cost:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", type=int, default=30)
    ap.add_argument("--spaces", nargs="+", default=["layers", "nasnet"])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--results", default="proxy_rank.jsonl", help="one line per training; reruns skip these")
    ap.add_argument("--proxies", nargs="*", metavar="NAME",
                    help="train and print only these proxies (names as in the table; default all, none = full only)")
    ap.add_argument("--retest", action="store_true",
                    help="train each proxy twice with a seed per architecture and twice with one seed for all, "
                         "print how each agrees with itself (no full-fidelity trainings)")
    args = ap.parse_args()

    def chosen(space: str) -> dict:
        named = {**PROXIES[space], RESEED: full_fidelity(space)} if RESEED in (args.proxies or ()) else PROXIES[space]
        return {n: b for n, b in named.items() if args.proxies is None or n in args.proxies}

    for space in args.spaces:
        unknown = set(args.proxies or ()) - set(PROXIES[space]) - {RESEED}
        if unknown:
            ap.error(f"unknown proxy {sorted(unknown)[0]!r} for {space}; choose from "
                     f"{', '.join(map(repr, [*PROXIES[space], RESEED]))}")
    path = Path(args.results)
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            r = json.loads(line)
            done[(r["space"], r["fidelity"], r["arch"])] = (r["accuracy"], r["cpu_seconds"])
    t0 = time.time()
    jobs = {}
    for space in args.spaces:
        if args.retest:
            seeding = {name + tag: (budget, seed)
                       for name, budget in chosen(space).items() for tag, seed in RETESTS.items()}
        else:
            # a proxy's seeds are RETESTS[""]'s, so --retest reuses its plain trainings from --results
            seeding = {name: (budget, (lambda i: 2000 + i) if name == RESEED else RETESTS[""])
                       for name, budget in {"full": full_fidelity(space), **chosen(space)}.items()}
        for i, g in enumerate(genomes(space, args.archs, args.seed)):
            for name, (budget, seed) in seeding.items():
                if (space, name, i) not in done:
                    jobs[(space, name, i)] = (space, g, seed(i), budget)
    with ProcessPoolExecutor(args.jobs) as pool, path.open("a") as out:
        futures = {pool.submit(_train, job): key for key, job in jobs.items()}
        for fut in as_completed(futures):
            (space, name, i), (acc, cpu) = futures[fut], fut.result()
            done[(space, name, i)] = (acc, cpu)
            out.write(json.dumps({"space": space, "fidelity": name, "arch": i, "accuracy": acc,
                                  "cpu_seconds": cpu}) + "\n")
            out.flush()
    full = "" if args.retest else "; full fidelity = the preset's final stage"
    print(f"{args.archs} random architectures per space (seed {args.seed}), Fashion-MNIST{full}; {len(jobs)} "
          f"trainings in {time.time() - t0:.0f} s wall on {args.jobs} processes")

    def column(space: str, name: str) -> tuple[np.ndarray, float]:
        rows = [done[(space, name, i)] for i in range(args.archs)]
        return np.array([a for a, _ in rows]), statistics.median(c for _, c in rows)

    if args.retest:
        print_retest(args.spaces, chosen, column)
        return
    print("| space | fidelity | Spearman rho | top-5 overlap | CPU-s per candidate | cost vs full |")
    print("|---|---|---|---|---|---|")
    for space in args.spaces:
        full_acc, full_cost = column(space, "full")
        f = full_fidelity(space)
        print(f"| {space} | full: {f['epochs']} ep, {f['train_subset']:,} img | 1.00 | 5/5 | {full_cost:.1f} | 1 |")
        for name in chosen(space):
            acc, cost = column(space, name)
            print(f"| {space} | {name} | {spearman(acc, full_acc):.2f} | {top_overlap(acc, full_acc)}/5 | "
                  f"{cost:.1f} | 1/{full_cost / cost:.0f} |")
        print(f"| {space} | (full-fidelity accuracy: median {np.median(full_acc):.3f}, "
              f"range {full_acc.min():.3f}-{full_acc.max():.3f}) | | | | |")
        if RESEED in chosen(space):  # the same proxies against the other training, and against both
            again, _ = column(space, RESEED)
            mean = (full_acc + again) / 2
            print(f"\n{space}: against the 2nd seed's training / against the mean of both trainings "
                  f"(retraining moves an architecture by {np.mean(np.abs(full_acc - again)):.4f} on average; "
                  f"the mean of both spans {mean.min():.3f}-{mean.max():.3f})")
            print("| space | fidelity | Spearman rho, 2nd seed | top-5 overlap | Spearman rho, mean of both | top-5 overlap |")
            print("|---|---|---|---|---|---|")
            for name in chosen(space):
                if name != RESEED:
                    acc, _ = column(space, name)
                    print(f"| {space} | {name} | {spearman(acc, again):.2f} | {top_overlap(acc, again)}/5 | "
                          f"{spearman(acc, mean):.2f} | {top_overlap(acc, mean)}/5 |")


if __name__ == "__main__":
    main()
