"""What a recorded program run holds: summary, best program, mutation statistics, verified export.

Every function takes a run directory (see :mod:`zeroevo.rundir`) and returns plain,
JSON-able data; ``zeroevo analyze`` prints it. A foreign, corrupt or empty directory raises
:class:`~zeroevo.errors.RunDirError` with one line saying what is wrong.

Dead code and the simplified program are :mod:`zeroevo.dead_code`'s; :func:`export` writes
a program (simplified by default) as a standalone module, verified prediction by prediction.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from zeroevo.birthlog import read_log
from zeroevo.config import Config
from zeroevo.errors import RunDirError
from zeroevo.protocols import STATUS_NAMES
from zeroevo.rundir import RunDir
from zeroevo.runs import load_config
from zeroevo.spaces.program.genome import MUTATIONS, Program, ProgramSpec
from zeroevo.spaces.program.space import decode, encode, render
from zeroevo.tasks import TaskSet, generate


@dataclass
class Run:
    """A checked run directory with its config and birth log."""

    path: Path
    run_dir: RunDir
    meta: dict
    config: Config
    spec: ProgramSpec
    log: pa.Table

    def column(self, name: str) -> np.ndarray:
        """One log column as numpy."""
        return self.log.column(name).to_numpy()

    @property
    def mutation_names(self) -> list[str]:
        """Mutation names by code, from the log's schema metadata."""
        raw = (self.log.schema.metadata or {}).get(b"zeroevo.mutations")
        return json.loads(raw) if raw else list(MUTATIONS)


def open_run(path: str | Path) -> Run:
    """Check and load a program run directory (RunDirError if it is not one)."""
    run_dir = RunDir(Path(path))
    meta = run_dir.meta()
    config = load_config(run_dir)
    log = read_log(run_dir.path)
    if log is None or log.num_rows == 0:
        raise RunDirError(f"{run_dir.path} has no logged births yet")
    missing = [c for c in ("birth", "island", "restart", "parent", "mutation", "status", "fitness",
                           "steps", "fec_hits", "time") if c not in log.column_names]
    if missing:
        raise RunDirError(f"{run_dir.path}'s birth log lacks column(s) {', '.join(missing)}")
    spec = config.program_spec() if config.kind == "program" else None
    return Run(Path(path), run_dir, meta, config, spec, log)


def require_program(run: Run, what: str) -> None:
    """Refuse a program-only analysis on a neural run, in one line."""
    if run.spec is None:
        raise RunDirError(f"{run.path} holds a {run.config.kind} run; `analyze {what}` applies to program runs")


def _named_counts(codes: np.ndarray, names: list[str]) -> dict[str, int]:
    values, counts = np.unique(codes, return_counts=True)
    return {(names[v] if 0 <= v < len(names) else f"code {v}"): int(c) for v, c in zip(values, counts)}


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


# ---- summary ------------------------------------------------------------------------------

def summary(run: Run) -> dict[str, Any]:
    """Counts, best fitness, FEC hit rate and speed of a run."""
    cfg = run.config
    births = run.log.num_rows
    wall = float(np.max(run.column("time"))) if births else 0.0
    entries = run.run_dir.best()
    kept = _kept_entry(entries)
    if kept is None:  # no restart has finished: the newest snapshot's population best
        try:
            b = best(run)
            kept = {"search_fitness": b.search_fitness, "select_fitness": None, "birth": b.birth}
        except RunDirError:
            kept = None
    fec = cfg.evaluation.fec
    hits = int(np.sum(run.column("fec_hits"), dtype=np.int64))
    rate = hits / (births * cfg.search_tasks.num_tasks) if fec and births else None
    suff = cfg.run.sufficient_fitness
    return {
        "run_dir": str(run.path), "preset": cfg.preset, "seed": cfg.run.seed,
        "config_hash": run.meta.get("config_hash"), "created": run.meta.get("created"),
        "births": births, "last_birth": int(np.max(run.column("birth"))),
        "restarts": int(len(np.unique(run.column("restart")))), "restarts_selected": len(entries),
        "islands": int(len(np.unique(run.column("island")))),
        "best_search_fitness": kept["search_fitness"] if kept else None,
        "best_select_fitness": kept["select_fitness"] if kept else None,
        "best_birth": kept["birth"] if kept else None,
        "best_source": "best.json" if entries and _kept_entry(entries) else ("snapshot" if kept else None),
        "solved": bool(kept and kept["select_fitness"] is not None and suff > 0 and kept["select_fitness"] > suff),
        "fec": fec, "fec_hit_rate": rate, "fec_hits": hits,
        "train_steps": int(np.sum(run.column("steps"), dtype=np.int64)),
        "wall_seconds": wall, "births_per_second": births / wall if wall > 0 else None,
        "status_counts": _named_counts(run.column("status"), list(STATUS_NAMES)),
        "mutation_counts": _named_counts(run.column("mutation"), run.mutation_names),
    }


