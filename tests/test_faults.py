"""Fault injection on real runs: every accident ends in a clear refusal or a verified recovery.

Each test damages a real run directory (or feeds a bad input) the way an everyday accident
would and checks that zeroevo refuses with one ``error:`` line (exit 2) or recovers exactly,
never with a traceback and never with a silent change of the log.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.conftest import ROOT, run_cli, start_cli
from zeroevo.core.errors import ConfigError, RunDirError
from zeroevo.runs.birthlog import read_log
from zeroevo.runs.lifecycle import resume_run, start_run
from zeroevo.runs.manifest import Manifest
from zeroevo.runs.presets import load_preset
from zeroevo.runs.verify import verify


def _cfg(births: int = 6000):
    cfg = load_preset("demo")
    cfg = cfg.replace("evolution", population=50, tournament=5, max_train_steps=2e5)
    cfg = cfg.replace("select_tasks", num_tasks=10, num_train=200)
    return cfg.replace("run", max_births=births, snapshot_every=1500, chunk=500, sufficient_fitness=0.0)


def _rows(path):
    log = read_log(path)
    return {k: log.column(k).to_pylist() for k in log.column_names if k != "time"}


@pytest.fixture
def run(tmp_path):
    """A finished 6,000-birth run with four closed segments and two kept snapshots."""
    start_run(_cfg(), tmp_path / "run")[0].run()
    return tmp_path / "run"


@pytest.fixture
def straight(tmp_path):
    start_run(_cfg(9000), tmp_path / "straight")[0].run()
    return _rows(tmp_path / "straight")


def _one_error_line(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# ---- one writer ------------------------------------------------------------------------

def test_a_second_writer_is_refused_and_the_log_stays_whole(run, tmp_path):
    start_run(_cfg(150_000), tmp_path / "long")[0].run()
    first = subprocess.Popen([sys.executable, "-m", "zeroevo.cli", "resume", str(run), "--max-births", "150000",
                              "--quiet"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until the first resume holds the lock
        owner = (run / "lock").read_text() if (run / "lock").exists() else ""
        if f'"pid": {first.pid}' in owner:
            break
        time.sleep(0.05)
    second = run_cli("resume", str(run), "--max-births", "150000", "--quiet")
    first.communicate(timeout=600)
    assert first.returncode == 0
    _one_error_line(second, "is being written by pid", str(first.pid))
    assert _rows(run) == _rows(tmp_path / "long")
    assert verify(run).ok


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path, monkeypatch):
    """Default run folders are claimed by ``mkdir``: eight runs starting at once under one
    ``runs/`` (parallel test workers did) get eight folders, none a lock error."""
    from concurrent.futures import ThreadPoolExecutor

    from zeroevo.runs.rundir import RunDir

    with ThreadPoolExecutor(8) as pool:
        dirs = list(pool.map(lambda _: RunDir.default("demo", tmp_path).path, range(8)))
    assert len(set(dirs)) == 8 and all(d.is_dir() and not any(d.iterdir()) for d in dirs)
    monkeypatch.chdir(tmp_path)
    run_dir = start_run(_cfg(500))[1]  # into ./runs, a folder claimed after the config checks
    assert run_dir.path.parent.resolve() == (tmp_path / "runs").resolve() and (run_dir.path / "meta.json").exists()


def test_readers_need_no_lock(run):
    from zeroevo.runs.lock import RunLock

    lock = RunLock(run).acquire()
    try:
        assert run_cli("analyze", "summary", str(run), "--json").returncode == 0
        assert run_cli("verify", str(run)).returncode == 0
    finally:
        lock.release()


# ---- damaged files ---------------------------------------------------------------------

def _births(run, k):
    entry = Manifest.load(run).segments[k]
    return f"births {entry['first_birth']}..{entry['last_birth']}"


def test_a_truncated_closed_segment_is_refused_naming_its_births(run):
    seg = run / "log" / "births-000001.arrow"
    seg.write_bytes(seg.read_bytes()[: seg.stat().st_size // 2])
    with pytest.raises(RunDirError, match=rf"births-000001.arrow \({_births(run, 1)}\) has \d+ bytes"):
        resume_run(run, max_births=9000)
    proc = run_cli("verify", str(run))
    assert proc.returncode == 1 and _births(run, 1) in proc.stdout


def test_a_bit_flipped_closed_segment_is_refused(run):
    seg = run / "log" / "births-000000.arrow"
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0x10
    seg.write_bytes(bytes(data))
    _one_error_line(run_cli("resume", str(run), "--max-births", "9000"), "births-000000.arrow", "checksum")


def test_a_deleted_closed_segment_is_refused(run):
    (run / "log" / "births-000002.arrow").unlink()
    _one_error_line(run_cli("resume", str(run)), "births-000002.arrow", "is missing", _births(run, 2))


def test_a_bit_flipped_newest_snapshot_falls_back_with_a_warning(run, straight):
    snaps = Manifest.load(run).snapshots
    newest = run / "snapshots" / snaps[-1]["file"]
    data = bytearray(newest.read_bytes())
    data[100] ^= 0x01
    newest.write_bytes(bytes(data))
    proc = run_cli("resume", str(run), "--max-births", "9000", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "warning: snapshot snapshots/" in proc.stderr and "checksum" in proc.stderr
    assert _rows(run) == straight  # the older snapshot, the rewound log replayed exactly
    summary = run_cli("analyze", "summary", str(run))
    assert "failed their check; the run resumed from " + snaps[-2]["file"] in summary.stdout
    assert json.loads(run_cli("analyze", "summary", str(run), "--json").stdout)["integrity"]["events"]


def test_a_deleted_newest_snapshot_falls_back(run, straight):
    (run / "snapshots" / Manifest.load(run).snapshots[-1]["file"]).unlink()
    with pytest.warns(UserWarning, match="is missing"):
        resume_run(run, max_births=9000).run()
    assert _rows(run) == straight


def test_kill_9_in_the_middle_then_resume_equals_straight(tmp_path, straight):
    run = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", (
        "from tests.test_faults import _cfg; from zeroevo.runs.lifecycle import start_run; "
        f"start_run(_cfg(9000).replace('run', chunk=100), {str(run)!r})[0].run()")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    while not (run / "log" / "births-000003.arrow").exists() and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    resume_run(run, max_births=9000).run()
    assert _rows(run) == straight and verify(run).ok


@pytest.mark.slow
def test_workers_of_a_killed_run_exit_even_inside_a_long_island_epoch(tmp_path):
    """An island epoch is one numba call that can last minutes; the kernel releases the GIL,
    so a worker's watchdog thread sees that its parent died and exits within seconds, instead
    of burning a core to the epoch's end (and competing with the run's own resume)."""
    toml = tmp_path / "c.toml"
    toml.write_text('preset = "demo"\n[run]\nsufficient_fitness = 0.0\n[evolution]\n'
                    'max_train_steps = 1e13\n[dispatch]\nmigrate_every = 3000000\n')
    proc = start_cli("evolve", "--config", str(toml), "--islands", "2", "--workers", "2",
                     "--max-births", "100000000", "--quiet", "--out", str(tmp_path / "r"))
    workers: list = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:  # both inside their epoch
            workers = [c for c in psutil.Process(proc.pid).children()  # not the resource tracker
                       if "spawn_main" in " ".join(c.cmdline())]
            if len(workers) == 2 and all(w.cpu_times().user > 2.0 for w in workers):
                break
            time.sleep(0.1)
        assert len(workers) == 2 and proc.poll() is None, "the workers never got busy"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _, alive = psutil.wait_procs(workers, timeout=10)  # the epoch itself runs > 30 s
        assert alive == []
    finally:
        proc.kill()
        for w in workers:
            with contextlib.suppress(psutil.NoSuchProcess):
                w.kill()


# ---- config integrity --------------------------------------------------------------------

def test_an_edited_meta_json_is_refused(run):
    meta = json.loads((run / "meta.json").read_text())
    meta["config"]["evolution"]["population"] = 60
    (run / "meta.json").write_text(json.dumps(meta))
    _one_error_line(run_cli("resume", str(run)), "meta.json was changed after the run started")
    meta["config"]["evolution"]["population"] = 50
    meta["config"]["run"]["seed"] = 7  # the seed is not in the short hash; the full one catches it
    (run / "meta.json").write_text(json.dumps(meta))
    _one_error_line(run_cli("resume", str(run)), "meta.json was changed")


def test_resume_with_a_changed_seed_needs_force_and_is_recorded(run, tmp_path):
    from zeroevo.runs.presets import preset_data

    toml = tmp_path / "other.toml"
    cfg = _cfg().replace("run", seed=2)
    toml.write_text("\n".join(f"[{section}]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in fields.items())
                              for section, fields in cfg.to_dict().items() if isinstance(fields, dict)
                              and section in preset_data("demo")))
    _one_error_line(run_cli("resume", str(run), "--config", str(toml)), "run.seed 1 -> 2", "--force")
    proc = run_cli("resume", str(run), "--config", str(toml), "--force", "--max-births", "7000", "--quiet")
    assert proc.returncode == 0 and "warning: resuming" in proc.stderr, proc.stderr
    meta = json.loads((run / "meta.json").read_text())
    assert meta["history"][-1]["forced"] and meta["history"][-1]["changes"]["run.seed"] == [1, 2]
    assert meta["seed"] == 2 and verify(run).ok


def test_resume_records_changed_limits(run):
    assert run_cli("resume", str(run), "--max-births", "7500", "--quiet").returncode == 0
    meta = json.loads((run / "meta.json").read_text())
    assert meta["history"][-1]["changes"] == {"run.max_births": [6000, 7500]}
    assert meta["config"]["run"]["max_births"] == 7500
    assert run_cli("resume", str(run), "--quiet").returncode == 0  # a plain resume keeps the new limit
    assert read_log(run).num_rows == 7500


# ---- input edges ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed,message", [("-1", "run.seed = -1"), ("18446744073709551616", "run.seed = 1844")])
def test_seeds_out_of_range_are_refused_before_anything_is_created(tmp_path, seed, message):
    _one_error_line(run_cli("evolve", "--seed", seed, "--out", str(tmp_path / "r")), message, "0..18446744073709551615")
    assert not (tmp_path / "r").exists()


def test_the_largest_seed_runs(tmp_path):
    proc = run_cli("evolve", "--seed", "18446744073709551615", "--max-births", "2000", "--out", str(tmp_path / "r"),
                   "--json", "--quiet")
    assert proc.returncode == 0 and json.loads(proc.stdout)["births"] == 2000


def test_binary_and_non_utf8_configs_are_one_line(tmp_path):
    (tmp_path / "bin.toml").write_bytes(bytes(range(256)))
    _one_error_line(run_cli("evolve", "--config", str(tmp_path / "bin.toml")), "not UTF-8")
    (tmp_path / "latin.toml").write_bytes("[run]\nseed = 1 # caf\xe9\n".encode("latin-1"))
    _one_error_line(run_cli("evolve", "--config", str(tmp_path / "latin.toml")), "not UTF-8")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere (see the read-only package test)")
def test_an_unwritable_out_is_one_line(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    _one_error_line(run_cli("evolve", "--out", str(ro / "r"), "--max-births", "10"), "cannot create run directory")


def test_click_usage_errors_are_one_line():
    _one_error_line(run_cli("evolve", "--max-births", "0"), "--max-births", "x>=1")
    _one_error_line(run_cli("evolve", "--no-such-flag"), "No such option")
    _one_error_line(run_cli("resume"), "Missing argument")
    _one_error_line(run_cli("evolve", "--engine", "fast"), "'fast' is not one of")


@pytest.mark.parametrize("toml,needle", [
    ("[search_tasks]\nnum_tasks = 0\n", "search_tasks.num_tasks"),
    ("[evolution]\npopulation = 1\n", "evolution.population"),
    ("[run]\nseed = \"x\"\n", "run.seed"),
    ("[fidelity]\nepochs = 0\n", "fidelity.epochs"),
])
def test_config_errors_name_section_and_field(tmp_path, toml, needle):
    base = 'kind = "neural"\npreset = "fashion-layers"\n' if "fidelity" in toml else 'preset = "demo"\n'
    (tmp_path / "c.toml").write_text(base + toml)
    _one_error_line(run_cli("evolve", "--config", str(tmp_path / "c.toml")), needle)


def test_a_read_only_install_caches_kernels_for_its_user(tmp_path):
    """Installed by root, run by another user: the package folder cannot be written. As root
    (who may write anywhere) the folder is mounted read-only in a private mount namespace."""
    install = tmp_path / "install"
    install.mkdir()
    for name in ("zeroevo", "primitives", "spaces", "cli.py"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, install / name)
    for pycache in install.rglob("__pycache__"):
        shutil.rmtree(pycache)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "ZEROEVO_"))}
    env.update(PYTHONPATH=str(install), XDG_CACHE_HOME=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "zeroevo.cli", "evolve", "--max-births", "1500", "--out", str(tmp_path / "r"),
           "--json", "--quiet"]
    if os.geteuid() == 0:
        if shutil.which("unshare") is None:
            pytest.skip("needs unshare to mount the package read-only as root")
        script = f'mount --bind "{install}" "{install}" && mount -o remount,bind,ro "{install}" && exec "$@"'
        cmd = ["unshare", "-m", "sh", "-c", script, "sh", *cmd]
    else:
        for path in [install, *install.rglob("*")]:
            if path.is_dir():
                path.chmod(0o555)
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    if os.geteuid() == 0 and "mount" in proc.stderr and proc.returncode != 0 and "error:" not in proc.stderr:
        pytest.skip(f"cannot mount read-only here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["births"] == 1500
    assert not list(install.rglob("*.nbi")), "numba wrote into the installed package"
    assert list((tmp_path / "cache" / "zeroevo" / "numba").rglob("*.nbi")), "the kernels were not cached for the user"


def test_a_run_stopped_before_any_restart_finished_says_so(tmp_path):
    proc = run_cli("evolve", "--max-births", "700", "--out", str(tmp_path / "r"))
    assert proc.returncode == 0 and "select not selected (no restart finished)" in proc.stdout
    best = run_cli("analyze", "best", str(tmp_path / "r"))
    assert "select not selected: no restart finished" in best.stdout
    summary = run_cli("analyze", "summary", str(tmp_path / "r"))
    assert "stopped before any restart finished" in summary.stdout
    assert json.loads(run_cli("evolve", "--max-births", "700", "--out", str(tmp_path / "j"), "--json",
                              "--quiet").stdout)["select_fitness"] is None


def test_config_error_raised_in_python_names_the_field():
    with pytest.raises(ConfigError, match=r"run.seed = -5"):
        _cfg().replace("run", seed=-5)
