"""A recorded run opened for analysis: its checked directory, config and birth log.

Every ``zeroevo analyze`` subcommand starts from :func:`open_run`; readers never take the
run's writer lock and never change the directory.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from zeroevo.core.errors import RunDirError
from zeroevo.programs.config import Config
from zeroevo.runs.birthlog import read_log
from zeroevo.runs.lifecycle import load_config
from zeroevo.runs.manifest import Manifest
from zeroevo.runs.rundir import RunDir
from zeroevo.spaces.program.genome import MUTATIONS, ProgramSpec


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


def named_counts(codes: np.ndarray, names: list[str]) -> dict[str, int]:
    """How often each code occurs, by name (``code N`` for a code without one)."""
    values, counts = np.unique(codes, return_counts=True)
    return {(names[v] if 0 <= v < len(names) else f"code {v}"): int(c) for v, c in zip(values, counts)}


def finite(x: float | None) -> float | None:
    """``x`` as a float, or None when it is None, NaN or infinite (JSON has no NaN)."""
    return None if x is None or not math.isfinite(x) else float(x)


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
        return finite(float(x))
    return x


def integrity(run: Run) -> dict[str, Any]:
    """What the run's manifest records beyond its files: whether it has one, and its events
    (a snapshot passed over for a bad one, a manifest created for an older run)."""
    manifest = Manifest.load(run.path)
    return {"manifest": not manifest.legacy, "events": list(manifest.events)}
