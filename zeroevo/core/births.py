"""Birth records: the columns every search writes, one row per birth.

A :class:`BirthBatch` is a set of equal-length numpy columns (one chunk's births, or one
Python-loop birth); sinks receive batches in birth order. The birth log in a run directory
is these columns as Arrow record batches.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np

COLUMNS = {
    "birth": np.int64,      # global birth number (unique in a run)
    "island": np.int32,
    "restart": np.int32,
    "parent": np.int64,     # parent's birth number, -1 for initial / random births
    "mutation": np.int8,    # index into spaces.program.genome.MUTATIONS (or the space's list)
    "status": np.int8,      # protocols.STATUS_*
    "fitness": np.float64,
    "steps": np.int64,      # training steps this birth cost
    "fec_hits": np.int16,   # tasks answered by the FEC
    "stage": np.int8,       # the hurdle stage that stopped the birth (0: not stopped)
    "cost": np.float64,     # the birth's cost ([objectives] cost: size, parameters, FLOPs, latency ...)
}
# Columns a log written before they existed may lack; readers fill them with zeros.
LATER_COLUMNS = ("stage", "cost")


@dataclass(frozen=True, eq=False)
class BirthBatch:
    """Equal-length columns describing consecutive births."""

    birth: np.ndarray
    island: np.ndarray
    restart: np.ndarray
    parent: np.ndarray
    mutation: np.ndarray
    status: np.ndarray
    fitness: np.ndarray
    steps: np.ndarray
    fec_hits: np.ndarray
    stage: np.ndarray
    cost: np.ndarray

    def __len__(self) -> int:
        return len(self.birth)

    @staticmethod
    def empty() -> "BirthBatch":
        """A batch of no births."""
        return BirthBatch(**{name: np.zeros(0, dtype) for name, dtype in COLUMNS.items()})

    @staticmethod
    def concat(batches: list["BirthBatch"]) -> "BirthBatch":
        """One batch holding ``batches`` in order."""
        if not batches:
            return BirthBatch.empty()
        return BirthBatch(**{f.name: np.concatenate([getattr(b, f.name) for b in batches])
                             for f in fields(BirthBatch)})

    def columns(self) -> dict[str, np.ndarray]:
        """The columns by name, cast to their log dtypes."""
        return {name: np.asarray(getattr(self, name), dtype) for name, dtype in COLUMNS.items()}

    def equal(self, other: "BirthBatch", ignore: tuple[str, ...] = ()) -> bool:
        """True when every column (but ``ignore``) is identical."""
        a, b = self.columns(), other.columns()
        return all(np.array_equal(a[k], b[k]) for k in COLUMNS if k not in ignore)


class BirthSink(Protocol):
    """Receives birth batches in order (the run directory's log writer, a test's list...)."""

    def append(self, batch: BirthBatch) -> None:
        """Take one batch."""


class RunRecorder(BirthSink, Protocol):
    """Where a search records itself: its births, periodic snapshots and best genomes.

    :class:`zeroevo.runs.recorder.Recorder` writes a run directory; searches only see this.
    """

    def due(self, births: int) -> bool:
        """True when a snapshot is due after ``births`` births."""

    def snapshot(self, births: int, arrays: dict[str, np.ndarray], state: dict) -> None:
        """Record the search's state after ``births`` births (arrays and JSON-able state)."""

    def close(self) -> None:
        """Flush and close what is open."""

    def document(self, name: str) -> Any:
        """A JSON document kept beside the log (``best``, ``final``, ``baselines``; None: absent)."""

    def save_document(self, name: str, data: Any) -> None:
        """Rewrite a JSON document kept beside the log."""

    def log(self) -> Any:
        """The birth log recorded so far (a ``pyarrow.Table``; None when empty)."""

    def checkpoint(self, name: str, step: int, arrays: dict[str, np.ndarray], meta: dict) -> None:
        """Keep weights trained once per run (a one-shot supernet) after ``step``."""

    def latest_checkpoint(self, name: str) -> tuple[dict[str, np.ndarray], dict] | None:
        """The newest intact checkpoint of ``name`` (None: none)."""


class ListSink:
    """Keeps every batch in memory (tests, short runs, the Python API)."""

    def __init__(self) -> None:
        self.batches: list[BirthBatch] = []

    def append(self, batch: BirthBatch) -> None:
        """Keep ``batch``."""
        self.batches.append(batch)

    def all(self) -> BirthBatch:
        """Every birth so far as one batch."""
        return BirthBatch.concat(self.batches)
