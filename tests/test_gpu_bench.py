"""benchmarks/gpu_bench.py: the prepared GPU check says plainly when there is no GPU, and its
protocol (searches per precision and worker count, rates, the table) runs end to end on the
CPU, so the script works the first time a session is lent a GPU."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _bench(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_bench.py"), *args],
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_without_a_gpu_it_says_so_and_exits_2():
    out = _bench()
    assert out.returncode == 2, out.stderr
    assert "no GPU is present" in out.stdout
    assert "Traceback" not in out.stderr


def test_the_protocol_runs_on_the_cpu_and_prints_a_row_per_configuration():
    out = _bench("--device", "cpu", "--space", "layers", "--seconds", "4", "--workers", "1", "2",
                 "--precisions", "fp32", "--train-subset", "128", "--epochs", "1")
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| fp32 |")]
    assert [r.split("|")[2].strip() for r in rows] == ["1", "2"]
    candidates = [int(r.split("|")[3].split()[0]) for r in rows]
    assert all(c >= 1 for c in candidates), out.stdout
    assert rows[0].split("|")[7].strip() in ("1.00x", "-")  # the first row is the speed-up's base
    assert "n/a" in rows[0]  # no utilisation on the CPU
