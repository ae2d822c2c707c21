"""The manifest: what a run directory holds on disk, with a checksum of every closed file.

``RUN/manifest.json`` lists every closed log segment (rows, first and last birth, size,
BLAKE2b) and every kept snapshot (births, the log segment it continues with, size,
BLAKE2b), every kept weight checkpoint (a one-shot run's supernet: name, step, size, BLAKE2b),
plus events worth knowing later (a snapshot that failed its check and was passed
over). It is rewritten atomically each time a segment closes with its snapshot, so it never
lists a file that was not whole when listed. :func:`zeroevo.runs.verify.verify` checks a
directory against it; nothing is read as truth unless it matches.
"""
from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zeroevo.core.errors import RunDirError
from zeroevo.runs.birthlog import segment_index
from zeroevo.runs.storage import read_json, write_json

NAME = "manifest.json"
FORMAT = "zeroevo-manifest"
VERSION = 1


def file_digest(path: Path) -> tuple[int, str]:
    """``(bytes, BLAKE2b hex digest)`` of a file, read in 1 MiB blocks."""
    h = hashlib.blake2b(digest_size=20)
    size = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Manifest:
    """The closed segments, kept snapshots and events of one run directory."""

    path: Path
    segments: list[dict] = field(default_factory=list)
    snapshots: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    checkpoints: list[dict] = field(default_factory=list)
    legacy: bool = False  # no manifest on disk: the run was written by an older zeroevo

    @staticmethod
    def load(run_path: Path) -> "Manifest":
        """The manifest of run directory ``run_path`` (an empty, ``legacy`` one if absent)."""
        path = Path(run_path) / NAME
        if not path.exists():
            return Manifest(path, legacy=True)
        data = read_json(path, "manifest")
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise RunDirError(f"{path} is not a zeroevo manifest")
        if not isinstance(data.get("version"), int) or data["version"] > VERSION:
            raise RunDirError(f"{path} has manifest version {data.get('version')!r}; this zeroevo reads "
                              f"version {VERSION} or older: upgrade zeroevo")
        try:
            return Manifest(path, list(data["segments"]), list(data["snapshots"]), list(data.get("events", [])),
                            list(data.get("checkpoints", [])))
        except (KeyError, TypeError):
            raise RunDirError(f"{path} is corrupt (missing segments or snapshots)") from None

    def save(self) -> None:
        """Write the manifest atomically."""
        write_json(self.path, {"format": FORMAT, "version": VERSION, "segments": self.segments,
                               "snapshots": self.snapshots, "events": self.events, "checkpoints": self.checkpoints})
        self.legacy = False

    def add_segment(self, path: Path, rows: int, first: int, last: int) -> None:
        """Record closed segment ``path`` holding ``rows`` births ``first..last``."""
        size, digest = file_digest(path)
        self.segments = [s for s in self.segments if s["file"] != path.name]
        self.segments.append({"file": path.name, "rows": int(rows), "first_birth": int(first),
                              "last_birth": int(last), "bytes": size, "blake2b": digest})
        self.segments.sort(key=lambda s: s["file"])

    def add_snapshot(self, path: Path, births: int, log_segment: int) -> dict:
        """Record snapshot ``path`` taken after ``births`` births; returns its entry."""
        size, digest = file_digest(path)
        entry = {"file": path.name, "births": int(births), "log_segment": int(log_segment),
                 "bytes": size, "blake2b": digest}
        self.snapshots = [s for s in self.snapshots if s["file"] != path.name] + [entry]
        self.snapshots.sort(key=lambda s: s["births"])
        return entry

    def add_checkpoint(self, path: Path, name: str, step: int) -> dict:
        """Record weight checkpoint ``path`` of ``name`` after ``step``; returns its entry."""
        size, digest = file_digest(path)
        entry = {"file": path.name, "name": name, "step": int(step), "bytes": size, "blake2b": digest}
        self.checkpoints = [c for c in self.checkpoints if c["file"] != path.name] + [entry]
        self.checkpoints.sort(key=lambda c: (c["name"], c["step"]))
        return entry

    def add_event(self, kind: str, **details: Any) -> None:
        """Record something a reader of the run should know (kept with the run for good)."""
        self.events.append({"kind": kind, "time": _now(), **details})

    def drop_segments_from(self, index: int) -> None:
        """Forget segments numbered ``index`` and later (they are being rewritten)."""
        self.segments = [s for s in self.segments if segment_index(s["file"]) < index]

    def drop_snapshot(self, name: str) -> None:
        """Forget snapshot file ``name``."""
        self.snapshots = [s for s in self.snapshots if s["file"] != name]

    def drop_checkpoint(self, name: str) -> None:
        """Forget checkpoint file ``name``."""
        self.checkpoints = [c for c in self.checkpoints if c["file"] != name]


def check_file(run_path: Path, folder: str, entry: dict) -> str | None:
    """What is wrong with the file an entry lists (None: it is there, whole and unchanged)."""
    path = Path(run_path) / folder / entry["file"]
    if not path.exists():
        return "is missing"
    size, digest = file_digest(path)
    if size != entry["bytes"]:
        return f"has {size} bytes, {entry['bytes']} were written"
    if digest != entry["blake2b"]:
        return "does not match its checksum (altered since it was written)"
    return None
