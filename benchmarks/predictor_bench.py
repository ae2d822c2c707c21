"""Does a surrogate save trainings, and does Pareto mode find better accuracy/size trade-offs?

    PYTHONPATH=. python benchmarks/predictor_bench.py [--spaces layers nasnet] [--seeds 1 2 3 4 5]
        [--trainings 60] [--model ridge|gbm] [--candidates K] [--min-train N] [--refit-every N]
        [--target FRACTION ...] [--skip predictor tau pareto] [--pareto-arms ARM ...]
        [--png fronts.png] [--json out.json] [--runs DIR]

For each space (presets fashion-layers and fashion-nasnet, Fashion-MNIST at the preset's
proxy fidelity, no final stage) and seed, every search gets the same budget of
``--trainings`` *trained* births (screened births cost no training and are not counted;
``run.max_births`` counts them, so a predictor run is given P + (N - P) * candidates births,
which trains exactly N). Two worker processes, ``dispatch.lag`` births in flight.

1. ``predictor``: regularized evolution with and without ``[predictor]`` (``--model``,
   ``--candidates``, default the config's). Prints per arm the median number of trainings until the best
   validation accuracy so far reaches the target (runs that never reach it count as not
   reached; how many reached is shown), the mean +- std best validation accuracy after N
   trainings, and the ratio of the medians (no predictor / predictor; > 1: the predictor
   saves trainings). The target is ``--target`` or, by default, per space, the median over
   the no-predictor runs of their best accuracy after N trainings.
2. ``tau``: the surrogate itself (zeroevo.neural.predictor: its hashed genome features, its
   ridge and gbm fits, its Kendall tau-b) fitted on the first 70% of each no-predictor run's
   trained births (failed ones included, as the search feeds them to it) and ranked on the
   last 30%; prints the mean tau per model and space, next to parameter count as a trivial
   predictor. Beside it, across runs: each run's trainings ranked whole by a fit on every
   other run's (all arms run), which asks how well it ranks a spread of architectures rather
   than the near-copies late in one run. Last, the ceiling any predictor has: genomes the runs
   trained more than once (each time with its own training seed) measure the proxy's training
   noise, hence how much of the accuracy's variance the architecture explains, and the tau of
   a perfect predictor of the mean accuracy (``noise_ceiling``).
3. ``pareto``: ``[objectives] mode = "pareto"`` (cost params), alone and with the
   predictor arm's ``[predictor]`` (which then trains the child predicted to extend the
   front most), against single-objective evolution (the no-predictor runs of 1.) and random
   search, same budget and seeds. The
   hypervolume of each run's front of (validation accuracy, parameters) over its trained,
   non-failed births, reference point (accuracy 0, params = the preset's limits.max_params,
   else 1.1 x the most seen), is printed as mean +- std twice: with params divided by the
   reference (linear), and with log10(params) / log10(reference) (log scale, 1 parameter =
   0). ``--png`` draws the three methods' fronts of the first seed (accuracy against params,
   log x). ``--pareto-arms`` runs a subset of the four (e.g. ``pareto_predictor random`` with
   ``--skip predictor tau``: no single-objective runs then).

``--json`` writes every run's numbers. Runs go to a temporary folder (``--keep-runs`` keeps
it; ``--runs DIR`` keeps them in DIR and resumes those already there, so a stopped benchmark
goes on and a finished one is analysed again at no cost). Small: ``--trainings 24 --seeds 1
2 --spaces layers`` (at most the population, 12 for layers and 10 for nasnet, every method
trains the same initial population and nothing else).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PRESETS = {"layers": "fashion-layers", "nasnet": "fashion-nasnet"}
SECTIONS = ("predictor", "tau", "pareto")
PARETO_ARMS = ("pareto", "pareto_predictor", "evolution", "random")  # section 3's methods
ARMS = {"evolution": "regularized evolution", "predictor": "evolution + predictor",
        "pareto": "Pareto (accuracy, params)", "pareto_predictor": "Pareto + predictor",
        "random": "random search"}


def make_config(space: str, arm: str, seed: int, args: argparse.Namespace):
    """The preset's config for one arm, with a budget of ``args.trainings`` trained births."""
    from zeroevo.runs.presets import load_preset

    cfg = load_preset(PRESETS[space])
    if args.smoke:  # code paths only: tiny trainings, a population the budget gets past
        cfg = cfg.replace("fidelity", epochs=1, train_subset=256, valid_subset=256)
        cfg = cfg.replace("evolution", population=4, tournament=2)
    if arm in ("predictor", "pareto_predictor"):
        extra = {"min_train": 2, "refit_every": 2} if args.smoke else {}
        extra.update({k: v for k, v in (("min_train", args.min_train), ("refit_every", args.refit_every),
                                        ("candidates", args.candidates)) if v})
        cfg = cfg.replace("predictor", model=args.model, **extra)
    if arm in ("pareto", "pareto_predictor"):
        cfg = cfg.replace("objectives", mode="pareto", cost="params")
    elif arm == "random":
        cfg = cfg.replace("evolution", algorithm="random")
    births = cfg.predictor.births_for(args.trainings, cfg.evolution.population)
    cfg = cfg.replace("run", seed=seed, max_births=births).replace("final", top_k=0)
    return cfg.replace("dispatch", backend="process", workers=args.workers, lag=args.lag)


