"""Starting and resuming program searches recorded in run directories.

``start_run`` creates the directory (``meta.json`` with the full config and its hashes, an
empty manifest) under the run's writer lock and returns a search that logs into it.
``resume_run`` takes the lock, verifies the directory end to end (:mod:`zeroevo.runs.verify`),
loads its config, its newest snapshot that holds up and the log written after it, and
returns a search that continues exactly where the snapshot left off (births replayed since
then must match the log). A config that changes anything but the stop limits is refused
unless forced; every resume is recorded in ``meta.json``'s history with what changed.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable

from zeroevo.core.config import STOP_LIMITS, config_changes
from zeroevo.core.errors import RunDirError, ZeroevoError
from zeroevo.programs.search import ProgramSearch
from zeroevo.runs.birthlog import read_segments, segment_index, segment_paths
from zeroevo.runs.configs import from_dict
from zeroevo.runs.lock import RunLock
from zeroevo.runs.manifest import Manifest
from zeroevo.runs.recorder import Recorder
from zeroevo.runs.rundir import RunDir
from zeroevo.runs.storage import read_bundle
from zeroevo.runs.verify import Verification, verify
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
    config = config.capped()
    mutations, extra = _kind(config)
    search = _search(config, progress)  # builds (and checks) everything before the folder exists
    run_dir = RunDir(Path(out)) if out else RunDir.default(config.preset)
    lock = run_dir.create(config.kind, config.to_dict(), config.digest(), config.run.seed, mutations)
    search.recorder = Recorder(run_dir, mutations, config.run.snapshot_every, lock, extra=extra)
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


def _forced_changes(stored: Any, config: Any) -> dict[str, list]:
    """The fields ``config`` changes in ``stored`` beyond the run's stop limits."""
    return {k: v for k, v in config_changes(stored.to_dict(), config.to_dict()).items()
            if not (k.startswith("run.") and k[4:] in STOP_LIMITS)}


def _settle_snapshots(run_dir: RunDir, report: Verification) -> Manifest:
    """Set bad snapshots aside (renamed ``*.bad``) and record the fall-back; give a run of an
    older zeroevo a manifest of what it holds (trusted on first use, after its checks)."""
    manifest = report.manifest
    for entry in report.bad_snapshots:
        path = run_dir.snapshot_path(entry["file"])
        if path.exists():
            path.rename(path.with_name(path.name + ".bad"))
        manifest.drop_snapshot(entry["file"])
    if report.bad_snapshots:
        manifest.add_event("snapshot_fallback", bad=[e["file"] for e in report.bad_snapshots],
                           used=report.snapshot["file"] if report.snapshot else None)
    if manifest.legacy:
        start = report.snapshot["log_segment"] if report.snapshot else 0
        for path in segment_paths(run_dir.log_dir):
            if segment_index(path) < start:
                births = read_segments([path]).column("birth").to_numpy()
                manifest.add_segment(path, len(births), int(births.min()), int(births.max()))
        if report.snapshot:
            manifest.add_snapshot(run_dir.snapshot_path(report.snapshot["file"]), report.snapshot["births"], start)
        manifest.add_event("manifest_created", reason="the run was recorded by an older zeroevo")
    return manifest


def resume_run(path: str | Path, config: Any = None, force: bool = False,
               progress: Callable | None = None, **run_changes: object) -> Any:
    """Continue the run in ``path``; ``run_changes`` change stop limits (``max_births=...``).

    A ``config`` that changes more than the stop limits (the seed included) is refused unless
    ``force``, which warns, uses it and records it. Refuses, with one line, a directory that
    another process is writing or that does not verify.
    """
    run_dir = RunDir(Path(path))
    run_dir.meta()  # a foreign folder is refused before anything is written into it
    lock = RunLock(run_dir.path).acquire()
    try:
        report = verify(run_dir.path)
        report.raise_first()
        for warning in report.warnings:
            warnings.warn(warning, stacklevel=2)
        stored = load_config(run_dir)
        new, forced = stored, {}
        if config is not None:
            forced = _forced_changes(stored, config)
            if forced and not force:
                shown = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in list(forced.items())[:4])
                raise RunDirError(f"the config differs from the one {run_dir.path} was started with ({shown}); only "
                                  "stop limits may change on resume: use --force to resume with it anyway (recorded)")
            if forced:
                warnings.warn(f"resuming {run_dir.path} with a changed config (--force): {', '.join(forced)}",
                              stacklevel=2)
            new = stored.replace("run", **{k: getattr(config.run, k) for k in STOP_LIMITS}) if not forced else config
        limits = {k: v for k, v in run_changes.items() if v is not None}
        if limits:
            new = new.replace("run", **limits)
        snap = read_bundle(run_dir.snapshot_path(report.snapshot["file"])) if report.snapshot else None
        search = _search(new.capped(), progress)
        if snap is not None:
            search.load_snapshot(*snap)  # refuses an incompatible snapshot before anything changes
        manifest = _settle_snapshots(run_dir, report)
        changes = config_changes(stored.to_dict(), new.to_dict())
        run_dir.record_resume(report.births, new.to_dict() if changes else None, changes, bool(forced))
        mutations, extra = _kind(new)
        search.recorder = Recorder.resume(run_dir, mutations, new.run.snapshot_every, lock,
                                          snap[1] if snap else None, extra, manifest)
        return search
    except BaseException:
        lock.release()
        raise
