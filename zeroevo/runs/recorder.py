"""Records a search into its run directory: log batches, snapshots, best genomes.

The recorder is the search's sink and holds the run's writer lock until it is closed. After
a resume it also holds the rows that were logged after the snapshot it resumed from:
replayed births must equal them exactly (the check that makes "resumed == straight"
visible), and they are written again as they are replayed.

A snapshot closes the open log segment, writes the search state, records both with their
checksums in the manifest (one atomic write), then reads the new snapshot back; only once
it holds up are snapshots beyond the newest ``KEEP_SNAPSHOTS`` deleted.
"""
from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pyarrow as pa

from zeroevo.core.births import BirthBatch
from zeroevo.core.errors import RunDirError
from zeroevo.runs.birthlog import LogWriter, compare_rows, read_log, rewind, schema
from zeroevo.runs.lock import RunLock
from zeroevo.runs.manifest import Manifest, check_file
from zeroevo.runs.rundir import KEEP_SNAPSHOTS, RunDir
from zeroevo.runs.storage import read_bundle


class Recorder:
    """Appends births to the log and snapshots every ``snapshot_every`` births."""

    def __init__(self, run_dir: RunDir, mutations: list[str], snapshot_every: int, lock: RunLock,
                 segment: int = 0, pending: pa.Table | None = None, wall_offset: float = 0.0,
                 extra: list[pa.Field] = (), manifest: Manifest | None = None) -> None:
        self.run_dir = run_dir
        self.lock = lock
        self.manifest = manifest if manifest is not None else Manifest.load(run_dir.path)
        self.writer = LogWriter(run_dir.log_dir, schema(mutations, extra), segment)
        self.snapshot_every = snapshot_every
        self.pending = pending
        self.checked = 0
        self.wall_offset = wall_offset
        self.started = time.time()
        self.next_snapshot: int | None = None
        self.snapshot_seconds = 0.0

    @staticmethod
    def resume(run_dir: RunDir, mutations: list[str], snapshot_every: int, lock: RunLock,
               state: dict[str, Any] | None, extra: list[pa.Field] = (),
               manifest: Manifest | None = None) -> "Recorder":
        """A recorder continuing from ``state`` (a snapshot's metadata; None: from scratch):
        later segments are taken off disk (and the manifest) and their rows kept to check
        the replay against."""
        segment = int(state["log_segment"]) if state else 0
        pending = rewind(run_dir.log_dir, segment)
        manifest = manifest if manifest is not None else Manifest.load(run_dir.path)
        manifest.drop_segments_from(segment)
        manifest.save()
        return Recorder(run_dir, mutations, snapshot_every, lock, segment, pending,
                        float(state["wall_seconds"]) if state else 0.0, extra, manifest)

    def elapsed(self) -> float:
        """Wall seconds of the run so far, over all resumes."""
        return self.wall_offset + time.time() - self.started

    def append(self, batch: BirthBatch, extra: dict[str, pa.Array] | None = None) -> None:
        """Log one batch (after checking it against rows logged before a crash)."""
        if self.pending is not None:
            self.checked += compare_rows(self.pending, self.checked, batch)
            if self.checked >= self.pending.num_rows:
                self.pending = None
        self.writer.append(batch, self.elapsed(), extra)

    def due(self, births: int) -> bool:
        """True when a snapshot is due after ``births`` births."""
        if self.next_snapshot is None:
            self.next_snapshot = (births // self.snapshot_every + 1) * self.snapshot_every
        return births >= self.next_snapshot

    def snapshot(self, births: int, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        """Close the log segment, then write and record the state after ``births`` births."""
        t0 = time.time()
        segment = self.writer.roll()
        if self.writer.closed is not None:
            self.manifest.add_segment(*self.writer.closed)
        path = self.run_dir.save_snapshot(births, arrays, {**state, "log_segment": segment, "log_rows": births,
                                                          "wall_seconds": self.elapsed()})
        entry = self.manifest.add_snapshot(path, births, segment)
        self.manifest.save()
        self._prune(entry)
        self.next_snapshot = (births // self.snapshot_every + 1) * self.snapshot_every
        self.snapshot_seconds += time.time() - t0

    def _prune(self, newest: dict) -> None:
        # Older snapshots go only once the newest reads back whole.
        if check_file(self.run_dir.path, "snapshots", newest) is not None:
            raise RunDirError(f"snapshot {newest['file']} did not read back as written; the disk is failing?")
        read_bundle(self.run_dir.snapshot_path(newest["file"]))
        for old in self.manifest.snapshots[:-KEEP_SNAPSHOTS]:
            self.manifest.drop_snapshot(old["file"])
            self.run_dir.snapshot_path(old["file"]).unlink(missing_ok=True)
        self.manifest.save()

    def checkpoint(self, name: str, step: int, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Write weights ``name`` after ``step``, record their checksum, read them back, then
        delete all but the newest ``KEEP_SNAPSHOTS`` of that name."""
        path = self.run_dir.save_checkpoint(name, step, arrays, meta)
        entry = self.manifest.add_checkpoint(path, name, step)
        self.manifest.save()
        if check_file(self.run_dir.path, "checkpoints", entry) is not None:
            raise RunDirError(f"checkpoint {entry['file']} did not read back as written; the disk is failing?")
        read_bundle(path)
        for old in [c for c in self.manifest.checkpoints if c["name"] == name][:-KEEP_SNAPSHOTS]:
            self.manifest.drop_checkpoint(old["file"])
            (self.run_dir.checkpoint_dir / old["file"]).unlink(missing_ok=True)
        self.manifest.save()

    def latest_checkpoint(self, name: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """The newest checkpoint of ``name`` that matches its checksum (a bad newer one is
        passed over with a warning and an event); None when there is none."""
        for entry in reversed([c for c in self.manifest.checkpoints if c["name"] == name]):
            wrong = check_file(self.run_dir.path, "checkpoints", entry)
            if wrong is None:
                try:
                    return read_bundle(self.run_dir.checkpoint_dir / entry["file"])
                except RunDirError as exc:
                    wrong = str(exc)
            warnings.warn(f"checkpoint checkpoints/{entry['file']} {wrong}; using an older one", stacklevel=2)
            self.manifest.add_event("checkpoint_passed_over", file=entry["file"], problem=wrong)
            self.manifest.drop_checkpoint(entry["file"])
            self.manifest.save()
        return None

    def close(self) -> None:
        """Close the open segment and let the next writer in."""
        self.writer.close()
        self.lock.release()

    def document(self, name: str) -> Any:
        """A JSON document kept beside the log (``best``, ``final``, ``baselines``)."""
        return self.run_dir.document(name)

    def save_document(self, name: str, data: Any) -> None:
        """Rewrite a JSON document kept beside the log."""
        self.run_dir.save_document(name, data)

    def log(self) -> pa.Table | None:
        """The birth log on disk (closed segments and the flushed open one)."""
        return read_log(self.run_dir.path)
