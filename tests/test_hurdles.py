"""Progressive dynamic hurdles for programs: in the chunk kernel, exact, resumable, logged.

Off, they change nothing (the legacy-run test holds the birth log to the one an older
zeroevo wrote); on, the Python reference loop and the chunk kernel still give the same log,
a stopped and resumed run equals a straight one, and stops are logged as status ``hurdle``
with the stage reached.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.test_search import _run
from zeroevo.core.protocols import STATUS_STOPPED
from zeroevo.runs.birthlog import read_log
from zeroevo.runs.lifecycle import resume_run, start_run


def _hurdled(small_demo, births=3000):
    cfg = small_demo.replace("run", max_births=births, sufficient_fitness=0.0, chunk=700)
    return cfg.replace("evaluation", hurdle_examples=[10, 40], hurdle_quantiles=[0.5, 0.6], hurdle_window=30)


@pytest.mark.parametrize("fec", [True, False])
def test_hurdles_are_the_same_in_both_loops_and_stop_children(small_demo, fec):
    cfg = _hurdled(small_demo).replace("evaluation", fec=fec)
    fast, log_fast = _run(cfg)
    slow, log_slow = _run(cfg.replace("run", engine="python"))
    assert log_fast.equal(log_slow) and fast.program == slow.program
    stopped = log_fast.status == STATUS_STOPPED
    assert stopped.sum() > 100
    assert set(np.unique(log_fast.stage[stopped])) == {1, 2} and (log_fast.stage[~stopped] == 0).all()
    # A stopped child costs less than a full evaluation.
    assert np.median(log_fast.steps[stopped]) < np.median(log_fast.steps[log_fast.status == 0])


def test_hurdles_off_are_what_they_were(small_demo):
    cfg = small_demo.replace("run", max_births=3000, sufficient_fitness=0.0, chunk=700)
    _, plain = _run(cfg)
    _, empty = _run(cfg.replace("evaluation", hurdle_examples=[], hurdle_quantiles=[]))
    assert plain.equal(empty) and (plain.stage == 0).all() and not (plain.status == STATUS_STOPPED).any()


def test_a_hurdled_run_resumed_equals_a_straight_one(tmp_path, small_demo):
    cfg = _hurdled(small_demo, 6000).replace("run", snapshot_every=1000)
    start_run(cfg, tmp_path / "straight")[0].run()
    start_run(cfg.replace("run", max_births=2500), tmp_path / "resumed")[0].run()
    resume_run(tmp_path / "resumed", max_births=6000).run()
    a, b = read_log(tmp_path / "straight"), read_log(tmp_path / "resumed")
    assert a.drop(["time"]).equals(b.drop(["time"]))
    assert (a.column("status").to_numpy() == STATUS_STOPPED).any()


def test_hurdles_on_islands_equal_serial_and_processes(tmp_path, small_demo):
    cfg = _hurdled(small_demo, 2400).replace("dispatch", islands=2, migrate_every=400, migrants=2)
    start_run(cfg, tmp_path / "serial")[0].run()
    start_run(cfg.replace("dispatch", backend="process", workers=2), tmp_path / "proc")[0].run()
    a, b = read_log(tmp_path / "serial"), read_log(tmp_path / "proc")
    assert a.drop(["time"]).equals(b.drop(["time"]))


def test_kth_smallest_is_what_sorting_gives():
    from zeroevo.programs.evaluation import kth_smallest

    rng = np.random.default_rng(3)
    for trial in range(300):
        n = int(rng.integers(1, 40))
        values = rng.integers(0, 6, n).astype(float) if trial % 2 else rng.normal(size=n)
        values[rng.random(n) < 0.15] = np.nan
        values[rng.random(n) < 0.1] = np.inf
        for k in range(n):
            want, got = np.sort(values)[k], kth_smallest(values, k)
            assert (np.isnan(want) and np.isnan(got)) or want == got, (values, k)
