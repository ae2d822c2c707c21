"""`zeroevo analyze`: summaries, lineage replay, dead code, verified export and plots of recorded runs."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from zeroevo.analysis import programs as analysis
from zeroevo.analysis.commands import analyze
from zeroevo.analysis.lineage import Lineage, ancestry, regenerate
from zeroevo.analysis.run import open_run
from zeroevo.core.errors import RunDirError
from zeroevo.programs import dead_code
from zeroevo.programs import export as pe
from zeroevo.programs import trace as pt
from zeroevo.programs.tasks import TaskSpec, from_arrays, generate
from zeroevo.runs.lifecycle import start_run
from zeroevo.runs.presets import ALL_OPS, load_preset
from zeroevo.runs.rundir import RunDir
from zeroevo.runs.storage import read_bundle
from zeroevo.spaces.program.genome import ProgramSpec, from_rows
from zeroevo.spaces.program.space import decode

RANDOM_OPS = ["SCALAR_GAUSSIAN_SET", "VECTOR_GAUSSIAN_SET", "VECTOR_UNIFORM_SET", "MATRIX_GAUSSIAN_SET"]
MIXED_OPS = ["SCALAR_CONST_SET", "VECTOR_INNER_PRODUCT", "SCALAR_DIFF", "SCALAR_PRODUCT",
             "SCALAR_VECTOR_PRODUCT", "VECTOR_SUM", "MATRIX_VECTOR_PRODUCT", "VECTOR_OUTER_PRODUCT",
             "MATRIX_SUM", "SCALAR_SIN", "VECTOR_MAX"]


def _small(cfg, births: int):
    cfg = cfg.replace("evolution", population=60, tournament=5, max_train_steps=3e5)
    cfg = cfg.replace("select_tasks", num_tasks=5, num_train=200)
    cfg = cfg.replace("final_tasks", num_tasks=4, num_train=150, num_valid=50)
    return cfg.replace("run", max_births=births, sufficient_fitness=0.0, snapshot_every=2500, chunk=500)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    """A small demo run: 7,000 births over a few restarts, snapshots and best.json."""
    path = tmp_path_factory.mktemp("analyze") / "demo"
    start_run(_small(load_preset("demo"), 7000), path)[0].run()
    return path


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory) -> Path:
    """Every mutation type (insert, remove, trade, ...), varying sizes and random set ops."""
    cfg = _small(load_preset("demo"), 5000)
    ops = MIXED_OPS + RANDOM_OPS
    cfg = cfg.replace("program", vectors=4, matrices=2, setup_ops=ops, predict_ops=MIXED_OPS, learn_ops=ops,
                      init_sizes=[3, 2, 4], min_sizes=[1, 1, 1], max_sizes=[6, 4, 8])
    cfg = cfg.replace("evolution", mutations=["alter_param", "randomize_instruction", "randomize_component",
                                              "insert", "remove", "trade", "randomize_algorithm", "identity",
                                              "redirect"])
    path = tmp_path_factory.mktemp("analyze") / "mixed"
    start_run(cfg, path)[0].run()
    return path


def _invoke(*args: str, code: int = 0):
    result = CliRunner().invoke(analyze, [str(a) for a in args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


# ---- lineage ------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["demo_run", "mixed_run"])
def test_replay_reproduces_stored_genomes(request, which):
    path = request.getfixturevalue(which)
    lin = Lineage(path, anchors=False)  # every chain replayed from its init birth
    entries = RunDir(path).best()
    assert entries
    for e in entries:
        assert lin.genome(e["birth"]) == decode(lin.spec, e["genome"])
    # And a sample of the newest snapshot's population.
    snap = sorted((path / "snapshots").glob("snap-*.arrow"))[-1]
    arrays, _ = read_bundle(snap)
    for k in range(0, len(arrays["pop_births"]), 7):
        stored = arrays["pop_ins"][k], arrays["pop_data"][k], arrays["pop_sizes"][k]
        got = lin.genome(int(arrays["pop_births"][k]))
        assert np.array_equal(got.sizes, stored[2])
        for c in range(3):
            n = stored[2][c]
            assert np.array_equal(got.ins[c, :n], stored[0][c, :n])
            assert np.array_equal(got.data[c, :n], stored[1][c, :n])
    if which == "mixed_run":
        used = set(np.unique(lin.mutations).tolist())
        assert {6, 7, 8, 9} <= used  # insert, remove, trade, randomize_algorithm were replayed


def test_replay_of_random_search(small_demo, tmp_path):
    cfg = small_demo.replace("evolution", algorithm="random")
    start_run(cfg.replace("run", max_births=1500, chunk=500, snapshot_every=1000, sufficient_fitness=0.0),
              tmp_path / "r")[0].run()
    lin = Lineage(tmp_path / "r", anchors=False)
    arrays, _ = read_bundle(sorted((tmp_path / "r" / "snapshots").glob("snap-*.arrow"))[-1])
    for k in range(0, len(arrays["pop_births"]), 5):
        b = int(arrays["pop_births"][k])
        assert lin.chain(b) == [b]
        got = lin.genome(b)
        assert np.array_equal(got.ins, arrays["pop_ins"][k]) and np.array_equal(got.data, arrays["pop_data"][k])


def test_replay_with_islands(small_demo, tmp_path):
    """Island i's k-th birth is logged as k*K + i; migrants are exact copies from another island."""
    from zeroevo.analysis.lineage import snapshot_populations

    if "dispatch" not in small_demo.to_dict():
        pytest.skip("this zeroevo has no islands")
    cfg = small_demo.replace("evolution", population=40, max_train_steps=5e7)
    cfg = cfg.replace("dispatch", islands=3, migrate_every=500, migrants=2)
    start_run(cfg.replace("run", max_births=4500, sufficient_fitness=0.0, snapshot_every=2000), tmp_path / "r")[0].run()
    lin = Lineage(tmp_path / "r", anchors=False)
    assert (lin.mutations == 10).sum() > 0 and set(lin.islands.tolist()) == {0, 1, 2}
    arrays, _ = read_bundle(sorted((tmp_path / "r" / "snapshots").glob("snap-*.arrow"))[-1])
    pops = snapshot_populations(arrays, 3)
    assert len(pops) == 3
    for pop in pops:
        for k in range(0, len(pop["births"]), 3):
            got = lin.genome(int(pop["births"][k]))
            assert np.array_equal(got.ins, pop["ins"][k]) and np.array_equal(got.data, pop["data"][k])
    migrant = int(lin.births[np.flatnonzero(lin.mutations == 10)[0]])
    assert lin.genome(migrant) == lin.genome(int(lin.parents[lin.row(migrant)]))
    r = json.loads(_invoke("best", tmp_path / "r", "--json").output)
    assert decode(lin.spec, r["genome"]) == lin.genome(r["birth"])


