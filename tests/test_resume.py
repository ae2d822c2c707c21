"""Run directories survive crashes: straight == stopped + resumed, kill -9, torn files, refusals."""
from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from tests.conftest import run_cli, start_cli
from zeroevo.core.errors import RunDirError
from zeroevo.runs.birthlog import read_log, segment_paths
from zeroevo.runs.lifecycle import resume_run, start_run


def _cfg(small_demo, births):
    return small_demo.replace("run", max_births=births, sufficient_fitness=0.0, snapshot_every=3000,
                              chunk=1000)


def _same_log(a: Path, b: Path) -> None:
    la, lb = read_log(a), read_log(b)
    assert la.num_rows == lb.num_rows
    for name in la.column_names:
        if name != "time":
            assert la.column(name).equals(lb.column(name)), name


@pytest.mark.parametrize("engine", ["chunk", "python"])
def test_stopped_and_resumed_equals_straight(tmp_path, small_demo, engine):
    cfg = _cfg(small_demo, 12000).replace("run", engine=engine)
    straight, _ = start_run(cfg, tmp_path / "a")
    ra = straight.run()
    part, _ = start_run(cfg.replace("run", max_births=5500), tmp_path / "b")
    part.run()
    rb = resume_run(tmp_path / "b", max_births=12000).run()
    _same_log(tmp_path / "a", tmp_path / "b")
    assert ra.program == rb.program and ra.select_fitness == rb.select_fitness
    assert ra.final_fitness == rb.final_fitness


