"""Records a search into its run directory: log batches, snapshots, best genomes.

The recorder is the search's sink. After a resume it also holds the rows that were logged
after the snapshot it resumed from: replayed births must equal them exactly (the check that
makes "resumed == straight" visible), and they are written again as they are replayed.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyarrow as pa

from zeroevo.core.births import BirthBatch
from zeroevo.runs.birthlog import LogWriter, compare_rows, rewind, schema
from zeroevo.runs.rundir import RunDir


class Recorder:
    """Appends births to the log and snapshots every ``snapshot_every`` births."""

    def __init__(self, run_dir: RunDir, mutations: list[str], snapshot_every: int,
                 segment: int = 0, pending: pa.Table | None = None, wall_offset: float = 0.0,
                 extra: list[pa.Field] = ()) -> None:
        self.run_dir = run_dir
        self.writer = LogWriter(run_dir.log_dir, schema(mutations, extra), segment)
        self.snapshot_every = snapshot_every
        self.pending = pending
        self.checked = 0
        self.wall_offset = wall_offset
        self.started = time.time()
        self.next_snapshot: int | None = None
        self.snapshot_seconds = 0.0

    @staticmethod
    def resume(run_dir: RunDir, mutations: list[str], snapshot_every: int,
               state: dict[str, Any] | None, extra: list[pa.Field] = ()) -> "Recorder":
        """A recorder continuing from ``state`` (a snapshot's metadata; None: from scratch)."""
        segment = int(state["log_segment"]) if state else 0
        pending = rewind(run_dir.log_dir, segment)
        return Recorder(run_dir, mutations, snapshot_every, segment, pending,
                        float(state["wall_seconds"]) if state else 0.0, extra)

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
        """Close the log segment, then write the state after ``births`` births."""
        t0 = time.time()
        segment = self.writer.roll()
        self.run_dir.save_snapshot(births, arrays, {**state, "log_segment": segment, "log_rows": births,
                                                    "wall_seconds": self.elapsed()})
        self.next_snapshot = (births // self.snapshot_every + 1) * self.snapshot_every
        self.snapshot_seconds += time.time() - t0

    def close(self) -> None:
        """Close the open segment."""
        self.writer.close()

    def best(self) -> list[dict]:
        """The run's best genomes (``best.json``), oldest first."""
        return self.run_dir.best()

    def save_best(self, entries: list[dict]) -> None:
        """Rewrite the run's best genomes."""
        self.run_dir.save_best(entries)