def test_ancestry_path_and_changes(demo_run):
    birth = analysis.best(open_run(demo_run)).birth
    steps = ancestry(demo_run, birth)
    assert steps[0].mutation == "init" and steps[0].delta is None and steps[-1].birth == birth
    for prev, step in zip(steps, steps[1:]):
        assert step.parent == prev.birth
        assert step.delta == pytest.approx(step.fitness - prev.fitness)
        if step.mutation in ("alter_param", "randomize_instruction"):
            assert len(step.changes) <= 1
        if step.mutation == "clone":
            assert step.changes == ()
    assert any(s.changes for s in steps[1:]) or len(steps) == 1
    entry = [e for e in RunDir(demo_run).best() if e["birth"] == birth][0]
    assert steps[-1].program == decode(open_run(demo_run).spec, entry["genome"])
    assert regenerate(demo_run, birth) == steps[-1].program


def test_replay_refuses_a_log_that_does_not_match(demo_run):
    lin = Lineage(demo_run, anchors=False)
    rows = np.flatnonzero(lin.mutations == 3)  # an alter_param birth
    lin.mutations[rows[0]] = 4                 # the log now claims randomize_instruction
    with pytest.raises(RunDirError, match="does not match this code or config"):
        lin.genome(int(lin.births[rows[0]]))


