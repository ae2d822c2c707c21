"""A randomized fault campaign: runs killed and damaged at random, then resumed or refused.

    PYTHONPATH=. python benchmarks/faults_bench.py [--cases 60] [--seed 1]

Each case records a small demo run (population 50, a snapshot every 1,500 births) in a
subprocess and then does one random thing to it: ``kill -9`` at a random moment, or, after
it stopped, truncates / bit-flips / deletes a closed log segment, bit-flips or deletes the
newest snapshot, truncates the open tail a killed run left, edits ``meta.json``, or both kills and
damages. It then runs ``zeroevo resume RUN --max-births N`` and classifies the outcome:

- *recovered exactly*: resume succeeded and the log equals a straight run's, birth for birth;
- *refused clearly*: exit status 2 with one ``error:`` line and no traceback;
- *silently wrong*: resume succeeded but the log differs from the straight run (must be 0);
- *crashed*: anything else (a traceback, another exit status; must be 0).

Prints a table per kind of fault and in all.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOTAL = 12_000
CONFIG = """preset = "demo"
[evolution]
population = 50
tournament = 5
max_train_steps = 200000.0
[select_tasks]
num_tasks = 10
num_train = 200
[run]
max_births = {births}
seed = {seed}
snapshot_every = 1500
chunk = 300
sufficient_fitness = 0.0
"""
FAULTS = ("kill", "truncate segment", "bit-flip segment", "delete segment", "bit-flip snapshot",
          "delete snapshot", "kill + truncate tail", "edit meta.json", "kill + bit-flip snapshot")


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zeroevo.cli", *args], cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=timeout)


def _rows(run: Path) -> dict | None:
    sys.path.insert(0, str(ROOT))
    from zeroevo.runs.birthlog import read_log

    log = read_log(run)
    return None if log is None else {k: log.column(k).to_pylist() for k in log.column_names if k != "time"}


def _config(tmp: Path, seed: int, births: int) -> Path:
    path = tmp / f"c{seed}-{births}.toml"
    path.write_text(CONFIG.format(seed=seed, births=births))
    return path


def _flip(path: Path, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))


def _closed_segment(run: Path, rng: random.Random) -> Path | None:
    manifest = json.loads((run / "manifest.json").read_text())
    return run / "log" / rng.choice(manifest["segments"])["file"] if manifest["segments"] else None


def _newest_snapshot(run: Path) -> Path | None:
    manifest = json.loads((run / "manifest.json").read_text())
    return run / "snapshots" / manifest["snapshots"][-1]["file"] if manifest["snapshots"] else None


def _record(run: Path, config: Path, kill: bool, rng: random.Random) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "zeroevo.cli", "evolve", "--config", str(config), "--out",
                             str(run), "--quiet", "--json"], cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    if kill:
        time.sleep(rng.uniform(0.3, 2.5))  # start-up is ~1 s: early kills land before the first birth
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _damage(run: Path, fault: str, rng: random.Random) -> None:
    if fault.endswith("segment") and (seg := _closed_segment(run, rng)) is not None:
        if fault.startswith("truncate"):
            seg.write_bytes(seg.read_bytes()[: rng.randrange(seg.stat().st_size)])
        elif fault.startswith("bit-flip"):
            _flip(seg, rng)
        else:
            seg.unlink()
    elif fault.endswith("snapshot") and (snap := _newest_snapshot(run)) is not None:
        _flip(snap, rng) if "bit-flip" in fault else snap.unlink()
    elif fault == "truncate tail":  # the open segment a killed run leaves
        segs = sorted((run / "log").glob("births-*.arrow"))
        if segs:
            tail = segs[-1]
            tail.write_bytes(tail.read_bytes()[: rng.randrange(tail.stat().st_size + 1)])
    elif fault == "edit meta.json":
        meta = json.loads((run / "meta.json").read_text())
        meta["config"]["evolution"]["tournament"] = rng.choice([3, 4, 6])
        (run / "meta.json").write_text(json.dumps(meta))


def _classify(proc: subprocess.CompletedProcess, run: Path, straight: dict) -> str:
    lines = proc.stderr.strip().splitlines()
    if proc.returncode == 0:
        return "recovered exactly" if _rows(run) == straight else "silently wrong"
    if proc.returncode == 2 and "Traceback" not in proc.stderr and lines and lines[-1].startswith("error: ") \
            and sum(line.startswith("error: ") for line in lines) == 1:
        return "refused clearly"
    return "crashed"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="zeroevo-faults-"))
    outcomes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    examples: dict[str, str] = {}
    try:
        straight = {}
        for seed in (1, 2, 3):
            _record(tmp / f"straight{seed}", _config(tmp, seed, TOTAL), False, rng)
            straight[seed] = _rows(tmp / f"straight{seed}")
        for case in range(args.cases):
            seed, fault = rng.choice((1, 2, 3)), FAULTS[case % len(FAULTS)]
            run = tmp / f"case{case}"
            kill = fault.startswith("kill")
            _record(run, _config(tmp, seed, rng.randrange(3000, TOTAL)), kill, rng)
            if not (run / "meta.json").exists():  # killed before the run directory was written
                shutil.rmtree(run, ignore_errors=True)
                _record(run, _config(tmp, seed, TOTAL), False, rng)
            _damage(run, fault.replace("kill + ", ""), rng)
            proc = _cli("resume", str(run), "--max-births", str(TOTAL), "--quiet")
            outcome = _classify(proc, run, straight[seed])
            outcomes[fault][outcome] += 1
            if outcome == "refused clearly":
                examples.setdefault(fault, proc.stderr.strip().splitlines()[-1][:150])
            elif outcome in ("silently wrong", "crashed"):
                print(f"case {case} ({fault}): {outcome}\n{proc.stderr[-2000:]}", file=sys.stderr)
            shutil.rmtree(run, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    kinds = ("recovered exactly", "refused clearly", "silently wrong", "crashed")
    print(f"{args.cases} cases (seed {args.seed}), demo runs of up to {TOTAL:,} births")
    print("| fault | cases | " + " | ".join(kinds) + " |")
    print("|---" * (len(kinds) + 2) + "|")
    total: collections.Counter = collections.Counter()
    for fault in FAULTS:
        c = outcomes[fault]
        total.update(c)
        print(f"| {fault} | {sum(c.values())} | " + " | ".join(str(c[k]) for k in kinds) + " |")
    print(f"| all | {sum(total.values())} | " + " | ".join(str(total[k]) for k in kinds) + " |")
    for fault, line in examples.items():
        print(f"  {fault}: {line}")


if __name__ == "__main__":
    main()
