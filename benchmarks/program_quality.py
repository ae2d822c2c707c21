"""Do evolved programs beat hand-written learners? Program search against logistic regression and a 2-layer net.

    PYTHONPATH=. python benchmarks/program_quality.py [--presets nonlinear binary-fashion ...] [--seeds 1 2 3]
        [--cpu-seconds 600] [--jobs 2] [--json results.json]

For each preset (default: nonlinear, binary-fashion, binary-fashion-basic,
binary-fashion-adapt-linear, binary-fashion-adapt-nn; a ``.toml`` config file, as
``zeroevo evolve --config`` reads it, stands for a variant side by side with its preset) and
seed, runs the preset's program
search (``start_run``, recorded in a temporary run directory, exactly as ``zeroevo evolve``)
with a per-run budget, ``--jobs`` runs at a time, one process each (a run is one thread: the
numba kernels are not parallel and BLAS is pinned to one thread here; the CPU/wall column
checks it). The config has no CPU-time limit: the budget is ``run.max_seconds``, wall-clock
seconds of search (kernel compilation is excluded, as the search excludes it; so are the final
measurement and the baselines, which run after the limit), so a run gets about that many
CPU-seconds when it has a core to itself; every run's own CPU-seconds of search are reported.
Kernels are compiled for all presets before the timed runs.

Prints a header (budget, seeds, ``os.cpu_count()``), a line per finished run, and a markdown
table, one row per preset: select and final fitness (mean +- std; accuracy on the binary
presets, ``1 - (2/pi) atan(rmse)`` on nonlinear), for nonlinear how many runs reached the
preset's ``run.sufficient_fitness`` on select, linear/logistic regression (LR) and the 2-layer
ReLU net (NN) trained by SGD on the same final tasks (the run's ``baselines.json``; each learner's learning
rate is the best of a grid on the run's first restart's select tasks), how many seeds beat
each on final, and the CPU-seconds until the run's best select fitness first exceeds LR's
select accuracy (LR's best over its grid, on those same select tasks). The search measures
select fitness only when a restart ends (and, after one has, for its candidate at the stop),
so the time is that of the select that first beat LR (reported within a chunk, ~1 s); "at
stop" marks a beat first seen at the stop. When no restart ends within the budget the search
reports no select fitness; this script then measures the search's result on the first
restart's select tasks itself, and says so. Also births per CPU-second, restarts finished and
CPU/wall per run. ``--json`` writes every run's result and the summaries.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

DEFAULT_PRESETS = ["nonlinear", "binary-fashion", "binary-fashion-basic", "binary-fashion-adapt-linear",
                   "binary-fashion-adapt-nn"]
_ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


class _Trace:
    """A progress callback that records when the run's best select fitness rises, in CPU-seconds
    of search (counted from ``base``, set once the kernels are loaded)."""

    def __init__(self) -> None:
        self.base: float | None = None
        self.points: list[dict] = []  # best select rises: cpu, wall, births, restart, best_select
        self.last = 0.0

    def __call__(self, p) -> None:  # p: a search.Progress or search.Compiling
        if not hasattr(p, "best_select") or self.base is None:
            return
        if p.best_select > self.last:
            self.last = p.best_select
            self.points.append({"cpu": time.process_time() - self.base, "wall": p.wall_seconds,
                                "births": p.births, "restart": p.restart, "best_select": p.best_select})


def one_run(preset: str, seed: int, seconds: float) -> dict:
    """One search of ``preset`` with ``run.max_seconds = seconds`` (runs in a worker process)."""
    from zeroevo.runs.lifecycle import start_run

    cfg = config(preset).replace("run", seed=seed, max_seconds=seconds)
    trace = _Trace()
    with tempfile.TemporaryDirectory(prefix="zeroevo-pq-") as tmp:  # birth logs get large: dropped after
        search, run_dir = start_run(cfg, Path(tmp) / "run", trace)
        search.runner.start(search.tasks_for(0, 0))
        search.started = True
        compile_cpu = search.warm(search.runner)  # ~0 after the warm-up phase: loads the kernels
        trace.base = time.process_time()
        t0 = time.time()
        result = search.run()
        total_wall = time.time() - t0
        best = run_dir.best()
    select_at_stop = None
    if result.select_fitness is None:
        # No restart ended, so the search measured no select fitness: measure its result (the
        # population's best by search fitness) on the first restart's select tasks, as the
        # search does for a candidate when it stops mid-restart after an earlier select.
        from zeroevo.programs.evaluator import full_fitness

        select_at_stop = full_fitness(search.config, search.spec, result.program, search.tasks_for(1, 0))
    out = result.to_json()
    out.pop("program")
    out.update(preset=preset, seed=seed, compile_seconds=compile_cpu, trace=trace.points,
               restarts_finished=len(best), select_at_stop=select_at_stop, total_wall_seconds=total_wall,
               sufficient_fitness=cfg.run.sufficient_fitness, program=result.text)
    out["first_beats_lr"] = first_beat(out)
    return out


def first_beat(run: dict) -> dict | None:
    """When the run's best select fitness first exceeded LR's select accuracy: ``{"cpu", "how"}``,
    ``how`` "restart" (a restart's end) or "stop" (the candidate measured when the limit hit);
    None without LR figures."""
    lr = (run.get("baselines") or {}).get("linear")
    if lr is None:
        return None
    for point in run["trace"]:
        if point["best_select"] > lr["select_fitness"]:
            return {"cpu": point["cpu"], "how": "restart"}
    if _select(run) > lr["select_fitness"]:
        return {"cpu": run["cpu_seconds"], "how": "stop"}  # measured when the limit stopped the run
    return {"cpu": None, "how": "never"}


def _select(run: dict) -> float:
    """The run's select fitness: the search's own, else the one measured at the stop here."""
    return run["select_fitness"] if run["select_fitness"] is not None else run["select_at_stop"]


def config(preset: str):  # noqa: ANN201 - a zeroevo config, imported lazily
    """The config of a preset name, or of a TOML file (ending ``.toml``) over its own ``preset`` line."""
    from zeroevo.runs import configs, presets

    if preset.endswith(".toml"):
        return configs.load(preset, preset_data=presets.preset_data)
    return presets.load_preset(preset)


def warm(presets: list[str], jobs: int) -> float:
    """Compile every preset's kernel variant (one process per preset); returns wall seconds."""
    from zeroevo.programs.warmup import warm_configs

    t0 = time.time()
    warm_configs([config(p).to_dict() for p in presets], jobs)
    return time.time() - t0


def _mean_std(values: list[float], n: int) -> str:
    if not values:
        return "n/a"
    text = f"{statistics.fmean(values):.4f} +- {statistics.pstdev(values):.4f}"
    return text if len(values) == n else f"{text} ({len(values)} of {n} runs)"


def _beat_cell(b: dict | None) -> str:
    if b is None:
        return "-"
    if b["cpu"] is None:
        return "not reached"
    return f"{b['cpu']:.0f}" + (" (at stop)" if b["how"] == "stop" else "")


def summarize(preset: str, runs: list[dict]) -> dict:
    """A preset's figures over its runs."""
    n = len(runs)
    select = [_select(r) for r in runs]
    final = [r["final_fitness"] for r in runs]
    out = {"preset": preset, "runs": n, "seeds": [r["seed"] for r in runs],
           "select": select, "select_at_stop_runs": sum(r["select_fitness"] is None for r in runs), "final": final,
           "births_per_cpu_second": sum(r["births"] for r in runs) / max(sum(r["cpu_seconds"] for r in runs), 1e-9),
           "restarts_finished": [r["restarts_finished"] for r in runs],
           "cpu_seconds": [r["cpu_seconds"] for r in runs],
           "cpu_per_wall": [r["cpu_seconds"] / r["wall_seconds"] if r["wall_seconds"] else 0.0 for r in runs]}
    if preset == "nonlinear":
        out["solved"] = sum(s >= r["sufficient_fitness"] for s, r in zip(select, runs))
    with_baselines = [r for r in runs if r.get("baselines")]
    if with_baselines:
        for name in ("linear", "neural_net"):
            out[name] = [r["baselines"][name]["final_fitness"] for r in with_baselines]
            out[f"{name}_select"] = [r["baselines"][name]["select_fitness"] for r in with_baselines]
            out[f"beats_{name}"] = sum(r["final_fitness"] > r["baselines"][name]["final_fitness"]
                                       for r in with_baselines)
        out["first_beats_lr"] = [r["first_beats_lr"] for r in runs]
    return out


def table(summaries: list[dict]) -> list[str]:
    """The markdown table, one row per preset."""
    header = ("| preset | select fitness | final fitness | solved (select >= run.sufficient_fitness) | LR final | NN final | "
              "seeds beating LR / NN on final | CPU-s to first beat LR on select, per seed | births per CPU-s | "
              "restarts finished, per seed | CPU / wall |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        n = s["runs"]
        solved = f"{s['solved']} of {n}" if "solved" in s else "-"
        if "linear" in s:
            lr, nn = _mean_std(s["linear"], n), _mean_std(s["neural_net"], n)
            beats = f"{s['beats_linear']} / {s['beats_neural_net']} of {len(s['linear'])}"
            first = ", ".join(_beat_cell(b) for b in s["first_beats_lr"])
        else:
            lr = nn = beats = first = "-"
        select = _mean_std(s["select"], n)
        if s["select_at_stop_runs"]:
            select += f" ({s['select_at_stop_runs']} of {n} measured at the stop: no restart ended)"
        lines.append(f"| {s['preset']} | {select} | {_mean_std(s['final'], n)} | {solved} | "
                     f"{lr} | {nn} | {beats} | {first} | {s['births_per_cpu_second']:,.0f} | "
                     f"{', '.join(str(k) for k in s['restarts_finished'])} | "
                     f"{statistics.fmean(s['cpu_per_wall']):.2f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=DEFAULT_PRESETS)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--cpu-seconds", type=float, default=600.0,
                    help="budget per run: run.max_seconds (wall-clock seconds of search; one core per run)")
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (one process, one core each)")
    ap.add_argument("--json", help="write every run's result and the summaries here")
    args = ap.parse_args()
    for name in _ONE_THREAD:  # before numpy / numba load, here and (inherited) in the workers
        os.environ.setdefault(name, "1")
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from zeroevo.core.errors import ZeroevoError
    from zeroevo.programs.config import Config

    for preset in args.presets:
        try:
            loaded = config(preset)
        except (ZeroevoError, OSError) as exc:
            ap.error(f"{preset}: {exc}")
        if not isinstance(loaded, Config):
            ap.error(f"{preset} is not a program-search preset")
    cores = os.cpu_count()
    print(f"program search quality: budget run.max_seconds = {args.cpu_seconds:g} s per run (a wall-clock limit "
          f"on search, compile excluded; the config has no CPU limit; {args.jobs} runs at a time, one process "
          f"each); seeds {args.seeds}; machine: os.cpu_count() = {cores}", flush=True)
    print(f"compiled kernels for {len(args.presets)} presets in {warm(args.presets, args.jobs):.0f} s", flush=True)
    t_start = time.time()
    runs: dict[str, list[dict]] = {p: [] for p in args.presets}
    # A fresh process per run: its own CPU clock and memory.
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn"),
                             max_tasks_per_child=1) as pool:
        futures = [pool.submit(one_run, p, seed, args.cpu_seconds) for p in args.presets for seed in args.seeds]
        for future in as_completed(futures):
            r = future.result()
            runs[r["preset"]].append(r)
            select = (f"{r['select_fitness']:.4f}" if r["select_fitness"] is not None
                      else f"{r['select_at_stop']:.4f} (at the stop: no restart ended)")
            base = ""
            if r.get("baselines"):
                base = (f"  LR {r['baselines']['linear']['final_fitness']:.4f}  "
                        f"NN {r['baselines']['neural_net']['final_fitness']:.4f}  "
                        f"first beat LR (select) {_beat_cell(r['first_beats_lr'])}")
            print(f"{r['preset']} seed {r['seed']}: select {select}  final {r['final_fitness']:.4f}{base}  "
                  f"births {r['births']:,}  restarts finished {r['restarts_finished']}  "
                  f"CPU {r['cpu_seconds']:.0f} s  wall {r['wall_seconds']:.0f} s "
                  f"(with final and baselines {r['total_wall_seconds']:.0f} s)", flush=True)
    summaries = [summarize(p, sorted(runs[p], key=lambda r: r["seed"])) for p in args.presets]
    cpu = [c for s in summaries for c in s["cpu_seconds"]]
    print(f"\n{len(cpu)} runs in {(time.time() - t_start) / 3600:.2f} h wall; search CPU-seconds per run "
          f"{min(cpu):.0f}-{max(cpu):.0f} (budget {args.cpu_seconds:g} s wall); select and final fitness: "
          "accuracy on binary presets, 1 - (2/pi) atan(rmse) on nonlinear; LR / NN: linear or logistic regression and a "
          "2-layer ReLU net by SGD on the same final tasks (learning rate chosen on select tasks); first beat LR: "
          "the run's best select fitness > LR's best select accuracy over its learning rates (select is "
          "measured when a restart ends, within a chunk of ~1 s, and at the stop)")
    print("\n".join(table(summaries)))
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "cpu_count": cores, "summaries": summaries,
                                               "runs": {p: sorted(rs, key=lambda r: r["seed"])
                                                        for p, rs in runs.items()}}, default=float, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