def test_lineage_cli(demo_run):
    out = _invoke("lineage", demo_run).output
    assert "ancestry of birth" in out and "init" in out
    assert "regenerated genome equals the one stored in best.json: yes" in out
    data = json.loads(_invoke("lineage", demo_run, "--json").output)
    assert data["verified_against_best_json"] is True
    assert data["steps"][0]["mutation"] == "init" and data["steps"][-1]["birth"] == data["birth"]
    assert all({"component", "index", "before", "after"} <= set(c) for s in data["steps"] for c in s["changes"])
    some = data["steps"][len(data["steps"]) // 2]["birth"]
    data = json.loads(_invoke("lineage", demo_run, "--json", "--birth", some).output)
    assert data["birth"] == some and data["verified_against_best_json"] is None
    assert "not in the log" in _invoke("lineage", demo_run, "--birth", 10**9, code=2).output


# ---- summary, best, mutations ----------------------------------------------------------------

def test_summary(demo_run):
    out = _invoke("summary", demo_run).output
    for needle in ("births       7,000", "FEC hit rate", "births/s", "mutations", "alter_param"):
        assert needle in out
    s = json.loads(_invoke("summary", demo_run, "--json").output)
    assert s["births"] == 7000 and s["islands"] == 1 and s["restarts"] >= 2
    assert 0.0 < s["fec_hit_rate"] < 1.0 and s["births_per_second"] > 0
    assert sum(s["status_counts"].values()) == 7000 == sum(s["mutation_counts"].values())
    best = [e for e in RunDir(demo_run).best() if e["kept"]][-1]
    assert s["best_select_fitness"] == best["select_fitness"]


def test_best(demo_run):
    out = _invoke("best", demo_run).output
    assert "def predict():" in out and "final" in out
    r = json.loads(_invoke("best", demo_run, "--json").output)
    assert 0.0 <= r["final_fitness"] <= 1.0 and r["source"] == "best.json"
    assert r["select_fitness"] == [e for e in RunDir(demo_run).best() if e["kept"]][-1]["select_fitness"]


def test_mutations(demo_run):
    out = _invoke("mutations", demo_run).output
    assert "alter_param" in out and "randomize_component" in out
    rows = json.loads(_invoke("mutations", demo_run, "--json").output)
    by = {r["mutation"]: r for r in rows}
    assert sum(r["count"] for r in rows) == 7000
    assert by["init"]["with_parent"] == 0 and by["init"]["improved_rate"] is None
    assert all(r["improved"] <= r["with_parent"] <= r["count"] for r in rows)
    assert sum(r["share_of_improvements"] or 0 for r in rows) == pytest.approx(1.0)
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)


def test_before_any_restart_ends_the_snapshot_stands_in(small_demo, tmp_path):
    cfg = small_demo.replace("evolution", max_train_steps=1e12)
    start_run(cfg.replace("run", max_births=900, chunk=300, sufficient_fitness=0.0), tmp_path / "r")[0].run()
    assert RunDir(tmp_path / "r").best() == []
    r = json.loads(_invoke("best", tmp_path / "r", "--json").output)
    assert r["source"] == "snapshot" and r["select_fitness"] is None and 0.0 <= r["final_fitness"] <= 1.0
    s = json.loads(_invoke("summary", tmp_path / "r", "--json").output)
    assert s["best_source"] == "snapshot" and s["best_birth"] == r["birth"]
    data = json.loads(_invoke("lineage", tmp_path / "r", "--json").output)
    assert data["birth"] == r["birth"] and data["verified_against_best_json"] is None
    assert decode(cfg.program_spec(), r["genome"]) == regenerate(tmp_path / "r", r["birth"], anchors=False)