# ---- the best program ---------------------------------------------------------------------

def _kept_entry(entries: list[dict]) -> dict | None:
    kept = [e for e in entries if isinstance(e, dict) and e.get("kept")]
    return kept[-1] if kept else None


@dataclass(frozen=True)
class Best:
    """The run's kept program and where it came from."""

    program: Program
    birth: int
    restart: int
    search_fitness: float
    select_fitness: float | None
    source: str  # "best.json" or "snapshot" (no restart had finished)


def best(run: Run) -> Best:
    """The kept entry of ``best.json`` (or, before any restart ends, the newest snapshot's best)."""
    kept = _kept_entry(run.run_dir.best())
    if kept is not None:
        try:
            program = decode(run.spec, kept["genome"])
            return Best(program, int(kept["birth"]), int(kept["restart"]), float(kept["search_fitness"]),
                        float(kept["select_fitness"]), "best.json")
        except (KeyError, TypeError, ValueError) as exc:
            raise RunDirError(f"{run.path}/best.json has a malformed entry ({exc.__class__.__name__})") from None
    snap = run.run_dir.latest_snapshot()
    if snap is None:
        raise RunDirError(f"{run.path} has no selected program and no snapshot yet")
    from zeroevo.lineage import snapshot_populations

    arrays, meta = snap
    pops = snapshot_populations(arrays, getattr(getattr(run.config, "dispatch", None), "islands", 0) or 0)
    if not pops:
        raise RunDirError(f"{run.path}'s newest snapshot holds no population")
    # The first best slot of the first island holding the best, as the search selects.
    pop = max(pops, key=lambda p: float(np.max(p["fitness"])))
    slot = int(np.argmax(pop["fitness"]))
    program = Program(pop["ins"][slot], pop["data"][slot], pop["sizes"][slot])
    restart = int(meta.get("search", {}).get("restart", 0))
    return Best(program, int(pop["births"][slot]), restart, float(pop["fitness"][slot]), None, "snapshot")


def search_tasks(config: Config, restart: int) -> TaskSet:
    """The search tasks restart ``restart`` evolved on (as the search seeds them)."""
    from zeroevo.search import ProgramSearch

    return ProgramSearch(config).tasks_for(0, restart)


def final_tasks(config: Config) -> TaskSet:
    """The config's final tasks."""
    return generate(config.final_tasks)


def task_sets(run: Run, restart: int) -> list[tuple[str, TaskSet]]:
    """The run's final tasks and the search tasks of ``restart``."""
    return [("final", final_tasks(run.config)), (f"search (restart {restart})", search_tasks(run.config, restart))]


def best_report(run: Run) -> dict[str, Any]:
    """The best program as text and data, with its search, select and final fitness."""
    from zeroevo.search import full_fitness

    b = best(run)
    final = full_fitness(run.config, run.spec, b.program, final_tasks(run.config))
    return {"birth": b.birth, "restart": b.restart, "source": b.source, "search_fitness": b.search_fitness,
            "select_fitness": b.select_fitness, "final_fitness": final,
            "program": render(b.program, run.spec.features), "genome": encode(b.program)}


def program_of(run: Run, birth: int | None) -> tuple[Program, int, int]:
    """``(program, birth, restart)``: the best, or logged birth ``birth`` regenerated."""
    if birth is None:
        b = best(run)
        return b.program, b.birth, b.restart
    from zeroevo.lineage import Lineage, _lineage

    lin: Lineage = _lineage(run.path, True)
    return lin.genome(birth), birth, int(lin.restarts[lin.row(birth)])


# ---- mutations ----------------------------------------------------------------------------

def mutation_stats(run: Run) -> list[dict[str, Any]]:
    """Per mutation type: births, share of births, improvements and mean fitness change.

    A child improves when its fitness exceeds its parent's (both as logged, on the same
    restart's search tasks). ``improved_rate`` is the share of the type's children that
    improved; ``share_of_improvements`` the type's share of all improving births.
    """
    from zeroevo.lineage import parent_fitness

    codes = run.column("mutation").astype(np.int64)
    fitness = run.column("fitness")
    delta = fitness - parent_fitness(run.column("birth"), run.column("parent"), fitness)
    has_parent = ~np.isnan(delta)
    improved = has_parent & (delta > 0)
    total, total_improved = len(codes), int(improved.sum())
    out = []
    names = run.mutation_names
    for code in np.unique(codes):
        sel = codes == code
        with_parent = sel & has_parent
        n_parent = int(with_parent.sum())
        out.append({
            "mutation": names[code] if 0 <= code < len(names) else f"code {code}",
            "count": int(sel.sum()), "share": float(sel.sum() / total),
            "with_parent": n_parent,
            "improved": int((sel & improved).sum()),
            "improved_rate": float((sel & improved).sum() / n_parent) if n_parent else None,
            "share_of_improvements": float((sel & improved).sum() / total_improved) if total_improved else None,
            "mean_delta": float(delta[with_parent].mean()) if n_parent else None,
        })
    return out


