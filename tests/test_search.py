"""Determinism and loop equivalence of the program search (issue: two speeds, one algorithm)."""
from __future__ import annotations

import numpy as np
import pytest

from zeroevo.core.births import ListSink
from zeroevo.programs.search import ProgramSearch
from zeroevo.programs.tasks import from_arrays


def _run(cfg, **kw):
    sink = ListSink()
    result = ProgramSearch(cfg, sink=sink, **kw).run()
    return result, sink.all()


@pytest.mark.parametrize("fec", [True, False])
def test_python_loop_and_chunk_loop_give_identical_birth_logs(small_demo, fec):
    cfg = small_demo.replace("run", max_births=3000, sufficient_fitness=0.0, chunk=700)
    cfg = cfg.replace("evaluation", fec=fec)
    fast, log_fast = _run(cfg)
    slow, log_slow = _run(cfg.replace("run", engine="python"))
    assert len(log_fast) == 3000
    assert log_fast.equal(log_slow)
    assert fast.program == slow.program
    assert (fast.select_fitness, fast.final_fitness, fast.restarts) == \
        (slow.select_fitness, slow.final_fitness, slow.restarts)
    assert fast.restarts >= 2  # the small step budget forces restarts and select
    assert set(np.unique(log_fast.mutation)) >= {0, 1, 3, 4, 5}  # init, clone and all 3 mutations
    if fec:
        assert log_fast.fec_hits.sum() > 0


def test_random_search_baseline_matches_between_loops(small_demo):
    cfg = small_demo.replace("evolution", algorithm="random")
    cfg = cfg.replace("run", max_births=600, sufficient_fitness=0.0)
    _, a = _run(cfg)
    _, b = _run(cfg.replace("run", engine="python"))
    assert a.equal(b)
    assert (a.parent == -1).all() and np.isin(a.mutation, (0, 11)).all() and (a.mutation == 11).sum() > 300


def test_same_seed_same_run_and_other_seed_differs(small_demo):
    cfg = small_demo.replace("run", max_births=5000, sufficient_fitness=0.0, chunk=999)
    r1, l1 = _run(cfg)
    r2, l2 = _run(cfg.replace("run", chunk=2500))  # chunking must not matter
    r3, l3 = _run(cfg.replace("run", seed=2))
    assert l1.equal(l2) and r1.program == r2.program and r1.final_fitness == r2.final_fitness
    assert not l1.equal(l3)


def test_births_are_numbered_and_parents_exist(small_demo):
    cfg = small_demo.replace("run", max_births=2000, sufficient_fitness=0.0)
    _, log = _run(cfg)
    assert (log.birth == np.arange(2000)).all()
    born = set()
    for birth, parent in zip(log.birth, log.parent):
        assert parent == -1 or parent in born
        born.add(birth)
    assert ((log.fitness >= 0) & (log.fitness <= 1)).all()


def test_user_numpy_task(small_demo):
    rng = np.random.default_rng(0)
    w = rng.normal(size=4)
    x = rng.normal(size=(3, 300, 4))
    y = x @ w
    tasks = from_arrays(x[:, :200], y[:, :200], x[:, 200:], y[:, 200:])
    cfg = small_demo.replace("run", max_births=20000, sufficient_fitness=0.0)
    result = ProgramSearch(cfg, tasks=tasks).run()
    assert result.births == 20000
    assert 0.0 <= result.final_fitness <= 1.0
    assert result.search_fitness > 0.5  # evolution finds something useful on a linear task


def test_linear_initial_population_is_already_solved(small_demo):
    # The first restart's selection solves it (a run stopped before any restart finished
    # selects nothing: see test_faults.test_a_run_stopped_before_any_restart_finished_says_so).
    cfg = small_demo.replace("program", initial="linear")
    result = ProgramSearch(cfg.replace("run", max_births=20_000)).run()
    assert result.select_fitness > 0.9999 and result.solved


def test_first_chunk_is_a_short_probe(small_demo):
    """A slow preset's births can cost 0.3 s each; a guessed first chunk of 1,000 births, or a
    chunk sized from a run of cheap FEC hits, ran minutes past max_seconds. The first chunk is
    16 births and each next one at most twice the last."""
    search = ProgramSearch(small_demo.replace("run", max_births=2000, sufficient_fitness=0.0, chunk=700))
    sizes = []
    run = search.runner.run

    def recording(birth, local, n, *args):
        sizes.append(n)
        return run(birth, local, n, *args)

    search.runner.run = recording
    search.run()
    assert sizes[0] == 16 and all(b <= 2 * a for a, b in zip(sizes, sizes[1:]))
    assert max(sizes) == 700 and sum(sizes) >= 2000 - 16


def test_a_first_run_reports_each_compile_stage_before_it_runs(monkeypatch):
    from zeroevo.programs import warmup
    from zeroevo.programs.warmup import warm_runner

    calls, reports = [], []

    class Stages:  # a runner's two stage lists, recording the order they run in
        def leaf_stages(self):
            return [(name, lambda name=name: calls.append(name)) for name in ("mutation", "selection")]

        def kernel_stages(self):
            return [(name, lambda name=name: calls.append(name)) for name in ("interpreter", "bytecode", "chunk")]

    def report(name, index, count, elapsed):
        reports.append((name, index, count, list(calls)))

    warm_runner(Stages(), report, helper=False)
    assert calls == ["mutation", "selection", "interpreter", "bytecode", "chunk"]
    assert reports == [(name, k + 1, 5, calls[:k]) for k, name in enumerate(calls)]

    class Helper:  # a helper process that has compiled the leaf stages once waited for
        def wait(self):
            calls.extend(["mutation", "selection"])
            return 0

    monkeypatch.setattr(warmup, "_helper", lambda config: Helper())
    monkeypatch.setattr(warmup.os, "cpu_count", lambda: 2)
    Stages.config = type("Config", (), {"to_dict": lambda self: {}})()
    calls.clear()
    reports.clear()
    warm_runner(Stages(), report)
    assert calls == ["interpreter", "bytecode", "mutation", "selection", "chunk"]  # the chunk loop last
    assert reports == [("mutation, selection (helper process)", 1, 4, []), ("interpreter", 2, 4, []),
                       ("bytecode", 3, 4, ["interpreter"]), ("chunk", 4, 4, calls[:4])]


