"""A run directory: ``meta.json``, the birth log, snapshots and the best genomes.

```
RUN/
  meta.json                 format, schema version, package versions, config + hash, seed
  log/births-000000.arrow   the birth log (see zeroevo.runs.birthlog), one segment per snapshot
  snapshots/snap-<births>.arrow   search state at a chunk boundary (the last two are kept)
  checkpoints/<name>-<step>.arrow weights trained once per run (a one-shot supernet; the last two kept)
  best.json                 every restart's selected program, outright (not replayed)
  final.json                neural runs: the final stage (top architectures retrained and tested)
  baselines.json            program runs: hand-written learners on the final tasks, for comparison
  manifest.json             every closed segment and kept snapshot with its checksum
  lock                      held (flock) by the one process writing the run
```
Opening an existing directory checks it: a foreign folder, a corrupt or newer-schema
``meta.json`` or a config that differs from the stored one gets a :class:`RunDirError` with
one line that says what is wrong.
"""
from __future__ import annotations

import datetime
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zeroevo.core.config import config_digest, full_digest
from zeroevo.core.errors import RunDirError
from zeroevo.runs.lock import LOCK_NAME, RunLock
from zeroevo.runs.manifest import NAME as MANIFEST
from zeroevo.runs.manifest import Manifest, check_file
from zeroevo.runs.storage import read_bundle, read_json, write_bundle, write_json

FORMAT = "zeroevo-run"
SCHEMA_VERSION = 1  # manifest.json, config_sha256 and history were added within schema 1 (all optional to read)
KEEP_SNAPSHOTS = 2


