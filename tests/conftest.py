"""Shared test helpers: small configs and a way to run the CLI as a user would."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


CLI = (sys.executable, "-m", "zeroevo.cli")  # zeroevo from this checkout, installed or not


def _cli_env(extra: dict | None = None) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), **(extra or {})}


def run_cli(*args: str, timeout: float = 600, cwd: str | Path | None = None,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``zeroevo ARGS`` from this checkout in a subprocess (text output captured)."""
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd or ROOT, env=_cli_env(env))


def start_cli(*args: str, **popen) -> subprocess.Popen:
    """Start ``zeroevo ARGS`` from this checkout without waiting (to signal or kill it);
    output is discarded unless ``popen`` says otherwise."""
    popen = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, **popen}
    return subprocess.Popen([*CLI, *args], cwd=ROOT, env=_cli_env(), **popen)


@pytest.fixture
def small_demo():
    """The demo preset shrunk to run in a second: P=50, 2 restarts' worth of small budget."""
    from zeroevo.runs.presets import load_preset

    cfg = load_preset("demo")
    cfg = cfg.replace("evolution", population=50, tournament=5, max_train_steps=2e5)
    return cfg.replace("select_tasks", num_tasks=10, num_train=200)


def generic_kernels():
    """The kernel variant with every op and F read from the data: the one variant the
    kernel-level tests share (each variant compiles once per cache)."""
    from zeroevo.programs.kernels import ALL_OPS, kernels_for

    return kernels_for(ALL_OPS, 0)


def pytest_collection_modifyitems(config, items):  # noqa: ANN001
    """Slow tests first. CI runs two xdist workers with ``--dist worksteal``: a ten-minute
    test collected last ran alone at the end while the other core idled; started first, it
    runs beside everything else, and the idle worker steals what was queued behind it."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
