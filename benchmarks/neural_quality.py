"""Does architecture search find networks worth having? Evolution vs random search vs hand design.

    PYTHONPATH=. python benchmarks/neural_quality.py [--seeds 1 2 3 4 5] [--births 60] [--png q.png]
        [--arms regularized predictor random] [--set space.options.conv_strides='[1]']

For each space (``layers``, ``layers-staged``: the fashion-layers-staged preset, ``nasnet``)
on Fashion-MNIST, runs regularized evolution (``regularized``), evolution screened by the
preset's ridge predictor (``predictor``: each step proposes ``predictor.candidates``
children and trains the one predicted best; screened children cost no training) and random
search on the same budget (``--births`` trainings at the preset's proxy fidelity, then the
preset's final stage: its top distinct architectures retrained at its epochs and training
images, and the winner, chosen on held-out training images, measured on the test split),
over ``--seeds`` seeds, two worker processes. It prints the final-stage test accuracy of the
winners (mean +- std), a two-sided Mann-Whitney U p-value of each evolution arm against
random search, the winners' parameters and FLOPs, and two hand-designed networks of the size
of the first arm's winners (a plain CNN and a small ResNet-style network) trained with the
very same final-stage protocol and seeds (``--widths-up N``: also N widths wider, so hand
design gets more parameters than the winners). ``--reuse JSON`` takes the searches from an
earlier ``--json`` instead of running them, so only the hand-designed networks train.
``--png`` draws test accuracy against parameters: every final-stage candidate, the winners,
and the hand-designed networks. ``--set
SECTION.FIELD=JSON`` overrides a config field of the presets in every arm, nested tables
included (e.g. ``space.options.conv_strides='[1]'``: convs keep resolution and only pooling
downsamples; ``objectives.mode='"limit"'`` with ``objectives.cost='"flops"'`` and
``objectives.limit=15e6``: no candidate above 15 MFLOPs).
"""
from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from zeroevo.core.config import overridden
from zeroevo.core.errors import ConfigError

PRESETS = {"layers": "fashion-layers", "layers-staged": "fashion-layers-staged", "nasnet": "fashion-nasnet"}
ARMS = {"regularized": "regularized evolution", "predictor": "evolution + ridge predictor",
        "random": "random search"}


def mann_whitney_p(a: list[float], b: list[float]) -> float:
    """Two-sided exact Mann-Whitney U p-value (all splits enumerated; fine for small samples)."""
    pooled = list(a) + list(b)

    def u(x: list[float], y: list[float]) -> float:
        return sum(1.0 if xi > yi else 0.5 if xi == yi else 0.0 for xi in x for yi in y)

    observed = abs(u(a, b) - len(a) * len(b) / 2)
    count = total = 0
    for idx in itertools.combinations(range(len(pooled)), len(a)):
        x = [pooled[i] for i in idx]
        y = [pooled[i] for i in range(len(pooled)) if i not in idx]
        total += 1
        count += abs(u(x, y) - len(a) * len(b) / 2) >= observed - 1e-12
    return count / total


