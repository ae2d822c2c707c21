"""Durable files without pickle: atomic writes and bundles of named arrays as Arrow IPC.

Every file zeroevo writes goes to a temporary name, is fsynced, then renamed over the
target, so a crash leaves either the old file or the new one. An *array bundle* is an Arrow
IPC file holding one row per array (name, dtype, shape, raw bytes) plus string metadata:
snapshots use it for populations, FEC caches and counters.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from zeroevo.core.errors import RunDirError

_BUNDLE_SCHEMA = pa.schema([("name", pa.string()), ("dtype", pa.string()),
                            ("shape", pa.list_(pa.int64())), ("data", pa.large_binary())])


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file, fsync and rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_json(path: Path, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON."""
    atomic_write(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())


def read_json(path: Path, what: str) -> Any:
    """Read JSON or raise RunDirError naming ``what`` and the problem."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise RunDirError(f"{what} {path} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{what} {path} is corrupt ({exc.__class__.__name__})") from None


def write_bundle(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Atomically write named arrays and JSON-able ``meta`` as one Arrow IPC file."""
    names = list(arrays)
    cols = [names, [str(np.asarray(arrays[n]).dtype) for n in names],
            [list(np.shape(arrays[n])) for n in names],
            [np.ascontiguousarray(arrays[n]).tobytes() for n in names]]
    table = pa.table(cols, schema=_BUNDLE_SCHEMA.with_metadata({"zeroevo": json.dumps(meta)}))
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    atomic_write(path, sink.getvalue().to_pybytes())


def read_bundle(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Named arrays and metadata from :func:`write_bundle`; RunDirError if unreadable."""
    try:
        with pa.memory_map(str(path)) as source:
            table = ipc.open_file(source).read_all()
        meta = json.loads(table.schema.metadata[b"zeroevo"])
        arrays = {}
        for name, dtype, shape, data in zip(*(table.column(c).to_pylist() for c in
                                               ("name", "dtype", "shape", "data"))):
            arr = np.frombuffer(data, dtype=np.dtype(dtype))
            arrays[name] = arr.reshape(shape).copy()
        return arrays, meta
    except (OSError, pa.ArrowException, KeyError, ValueError, TypeError) as exc:
        raise RunDirError(f"snapshot {path} is corrupt ({exc.__class__.__name__})") from None
