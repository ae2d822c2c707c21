"""Checking a run directory end to end before anything trusts it.

:func:`verify` reads ``meta.json``, the config and its recorded hashes, the manifest, every
closed log segment and snapshot it lists (size and checksum), the chain of birth numbers
through the segments, each segment's schema, and the open tail of the log. It returns the
problems (the run must not be resumed as it is), the warnings, and the newest snapshot that
holds up. ``zeroevo verify RUN`` prints that report; ``zeroevo resume`` runs it first and
refuses on any problem; a bad newest snapshot with a good older one is a warning, and the
resume falls back to the older one (the manifest records it).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from zeroevo.core.births import COLUMNS, LATER_COLUMNS
from zeroevo.core.config import config_digest, full_digest
from zeroevo.core.errors import RunDirError, ZeroevoError
from zeroevo.runs.birthlog import read_segments, segment_index, segment_paths
from zeroevo.runs.manifest import Manifest, check_file
from zeroevo.runs.rundir import RunDir
from zeroevo.runs.storage import read_bundle


@dataclass
class Verification:
    """What :func:`verify` found."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    snapshot: dict | None = None                       # the newest snapshot entry that holds up
    bad_snapshots: list[dict] = field(default_factory=list)
    births: int = 0                                    # births in the closed segments it continues from
    manifest: Manifest | None = None

    @property
    def ok(self) -> bool:
        """True when nothing stops the run from being trusted (warnings may remain)."""
        return not self.problems

    def raise_first(self) -> None:
        """Raise ``RunDirError`` with the first problem (and how many more there are)."""
        if self.problems:
            more = f" (and {len(self.problems) - 1} more problem(s): see `zeroevo verify`)" if len(self.problems) > 1 else ""
            raise RunDirError(self.problems[0] + more)


def _check_config(run_dir: RunDir, meta: dict, report: Verification) -> None:
    raw = meta["config"]
    if not isinstance(raw, dict) or config_digest(raw) != meta["config_hash"]:
        report.problems.append(f"{run_dir.meta_path} was changed after the run started: its config hashes to "
                               f"{config_digest(raw) if isinstance(raw, dict) else '?'}, the run recorded "
                               f"{meta['config_hash']}; restore it, or start a new run")
        return
    if "config_sha256" in meta and full_digest(raw) != meta["config_sha256"]:
        report.problems.append(f"{run_dir.meta_path} was changed after the run started (its config's seed or "
                               "limits differ from what the run recorded); restore it, or start a new run")
    seed = raw.get("run", {}).get("seed")
    if seed != meta["seed"]:
        report.problems.append(f"{run_dir.meta_path} says seed {meta['seed']} but its config says {seed}")
    from zeroevo.runs.configs import from_dict

    try:
        from_dict(raw)
    except ZeroevoError as exc:
        report.problems.append(f"{run_dir.meta_path} has an invalid config: {exc}")


def _segment_where(entry: dict) -> str:
    return f"log/{entry['file']} (births {entry['first_birth']}..{entry['last_birth']})"


def _check_schema(path: Path, mutations: list | None) -> str | None:
    try:
        with pa.memory_map(str(path)) as source:
            schema = ipc.open_file(source).schema
    except (pa.ArrowInvalid, OSError) as exc:
        return f"is not a readable Arrow file ({type(exc).__name__})"
    missing = [c for c in COLUMNS if c not in schema.names and c not in LATER_COLUMNS]
    if missing:
        return f"lacks column(s) {', '.join(missing)}"
    raw = (schema.metadata or {}).get(b"zeroevo.mutations")
    if mutations is not None and raw is not None and json.loads(raw) != mutations:
        return "names other mutation codes than the run's meta.json"
    return None


def _check_chain(manifest: Manifest, report: Verification) -> None:
    """The manifest's own record: segments numbered 0, 1, ... holding consecutive births."""
    expected_first = 0
    for k, entry in enumerate(manifest.segments):
        if segment_index(entry["file"]) != k:
            report.problems.append(f"the manifest lists log/{entry['file']} where segment {k} belongs: a segment is missing")
            return
        if entry["first_birth"] != expected_first or entry["rows"] != entry["last_birth"] - entry["first_birth"] + 1:
            report.problems.append(f"{_segment_where(entry)}: its {entry['rows']} births do not continue the log at "
                                   f"birth {expected_first}")
        expected_first = entry["last_birth"] + 1


def _check_segments(run_dir: RunDir, manifest: Manifest, mutations: list | None, report: Verification) -> None:
    """Every closed segment the chosen snapshot continues from is there, whole and unchanged.
    Later ones are replayed on resume: damage there costs only the recomputing."""
    end = report.snapshot["log_segment"] if report.snapshot else 0
    for entry in manifest.segments:
        wrong = check_file(run_dir.path, "log", entry) or _check_schema(run_dir.log_dir / entry["file"], mutations)
        if not wrong:
            continue
        if segment_index(entry["file"]) < end:
            report.problems.append(f"{_segment_where(entry)} {wrong}")
        else:
            report.warnings.append(f"{_segment_where(entry)} {wrong}; it comes after the snapshot resumed from, "
                                   "so its births are replayed")


