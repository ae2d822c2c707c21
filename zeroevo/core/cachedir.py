"""Where zeroevo keeps what it compiles: a per-user cache folder, never the installed package.

``$ZEROEVO_CACHE_DIR``, else ``$XDG_CACHE_HOME/zeroevo`` or ``~/.cache/zeroevo``; when that is
not writable either (a user without a home), a private folder under the temp dir. Kernel
variants (:mod:`zeroevo.programs.kernels`) live there. numba caches the package's own
kernels next to their sources; :func:`redirect_numba_cache` sends them here instead when the
package folder is not writable (installed by root, run by another user). Standard library
only: it runs when ``zeroevo`` is imported, before numba is.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def cache_dir() -> Path:
    """zeroevo's writable per-user cache folder (created on first use)."""
    env = os.environ.get("ZEROEVO_CACHE_DIR")
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path(os.path.expanduser("~")) / ".cache")
    candidates = [Path(env)] if env else [home / "zeroevo"]
    candidates.append(Path(tempfile.gettempdir()) / f"zeroevo-{os.getuid()}")
    for candidate in candidates:
        if _writable(candidate):
            return candidate
    raise OSError(f"no writable cache folder for zeroevo (tried {', '.join(map(str, candidates))}); "
                  "set ZEROEVO_CACHE_DIR")


def redirect_numba_cache(package_dir: Path) -> None:
    """Point numba's cache at :func:`cache_dir` when it would write into an unwritable
    ``package_dir`` (and the user has not chosen a cache folder themselves)."""
    if os.environ.get("NUMBA_CACHE_DIR") or os.access(package_dir, os.W_OK):
        return
    target = str(cache_dir() / "numba")
    os.environ["NUMBA_CACHE_DIR"] = target
    numba_config = sys.modules.get("numba.core.config")
    if numba_config is not None:  # numba read its environment already
        numba_config.CACHE_DIR = target
