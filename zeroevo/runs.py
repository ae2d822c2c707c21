"""Starting and resuming program searches recorded in run directories.

``start_run`` creates the directory (``meta.json`` with the full config and its hash) and
returns a search that logs into it; ``resume_run`` checks a directory, loads its config,
its newest good snapshot and the log written after it, and returns a search that continues
exactly where the snapshot left off (births replayed since then must match the log).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

from zeroevo.config import Config, from_dict
from zeroevo.errors import RunDirError, ZeroevoError
from zeroevo.recorder import Recorder
from zeroevo.rundir import RunDir
from zeroevo.search import ProgramSearch, Progress
from zeroevo.spaces.program.genome import MUTATIONS


def start_run(config: Config, out: str | Path | None = None,
              progress: Callable[[Progress], None] | None = None) -> tuple[ProgramSearch, RunDir]:
    """A new search recording into ``out`` (default: a new folder under ``runs/``)."""
    run_dir = RunDir(Path(out)) if out else RunDir.default(config.preset)
    run_dir.create("program", config.to_dict(), config.digest(), config.run.seed, list(MUTATIONS))
    recorder = Recorder(run_dir, list(MUTATIONS), config.run.snapshot_every)
    return ProgramSearch(config, progress=progress, recorder=recorder), run_dir


def load_config(run_dir: RunDir) -> Config:
    """The config stored in a run directory (checked)."""
    meta = run_dir.meta()
    if meta["kind"] != "program":
        raise RunDirError(f"{run_dir.path} holds a {meta['kind']!r} run; this command handles program runs")
    try:
        return from_dict(meta["config"])
    except ZeroevoError as exc:
        raise RunDirError(f"{run_dir.meta_path} has an invalid config: {exc}") from None


def resume_run(path: str | Path, config: Config | None = None, force: bool = False,
               progress: Callable[[Progress], None] | None = None, **run_changes: object) -> ProgramSearch:
    """Continue the run in ``path``; ``run_changes`` extend limits (``max_births=...``).

    A ``config`` that differs from the stored one (ignoring stop limits and seed) is refused
    unless ``force``, which warns and uses it.
    """
    run_dir = RunDir(Path(path))
    stored = load_config(run_dir)
    if config is not None and config.digest() != stored.digest():
        if not force:
            raise RunDirError(f"the config differs from the one {run_dir.path} was started with "
                              f"(hash {config.digest()} vs {stored.digest()}); use --force to resume anyway")
        warnings.warn(f"resuming {run_dir.path} with a changed config (--force)", stacklevel=2)
        stored = config
    changes = {k: v for k, v in run_changes.items() if v is not None}
    if changes:
        stored = stored.replace("run", **changes)
    snap = run_dir.latest_snapshot()
    search = ProgramSearch(stored, progress=progress)
    if snap is not None:
        search.load_snapshot(*snap)  # refuses an incompatible snapshot before anything changes
    search.recorder = Recorder.resume(run_dir, list(MUTATIONS), stored.run.snapshot_every,
                                      snap[1] if snap else None)
    return search