def hand_designed(kind: str, width: int):
    """A hand-designed network for 1x28x28 images and 10 classes (torch module), built from the
    layer space's own modules: its conv-BN-ReLU block and its residual block."""
    from torch import nn

    from zeroevo.primitives.neural.layers import InputNorm, ResidualBlock, make_node

    def conv(cin: int, cout: int, stride: int = 1) -> nn.Module:  # only the input's channels matter
        return make_node({"op": "conv", "kernel": 3, "filters": cout, "stride": stride, "block": True}, (cin, 0, 0))

    w = width
    if kind == "plain CNN":
        layers = [InputNorm(1), conv(1, w), conv(w, w), nn.MaxPool2d(2), conv(w, 2 * w), conv(2 * w, 2 * w),
                  nn.MaxPool2d(2), conv(2 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * w, 10)]
    else:  # a small ResNet: stem, two stages of residual blocks, global pooling
        layers = [InputNorm(1), conv(1, w), ResidualBlock(w, 3), conv(w, 2 * w, stride=2), ResidualBlock(2 * w, 3),
                  conv(2 * w, 4 * w, stride=2), ResidualBlock(4 * w, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                  nn.Linear(4 * w, 10)]
    return nn.Sequential(*layers)


def _width_for(kind: str, params: int) -> int:
    from zeroevo.neural.trainer import count_params

    return min(range(4, 129), key=lambda w: abs(count_params(hand_designed(kind, w)) - params))


def train_baseline(job: tuple[str, int, int, dict]) -> dict:
    """Final-stage protocol for one hand-designed network and seed (runs in a worker)."""
    from zeroevo.data.images import load_image_dataset
    from zeroevo.neural.fidelity import Fidelity
    from zeroevo.neural.trainer import train_model

    kind, width, seed, fidelity = job
    data = _DATA.setdefault("fashion", load_image_dataset("fashion_mnist"))
    outcome = train_model(hand_designed(kind, width), data, Fidelity.from_dict(fidelity), seed, test=True)
    return {"kind": kind, "width": width, "seed": seed, "test_accuracy": outcome.metrics.get("test_accuracy", 0.0),
            "val_accuracy": outcome.fitness, "params": outcome.metrics["params"], "flops": outcome.metrics["flops"]}


_DATA: dict = {}


def search(space: str, arm: str, seed: int, trainings: int, out: Path, top_k: int = 0,
           sets: list[str] | None = None) -> dict:
    """One search of ``trainings`` trained births with its final stage (``top_k``
    architectures, 0 = the preset's; ``sets``: ``SECTION.FIELD=JSON`` overrides of the preset's fields); returns its
    final.json and wall seconds."""
    from zeroevo.runs.lifecycle import start_run
    from zeroevo.runs.presets import load_preset

    cfg = overridden(load_preset(PRESETS[space]), sets or [])
    # Only the predictor arm screens children, whatever the preset says (fashion-layers-staged has one)
    cfg = cfg.replace("predictor", model="ridge" if arm == "predictor" else "")
    cfg = cfg.replace("run", seed=seed, max_births=cfg.predictor.births_for(trainings, cfg.evolution.population))
    if top_k:
        cfg = cfg.replace("final", top_k=top_k)
    algorithm = "random" if arm == "random" else "regularized"
    cfg = cfg.replace("evolution", algorithm=algorithm).replace("dispatch", backend="process", workers=2, lag=8)
    t0 = time.time()
    result = start_run(cfg, out)[0].run()
    final = json.loads((out / "final.json").read_text())
    return {"final": final, "wall": time.time() - t0, "test": result.test_accuracy}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spaces", nargs="+", default=["layers", "nasnet"], choices=list(PRESETS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--births", type=int, default=60, help="trainings per search (screened births not counted)")
    ap.add_argument("--arms", nargs="+", default=["regularized", "random"], choices=list(ARMS),
                    help="search methods; hand-designed networks are sized like the first arm's winners")
    ap.add_argument("--baseline-seeds", type=int, default=3)
    ap.add_argument("--widths-up", type=int, default=0,
                    help="also train each hand-designed network this many widths wider than the matched one")
    ap.add_argument("--reuse", metavar="JSON", help="searches from an earlier --json run instead of new ones")
    ap.add_argument("--final-top", type=int, default=0,
                    help="architectures the final stage retrains (0 = the preset's top_k)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=JSON",
                    help="override a config field of the presets, e.g. space.options.conv_strides='[1]'")
    ap.add_argument("--png")
    ap.add_argument("--json", help="write every result here")
    args = ap.parse_args()
    from concurrent.futures import ProcessPoolExecutor

    from zeroevo.runs.presets import load_preset

    for space in args.spaces:  # a bad --set fails here, in one line, before any training
        try:
            overridden(load_preset(PRESETS[space]), args.set)
        except ConfigError as e:
            ap.error(str(e))

    results: dict = {}
    if args.reuse:  # the searches, with the budget and seeds they ran at
        try:
            reused = json.loads(Path(args.reuse).read_text())
        except (OSError, ValueError) as e:
            ap.error(f"--reuse {args.reuse}: not a readable JSON file ({e})")
        held = reused.get("results") if isinstance(reused, dict) else None
        missing = [f"{space} {arm}" for space in args.spaces for arm in args.arms
                   if not isinstance(held, dict) or not isinstance(held.get(space), dict) or arm not in held[space]]
        if missing:
            ap.error(f"--reuse {args.reuse}: no searches for {', '.join(missing)} there (write one with --json)")
        results = {space: {arm: held[space][arm] for arm in args.arms} for space in args.spaces}
        args.births, args.seeds = reused.get("births", args.births), reused.get("seeds", args.seeds)
    t_start = time.time()
    if not args.reuse:
        tmp = Path(tempfile.mkdtemp(prefix="zeroevo-quality-"))
        for space, algorithm, seed in itertools.product(args.spaces, args.arms, args.seeds):
            r = search(space, algorithm, seed, args.births, tmp / f"{space}-{algorithm}-{seed}", args.final_top,
                       args.set)
            results.setdefault(space, {}).setdefault(algorithm, []).append(r)
            won = r["final"]["candidates"][r["final"]["winner"]]
            print(f"{space} {algorithm} seed {seed}: test {won['test_accuracy']:.4f} params {won['params']:,} "
                  f"({r['wall']:.0f} s)", flush=True)
    baselines: dict = {}
    for space in args.spaces:
        final = load_preset(PRESETS[space]).final
        fid = {**load_preset(PRESETS[space]).fidelity.__dict__, **final.budget()}
        winners = [r["final"]["candidates"][r["final"]["winner"]] for r in results[space][args.arms[0]]]
        params = int(statistics.median(w["params"] for w in winners))
        jobs = [(kind, _width_for(kind, params) + up, 7000 + s, fid) for kind in ("plain CNN", "small ResNet")
                for up in range(args.widths_up + 1) for s in range(args.baseline_seeds)]
        # spawn, not fork: the searches above leave torch's thread pool running in this
        # process, and a forked child inherits its locks held (it hung at 0% CPU once)
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
            baselines[space] = list(pool.map(train_baseline, jobs))
    hours = (time.time() - t_start) / 3600
    stages = "; ".join(f"{space}: top {args.final_top or f.top_k} retrained {f.epochs} epochs on "
                       f"{f'{f.train_subset:,}' if f.train_subset else 'all'} images"
                       for space in args.spaces for f in [load_preset(PRESETS[space]).final])
    print(f"\nFashion-MNIST, {args.births} trainings per search at the preset proxy, then the preset's final stage "
          f"({stages}); seeds {args.seeds}; overrides {' '.join(args.set) or 'none'}; "
          f"{hours:.2f} h wall on 2 cores{f' (searches reused from {args.reuse})' if args.reuse else ''}")
    print("| space | method | test accuracy (mean +- std) | winner parameters (median) | winner MFLOPs (median) |")
    print("|---|---|---|---|---|")
    for space in args.spaces:
        for algorithm in args.arms:
            label = ARMS[algorithm]
            winners = [r["final"]["candidates"][r["final"]["winner"]] for r in results[space][algorithm]]
            acc = [w["test_accuracy"] for w in winners]
            print(f"| {space} | {label} | {statistics.fmean(acc):.4f} +- {statistics.pstdev(acc):.4f} | "
                  f"{int(statistics.median(w['params'] for w in winners)):,} | "
                  f"{statistics.median(w['flops'] for w in winners) / 1e6:.1f} |")
        for (kind, width), rows in by_width(baselines[space]).items():
            acc = [b["test_accuracy"] for b in rows]
            print(f"| {space} | {kind} (hand-designed, width {width}) | {statistics.fmean(acc):.4f} +- "
                  f"{statistics.pstdev(acc):.4f} | {rows[0]['params']:,} | {rows[0]['flops'] / 1e6:.1f} |")
        accuracy = {arm: [r["final"]["candidates"][r["final"]["winner"]]["test_accuracy"] for r in results[space][arm]]
                    for arm in args.arms}
        for arm in args.arms:
            if arm != "random" and "random" in accuracy:
                p = mann_whitney_p(accuracy[arm], accuracy["random"])
                print(f"| {space} | {ARMS[arm]} vs random search: Mann-Whitney U p = {p:.3f} | | | |")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "baselines": baselines, "births": args.births,
                                               "seeds": args.seeds}, default=float))
    if args.png:
        plot(results, baselines, args.png)
        print(f"wrote {args.png}")


