"""The birth log: append-only Arrow IPC files, one row per birth, in immutable segments.

Segments are Arrow IPC *files* (``log/births-000000.arrow`` ...), readable by pyarrow,
pandas, polars and DuckDB without zeroevo. The open segment gets one record batch per chunk
of births, flushed as written; a segment is closed (footer written, fsynced) at every
snapshot, and the next one starts. A crash can leave the open segment without its footer,
or with a torn last batch: :func:`read_log` reads such a file as the stream it contains and
keeps its whole batches. Program rows carry no genome; neural rows add a ``genome`` column
(JSON) and per-stage ``metrics`` (JSON).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from zeroevo.core.births import COLUMNS, LATER_COLUMNS, BirthBatch
from zeroevo.core.errors import RunDirError
from zeroevo.runs.storage import fsync_dir

SEGMENT = "births-{:06d}.arrow"
_MAGIC = b"ARROW1\x00\x00"
BASE_FIELDS = [pa.field(name, pa.from_numpy_dtype(np.dtype(dtype))) for name, dtype in COLUMNS.items()]
TIME_FIELD = pa.field("time", pa.float32())  # wall seconds since the run (or resume) began


def schema(mutations: list[str], extra: list[pa.Field] = ()) -> pa.Schema:
    """The log schema; its metadata names the mutation codes."""
    return pa.schema(BASE_FIELDS + [TIME_FIELD] + list(extra),
                     metadata={"zeroevo.mutations": json.dumps(list(mutations)),
                               "zeroevo.log_schema": "1"})


def segment_paths(log_dir: Path) -> list[Path]:
    """The log's segment files in order."""
    return sorted(Path(log_dir).glob("births-*.arrow"))


def _read_segment(path: Path) -> list[pa.RecordBatch]:
    """Whole record batches of a segment, closed or torn."""
    try:
        with pa.memory_map(str(path)) as source:
            reader = ipc.open_file(source)
            return [reader.get_batch(i) for i in range(reader.num_record_batches)]
    except (pa.ArrowInvalid, OSError):
        pass
    batches = []
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8 and _MAGIC.startswith(head):
            return []  # killed while the file was being opened: nothing written yet
        if head != _MAGIC:
            raise RunDirError(f"log segment {path} is not an Arrow IPC file")
        try:
            reader = ipc.open_stream(f)
        except (pa.ArrowInvalid, OSError):
            return []  # torn inside the schema: nothing whole
        while True:
            try:
                batches.append(reader.read_next_batch())
            except StopIteration:
                break
            except (pa.ArrowInvalid, OSError):
                break  # the torn tail
    return batches


def _upgrade(batch: pa.RecordBatch) -> pa.RecordBatch:
    """A batch of a log written before some columns existed, with them added (zeros)."""
    missing = [f for f in BASE_FIELDS if f.name in LATER_COLUMNS and f.name not in batch.schema.names]
    if not missing:
        return batch
    arrays = list(batch.columns) + [pa.array(np.zeros(batch.num_rows, COLUMNS[f.name])) for f in missing]
    fields = list(batch.schema) + missing
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields, metadata=batch.schema.metadata))


def read_segments(paths: list[Path]) -> pa.Table | None:
    """Every whole batch of ``paths`` as one table (None when there is nothing); columns
    added since a segment was written read as zeros."""
    batches = [_upgrade(b) for p in paths for b in _read_segment(p)]
    if not batches:
        return None
    names = [f.name for f in batches[-1].schema]  # the newest layout; older batches reordered to it
    return pa.Table.from_batches([b.select(names) if b.schema.names != names else b for b in batches])


def read_log(run_dir: str | Path) -> pa.Table | None:
    """The whole birth log of a run directory (whole batches only)."""
    return read_segments(segment_paths(Path(run_dir) / "log"))


class LogWriter:
    """Appends batches to the open segment; :meth:`roll` closes it and opens the next."""

    def __init__(self, log_dir: Path, schema_: pa.Schema, segment: int) -> None:
        self.dir = Path(log_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.schema = schema_
        self.segment = segment
        self._sink: pa.OSFile | None = None
        self._writer: ipc.RecordBatchFileWriter | None = None
        self.rows = 0
        self.open_rows = 0             # rows in the open segment, and its birth range
        self.first_birth = self.last_birth = -1
        self.closed: tuple[Path, int, int, int] | None = None  # (path, rows, first, last) of the last roll

    def _open(self) -> None:
        self._sink = pa.OSFile(str(self.dir / SEGMENT.format(self.segment)), "wb")
        self._writer = ipc.new_file(self._sink, self.schema)

    def append(self, batch: BirthBatch, elapsed: float, extra: dict[str, pa.Array] | None = None) -> None:
        """Write one batch of births (``extra`` fills the schema's additional columns)."""
        if self._writer is None:
            self._open()
        cols = batch.columns()
        arrays = [pa.array(cols[f.name]) for f in BASE_FIELDS]
        arrays.append(pa.array(np.full(len(batch), elapsed, np.float32)))
        for f in self.schema:
            if f.name not in COLUMNS and f.name != "time":
                arrays.append((extra or {})[f.name])
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self._sink.flush()
        self.rows += len(batch)
        if len(batch):
            lo, hi = int(cols["birth"].min()), int(cols["birth"].max())
            self.first_birth = lo if self.open_rows == 0 else min(self.first_birth, lo)
            self.last_birth = max(self.last_birth, hi)
            self.open_rows += len(batch)

    def roll(self) -> int:
        """Close the open segment (durably); returns the index the next segment will get.

        ``closed`` then says which file was closed, with its rows and birth range (None when
        no segment was open).
        """
        self.closed = None
        if self._writer is not None:
            self._writer.close()
            self._sink.flush()
            os.fsync(self._sink.fileno())
            self._sink.close()
            fsync_dir(self.dir)
            self._writer = self._sink = None
            self.closed = (self.dir / SEGMENT.format(self.segment), self.open_rows, self.first_birth, self.last_birth)
            self.open_rows, self.first_birth, self.last_birth = 0, -1, -1
            self.segment += 1
        return self.segment

    close = roll


def segment_index(path: Path) -> int:
    """The number of a segment file (``births-000012.arrow`` -> 12)."""
    return int(Path(path).stem.split("-")[1])


def rewind(log_dir: Path, segment: int) -> pa.Table | None:
    """Remove segments from index ``segment`` on; returns their whole rows (to verify replay)."""
    later = [p for p in segment_paths(log_dir) if segment_index(p) >= segment]
    pending = read_segments(later)
    for p in later:
        p.unlink()
    fsync_dir(Path(log_dir))
    return pending


def compare_rows(pending: pa.Table, offset: int, batch: BirthBatch) -> int:
    """Check replayed ``batch`` against logged rows from ``offset``; returns rows compared.

    A difference means the run is not deterministic (or the log was tampered with).
    """
    n = min(len(batch), pending.num_rows - offset)
    if n <= 0:
        return 0
    cols = batch.columns()
    for name in COLUMNS:
        logged = pending.column(name).slice(offset, n).to_numpy()
        if not np.array_equal(logged, cols[name][:n]):
            raise RunDirError(f"replayed births {int(cols['birth'][0])}.. differ from the log in "
                              f"column '{name}'; the run directory does not match this code or config")
    return n
