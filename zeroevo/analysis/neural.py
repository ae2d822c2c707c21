"""Analysis of recorded neural runs: summary, best architecture, lineage and export.

Neural rows carry their genome (JSON) and metrics, so nothing needs replaying: the lineage
is the parent chain read from the log. Export retrains the best genome with the seed and
fidelity it was evaluated with (the trainer is deterministic, so these are the weights the
search measured) and writes a standalone torch module with its weights.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from zeroevo.analysis.run import Run, integrity, named_counts
from zeroevo.core.errors import RunDirError
from zeroevo.core.protocols import STATUS_NAMES, STATUS_SCREENED, EvalRequest
from zeroevo.core.registry import make_space
from zeroevo.core.rng import train_seed
from zeroevo.neural.final import winner


def _rows(run: Run) -> dict[int, dict[str, Any]]:
    cols = {k: run.log.column(k).to_pylist() for k in ("birth", "parent", "mutation", "status", "fitness",
                                                      "genome", "metrics")}
    return {b: {k: cols[k][i] for k in cols} for i, b in enumerate(cols["birth"])}


def trained_fitness(run: Run) -> np.ndarray:
    """Every birth's fitness, -inf for screened ones (their fitness column holds a prediction)."""
    return np.where(run.column("status") == STATUS_SCREENED, -np.inf, run.column("fitness"))


def best_birth(run: Run) -> int:
    """The trained birth with the highest fitness (first of equals)."""
    return int(run.column("birth")[int(np.argmax(trained_fitness(run)))])


def summary(run: Run) -> dict[str, Any]:
    """Births, best validation accuracy, failures, speed, status and mutation counts."""
    births = run.log.num_rows
    wall = float(np.max(run.column("time"))) if births else 0.0
    b = best_birth(run)
    return {"run_dir": str(run.path), "kind": "neural", "preset": run.config.preset, "seed": run.config.run.seed,
            "space": run.config.space.name, "births": births, "best_birth": b,
            "best_fitness": float(np.max(trained_fitness(run))), "wall_seconds": wall,
            "births_per_minute": 60 * births / wall if wall > 0 else None,
            "integrity": integrity(run),
            "status_counts": named_counts(run.column("status"), list(STATUS_NAMES)),
            "mutation_counts": named_counts(run.column("mutation"), run.mutation_names)}


def best(run: Run, birth: int | None = None) -> dict[str, Any]:
    """The final stage's winner (or, before a final stage, the best search fitness; or a given
    birth): architecture rendered, search metrics, and ``final`` (validation and test accuracy,
    parameters, FLOPs of the retrainings; None without a final stage)."""
    rows = _rows(run)
    won = winner(run.run_dir.final() or {}) if birth is None else None
    b = (won["birth"] if won else best_birth(run)) if birth is None else birth
    if b not in rows:
        raise RunDirError(f"birth {b} is not in {run.path}'s log")
    space = make_space(run.config.space.name, dict(run.config.space.options))
    genome = json.loads(rows[b]["genome"])
    final = None if won is None else {k: won[k] for k in ("val_accuracy", "test_accuracy", "params", "flops")}
    if final is not None:
        final["runs"] = len(won["runs"])
    return {"birth": b, "fitness": rows[b]["fitness"], "metrics": json.loads(rows[b]["metrics"]),
            "genome": genome, "text": space.render(space.decode(genome)), "final": final}


def lineage(run: Run, birth: int | None = None) -> list[dict[str, Any]]:
    """The ancestry of the best (or a given) birth, oldest first, from the logged genomes."""
    rows = _rows(run)
    b = best_birth(run) if birth is None else birth
    chain = []
    while b >= 0:
        if b not in rows:
            raise RunDirError(f"birth {b} is not in {run.path}'s log")
        chain.append(rows[b])
        b = rows[b]["parent"]
    chain.reverse()
    names = run.mutation_names
    space = make_space(run.config.space.name, dict(run.config.space.options))
    out, prev = [], None
    for r in chain:
        out.append({"birth": r["birth"], "mutation": names[r["mutation"]], "fitness": r["fitness"],
                    "change": None if prev is None else r["fitness"] - prev,
                    "status": STATUS_NAMES[r["status"]],
                    "text": space.render(space.decode(json.loads(r["genome"])))})
        prev = r["fitness"]
    return out


def export(run: Run, out_dir: str | Path, birth: int | None = None) -> Path:
    """Retrain the best (or a given) birth as it was evaluated and export it; returns network.py."""
    from zeroevo.neural.evaluator import NeuralEvaluator
    from zeroevo.neural.export import export_network

    chosen = best(run, birth)
    conf = run.config.evaluator_config()
    evaluator = NeuralEvaluator(conf)
    request = EvalRequest(run.config.space.name, chosen["genome"], train_seed(run.config.run.seed, chosen["birth"]))
    outcome = evaluator.train(request)
    if outcome.state is None:
        raise RunDirError(f"birth {chosen['birth']} does not train ({outcome.reason}); nothing to export")
    if abs(outcome.fitness - chosen["fitness"]) > 1e-9:
        raise RunDirError(f"retraining birth {chosen['birth']} gave accuracy {outcome.fitness:.6f}, the log says "
                          f"{chosen['fitness']:.6f}: this machine or library version trains differently")
    data = evaluator.data
    return export_network(evaluator.space, evaluator.space.decode(chosen["genome"]), outcome.state,
                          tuple(int(s) for s in data.x_train.shape[1:]), len(data.classes), out_dir,
                          width=evaluator.fidelity.width)
