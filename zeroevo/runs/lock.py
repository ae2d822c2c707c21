"""One writer per run directory: an advisory lock held for as long as a search records.

The lock is ``fcntl.flock`` on ``RUN/lock``, so the operating system drops it when its
process ends, ``kill -9`` included: a lock is never stale. The file holds its owner (pid,
host, start time) so a second writer is told who holds it. Readers (``zeroevo analyze``,
``zeroevo verify``) never take it: closed segments and snapshots are immutable, and the
manifest is replaced atomically.
"""
from __future__ import annotations

import datetime
import fcntl
import json
import os
import socket
from pathlib import Path
from typing import Any

from zeroevo.core.errors import RunDirError

LOCK_NAME = "lock"


class RunLock:
    """The writer's lock on run directory ``path``; :meth:`acquire` or a ``RunDirError``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path) / LOCK_NAME
        self._handle: Any = None

    @staticmethod
    def owner(path: Path) -> dict | None:
        """Who last held the lock of run directory ``path`` (None: nobody ever did)."""
        try:
            return json.loads((Path(path) / LOCK_NAME).read_text() or "null")
        except (OSError, ValueError):
            return None

    def acquire(self) -> "RunLock":
        """Take the lock, or raise ``RunDirError`` naming the process that holds it."""
        try:
            handle = open(self.path, "a+")
        except OSError as exc:
            raise RunDirError(f"cannot lock {self.path.parent}: {exc.strerror}") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            who = self.owner(self.path.parent) or {}
            raise RunDirError(f"{self.path.parent} is being written by pid {who.get('pid', '?')} on "
                              f"{who.get('host', '?')} since {who.get('since', '?')}; one writer at a time "
                              "(`zeroevo analyze` may read it meanwhile)") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": datetime.datetime.now().isoformat(timespec="seconds")}))
        handle.flush()
        self._handle = handle
        return self

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._handle is not None

    def release(self) -> None:
        """Let the next writer in (also happens when this process ends)."""
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
