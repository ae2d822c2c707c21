"""The demo rediscovers linear regression trained by SGD for seeds 1..5 (a few CPU-minutes)."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import run_cli


def _demo(seed: int, tmp: str) -> dict:
    proc = run_cli("evolve", "--preset", "demo", "--seed", str(seed), "--json", "--quiet",
                   "--max-seconds", "900", "--out", f"{tmp}/seed{seed}", timeout=1200)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.slow
def test_demo_solves_for_seeds_1_to_5(tmp_path):
    # Two at a time: this machine has two cores and each run is one process.
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(_demo, [1, 2, 3, 4, 5], [str(tmp_path)] * 5))
    for out in results:
        assert out["solved"] and out["select_fitness"] > 0.9999, out
        assert out["final_fitness"] > 0.999
        assert "dot(" in out["program"]


def test_same_seed_twice_gives_same_result(tmp_path):
    args = ("evolve", "--preset", "demo", "--seed", "7", "--max-births", "60000", "--json", "--quiet")
    a, b = run_cli(*args, cwd=tmp_path), run_cli(*args, cwd=tmp_path)
    assert a.returncode == 0, a.stderr
    ja, jb = json.loads(a.stdout), json.loads(b.stdout)
    for key in ("births", "restarts", "search_fitness", "select_fitness", "final_fitness",
                "fec_hit_rate", "program"):
        assert ja[key] == jb[key]