def test_torn_segment_and_corrupt_snapshot_recover(tmp_path, small_demo):
    cfg = _cfg(small_demo, 10000)
    start_run(cfg, tmp_path / "a")[0].run()
    start_run(cfg.replace("run", max_births=7000), tmp_path / "b")[0].run()
    run = tmp_path / "b"
    # A crash mid-write: the last segment loses its footer and half of its last batch.
    last = segment_paths(run / "log")[-1]
    data = last.read_bytes()
    last.write_bytes(data[: len(data) * 2 // 3])
    # And the newest snapshot is corrupt: resume must fall back to the previous one.
    snaps = sorted((run / "snapshots").glob("snap-*.arrow"))
    snaps[-1].write_bytes(b"garbage")
    resume_run(run, max_births=10000).run()
    _same_log(tmp_path / "a", run)


@pytest.mark.parametrize("head", (b"", b"ARR"), ids=("empty", "part-of-magic"))
def test_segment_killed_while_opening_is_empty_not_foreign(tmp_path, small_demo, head):
    cfg = _cfg(small_demo, 10000)
    start_run(cfg, tmp_path / "a")[0].run()
    start_run(cfg.replace("run", max_births=7000), tmp_path / "b")[0].run()
    last = segment_paths(tmp_path / "b" / "log")[-1]
    n = int(last.stem.split("-")[1])
    (last.parent / f"births-{n + 1:06d}.arrow").write_bytes(head)
    resume_run(tmp_path / "b", max_births=10000).run()
    _same_log(tmp_path / "a", tmp_path / "b")
    (last.parent / f"births-{n + 9:06d}.arrow").write_bytes(b"PK\x03\x04 not arrow")
    with pytest.raises(RunDirError, match="not an Arrow IPC file"):
        resume_run(tmp_path / "b", max_births=12000)


def test_log_is_plain_arrow(tmp_path, small_demo):
    start_run(_cfg(small_demo, 4000), tmp_path / "r")[0].run()
    tables = []
    for seg in sorted((tmp_path / "r" / "log").glob("*.arrow")):
        with pa.memory_map(str(seg)) as src:
            tables.append(ipc.open_file(src).read_all())
    log = pa.concat_tables(tables)
    assert log.num_rows == 4000
    assert log.column_names[:12] == ["birth", "island", "restart", "parent", "mutation", "status",
                                     "fitness", "steps", "fec_hits", "stage", "cost", "time"]
    assert json.loads(log.schema.metadata[b"zeroevo.mutations"])[0] == "init"
    assert np.array_equal(log.column("birth").to_numpy(), np.arange(4000))


def test_refusals(tmp_path, small_demo):
    start_run(_cfg(small_demo, 2000), tmp_path / "r")[0].run()
    with pytest.raises(RunDirError, match="config differs"):
        resume_run(tmp_path / "r", config=small_demo.replace("evolution", population=60))
    with pytest.warns(UserWarning, match="changed config"):
        resume_run(tmp_path / "r", config=small_demo.replace("evolution", mutate_prob=0.5), force=True)
    with pytest.warns(UserWarning), pytest.raises(RunDirError, match="population or program sizes"):
        resume_run(tmp_path / "r", config=small_demo.replace("evolution", population=60), force=True)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("hi")
    with pytest.raises(RunDirError, match="not a zeroevo run directory"):
        resume_run(tmp_path / "foreign")
    meta = json.loads((tmp_path / "r" / "meta.json").read_text())
    (tmp_path / "newer").mkdir()
    (tmp_path / "newer" / "meta.json").write_text(json.dumps({**meta, "schema": 99}))
    with pytest.raises(RunDirError, match="schema 99"):
        resume_run(tmp_path / "newer")
    (tmp_path / "r" / "meta.json").write_text("{not json")
    with pytest.raises(RunDirError, match="corrupt"):
        resume_run(tmp_path / "r")
    with pytest.raises(RunDirError, match="not empty"):
        start_run(small_demo, tmp_path / "foreign")
    proc = run_cli("resume", str(tmp_path / "newer"))
    assert proc.returncode == 2 and proc.stderr.count("error:") == 1 and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume(tmp_path):
    """A real `zeroevo evolve` killed with SIGKILL several times still ends with the straight log."""
    toml = tmp_path / "c.toml"
    toml.write_text('preset = "demo"\n[run]\nsufficient_fitness = 0.0\nsnapshot_every = 40000\n'
                    'chunk = 5000\n[evolution]\nmax_train_steps = 2e7\n')
    births = "400000"
    assert run_cli("evolve", "--config", str(toml), "--max-births", births, "--out",
                   str(tmp_path / "straight"), "--quiet").returncode == 0
    run = tmp_path / "killed"
    rng = random.Random(4)
    args = ["evolve", "--config", str(toml), "--max-births", births, "--out", str(run), "--quiet"]
    for attempt in range(4):
        proc = start_cli(*args)
        # Kill at random moments of the run, not of its start-up: on a loaded machine the
        # first process may not have made its folder within the random delay.
        deadline = time.monotonic() + 120
        while not (run / "meta.json").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.8, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        args = ["resume", str(run), "--quiet"]
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    _same_log(tmp_path / "straight", run)


@pytest.mark.slow
def test_kill_and_ignored_ctrl_c_stop_cleanly_then_resume(tmp_path):
    """`kill` (SIGTERM), and `kill -INT` of a run started with `&` from a script (which
    inherits SIGINT ignored), stop `zeroevo evolve` like Ctrl-C: one line, exit 128 + signal,
    a run that verifies and resumes to the straight log (with 2 workers and with 1)."""
    toml = tmp_path / "c.toml"
    toml.write_text('preset = "demo"\n[run]\nsufficient_fitness = 0.0\nsnapshot_every = 40000\n'
                    'chunk = 5000\n[evolution]\nmax_train_steps = 2e7\n')
    common = ["--config", str(toml), "--max-births", "200000", "--quiet"]
    assert run_cli("evolve", *common, "--out", str(tmp_path / "straight")).returncode == 0
    for sig, workers in ((signal.SIGTERM, "2"), (signal.SIGINT, "1")):
        run = tmp_path / f"stopped-{workers}"
        proc = start_cli("evolve", *common, "--workers", workers, "--out", str(run),
                         stderr=subprocess.PIPE, text=True,  # SIGINT ignored, as `&` in a script
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        deadline = time.monotonic() + 120
        while not list(run.glob("log/births-*")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + sig, err
        assert err.strip() == ("terminated" if sig == signal.SIGTERM else "interrupted")
        assert run_cli("verify", str(run)).returncode == 0
        done = run_cli("resume", str(run), "--quiet")
        assert done.returncode == 0, done.stderr
        _same_log(tmp_path / "straight", run)
