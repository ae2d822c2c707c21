"""The demo rediscovers linear regression trained by SGD for seeds 1..5 (a few CPU-minutes)."""
from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_demo_solves(seed):
    proc = run_cli("evolve", "--preset", "demo", "--seed", str(seed), "--json", "--quiet",
                   "--max-seconds", "900", timeout=1200)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["solved"] and out["select_fitness"] > 0.9999, out
    assert out["final_fitness"] > 0.999
    assert "dot(" in out["program"]


def test_same_seed_twice_gives_same_result():
    args = ("evolve", "--preset", "demo", "--seed", "7", "--max-births", "60000", "--json", "--quiet")
    a, b = run_cli(*args), run_cli(*args)
    assert a.returncode == 0, a.stderr
    ja, jb = json.loads(a.stdout), json.loads(b.stdout)
    for key in ("births", "restarts", "search_fitness", "select_fitness", "final_fitness",
                "fec_hit_rate", "program"):
        assert ja[key] == jb[key]