def test_nonlinear_threshold_sits_between_linear_regression_and_backprop(tmp_path):
    # "Solved" on the nonlinear preset means rediscovering a 2-layer network trained by
    # backprop, so its threshold must be one that network clears and linear regression does
    # not (0.99 was out of the network's reach: 1 epoch of SGD leaves RMSE ~ 0.1); and the
    # run directory records both learners, as for the binary presets.
    from zeroevo.programs.baselines import baselines
    from zeroevo.runs.lifecycle import start_run
    from zeroevo.runs.presets import load_preset

    cfg = load_preset("nonlinear")
    unrun = ProgramSearch(cfg)  # only for its select and final tasks
    got = baselines(cfg, unrun.tasks_for(1, 0), unrun.tasks_for(2, 0))
    threshold = cfg.run.sufficient_fitness
    assert got["neural_net"]["select_fitness"] > threshold > got["linear"]["select_fitness"]
    search, run_dir = start_run(cfg.replace("run", max_births=2000), tmp_path / "run", None)
    search.run()
    assert run_dir.document("baselines") == got


@pytest.mark.parametrize("islands", [1, 2])
def test_select_top_keeps_the_best_on_select_of_the_population_best_and_births_alike(tmp_path, small_demo, islands):
    from zeroevo.runs.birthlog import read_log
    from zeroevo.runs.lifecycle import start_run
    from zeroevo.runs.rundir import RunDir

    cfg = small_demo.replace("run", max_births=4000, sufficient_fitness=0.0)
    cfg = cfg.replace("dispatch", islands=islands, migrate_every=250)
    runs = {}
    for k in (1, 50 * islands):
        start_run(cfg.replace("evolution", select_top=k), tmp_path / f"top{k}")[0].run()
        runs[k] = (read_log(tmp_path / f"top{k}").drop(["time"]), RunDir(tmp_path / f"top{k}").best())
    assert runs[1][0].equals(runs[50 * islands][0])  # select never changes a birth
    one, top = runs[1][1], runs[50 * islands][1]
    assert len(one) == len(top) >= 3
    assert all(b["select_fitness"] >= a["select_fitness"] for a, b in zip(one, top))
    assert any(b["select_fitness"] > a["select_fitness"] for a, b in zip(one, top))
    assert all(b["search_fitness"] <= a["search_fitness"] for a, b in zip(one, top))


def test_select_top_below_one_is_one_config_error(small_demo):
    from zeroevo.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"evolution.select_top = 0 is not allowed; expected >= 1"):
        small_demo.replace("evolution", select_top=0)
    small_demo.replace("evolution", select_top=1000)  # more than the population holds: all of it


def test_select_top_chooses_on_select_tasks_when_a_run_stops_before_any_restart_ends(small_demo):
    from zeroevo.programs.evaluator import full_fitness

    cfg = small_demo.replace("run", max_births=600, sufficient_fitness=0.0).replace("evolution", max_train_steps=1e12)
    plain, log_plain = _run(cfg)
    top, log_top = _run(cfg.replace("evolution", select_top=50))
    assert plain.select_fitness is None and log_plain.equal(log_top)  # k = 1: nothing selected, as before
    search = ProgramSearch(cfg)
    assert top.select_fitness >= full_fitness(cfg, search.spec, plain.program, search.tasks_for(1, 0))
    assert top.search_fitness <= plain.search_fitness


def test_select_tasks_drawn_once_keep_births_and_measure_every_restart_on_one_draw(tmp_path, small_demo):
    from zeroevo.programs.evaluator import full_fitness
    from zeroevo.runs.birthlog import read_log
    from zeroevo.runs.lifecycle import start_run
    from zeroevo.runs.rundir import RunDir
    from zeroevo.spaces.program.space import decode

    cfg = small_demo.replace("run", max_births=4000, sufficient_fitness=0.0)
    once = cfg.replace("select_tasks", redraw=False)
    search, fixed = ProgramSearch(cfg), ProgramSearch(once)
    assert not np.array_equal(search.tasks_for(1, 0).y_valid, search.tasks_for(1, 2).y_valid)
    assert np.array_equal(fixed.tasks_for(1, 0).y_valid, fixed.tasks_for(1, 2).y_valid)
    assert np.array_equal(fixed.tasks_for(1, 0).y_valid, search.tasks_for(1, 0).y_valid)  # restart 0's draw
    assert not np.array_equal(fixed.tasks_for(0, 0).y_valid, fixed.tasks_for(0, 2).y_valid)  # search: fresh

    start_run(cfg, tmp_path / "redraw")[0].run()
    start_run(once, tmp_path / "once")[0].run()
    assert read_log(tmp_path / "redraw").drop(["time"]).equals(read_log(tmp_path / "once").drop(["time"]))
    best = RunDir(tmp_path / "once").best()
    assert len(best) >= 3
    tasks = fixed.tasks_for(1, 0)
    for record in best:  # every restart's candidate was measured on restart 0's select tasks
        program = decode(fixed.spec, record["genome"])
        assert full_fitness(once, fixed.spec, program, tasks) == record["select_fitness"]
