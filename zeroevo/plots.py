"""Progress plots of a recorded run (matplotlib, Agg backend: no display needed).

One PNG, three panels: the population's best and mean fitness against births and against
wall time (the population is the restart's last P births, so both are rolling figures
over the birth log, reset at each restart), and the FEC hit rate over births.
"""
from __future__ import annotations

from pathlib import Path

from zeroevo.analysis import Run, fec_curve, population_curves


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