def search(cfg, out: Path) -> dict:
    """One search; returns where it is and how long it took. A run already in ``out`` (from
    ``--runs``) is resumed: a finished one returns at once, a stopped one finishes as it would have."""
    from zeroevo.runs.lifecycle import resume_run, start_run

    t0 = time.time()
    resumed = (out / "meta.json").exists()
    result = (resume_run(out, cfg) if resumed else start_run(cfg, out)[0]).run()
    return {"dir": str(out), "wall": time.time() - t0, "births": result.births, "resumed": resumed}


def trained_rows(run_dir: str) -> dict:
    """The trained (not screened) births of a run's log, in birth order."""
    from zeroevo.core.protocols import STATUS_FAILED, STATUS_SCREENED
    from zeroevo.runs.birthlog import read_log

    log = read_log(run_dir)
    cols = {k: log.column(k).to_pylist() for k in ("birth", "status", "fitness", "genome", "metrics")}
    order = np.argsort(cols["birth"], kind="stable")
    rows = [{k: cols[k][i] for k in cols} for i in order]
    trained = [r for r in rows if r["status"] != STATUS_SCREENED]
    return {"births": len(rows), "screened": len(rows) - len(trained),
            "fitness": [float(r["fitness"]) for r in trained],
            "failed": [r["status"] == STATUS_FAILED for r in trained],
            "genome": [json.loads(r["genome"]) for r in trained], "birth": [r["birth"] for r in trained],
            "params": [json.loads(r["metrics"]).get("params") for r in trained]}


def trainings_to(fitness: list[float], target: float) -> int | None:
    """1-based index of the first training whose accuracy reaches ``target`` (None: never)."""
    return next((i + 1 for i, f in enumerate(fitness) if f >= target), None)


def fmt_median(values: list[int | None]) -> tuple[float, str]:
    """Median with not-reached as infinity, and its text."""
    m = statistics.median([math.inf if v is None else v for v in values])
    return m, ("not reached" if math.isinf(m) else f"{m:g}")


def clean(x):
    """``x`` with NaN and infinities as None (JSON has neither)."""
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def mean_std(x: list[float]) -> str:
    x = [v for v in x if not math.isnan(v)]
    if not x:
        return "n/a"
    return f"{statistics.fmean(x):.4f} +- {statistics.pstdev(x):.4f}"


