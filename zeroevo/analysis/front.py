"""The Pareto front of a recorded run: accuracy against cost, over every birth of the log.

Program runs read the cost from the log's ``cost`` column (the ``[objectives]`` cost they
were run with); neural runs from each birth's metrics: parameters, FLOPs or measured
latency (batch 1 or the typical batch), whichever ``cost`` names (default: the run's
objective cost, else parameters). The front is the births no other birth beats on both
(more accurate and cheaper); :func:`plot_front` draws every birth with the front as a
staircase. Any front member exports with ``zeroevo analyze export RUN --birth N``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from zeroevo.analysis.run import Run
from zeroevo.core.errors import RunDirError
from zeroevo.core.objectives import hypervolume, pareto_front
from zeroevo.core.protocols import STATUS_FAILED, STATUS_SCREENED

NEURAL_COSTS = ("params", "flops", "latency", "latency_batch", "table_latency")


def _neural_cost(metrics: dict, cost: str) -> float | None:
    key = {"latency": "latency_ms", "latency_batch": "latency_batch_ms", "table_latency": "table_latency_ms"}.get(
        cost, cost)
    value = metrics.get(key)
    return float(value) if isinstance(value, (int, float)) else None


def points(run: Run, cost: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """``(births, fitness, cost, cost name)`` of every birth with a cost (failed and screened ones left out)."""
    births, fitness, status = run.column("birth"), run.column("fitness"), run.column("status")
    ok = (status != STATUS_FAILED) & (status != STATUS_SCREENED)  # screened: a prediction, not a measurement
    objectives = getattr(run.config, "objectives", None)
    if run.spec is not None:  # a program run: the cost column
        if cost not in (None, "", objectives.effective_cost("size") if objectives else None):
            raise RunDirError(f"{run.path} recorded the cost {objectives.effective_cost('size') or 'none'!r}; "
                              f"a program run's front uses what it recorded")
        costs = run.column("cost") if "cost" in run.log.column_names else np.zeros(len(births))
        name = objectives.effective_cost("size") if objectives else ""
        if not name:
            raise RunDirError(f"{run.path} recorded no costs: run it with [objectives] cost = 'size' or 'executed'")
        return births[ok], fitness[ok], costs[ok], name
    name = cost or (objectives.effective_cost("params") if objectives else "") or "params"
    if name not in NEURAL_COSTS:
        raise RunDirError(f"unknown cost {name!r}; allowed: {', '.join(NEURAL_COSTS)}")
    metrics = [json.loads(m) for m in run.log.column("metrics").to_pylist()]
    values = [_neural_cost(m, name) for m in metrics]
    keep = ok & np.array([v is not None for v in values])
    if not keep.any():
        raise RunDirError(f"{run.path}'s births recorded no {name!r}")
    return births[keep], fitness[keep], np.array([values[i] for i in np.flatnonzero(keep)], float), name


def front(run: Run, cost: str | None = None) -> dict[str, Any]:
    """The front of ``run``: its members (cheapest first), every birth's point, the cost name
    and the hypervolume against a reference point just past the most expensive birth."""
    births, fitness, costs, name = points(run, cost)
    idx = pareto_front(fitness, costs)
    ref = float(costs.max()) * 1.1 if len(costs) else 1.0
    return {"cost": name, "members": [{"birth": int(births[i]), "fitness": float(fitness[i]), "cost": float(costs[i])}
                                      for i in idx],
            "births": len(births), "hypervolume": hypervolume(fitness, costs, ref), "reference_cost": ref,
            "all": {"birth": births, "fitness": fitness, "cost": costs}}


def plot_front(data: dict, out: str | Path, title: str = "") -> Path:
    """Write every birth's (cost, fitness) and the front as a staircase to a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    pts = data["all"]
    ax.scatter(pts["cost"], pts["fitness"], s=6, alpha=0.35, color="tab:gray", label=f"births ({data['births']:,})")
    fc = [m["cost"] for m in data["members"]]
    ff = [m["fitness"] for m in data["members"]]
    ax.step(fc, ff, where="post", color="tab:red", linewidth=1.5)
    ax.scatter(fc, ff, s=30, color="tab:red", zorder=3, label=f"Pareto front ({len(fc)})")
    if pts["cost"].min() > 0 and pts["cost"].max() > 50 * pts["cost"].min():
        ax.set_xscale("log")
    ax.set_xlabel(data["cost"] + " (lower is better)")
    ax.set_ylabel("fitness (higher is better)")
    ax.set_title(title or f"accuracy against {data['cost']}; hypervolume {data['hypervolume']:.4g}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
