"""Progress plots of a recorded run (matplotlib, Agg backend: no display needed).

One PNG, three panels: the population's best and mean fitness against births and against
wall time (the population is the restart's last P births, so both are rolling figures
over the birth log, reset at each restart), and the FEC hit rate over births.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from zeroevo.analysis.run import Run
from zeroevo.core.protocols import STATUS_SCREENED


def population_curves(run: Run, points: int = 2000) -> dict[int, dict[str, np.ndarray]]:
    """Per island: best and mean fitness of the population at up to ``points`` births.

    The population after a birth is the restart's last P births (each child replaces the
    oldest), so its best and mean are a rolling max / mean over the log, reset at restarts.
    """
    P = run.config.evolution.population
    out = {}
    island_col = run.column("island")
    trained = run.column("status") != STATUS_SCREENED  # screened children never joined the population
    for island in np.unique(island_col):
        rows = np.flatnonzero((island_col == island) & trained)
        birth = run.column("birth")[rows]
        fit = run.column("fitness")[rows]
        restart = run.column("restart")[rows]
        wall = run.column("time")[rows].astype(np.float64)
        n = len(rows)
        starts = np.flatnonzero(np.r_[True, restart[1:] != restart[:-1]])
        seg_start = starts[np.searchsorted(starts, np.arange(n), side="right") - 1]
        ends = np.r_[starts[1:] - 1, n - 1]
        cs = np.r_[0.0, np.cumsum(fit)]

        def at(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            lo = np.maximum(seg_start[sample], sample - P + 1)
            best_ = np.array([fit[a:b + 1].max() for a, b in zip(lo, sample)])
            return best_, (cs[sample + 1] - cs[lo]) / (sample + 1 - lo)

        sample = np.unique(np.r_[np.linspace(0, n - 1, min(points, n)).astype(np.int64), ends])
        best_, mean = at(sample)
        # The time column is stamped once per logged batch: against wall time, use the
        # population at the end of each batch.
        last = np.flatnonzero(np.r_[wall[1:] != wall[:-1], True])
        if len(last) > points:
            last = last[np.unique(np.linspace(0, len(last) - 1, points).astype(np.int64))]
        tbest, tmean = at(last)
        out[int(island)] = {"birth": birth[sample], "best": best_, "mean": mean,
                            "time": wall[last], "time_best": tbest, "time_mean": tmean,
                            "restart_births": birth[starts[1:]] if len(starts) > 1 else np.zeros(0, np.int64)}
    return out


def fec_curve(run: Run, bins: int = 200) -> dict[str, np.ndarray] | None:
    """FEC hit rate (share of per-task evaluations answered by the cache) in birth bins."""
    if not getattr(run.config.evaluation, "fec", False):
        return None
    order = np.argsort(run.column("birth"), kind="stable")  # islands log epoch by epoch
    hits = run.column("fec_hits").astype(np.float64)[order]
    birth = run.column("birth")[order]
    wall = run.column("time")[order].astype(np.float64)
    n = len(hits)
    edges = np.unique(np.linspace(0, n, min(bins, n) + 1).astype(np.int64))
    sums = np.add.reduceat(hits, edges[:-1])
    sizes = np.diff(edges)
    mid = birth[np.minimum((edges[:-1] + edges[1:]) // 2, n - 1)]
    return {"birth": mid, "rate": sums / (sizes * run.config.search_tasks.num_tasks),
            "time": wall[np.minimum(edges[1:] - 1, n - 1)]}



def plot_run(run: Run, out: str | Path, points: int = 2000) -> Path:
    """Write the progress figure of ``run`` to ``out`` (PNG); returns the path."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    curves = population_curves(run, points)
    fec = fec_curve(run)
    fig, axes = plt.subplots(3, 1, figsize=(9, 10), constrained_layout=True)
    ax_b, ax_t, ax_f = axes
    multi = len(curves) > 1
    for island, c in curves.items():
        tag = f" (island {island})" if multi else ""
        for ax, x, b, m in ((ax_b, c["birth"], c["best"], c["mean"]),
                            (ax_t, c["time"], c["time_best"], c["time_mean"])):
            ax.plot(x, b, lw=1.2, label=f"best{tag}")
            ax.plot(x, m, lw=1.0, alpha=0.8, label=f"mean{tag}")
        for b in c["restart_births"]:
            ax_b.axvline(b, color="grey", lw=0.6, ls=":")
    P = run.config.evolution.population
    title = f"{run.path.name}: seed {run.config.run.seed}, population {P}"
    ax_b.set_title(f"{title}\npopulation fitness (last {P} births of the restart; dotted: restarts)")
    ax_b.set_xlabel("births")
    ax_t.set_xlabel("wall seconds (population at the end of each logged batch)")
    for ax in (ax_b, ax_t):
        ax.set_ylabel("fitness")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    if fec is None:
        ax_f.text(0.5, 0.5, "FEC off in this run", ha="center", va="center", transform=ax_f.transAxes)
        ax_f.set_axis_off()
    else:
        ax_f.plot(fec["birth"], fec["rate"], lw=1.0, color="tab:green")
        ax_f.set_ylim(0, 1)
        ax_f.set_xlabel("births")
        ax_f.set_ylabel("FEC hit rate")
        ax_f.grid(alpha=0.3)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", dpi=100)
    plt.close(fig)
    return out