# ---- dead code ------------------------------------------------------------------------------

def _with_dead_code(spec: ProgramSpec):
    return from_rows(spec, {
        "setup": [("SCALAR_CONST_SET", 0, 0, 2, 0.2), ("SCALAR_CONST_SET", 0, 0, 3, 0.5),   # s3: dead
                  ("VECTOR_SUM", 0, 0, 2)],                                                 # v2: dead
        "predict": [("VECTOR_INNER_PRODUCT", 1, 0, 1), ("VECTOR_SUM", 0, 0, 2),            # v2: dead
                    ("SCALAR_PRODUCT", 1, 1, 3)],                                           # s3: dead
        "learn": [("SCALAR_DIFF", 0, 1, 3), ("SCALAR_PRODUCT", 3, 2, 3), ("SCALAR_VECTOR_PRODUCT", 3, 0, 2),
                  ("VECTOR_SUM", 1, 2, 1), ("SCALAR_VECTOR_PRODUCT", 2, 2, 2)],             # last: dead
    })


def test_simplify_drops_dead_code_and_keeps_predictions():
    from zeroevo.runs.presets import DEMO_OPS

    spec = ProgramSpec(ops=(tuple(DEMO_OPS),) * 3, max_sizes=(10, 10, 10))
    program = _with_dead_code(spec)
    simple = dead_code.simplified(program, spec)
    assert dead_code.component_sizes(simple) == {"setup": 1, "predict": 1, "learn": 4}
    tasks = generate(TaskSpec(num_tasks=3, num_train=100, num_valid=30, epochs=2))
    checks = dead_code.verify_same(program, simple, spec, [("t", tasks)], 100.0)
    assert checks[0]["predictions"] == 3 * (200 + 60) and checks[0]["fitness"] > 0.9
    # A change that matters is caught.
    wrong = from_rows(spec, {"setup": [("SCALAR_CONST_SET", 0, 0, 2, 0.1)],
                             "predict": [("VECTOR_INNER_PRODUCT", 1, 0, 1)],
                             "learn": [("SCALAR_DIFF", 0, 1, 3), ("SCALAR_PRODUCT", 3, 2, 3),
                                       ("SCALAR_VECTOR_PRODUCT", 3, 0, 2), ("VECTOR_SUM", 1, 2, 1)]})
    with pytest.raises(pe.VerificationError, match="predicts differently"):
        dead_code.verify_same(program, wrong, spec, [("t", tasks)], 100.0)


def test_random_ops_are_never_dropped():
    spec = ProgramSpec(features=4, scalars=4, vectors=3, matrices=1, ops=(tuple(ALL_OPS),) * 3)
    program = from_rows(spec, {"setup": [("SCALAR_GAUSSIAN_SET", 0, 0, 3, 0.0, 1.0)],   # dead, but random
                               "predict": [("VECTOR_GAUSSIAN_SET", 0, 0, 1, 0.0, 1.0),
                                           ("VECTOR_INNER_PRODUCT", 1, 0, 1)]})
    keep = dead_code.live_instructions(program)
    assert keep[0].tolist() == [True] and keep[1].tolist() == [True, True]


def test_simplify_cli(demo_run):
    out = _invoke("simplify", demo_run).output
    assert "def predict():" in out and "identical bit for bit" in out and "final tasks" in out
    r = json.loads(_invoke("simplify", demo_run, "--json").output)
    assert r["dropped"] == sum(r["instructions_before"].values()) - sum(r["instructions_after"].values())
    assert [v["num_tasks"] for v in r["verified"]] == [4, 10]
    assert r["verified"][0]["predictions"] >= 4 * 150


# ---- export ---------------------------------------------------------------------------------

_NO_ZEROEVO = """
import importlib.util, sys
sys.modules["zeroevo"] = None  # any zeroevo import now fails
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
mod.setup(7)
print(mod.train_step([0.1, 0.2, 0.3, 0.4], 1.0), mod.predict([1.0, 0.0, 0.0, 0.0]))
"""


