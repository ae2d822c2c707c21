"""Starting and resuming program searches recorded in run directories.

``start_run`` creates the directory (``meta.json`` with the full config and its hash) and
returns a search that logs into it; ``resume_run`` checks a directory, loads its config,
its newest good snapshot and the log written after it, and returns a search that continues
exactly where the snapshot left off (births replayed since then must match the log).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable

from zeroevo.core.errors import RunDirError, ZeroevoError
from zeroevo.programs.search import ProgramSearch
from zeroevo.runs.configs import from_dict
from zeroevo.runs.recorder import Recorder
from zeroevo.runs.rundir import RunDir
from zeroevo.spaces.program.genome import MUTATIONS


def _kind(config: Any) -> tuple[list[str], list]:
    """Mutation names and extra log columns of a config's kind."""
    if config.kind == "neural":
        from zeroevo.neural.search import EXTRA_FIELDS, NEURAL_MUTATIONS

        return list(NEURAL_MUTATIONS), EXTRA_FIELDS
    return list(MUTATIONS), []


def _search(config: Any, progress: Callable | None) -> Any:
    if config.kind == "neural":
        from zeroevo.neural.search import NeuralSearch

        return NeuralSearch(config, progress=progress)
    if config.dispatch.islands:
        from zeroevo.programs.islands import IslandSearch

        return IslandSearch(config, progress=progress)
    return ProgramSearch(config, progress=progress)


def start_run(config: Any, out: str | Path | None = None,
              progress: Callable | None = None) -> tuple[Any, RunDir]:
    """A new search recording into ``out`` (default: a new folder under ``runs/``)."""
    run_dir = RunDir(Path(out)) if out else RunDir.default(config.preset)
    mutations, extra = _kind(config)
    search = _search(config, progress)  # builds (and checks) everything before the folder exists
    run_dir.create(config.kind, config.to_dict(), config.digest(), config.run.seed, mutations)
    search.recorder = Recorder(run_dir, mutations, config.run.snapshot_every, extra=extra)
    return search, run_dir


def load_config(run_dir: RunDir) -> Any:
    """The config stored in a run directory (checked)."""
    meta = run_dir.meta()
    try:
        config = from_dict(meta["config"])
    except ZeroevoError as exc:
        raise RunDirError(f"{run_dir.meta_path} has an invalid config: {exc}") from None
    if config.kind != meta["kind"]:
        raise RunDirError(f"{run_dir.meta_path} says kind {meta['kind']!r} but holds a {config.kind!r} config")
    return config


def resume_run(path: str | Path, config: Any = None, force: bool = False,
               progress: Callable | None = None, **run_changes: object) -> Any:
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
    search = _search(stored, progress)
    if snap is not None:
        search.load_snapshot(*snap)  # refuses an incompatible snapshot before anything changes
    mutations, extra = _kind(stored)
    search.recorder = Recorder.resume(run_dir, mutations, stored.run.snapshot_every,
                                      snap[1] if snap else None, extra)
    return search