def package_versions() -> dict[str, str]:
    """Versions of zeroevo and the libraries whose behaviour a run depends on."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("zeroevo", "numpy", "numba", "pyarrow", "torch"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass(frozen=True)
class RunDir:
    """Paths and checks of one run directory."""

    path: Path

    @property
    def meta_path(self) -> Path:
        """``meta.json``."""
        return self.path / "meta.json"

    @property
    def log_dir(self) -> Path:
        """Folder of the birth-log segments."""
        return self.path / "log"

    @property
    def snapshot_dir(self) -> Path:
        """Folder of the snapshots."""
        return self.path / "snapshots"

    @staticmethod
    def default(preset: str, root: str | Path = "runs") -> "RunDir":
        """A new folder under ``root`` named by time and preset, claimed by creating it:
        ``mkdir`` is atomic, so two runs started in the same second (two users, or parallel
        test workers, in one folder) get two folders, never one folder and a lock error."""
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        base = Path(root) / f"{stamp}-{preset or 'config'}"
        path, k = base, 1
        while True:
            try:
                path.mkdir(parents=True)
                return RunDir(path)
            except FileExistsError:
                k += 1
                path = Path(f"{base}-{k}")
            except OSError as exc:
                raise RunDirError(f"cannot create run directory {path}: {exc.strerror}") from None

    def create(self, kind: str, config: dict, digest: str, seed: int, mutations: list[str]) -> RunLock:
        """Start a new run here (the folder must be absent or empty); returns the writer's
        lock, taken before anything is written."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunDirError(f"cannot create run directory {self.path}: {exc.strerror}") from None
        lock = RunLock(self.path).acquire()
        if any(p.name != LOCK_NAME for p in self.path.iterdir()):
            lock.release()
            raise RunDirError(f"{self.path} is not empty; pick a new --out folder or `zeroevo resume {self.path}`")
        self.log_dir.mkdir(exist_ok=True)
        self.snapshot_dir.mkdir(exist_ok=True)
        write_json(self.meta_path, {
            "format": FORMAT, "schema": SCHEMA_VERSION, "kind": kind, "config": config,
            "config_hash": digest, "config_sha256": full_digest(config), "seed": seed, "mutations": mutations,
            "versions": package_versions(), "history": [],
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
        Manifest(self.path / MANIFEST).save()
        return lock

    def record_resume(self, births: int, config: dict | None = None, changes: dict | None = None,
                      forced: bool = False) -> None:
        """Append a resume to ``meta.json``'s history; a new ``config`` (changed limits, or a
        change accepted with ``--force``) replaces the stored one with its hashes."""
        meta = self.meta()
        entry = {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                 "births": int(births), "changes": changes or {}, "forced": forced,
                 "zeroevo": package_versions()["zeroevo"]}
        meta.setdefault("history", []).append(entry)
        if config is not None:
            meta.update(config=config, config_hash=config_digest(config), config_sha256=full_digest(config),
                        seed=config["run"]["seed"])
        write_json(self.meta_path, meta)

    def meta(self) -> dict[str, Any]:
        """The checked contents of ``meta.json``."""
        if not self.path.is_dir():
            raise RunDirError(f"{self.path} is not a directory")
        if not self.meta_path.exists():
            raise RunDirError(f"{self.path} is not a zeroevo run directory (no meta.json)")
        meta = read_json(self.meta_path, "meta file")
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise RunDirError(f"{self.meta_path} is not a zeroevo run's meta file (format "
                              f"{meta.get('format') if isinstance(meta, dict) else None!r}, expected {FORMAT!r})")
        schema = meta.get("schema")
        if not isinstance(schema, int):
            raise RunDirError(f"{self.meta_path} has no valid schema version")
        if schema > SCHEMA_VERSION:
            raise RunDirError(f"{self.path} was written with run-directory schema {schema}; this zeroevo "
                              f"reads schema {SCHEMA_VERSION} or older: upgrade zeroevo")
        for key in ("kind", "config", "config_hash", "seed"):
            if key not in meta:
                raise RunDirError(f"{self.meta_path} lacks '{key}'")
        return meta

    # ---- snapshots --------------------------------------------------------------------
    def save_snapshot(self, births: int, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> Path:
        """Write the snapshot taken after ``births`` births; returns its path. Older ones are
        pruned by the recorder once this one is verified."""
        self.snapshot_dir.mkdir(exist_ok=True)
        path = self.snapshot_dir / f"snap-{births:012d}.arrow"
        write_bundle(path, arrays, state)
        return path

    @property
    def checkpoint_dir(self) -> Path:
        """Where weight checkpoints (a one-shot supernet) live."""
        return self.path / "checkpoints"

    def save_checkpoint(self, name: str, step: int, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Path:
        """Write checkpoint ``name`` after ``step`` (arrays and JSON-able meta); returns its path."""
        self.checkpoint_dir.mkdir(exist_ok=True)
        path = self.checkpoint_dir / f"{name}-{step:06d}.arrow"
        write_bundle(path, arrays, meta)
        return path

    def snapshot_path(self, name: str) -> Path:
        """The path of snapshot file ``name``."""
        return self.snapshot_dir / name

    def latest_snapshot(self) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """The newest snapshot that matches its manifest checksum (for readers; a run of an
        older zeroevo, without a manifest: the newest readable one). None when there is none."""
        manifest = Manifest.load(self.path)
        if manifest.legacy:
            names = [p.name for p in sorted(self.snapshot_dir.glob("snap-*.arrow"), reverse=True)]
        else:
            names = [e["file"] for e in reversed(manifest.snapshots) if check_file(self.path, "snapshots", e) is None]
        for name in names:
            try:
                return read_bundle(self.snapshot_dir / name)
            except RunDirError:
                continue
        if names or (not manifest.legacy and manifest.snapshots):
            raise RunDirError(f"no snapshot in {self.snapshot_dir} holds up (run `zeroevo verify {self.path}`)")
        return None

    # ---- documents: JSON files a search keeps beside its log --------------------------------
    DOCUMENTS = ("best", "final", "baselines")

    def document(self, name: str) -> Any:
        """The JSON document ``name`` (``best``, ``final``, ``baselines``); None when absent."""
        if name not in self.DOCUMENTS:
            raise ValueError(f"unknown run document {name!r}")
        path = self.path / f"{name}.json"
        return read_json(path, f"{name} file") if path.exists() else None

    def save_document(self, name: str, data: Any) -> None:
        """Rewrite the JSON document ``name`` (atomically)."""
        if name not in self.DOCUMENTS:
            raise ValueError(f"unknown run document {name!r}")
        write_json(self.path / f"{name}.json", data)

    def best(self) -> list[dict]:
        """Every restart's selected candidate (``best.json``), oldest first."""
        return self.document("best") or []

    def final(self) -> dict | None:
        """``final.json``: the neural final stage's candidates, retrainings and winner."""
        return self.document("final")