def by_width(baselines: list[dict]) -> dict[tuple[str, int], list[dict]]:
    """Hand-designed trainings grouped by (kind, width), in the order they were trained."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for b in baselines:
        groups.setdefault((b["kind"], b["width"]), []).append(b)
    return groups


def plot(results: dict, baselines: dict, path: str) -> None:
    """Test accuracy against parameters: final-stage candidates, winners, hand-designed nets."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4.5), squeeze=False)
    for ax, (space, by) in zip(axes[0], results.items()):
        colors = {"regularized": "tab:blue", "predictor": "tab:purple", "random": "tab:orange"}
        for algorithm, color in ((arm, colors[arm]) for arm in by):
            cands = [c for r in by[algorithm] for c in r["final"]["candidates"] if c.get("params")]
            wins = [r["final"]["candidates"][r["final"]["winner"]] for r in by[algorithm]]
            ax.scatter([c["params"] for c in cands], [c["test_accuracy"] for c in cands], s=14, alpha=0.45,
                       color=color, label=f"{algorithm} candidates")
            ax.scatter([w["params"] for w in wins], [w["test_accuracy"] for w in wins], s=70, color=color,
                       edgecolor="black", label=f"{algorithm} winners")
        for kind, marker in (("plain CNN", "*"), ("small ResNet", "P")):
            rows = [r for (k, _), r in sorted(by_width(baselines[space]).items()) if k == kind]
            ax.scatter([r[0]["params"] for r in rows], [np.mean([b["test_accuracy"] for b in r]) for r in rows],
                       marker=marker, s=220, color="tab:green", edgecolor="black", label=f"{kind} (hand-designed)")
        ax.set_xscale("log")
        ax.set_xlabel("parameters")
        ax.set_ylabel("test accuracy (final stage)")
        ax.set_title(f"Fashion-MNIST, {space} space")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
