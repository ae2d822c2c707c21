"""Task rotation: search tasks drawn anew from a pool, deterministically.

The draws split chunks at their boundaries, so the log is the same whatever the chunk size,
in both loops, resumed or straight, on islands serial or in processes; a bad pool is one
config error.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.test_search import _run
from zeroevo.core.births import BirthBatch
from zeroevo.core.errors import ConfigError
from zeroevo.programs.rotation import TaskRotation
from zeroevo.programs.search import ProgramSearch
from zeroevo.runs.birthlog import read_log
from zeroevo.runs.lifecycle import resume_run, start_run


def _rotating(small_demo, births=3000):
    cfg = small_demo.replace("run", max_births=births, sufficient_fitness=0.0, chunk=700)
    return cfg.replace("evaluation", fec=False, task_pool=30, rotate_every=90)


def test_rotation_is_the_same_in_both_loops_and_whatever_the_chunks(small_demo):
    cfg = _rotating(small_demo)
    fast, log_fast = _run(cfg)
    slow, log_slow = _run(cfg.replace("run", engine="python"))
    assert log_fast.equal(log_slow) and fast.program == slow.program
    _, small_chunks = _run(cfg.replace("run", chunk=37))
    assert log_fast.equal(small_chunks)
    _, fixed = _run(cfg.replace("evaluation", task_pool=0))
    assert not log_fast.equal(fixed)  # rotating changes what is measured


def test_a_rotating_run_resumed_mid_draw_equals_a_straight_one(tmp_path, small_demo):
    cfg = _rotating(small_demo, 6000).replace("run", snapshot_every=1000)
    start_run(cfg, tmp_path / "straight")[0].run()
    start_run(cfg.replace("run", max_births=2550), tmp_path / "resumed")[0].run()
    resume_run(tmp_path / "resumed", max_births=6000).run()
    a, b = read_log(tmp_path / "straight"), read_log(tmp_path / "resumed")
    assert a.drop(["time"]).equals(b.drop(["time"]))


def test_rotation_on_islands_equals_serial_and_processes(tmp_path, small_demo):
    cfg = _rotating(small_demo, 2400).replace("dispatch", islands=2, migrate_every=400, migrants=2)
    start_run(cfg, tmp_path / "serial")[0].run()
    start_run(cfg.replace("dispatch", backend="process", workers=2), tmp_path / "proc")[0].run()
    a, b = read_log(tmp_path / "serial"), read_log(tmp_path / "proc")
    assert a.drop(["time"]).equals(b.drop(["time"]))


def test_draws_are_seeded_distinct_and_chunks_split_at_their_boundaries(small_demo):
    cfg = _rotating(small_demo)
    pool = ProgramSearch(cfg).tasks_for(0, 0)
    assert pool.num_tasks == 30
    rot = TaskRotation(pool, 10, 90, 7, 0)
    a, again, b = rot.tasks(0, 0), rot.tasks(0, 0), rot.tasks(0, 1)
    assert np.array_equal(a.exec_keys, again.exec_keys) and not np.array_equal(a.exec_keys, b.exec_keys)
    assert set(a.exec_keys) <= set(pool.exec_keys) and len(set(a.exec_keys)) == 10
    calls, used = [], []

    def segment(t0, b0, n, steps, max_steps, restart):
        calls.append((b0, n))
        return _births(n), steps + n

    batch, steps = rot.run(segment, used.append, 0, 50, 200, 0, 0, 0)
    assert calls == [(50, 40), (90, 90), (180, 70)] and len(batch) == 200 and steps == 200
    assert len(used) == 3


def _births(n: int) -> BirthBatch:
    z = np.zeros(n, np.int64)
    return BirthBatch(z, z.astype(np.int32), z.astype(np.int32), z, z.astype(np.int8), z.astype(np.int8),
                      np.zeros(n), z, z.astype(np.int16), z.astype(np.int8), np.zeros(n))


@pytest.mark.parametrize("fields, word", [
    ({"task_pool": 30}, "fec"),                      # the cache would hand out another draw's fitness
    ({"task_pool": 10, "fec": False}, "more than"),  # a pool no larger than one draw
    ({"task_pool": -1, "fec": False}, ">= 0"),
    ({"task_pool": 30, "fec": False, "rotate_every": 0}, ">= 1"),
])
def test_a_bad_pool_is_one_clear_config_error(small_demo, fields, word):
    with pytest.raises(ConfigError, match="evaluation") as err:
        small_demo.replace("evaluation", **fields)
    assert word in str(err.value)


def test_warming_up_a_rotating_config_compiles_what_it_runs(small_demo):
    from zeroevo.programs.warmup import warm_configs

    warm_configs([_rotating(small_demo).to_dict()], 1)  # a pool-sized check would refuse the fixed tasks