# ---- export ---------------------------------------------------------------------------------

def export(run: Run, out: str | Path, birth: int | None = None, full: bool = False,
           limit: int = 0) -> dict[str, Any]:
    """Write the best program (or ``birth``) as a standalone module at ``out``, verified.

    The module is the simplified program unless ``full``. Before ``out`` is written, the
    module is imported from a file and run through zeroevo's training and validation loop
    on the run's final tasks and the search tasks of the program's restart: every
    prediction must equal zeroevo's for the original program (its numpy reference
    interpreter, ``primitives/reference.py``), and each task's fitness must equal the
    numba kernel's. Raises VerificationError otherwise (and ``out`` is left untouched).
    """
    import os
    import tempfile

    from zeroevo.program_export import VerificationError, load_module, machine, module_source
    from zeroevo.dead_code import simplified
    from zeroevo.program_trace import count, mismatch, reference_machine, traces
    from zeroevo.search import full_fitness

    program, birth_, restart = program_of(run, birth)
    body = program if full else simplified(program, run.spec)
    title = (f"Birth {birth_} (restart {restart}) of the zeroevo run in {run.path.resolve().name} "
             f"(seed {run.config.run.seed}, config {run.meta.get('config_hash')}).")
    source = module_source(body, run.spec, title)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}-", suffix=".py", dir=out.parent)
    checks = []
    try:
        with os.fdopen(fd, "w") as f:
            f.write(source)
        exported = load_module(tmp)
        ref = reference_machine(program, run.spec)
        zeroevo_side = "reference interpreter" if ref is not None else "zeroevo's numpy executor"
        if ref is None:
            ref = machine(program, run.spec, "original")
        mae = run.config.evaluation.max_abs_error
        cfg0 = run.config.replace("evaluation", train_budget=0.0)
        for name, tasks in task_sets(run, restart):
            te, tr = traces(exported, tasks, mae, limit), traces(ref, tasks, mae, limit)
            where = mismatch(te, tr)
            if where is not None:
                raise VerificationError(f"the exported module predicts differently from zeroevo's "
                                        f"{zeroevo_side} on the {name} tasks: {where}")
            for t, tr_t in enumerate(tr):
                kernel = full_fitness(cfg0, run.spec, program, _one_task(tasks, t))
                if kernel != tr_t.fitness:
                    raise VerificationError(f"{name} task {t}: the exported module's fitness "
                                            f"{tr_t.fitness!r} differs from the numba kernel's {kernel!r}")
            checks.append({"tasks": name, "num_tasks": len(te), "predictions": count(te),
                           "fitness": float(np.mean([t.fitness for t in te]))})
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return {"out": str(out), "birth": birth_, "restart": restart, "simplified": not full,
            "compared_with": zeroevo_side, "verified": checks, "source": source}


def _one_task(tasks: TaskSet, t: int) -> TaskSet:
    return TaskSet(*(getattr(tasks, f)[t:t + 1] for f in
                     ("x_train", "y_train", "order", "x_valid", "y_valid", "classify", "exec_keys")))


# ---- curves for plots -------------------------------------------------------------------------

def population_curves(run: Run, points: int = 2000) -> dict[int, dict[str, np.ndarray]]:
    """Per island: best and mean fitness of the population at up to ``points`` births.

    The population after a birth is the restart's last P births (each child replaces the
    oldest), so its best and mean are a rolling max / mean over the log, reset at restarts.
    """
    P = run.config.evolution.population
    out = {}
    island_col = run.column("island")
    for island in np.unique(island_col):
        rows = np.flatnonzero(island_col == island)
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


def to_jsonable(x: Any) -> Any:
    """Plain JSON data (numpy scalars and arrays converted, NaN/inf as null)."""
    if isinstance(x, dict):
        return {str(k): to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return to_jsonable(x.tolist())
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return _finite(float(x))
    return x


__all__ = ["Run", "open_run", "summary", "best", "best_report", "mutation_stats", "export",
           "population_curves", "fec_curve"]