def _choose_snapshot(run_dir: RunDir, manifest: Manifest, report: Verification) -> None:
    for entry in reversed(manifest.snapshots):
        wrong = check_file(run_dir.path, "snapshots", entry)
        if wrong is None:
            listed = manifest.segments[:entry["log_segment"]]
            births = listed[-1]["last_birth"] + 1 if listed else 0
            if len(listed) != entry["log_segment"] or births != entry["births"]:
                wrong = f"continues from {entry['births']} births, the closed segments hold {births}"
        if wrong is None:
            report.snapshot, report.births = entry, entry["births"]
            return
        report.bad_snapshots.append(entry)
        report.warnings.append(f"snapshot snapshots/{entry['file']} {wrong}")
    if manifest.snapshots:
        report.problems.append("no snapshot of the run holds up; it cannot be resumed")


def _check_unlisted(run_dir: RunDir, manifest: Manifest, report: Verification) -> None:
    listed = {e["file"] for e in manifest.segments}
    start = report.snapshot["log_segment"] if report.snapshot else 0
    for path in segment_paths(run_dir.log_dir):
        if path.name not in listed and segment_index(path) < start:
            report.problems.append(f"log/{path.name} is not in the manifest (a file from elsewhere?)")
    snaps = {e["file"] for e in manifest.snapshots}
    for path in sorted(run_dir.snapshot_dir.glob("snap-*.arrow")):
        if path.name not in snaps:
            report.warnings.append(f"snapshots/{path.name} is not in the manifest and is ignored "
                                   "(written when the run was stopped, before it was recorded)")


def _check_checkpoints(run_dir: RunDir, manifest: Manifest, report: Verification) -> None:
    # A bad checkpoint costs retraining from an older one (or from the start), deterministically.
    for entry in manifest.checkpoints:
        wrong = check_file(run_dir.path, "checkpoints", entry)
        if wrong is not None:
            report.warnings.append(f"checkpoint checkpoints/{entry['file']} {wrong} (resume retrains from an "
                                   "older one)")
    listed = {e["file"] for e in manifest.checkpoints}
    for path in sorted(run_dir.checkpoint_dir.glob("*.arrow")):
        if path.name not in listed:
            report.warnings.append(f"checkpoints/{path.name} is not in the manifest and is ignored")


def _check_tail(run_dir: RunDir, report: Verification) -> None:
    start = report.snapshot["log_segment"] if report.snapshot else 0
    tail = [p for p in segment_paths(run_dir.log_dir) if segment_index(p) >= start]
    try:
        table = read_segments(tail)
    except RunDirError as exc:
        report.problems.append(str(exc))
        return
    if table is not None and table.num_rows:
        births = table.column("birth").to_numpy()
        if int(births.min()) != report.births:
            report.problems.append(f"the log after the last snapshot starts at birth {int(births.min())}, "
                                   f"not {report.births}")


def _check_legacy(run_dir: RunDir, report: Verification) -> None:
    """A run without a manifest (older zeroevo): readable files and contiguous births."""
    report.warnings.append(f"{run_dir.path} has no manifest (recorded by an older zeroevo): its files cannot be "
                           "checked against checksums; resuming it writes one")
    snaps = sorted(run_dir.snapshot_dir.glob("snap-*.arrow"), reverse=True)
    for path in snaps:
        try:
            _, meta = read_bundle(path)
        except RunDirError as exc:
            report.warnings.append(str(exc))
            report.bad_snapshots.append({"file": path.name})
            continue
        report.snapshot = {"file": path.name, "births": int(meta["log_rows"]), "log_segment": int(meta["log_segment"])}
        report.births = report.snapshot["births"]
        break
    if snaps and report.snapshot is None:
        report.problems.append("no snapshot of the run can be read; it cannot be resumed")
        return
    closed = [p for p in segment_paths(run_dir.log_dir)
              if segment_index(p) < (report.snapshot["log_segment"] if report.snapshot else 0)]
    table = read_segments(closed)
    n = 0 if table is None else table.num_rows
    births = sorted(table.column("birth").to_pylist()) if table is not None else []
    if n != report.births or births != list(range(n)):
        report.problems.append(f"the closed log segments hold {n} births, not the {report.births} "
                               "consecutive births the snapshot continues from")


def verify(path: str | Path) -> Verification:
    """Check run directory ``path`` end to end (see the module docstring)."""
    run_dir = RunDir(Path(path))
    report = Verification()
    try:
        meta = run_dir.meta()
    except RunDirError as exc:
        report.problems.append(str(exc))
        return report
    _check_config(run_dir, meta, report)
    try:
        manifest = Manifest.load(run_dir.path)
    except RunDirError as exc:
        report.problems.append(str(exc))
        return report
    report.manifest = manifest
    if manifest.legacy:
        _check_legacy(run_dir, report)
    else:
        _check_chain(manifest, report)
        _choose_snapshot(run_dir, manifest, report)
        _check_segments(run_dir, manifest, meta.get("mutations"), report)
        _check_unlisted(run_dir, manifest, report)
        _check_checkpoints(run_dir, manifest, report)
    _check_tail(run_dir, report)
    return report
