"""Scale-out end to end: islands and a neural population on a real Dask cluster, with a
worker killed mid-run, give the same birth log as a serial run."""
from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from tests.test_dispatch import dask_cluster  # noqa: F401 - the real scheduler + 2 workers fixture
from zeroevo.runs.birthlog import read_log
from zeroevo.runs.lifecycle import start_run
from zeroevo.runs.presets import load_preset


def _rows(path, drop=("time", "metrics")):
    log = read_log(path)
    return {k: log.column(k).to_pylist() for k in log.column_names if k not in drop}


def _killer(pid: int, after: int):
    """A progress callback that SIGKILLs ``pid`` at its ``after``-th call (mid-run)."""
    calls = [0]

    def progress(_):
        calls[0] += 1
        if calls[0] == after:
            os.kill(pid, signal.SIGKILL)
    return progress


@pytest.mark.slow
def test_islands_on_dask_with_a_killed_worker(tmp_path, small_demo, dask_cluster):  # noqa: F811
    address, procs = dask_cluster
    cfg = small_demo.replace("run", max_births=30000, sufficient_fitness=0.0, snapshot_every=10000)
    cfg = cfg.replace("evolution", max_train_steps=2e6)
    cfg = cfg.replace("dispatch", islands=2, migrate_every=1500, migrants=2)
    start_run(cfg, tmp_path / "serial")[0].run()
    dask = cfg.replace("dispatch", backend="dask", scheduler=address)
    start_run(dask, tmp_path / "dask", progress=_killer(procs[1].pid, 3))[0].run()
    assert _rows(tmp_path / "serial") == _rows(tmp_path / "dask")
    assert procs[1].wait(10) == -signal.SIGKILL  # the worker really died during the run


@pytest.mark.slow
def test_neural_population_on_dask_with_a_killed_worker(tmp_path, dask_cluster):  # noqa: F811
    address, procs = dask_cluster
    cfg = load_preset("fashion-layers").replace("data", dataset="digits").replace("final", top_k=0)
    cfg = cfg.replace("fidelity", train_subset=256, valid_subset=128, epochs=1, batch_size=32)
    cfg = cfg.replace("space", options={"max_layers": 4})
    cfg = cfg.replace("run", max_births=12, snapshot_every=4).replace("evolution", population=4, tournament=2)
    cfg = cfg.replace("dispatch", lag=2)
    start_run(cfg, tmp_path / "serial")[0].run()
    dask = cfg.replace("dispatch", backend="dask", scheduler=address)
    start_run(dask, tmp_path / "dask", progress=_killer(procs[2].pid, 4))[0].run()
    assert procs[2].wait(10) == -signal.SIGKILL
    a, b = _rows(tmp_path / "serial"), _rows(tmp_path / "dask")
    assert a == b
    assert np.all(np.array(a["birth"]) == np.arange(12))