# ---- 1. trainings to target --------------------------------------------------------------------
def section_predictor(runs: dict, args: argparse.Namespace, logs: dict) -> dict:
    N, out = args.trainings, {}
    pc = make_config(args.spaces[0], "predictor", args.seeds[0], args).predictor
    print(f"\n## 1. Trainings to a target validation accuracy ({N} trainings per search, predictor "
          f"{pc.model} with {pc.candidates} candidates per step, screening from {pc.min_train} trainings, refit "
          f"every {pc.refit_every}; seeds {args.seeds})\n")
    print("| space | method | target | reached | median trainings to target | best accuracy after N "
          "(mean +- std) | best of the initial population (mean) | mean accuracy of the trainings after it | "
          "births logged (mean) | wall s (mean) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for i, space in enumerate(args.spaces):
        P = make_config(space, "evolution", args.seeds[0], args).evolution.population  # shared by both arms
        base_best = [max(logs[space]["evolution"][s]["fitness"][:N], default=0.0) for s in args.seeds]
        if args.target:
            target = args.target[i] if len(args.target) == len(args.spaces) else args.target[0]
            how = "given"
        else:
            target, how = statistics.median(base_best), "median best of the no-predictor runs"
        medians, res = {}, {"target": target, "target_from": how}
        for arm in ("evolution", "predictor"):
            per = [logs[space][arm][s] for s in args.seeds]
            hits = [trainings_to(p["fitness"][:N], target) for p in per]
            best = [max(p["fitness"][:N], default=0.0) for p in per]
            medians[arm], text = fmt_median(hits)
            walls = [runs[space][arm][s]["wall"] for s in args.seeds]
            initial = [max(p["fitness"][:P], default=0.0) for p in per]
            later = [f for p in per for f in p["fitness"][P:N]]
            print(f"| {space} | {ARMS[arm]} | {target:.4f} ({how}) | {sum(h is not None for h in hits)}/{len(hits)} "
                  f"| {text} | {mean_std(best)} | {statistics.fmean(initial):.4f} | "
                  f"{statistics.fmean(later) if later else float('nan'):.4f} | "
                  f"{statistics.fmean(p['births'] for p in per):.0f} | {statistics.fmean(walls):.0f} |")
            res[arm] = {"trainings_to_target": hits, "best_after_n": best, "median": text, "best_initial": initial,
                        "trainings_done": [len(p["fitness"]) for p in per], "births": [p["births"] for p in per]}
        a, b = medians["evolution"], medians["predictor"]
        ratio = a / b if math.isfinite(a) and math.isfinite(b) and b > 0 else float("nan")
        res["ratio"] = None if math.isnan(ratio) else ratio
        print(f"| {space} | ratio no predictor / predictor of median trainings | | | "
              f"{'n/a' if math.isnan(ratio) else f'{ratio:.2f}'} | | | | | |")
        out[space] = res
    return out


# ---- 2. Kendall tau of the surrogate -----------------------------------------------------------
def params_tau(params: list, fitness: np.ndarray) -> float:
    """Kendall tau-b of parameter count (the trivial predictor) against fitness, over the births
    with a count (failed ones have none); NaN with fewer than two."""
    from zeroevo.neural.predictor import kendall_tau

    counts = np.array([p if p is not None else np.nan for p in params], float)
    ok = np.isfinite(counts)
    return kendall_tau(counts[ok], fitness[ok]) if ok.sum() >= 2 else float("nan")


def noise_ceiling(logs: dict) -> dict:
    """How much of the accuracy's spread is the architecture's, and the best tau a predictor can have.

    Evolution retrains some genomes (clones, mutations that change nothing); each retraining draws
    its own training seed. The pooled variance between retrainings of one genome is the training
    noise; ``reliability`` is the share of the variance over all trainings that is left for the
    architecture. Even a predictor of the true mean accuracy then correlates with one measured
    accuracy at only sqrt(reliability), so its Kendall tau is at most (2 / pi) asin(that) (exact for
    normal noise). ``logs``: one space's logs by arm and seed. Arms of one seed share their
    initial population, trained with the same seeds: each (seed, birth) counts once."""
    by_genome: dict[str, list[float]] = {}
    every, seen = [], set()
    for by_seed in logs.values():
        for seed, log in by_seed.items():
            for b, g, f, failed in zip(log["birth"], log["genome"], log["fitness"], log["failed"]):
                if not failed and (seed, b) not in seen:
                    seen.add((seed, b))
                    by_genome.setdefault(json.dumps(g, sort_keys=True), []).append(f)
                    every.append(f)
    total = float(np.var(every, ddof=1)) if len(every) > 1 else 0.0

    def ceiling(groups: list[list[float]], suffix: str) -> dict:
        dof = sum(len(v) - 1 for v in groups if len(v) > 1)
        if not dof or not total:
            return {f"{k}{suffix}": None for k in ("noise_sd", "reliability", "tau_ceiling")}
        noise = sum(float(np.var(v)) * len(v) for v in groups if len(v) > 1) / dof
        reliability = max(0.0, 1.0 - noise / total)
        return {f"noise_sd{suffix}": math.sqrt(noise), f"reliability{suffix}": reliability,
                f"tau_ceiling{suffix}": 2.0 / math.pi * math.asin(math.sqrt(reliability))}

    repeats = [v for v in by_genome.values() if len(v) > 1]
    # A genome trained again is mostly a parent cloned because its first accuracy was high, partly by
    # luck: with that training, the noise is overstated; without it (from genomes trained 3+ times),
    # understated, as those are the parents chosen most. The truth lies between the two.
    return {"genomes_repeated": len(repeats), "trainings_repeated": sum(map(len, repeats)),
            "total_sd": math.sqrt(total), **ceiling(repeats, ""), **ceiling([v[1:] for v in repeats], "_later")}


def section_tau(args: argparse.Namespace, logs: dict) -> dict:
    from zeroevo.neural.predictor import Predictor, kendall_tau

    out, checks = {}, []
    try:
        from scipy.stats import kendalltau as scipy_tau
    except ImportError:
        scipy_tau = None
    for space in args.spaces:
        out[space] = {"ridge": [], "gbm": [], "params": [], "train": [], "test": []}
        for seed in args.seeds:
            log = logs[space]["evolution"][seed]
            n = len(log["fitness"])
            k = max(2, int(0.7 * n))
            if n - k < 2:
                continue
            y = np.asarray(log["fitness"])
            out[space]["train"].append(k)
            out[space]["test"].append(n - k)
            for model in ("ridge", "gbm"):
                pred = Predictor(model, seed).fit(log["genome"][:k], list(y[:k])).predict(log["genome"][k:])
                tau = kendall_tau(pred, y[k:])
                out[space][model].append(tau)
                if scipy_tau is not None and not math.isnan(tau):
                    checks.append(abs(tau - float(scipy_tau(pred, y[k:]).statistic)))
            out[space]["params"].append(params_tau(log["params"][k:], y[k:]))
        # Across runs: fit on every other run's trainings (every arm), rank one run's trainings whole.
        # Late births of one run are near-copies of a few parents; this asks how well it ranks a spread.
        every = [log for by_seed in logs[space].values() for log in by_seed.values()]
        for key in ("ridge_across", "gbm_across", "params_across"):
            out[space][key] = []
        for i, log in enumerate(every):
            y = np.asarray(log["fitness"])
            rest = [other for j, other in enumerate(every) if j != i]
            for model in ("ridge", "gbm"):
                fitted = Predictor(model, 0).fit([g for r in rest for g in r["genome"]],
                                                 [f for r in rest for f in r["fitness"]])
                out[space][f"{model}_across"].append(kendall_tau(fitted.predict(log["genome"]), y))
            out[space]["params_across"].append(params_tau(log["params"], y))
        out[space]["noise"] = noise_ceiling(logs[space])
    print(f"\n## 2. The surrogate's Kendall tau-b on held-out births (fit on the first 70% of each "
          f"no-predictor run's {args.trainings} trainings, ranked on the last 30%)\n")
    print("| space | predictor | mean tau-b | runs (valid tau) | held-out births per run | mean tau-b, one run "
          "ranked whole, fit on the others (runs) |")
    print("|---|---|---|---|---|---|")

    def mean_tau(taus: list[float]) -> tuple[str, int]:
        taus = [t for t in taus if not math.isnan(t)]
        return (f"{statistics.fmean(taus):+.3f}" if taus else "n/a"), len(taus)

    for space in args.spaces:
        r = out[space]
        for model, label in (("ridge", "ridge (zeroevo.neural.predictor)"), ("gbm", "gbm (zeroevo.neural.predictor)"),
                             ("params", "parameter count (trivial)")):
            (tau, n), (across, n_across) = mean_tau(r[model]), mean_tau(r[f"{model}_across"])
            print(f"| {space} | {label} | {tau} | {n}/{len(r[model])} | "
                  f"{statistics.median(r['test']) if r['test'] else 0:g} | {across} ({n_across}) |")
        c = r["noise"]
        if c["tau_ceiling"] is not None:
            later = "" if c["tau_ceiling_later"] is None else f" to {c['tau_ceiling_later']:+.3f}"
            print(f"| {space} | ceiling: the true mean accuracy, under the measured training noise | | | | "
                  f"{c['tau_ceiling']:+.3f}{later} |")
    for space in args.spaces:
        c = out[space]["noise"]
        if c["tau_ceiling"] is None:
            print(f"\n{space}: no genome was trained twice, so the training noise is not measured")
            continue
        print(f"\n{space} training noise: {c['genomes_repeated']} genomes trained more than once "
              f"({c['trainings_repeated']} trainings); accuracy sd between retrainings of one genome "
              f"{c['noise_sd']:.4f}, over all trainings {c['total_sd']:.4f}: the architecture explains "
              f"{c['reliability']:.0%} of the variance (ceiling: (2/pi) asin(sqrt of that))")
        if c["tau_ceiling_later"] is not None:
            print(f"Without each genome's first training, which selection favoured: sd {c['noise_sd_later']:.4f}, "
                  f"{c['reliability_later']:.0%}")
    note = (f"checked against scipy.stats.kendalltau: max |difference| {max(checks):.1e}" if checks
            else "scipy not importable or nothing to compare: not cross-checked")
    print(f"\ntau-b: zeroevo.neural.predictor.kendall_tau (numpy); {note}")
    return {**out, "scipy_check": max(checks) if checks else None}


# ---- 3. Pareto mode ----------------------------------------------------------------------------
def run_points(run_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """(validation accuracy, params) of a run's trained, non-failed births (zeroevo.analysis.front)."""
    from zeroevo.analysis.front import points
    from zeroevo.analysis.run import open_run

    _, fit, cost, _ = points(open_run(run_dir), "params")
    return fit, cost


def section_pareto(runs: dict, args: argparse.Namespace) -> dict:
    from zeroevo.core.objectives import hypervolume, pareto_front
    from zeroevo.runs.presets import load_preset

    out = {}
    methods = args.pareto_arms
    for space in args.spaces:
        pts = {m: {s: run_points(runs[space][m][s]["dir"]) for s in args.seeds} for m in methods}
        ref = load_preset(PRESETS[space]).limits.max_params
        ref_from = "limits.max_params"
        if not ref:
            ref = 1.1 * max(float(c.max()) for by in pts.values() for _, c in by.values() if len(c))
            ref_from = "1.1 x the most params seen"
        res = {"reference_params": ref, "reference_from": ref_from}
        for m in methods:
            rows = []
            for s in args.seeds:
                fit, cost = pts[m][s]
                cost = np.maximum(cost, 1.0)
                idx = pareto_front(fit, cost)
                rows.append({"seed": s, "hv_linear": hypervolume(fit, cost / ref, 1.0),
                             "hv_log": hypervolume(fit, np.log10(cost) / math.log10(ref), 1.0),
                             "front": [[float(cost[i]), float(fit[i])] for i in idx],
                             "points": [[float(c), float(f)] for c, f in zip(cost, fit)],
                             "best": float(fit.max()) if len(fit) else 0.0})
            res[m] = rows
        out[space] = res
    print(f"\n## 3. Pareto mode: hypervolume of (validation accuracy, params) fronts ({args.trainings} "
          f"trainings per search; seeds {args.seeds})\n")
    print("| space | method | HV, params / ref (mean +- std) | HV, log10 params / log10 ref (mean +- std) | "
          "front size (mean) | best accuracy (mean) |")
    print("|---|---|---|---|---|---|")
    for space in args.spaces:
        for m in methods:
            rows = out[space][m]
            print(f"| {space} | {ARMS[m] if m != 'evolution' else 'single objective (accuracy)'} | "
                  f"{mean_std([r['hv_linear'] for r in rows])} | {mean_std([r['hv_log'] for r in rows])} | "
                  f"{statistics.fmean(len(r['front']) for r in rows):.1f} | "
                  f"{statistics.fmean(r['best'] for r in rows):.4f} |")
    print("\nreference point: accuracy 0 and " + "; ".join(
        f"{space} {out[space]['reference_params']:,.0f} params ({out[space]['reference_from']})"
        for space in args.spaces))
    return out


def plot(pareto: dict, seed: int, path: str) -> None:
    """Every method's front (staircase) and births of one seed: accuracy against params, log x."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(pareto), figsize=(6.5 * len(pareto), 4.5), squeeze=False)
    # (colour, marker, front marker size, line style): equal fronts (same initial population) stay visible
    styles = {"pareto": ("tab:red", "o", 70, "-"), "pareto_predictor": ("tab:green", "D", 50, "-"),
              "evolution": ("tab:blue", "s", 36, "--"),
              "random": ("tab:orange", "^", 16, ":")}
    for ax, (space, res) in zip(axes[0], pareto.items()):
        for m, (color, marker, size, line) in styles.items():
            if m not in res:
                continue
            row = next(r for r in res[m] if r["seed"] == seed)
            if row["points"]:
                c, f = zip(*row["points"])
                ax.scatter(c, f, s=8, alpha=0.3, color=color, marker=marker)
            if row["front"]:
                c, f = zip(*row["front"])
                ax.step(c, f, where="post", color=color, linewidth=1.5, linestyle=line)
                ax.scatter(c, f, s=size, color=color, marker=marker, edgecolor="black", linewidth=0.5, zorder=3,
                           label=f"{ARMS[m] if m != 'evolution' else 'single objective'} (HV log {row['hv_log']:.3f})")
        ax.set_xscale("log")
        ax.set_xlabel("parameters (lower is better)")
        ax.set_ylabel("validation accuracy (search proxy)")
        ax.set_title(f"Fashion-MNIST, {space} space, seed {seed}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spaces", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--trainings", type=int, default=60, help="trained births per search")
    ap.add_argument("--model", choices=("ridge", "gbm"), default="ridge", help="the predictor arm's surrogate")
    ap.add_argument("--candidates", type=int, help="children per step of the predictor arm (default: the config's)")
    ap.add_argument("--min-train", type=int, help="predictor.min_train of the predictor arm (default: the config's)")
    ap.add_argument("--refit-every", type=int, help="predictor.refit_every of the predictor arm (default: the config's)")
    ap.add_argument("--target", type=float, nargs="+",
                    help="target validation accuracy (one, or one per space; default: per space, the median "
                         "best accuracy of the no-predictor runs)")
    ap.add_argument("--skip", nargs="*", default=[], choices=SECTIONS)
    ap.add_argument("--pareto-arms", nargs="+", default=list(PARETO_ARMS), choices=PARETO_ARMS,
                    help="the methods section 3 runs and compares")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--lag", type=int, default=8, help="dispatch.lag (births, screened ones included)")
    ap.add_argument("--png", help="fronts of the first seed (section 3)")
    ap.add_argument("--json", help="write every result here")
    ap.add_argument("--keep-runs", action="store_true", help="keep the run directories (printed)")
    ap.add_argument("--runs", help="keep the run directories here; runs already there are resumed, not redone "
                                   "(a stopped benchmark goes on, a finished one is analysed again)")
    ap.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)  # tiny trainings: code paths only
    args = ap.parse_args()
    if args.trainings < 2:
        ap.error("--trainings must be >= 2")
    if args.target and len(args.target) not in (1, len(args.spaces)):
        ap.error("--target takes one value or one per space")
    todo = [s for s in SECTIONS if s not in args.skip]
    if not todo:
        ap.error("every section skipped")
    if os.environ.get("ZEROEVO_MAX_BIRTHS"):
        print(f"warning: ZEROEVO_MAX_BIRTHS={os.environ['ZEROEVO_MAX_BIRTHS']} caps every run's births (screened "
              "ones included) and shrinks its trainings: these numbers are not the benchmark's", file=sys.stderr)
    for space in args.spaces:
        P = make_config(space, "evolution", 1, args).evolution.population
        if args.trainings <= P:
            print(f"warning: {args.trainings} trainings <= {space}'s population ({P}): every search ends within its "
                  "initial population, so the methods cannot differ", file=sys.stderr)
    # Sections 1 and 2 read the single-objective runs; section 3 runs its chosen arms.
    arms = (["evolution"] if {"predictor", "tau"} & set(todo) else []) + (["predictor"] if "predictor" in todo else [])
    if "pareto" in todo:
        arms += [arm for arm in args.pareto_arms if arm not in arms]
    tmp = Path(args.runs) if args.runs else Path(tempfile.mkdtemp(prefix="zeroevo-predictor-"))
    tmp.mkdir(parents=True, exist_ok=True)
    runs: dict = {}
    logs: dict = {}
    t_start = time.time()
    try:
        for space in args.spaces:
            for seed in args.seeds:
                for arm in arms:
                    r = search(make_config(space, arm, seed, args), tmp / f"{space}-{arm}-{seed}")
                    runs.setdefault(space, {}).setdefault(arm, {})[seed] = r
                    log = trained_rows(r["dir"])
                    logs.setdefault(space, {}).setdefault(arm, {})[seed] = log
                    n = len(log["fitness"])
                    if n != args.trainings:
                        print(f"warning: {space} {arm} seed {seed} trained {n} births, not {args.trainings}",
                              file=sys.stderr)
                    print(f"{space} {arm} seed {seed}: best {max(log['fitness'], default=0.0):.4f} after {n} "
                          f"trainings ({log['births']} births, {log['screened']} screened, "
                          f"{sum(log['failed'])} failed; {r['wall']:.0f} s{', resumed' if r['resumed'] else ''})", flush=True)
        hours = (time.time() - t_start) / 3600
        print(f"\nFashion-MNIST at the presets' proxy fidelity{' (--smoke: 1 epoch on 256 images)' if args.smoke else ''}"
              f", {args.trainings} trainings per search, no final stage; spaces {args.spaces}; seeds {args.seeds}; "
              f"{args.workers} workers, lag {args.lag}; {hours:.2f} h wall")
        results: dict = {"args": vars(args), "runs": runs}
        if "predictor" in todo:
            results["predictor"] = section_predictor(runs, args, logs)
        if "tau" in todo:
            results["tau"] = section_tau(args, logs)
        if "pareto" in todo:
            results["pareto"] = section_pareto(runs, args)
            if args.png:
                seed = 1 if 1 in args.seeds else args.seeds[0]
                plot(results["pareto"], seed, args.png)
                print(f"wrote {args.png}")
        if args.json:
            Path(args.json).write_text(json.dumps(clean(results), indent=1))
            print(f"wrote {args.json}")
    finally:
        if args.keep_runs or args.runs:
            print(f"runs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
