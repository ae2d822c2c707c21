"""What a recorded program run holds: summary, best program, mutation statistics, verified export.

Every function takes a run directory (see :mod:`zeroevo.runs.rundir`) and returns plain,
JSON-able data; ``zeroevo analyze`` prints it. A foreign, corrupt or empty directory raises
:class:`~zeroevo.core.errors.RunDirError` with one line saying what is wrong.

Dead code and the simplified program are :mod:`zeroevo.programs.dead_code`'s (:func:`simplify`
verifies them on the run's tasks); :func:`export` writes
a program (simplified by default) as a standalone module, verified prediction by prediction.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zeroevo.analysis.run import Run, integrity, named_counts
from zeroevo.core.errors import RunDirError
from zeroevo.core.protocols import STATUS_NAMES, STATUS_SCREENED
from zeroevo.programs import dead_code
from zeroevo.programs.config import Config
from zeroevo.programs.tasks import TaskSet, generate
from zeroevo.spaces.program.genome import Program
from zeroevo.spaces.program.space import decode, encode, render

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
        "status_counts": named_counts(run.column("status"), list(STATUS_NAMES)),
        "mutation_counts": named_counts(run.column("mutation"), run.mutation_names),
        "integrity": integrity(run),
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
    from zeroevo.analysis.lineage import snapshot_populations

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
    from zeroevo.programs.search import ProgramSearch

    return ProgramSearch(config).tasks_for(0, restart)


def final_tasks(config: Config) -> TaskSet:
    """The config's final tasks."""
    return generate(config.final_tasks)


def task_sets(run: Run, restart: int) -> list[tuple[str, TaskSet]]:
    """The run's final tasks and the search tasks of ``restart``."""
    return [("final", final_tasks(run.config)), (f"search (restart {restart})", search_tasks(run.config, restart))]


def best_report(run: Run) -> dict[str, Any]:
    """The best program as text and data, with its search, select and final fitness."""
    from zeroevo.programs.evaluator import full_fitness

    b = best(run)
    final = full_fitness(run.config, run.spec, b.program, final_tasks(run.config))
    return {"birth": b.birth, "restart": b.restart, "source": b.source, "search_fitness": b.search_fitness,
            "select_fitness": b.select_fitness, "final_fitness": final,
            "baselines": run.run_dir.document("baselines"),
            "program": render(b.program, run.spec.features), "genome": encode(b.program)}


def program_of(run: Run, birth: int | None) -> tuple[Program, int, int]:
    """``(program, birth, restart)``: the best, or logged birth ``birth`` regenerated."""
    if birth is None:
        b = best(run)
        return b.program, b.birth, b.restart
    from zeroevo.analysis.lineage import Lineage, open_lineage

    lin: Lineage = open_lineage(run.path, True)
    return lin.genome(birth), birth, int(lin.restarts[lin.row(birth)])


# ---- mutations ----------------------------------------------------------------------------

def mutation_stats(run: Run) -> list[dict[str, Any]]:
    """Per mutation type: births, share of births, improvements and mean fitness change.

    A child improves when its fitness exceeds its parent's (both as logged, on the same
    restart's search tasks). ``improved_rate`` is the share of the type's children that
    improved; ``share_of_improvements`` the type's share of all improving births.
    """
    from zeroevo.analysis.lineage import parent_fitness

    codes = run.column("mutation").astype(np.int64)
    # A screened child was never trained: its fitness column holds a prediction.
    fitness = np.where(run.column("status") == STATUS_SCREENED, np.nan, run.column("fitness"))
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

    from zeroevo.programs.dead_code import simplified
    from zeroevo.programs.evaluator import full_fitness
    from zeroevo.programs.export import (
        VerificationError,
        load_module,
        machine,
        module_source,
    )
    from zeroevo.programs.trace import count, mismatch, reference_machine, traces

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
                kernel = full_fitness(cfg0, run.spec, program, one_task(tasks, t))
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


def one_task(tasks: TaskSet, t: int) -> TaskSet:
    """Task ``t`` of ``tasks`` as a set of one."""
    return TaskSet(*(getattr(tasks, f)[t:t + 1] for f in
                     ("x_train", "y_train", "order", "x_valid", "y_valid", "classify", "exec_keys")))


__all__ = ["summary", "best", "best_report", "program_of", "mutation_stats", "export", "simplify"]


def simplify(run: Run, birth: int | None = None, limit: int = 0) -> dict[str, Any]:
    """The dead-code-free form of the best program (or of ``birth``), verified."""
    program, birth_, restart = program_of(run, birth)
    simple = dead_code.simplified(program, run.spec)
    checks = dead_code.verify_same(program, simple, run.spec, task_sets(run, restart),
                         run.config.evaluation.max_abs_error, limit)
    before, after = dead_code.component_sizes(program), dead_code.component_sizes(simple)
    return {"birth": birth_, "restart": restart, "instructions_before": before,
            "instructions_after": after,
            "dropped": sum(before.values()) - sum(after.values()),
            "verified": checks, "program": render(simple, run.spec.features),
            "original": render(program, run.spec.features), "genome": encode(simple)}

