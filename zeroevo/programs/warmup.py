"""Compiling the program kernels ahead of the search, in stages, on every core there is.

A first run on a machine compiles its kernel variant (see :mod:`zeroevo.programs.kernels`)
before its first birth. :func:`warm_runner` does it in stages and reports each one, so the
wait is visible and its cost is not counted as search time; the kernels every variant
shares (mutation, bytecode, selection and the FEC) compile meanwhile in a helper process
(they need no tasks), so two cores halve the wait. ``zeroevo warmup`` (:func:`warm_configs`) compiles the variants of
given configs ahead of time, one process per config. Everything lands in numba's on-disk
cache; later runs and worker processes load it in a second.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

Report = Callable[[str, int, int, float], None]


def run_stages(stages: list[tuple[str, Callable[[], object]]], report: Report | None = None,
               first: int = 1, count: int | None = None, wall0: float | None = None) -> None:
    """Run ``stages`` (name, call) in order, reporting ``(name, index, count, elapsed)`` first."""
    wall0 = time.perf_counter() if wall0 is None else wall0
    count = len(stages) if count is None else count
    for i, (name, call) in enumerate(stages):
        if report is not None:
            report(name, first + i, count, time.perf_counter() - wall0)
        call()


def _helper(config: dict) -> subprocess.Popen | None:
    """A process compiling the shared kernels of ``config``'s runner (None: none started)."""
    try:
        proc = subprocess.Popen([sys.executable, "-m", "zeroevo.programs.warmup"], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        proc.stdin.write(json.dumps(config).encode())
        proc.stdin.close()
        return proc
    except OSError:
        return None


def warm_runner(runner, report: Report | None = None, helper: bool = True) -> float:  # noqa: ANN001
    """Compile a started ``ChunkRunner``'s kernels (the shared ones in a helper process when
    ``helper``); returns the CPU seconds this process spent (the helper's are not counted)."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    leaves, kernel = runner.leaf_stages(), runner.kernel_stages()
    proc = _helper(runner.config.to_dict()) if helper and (os.cpu_count() or 1) > 1 else None
    first = 2 if proc is not None else len(leaves) + 1  # the helper's stages count as one
    count = first - 1 + len(kernel)
    if proc is None:
        run_stages(leaves, report, 1, count, wall0)
    elif report is not None:
        report(", ".join(name for name, _ in leaves) + " (helper process)", 1, count, 0.0)
    run_stages(kernel[:-1], report, first, count, wall0)
    if proc is not None and proc.wait() != 0:
        run_stages(leaves, None)  # the helper failed: compile them here
    run_stages(kernel[-1:], report, count, count, wall0)
    return time.process_time() - cpu0


def _warm_config(config: dict) -> float:
    from zeroevo.programs.config import Config
    from zeroevo.programs.runners import ChunkRunner
    from zeroevo.programs.tasks import generate

    cfg = Config.from_data(config)
    runner = ChunkRunner(cfg, cfg.program_spec())
    runner.start(generate(cfg.search_tasks))  # tasks of the search's shapes: types are what compile
    t0 = time.perf_counter()
    warm_runner(runner, helper=False)
    return time.perf_counter() - t0


def warm_configs(configs: list[dict], jobs: int = 0,
                 done: Callable[[int, int, float], None] | None = None) -> None:
    """Compile the kernels of program ``configs`` (plain dicts), ``jobs`` processes at once
    (0: one per core); ``done(finished, total, seconds)`` after each."""
    jobs = jobs or min(len(configs), os.cpu_count() or 1)
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        for k, seconds in enumerate(pool.map(_warm_config, configs)):
            if done is not None:
                done(k + 1, len(configs), seconds)


def _main() -> None:
    # The helper of warm_runner: compile the shared kernels of the config on stdin.
    from zeroevo.programs.config import Config
    from zeroevo.programs.runners import ChunkRunner

    config = Config.from_data(json.load(sys.stdin))
    run_stages(ChunkRunner(config, config.program_spec()).leaf_stages())


if __name__ == "__main__":
    _main()
