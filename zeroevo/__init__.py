"""zeroevo: regularized (aging) evolution of learning algorithms and network architectures.

The design card keeps ``primitives/``, ``spaces/`` and ``cli.py`` beside this package in a
source checkout; a wheel installs them inside it. Either way they import as
``zeroevo.primitives``, ``zeroevo.spaces`` and ``zeroevo.cli``: in a checkout (or an
editable install, which loads this file as a plain module) the package path below also
covers the checkout's root.
"""
from pathlib import Path as _Path

__version__ = "0.1.0"

_here = _Path(__file__).resolve().parent
__path__ = [str(_here)]
if not (_here / "primitives").is_dir() and (_here.parent / "primitives").is_dir():
    __path__.append(str(_here.parent))

# Installed read-only (by root, run by another user): numba must cache elsewhere.
from zeroevo.core.cachedir import redirect_numba_cache as _redirect  # noqa: E402

_redirect(_here)