def test_export_round_trip(demo_run, tmp_path):
    out = tmp_path / "best_program.py"
    result = _invoke("export", demo_run, "--out", out)
    assert "verified" in result.output and out.exists()
    source = out.read_text()
    assert not re.search(r"^\s*(import|from)\s+zeroevo", source, re.M)
    for name in ("def setup(", "def predict(", "def learn(", "def train_step("):
        assert name in source
    # Standalone: it runs where zeroevo cannot be imported.
    proc = subprocess.run([sys.executable, "-c", _NO_ZEROEVO, str(out)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    # Its predictions equal zeroevo's on the run's tasks, bit for bit.
    run = open_run(demo_run)
    b = analysis.best(run)
    mod = pe.load_module(out)
    for _, tasks in analysis.task_sets(run, b.restart):
        mine = pt.traces(mod, tasks, run.config.evaluation.max_abs_error)
        ref = pt.traces(pt.ReferenceMachine(b.program, run.spec), tasks, run.config.evaluation.max_abs_error)
        assert pt.mismatch(mine, ref) is None and pt.count(mine) > 0
    # Without --out the module goes to stdout.
    printed = _invoke("export", demo_run, "--full").stdout
    assert "def train_step(" in printed


def test_export_with_random_ops_matches_zeroevo(tmp_path):
    from zeroevo.programs.evaluator import full_fitness

    cfg = load_preset("demo")
    data = cfg.to_dict()
    data["program"].update(setup_ops=ALL_OPS, predict_ops=ALL_OPS, learn_ops=ALL_OPS, matrices=2,
                           init_sizes=[6, 6, 6], max_sizes=[6, 6, 6])
    from zeroevo.runs.configs import from_dict

    cfg = from_dict(data)
    spec = cfg.program_spec()
    program = from_rows(spec, {
        "setup": [("MATRIX_GAUSSIAN_SET", 0, 0, 0, 0.0, 0.3), ("VECTOR_UNIFORM_SET", 0, 0, 1, -0.5, 0.5),
                  ("SCALAR_CONST_SET", 0, 0, 2, 0.05)],
        "predict": [("MATRIX_VECTOR_PRODUCT", 0, 0, 2), ("VECTOR_INNER_PRODUCT", 2, 1, 1),
                    ("SCALAR_GAUSSIAN_SET", 0, 0, 3, 0.0, 0.001), ("SCALAR_SUM", 1, 3, 1)],
        "learn": [("SCALAR_DIFF", 0, 1, 3), ("SCALAR_PRODUCT", 3, 2, 3), ("SCALAR_VECTOR_PRODUCT", 3, 2, 2),
                  ("VECTOR_SUM", 1, 2, 1), ("MATRIX_UNIFORM_SET", 0, 0, 1, -0.1, 0.1),
                  ("MATRIX_SUM", 0, 1, 0)]})
    path = tmp_path / "random_ops.py"
    path.write_text(pe.module_source(program, spec))
    mod = pe.load_module(path)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(2, 60, 4)), (rng.random((2, 60)) > 0.5).astype(float)
    for tasks in (generate(TaskSpec(num_tasks=2, num_train=50, num_valid=20, epochs=2)),
                  from_arrays(x[:, :40], y[:, :40], x[:, 40:], y[:, 40:], classify=True)):
        mine = pt.traces(mod, tasks)
        assert pt.mismatch(mine, pt.traces(pt.ReferenceMachine(program, spec), tasks)) is None
        for t in range(tasks.num_tasks):
            assert mine[t].fitness == full_fitness(cfg, spec, program, analysis.one_task(tasks, t))


def test_generated_code_matches_the_kernel_on_random_programs():
    """Differential: random programs over all 64 ops, generated numpy vs the numba kernel."""
    from zeroevo.core.rng import new_state
    from zeroevo.programs.evaluator import full_fitness
    from zeroevo.runs.configs import from_dict
    from zeroevo.spaces.program.initial import random_from_stream

    data = load_preset("demo").to_dict()
    data["program"].update(setup_ops=ALL_OPS, predict_ops=ALL_OPS, learn_ops=ALL_OPS, scalars=5, vectors=4,
                           matrices=3, init_sizes=[5, 5, 5], max_sizes=[5, 5, 5])
    cfg = from_dict(data)
    spec = cfg.program_spec()
    tasks = generate(TaskSpec(num_tasks=2, num_train=12, num_valid=6, epochs=2))
    nonzero = 0
    for i in range(60):
        program = random_from_stream(spec, new_state(777 + i))
        runs = pt.traces(pe.machine(program, spec), tasks)
        assert pt.mismatch(runs, pt.traces(pt.ReferenceMachine(program, spec), tasks)) is None, i
        for t in range(tasks.num_tasks):
            kernel = full_fitness(cfg, spec, program, analysis.one_task(tasks, t))
            assert runs[t].fitness == kernel, (i, t)
            nonzero += kernel > 0
    assert nonzero > 20


def test_export_refuses_when_verification_fails(demo_run, tmp_path, monkeypatch):
    out = tmp_path / "never.py"
    monkeypatch.setattr(pe, "statement", lambda *a: "s[1] = 12.5")  # a broken code generator
    result = _invoke("export", demo_run, "--out", out, code=2)
    assert result.output.startswith("error:") and "predicts differently" in result.output
    assert not out.exists() and not list(tmp_path.glob(".never-*"))


# ---- plot, the log itself, bad directories -----------------------------------------------------

def test_plot(demo_run, tmp_path):
    out = tmp_path / "progress.png"
    assert "wrote" in _invoke("plot", demo_run, "--out", out).output
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_log_reads_with_pyarrow_alone(demo_run):
    code = f"""
import sys, json, glob
sys.modules["zeroevo"] = None
import pyarrow as pa, pyarrow.ipc as ipc
tables = []
for path in sorted(glob.glob({str(demo_run / "log" / "births-*.arrow")!r})):
    with pa.memory_map(path) as src:
        tables.append(ipc.open_file(src).read_all())
log = pa.concat_tables(tables)
names = json.loads(log.schema.metadata[b"zeroevo.mutations"])
print(log.num_rows, names[log.column("mutation")[-1].as_py()], log.column("fitness").type)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows, name, dtype = proc.stdout.split()
    assert rows == "7000" and name in ("clone", "alter_param", "randomize_instruction", "randomize_component")
    assert dtype == "double"


def test_bad_run_dirs(tmp_path, demo_run):
    (tmp_path / "empty").mkdir()
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "meta.json").write_text('{"format": "something-else"}')
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "meta.json").write_text("{not json")
    (tmp_path / "a_file").write_text("x")
    for bad in ("missing", "empty", "foreign", "corrupt", "a_file"):
        with pytest.raises(RunDirError):
            open_run(tmp_path / bad)
        for cmd in ("summary", "best", "lineage", "mutations", "simplify", "export", "plot"):
            result = _invoke(cmd, tmp_path / bad, code=2)
            assert result.output.startswith("error:") and len(result.output.strip().splitlines()) == 1
    # A run directory whose log segment is garbage.
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(demo_run, broken)
    for seg in (broken / "log").glob("*.arrow"):
        seg.write_bytes(b"garbage")
    with pytest.raises(RunDirError):
        open_run(broken)
    assert _invoke("summary", broken, code=2).output.startswith("error:")


def test_main_cli_has_analyze():
    """`zeroevo analyze` reports a bad directory in one line, and a command invoked in-process
    hands the caller's signal handlers back (the CLI sets its own only while it runs)."""
    from zeroevo.cli import main

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    result = CliRunner().invoke(main, ["analyze", "summary", "/nonexistent/run"])
    assert result.exit_code == 2 and result.output.startswith("error:")
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
