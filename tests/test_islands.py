"""Program islands: the same log whatever the workers, migrations as births, exact resume."""
from __future__ import annotations

import json

import numpy as np

from tests.conftest import run_cli
from zeroevo.runs.birthlog import read_log
from zeroevo.runs.lifecycle import resume_run, start_run
from zeroevo.spaces.program.genome import MUTATION_CODE


def _cfg(small_demo, **dispatch):
    cfg = small_demo.replace("run", max_births=12000, sufficient_fitness=0.0, snapshot_every=5000)
    cfg = cfg.replace("evolution", max_train_steps=1e6)
    return cfg.replace("dispatch", islands=3, migrate_every=1000, migrants=2, **dispatch)


def _rows(path):
    log = read_log(path)
    return {k: log.column(k).to_numpy() for k in log.column_names if k != "time"}


def _same(a, b):
    ra, rb = _rows(a), _rows(b)
    assert ra.keys() == rb.keys()
    for k in ra:
        assert np.array_equal(ra[k], rb[k]), k


def test_islands_same_log_serial_and_processes_and_resume(tmp_path, small_demo):
    serial = _cfg(small_demo)
    start_run(serial, tmp_path / "serial")[0].run()
    start_run(_cfg(small_demo, backend="process", workers=2), tmp_path / "proc")[0].run()
    _same(tmp_path / "serial", tmp_path / "proc")
    start_run(serial.replace("run", max_births=5000), tmp_path / "resumed")[0].run()
    resume_run(tmp_path / "resumed", max_births=12000).run()
    _same(tmp_path / "serial", tmp_path / "resumed")


def test_migrations_are_births_from_the_previous_island(tmp_path, small_demo):
    start_run(_cfg(small_demo), tmp_path / "r")[0].run()
    rows = _rows(tmp_path / "r")
    births = rows["birth"]
    assert len(np.unique(births)) == len(births)
    assert set(np.unique(rows["island"])) == {0, 1, 2}
    mig = rows["mutation"] == MUTATION_CODE["migrate"]
    assert mig.sum() > 0
    src_island = rows["parent"][mig] % 3
    assert np.array_equal(src_island, (rows["island"][mig] - 1) % 3)
    born = {}
    for b, f in zip(births, rows["fitness"]):
        born[b] = f
    assert all(born[p] == f for p, f in zip(rows["parent"][mig], rows["fitness"][mig]))


def test_cli_islands_with_workers(tmp_path):
    proc = run_cli("evolve", "--preset", "demo", "--seed", "3", "--islands", "2", "--workers", "2",
                   "--migrate-every", "20000", "--max-births", "80000", "--out", str(tmp_path / "r"),
                   "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["births"] >= 80000
    meta = json.loads((tmp_path / "r" / "meta.json").read_text())
    assert meta["config"]["dispatch"]["islands"] == 2
