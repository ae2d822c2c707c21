"""benchmarks/proxy_rank.py --retest: each proxy is compared with its own second training of the
same seeding (a seed per architecture with a seed per architecture, one seed for all with one
seed for all), never across seedings."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "proxy_rank.py"
_SPEC = importlib.util.spec_from_file_location("proxy_rank", _PATH)
proxy_rank = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(proxy_rank)


def test_retest_seeds_each_architecture_or_all_alike():
    seeds = {tag: [seed(i) for i in range(3)] for tag, seed in proxy_rank.RETESTS.items()}
    assert seeds[""] == [1000, 1001, 1002] and seeds[", 2nd seed"] == [3000, 3001, 3002]
    assert seeds[", common seed"] == [1000] * 3 and seeds[", common 2nd seed"] == [3000] * 3


def test_retest_compares_each_seeding_with_itself(capsys):
    up, down = np.arange(10.0), -np.arange(10.0)
    # per-architecture trainings agree (rho +1), common-seed ones disagree (rho -1); a table
    # that crossed the seedings would print 0-ish or the signs the wrong way round
    columns = {"p": up, "p, 2nd seed": up, "p, common seed": up, "p, common 2nd seed": down}
    proxy_rank.print_retest(["layers"], lambda space: {"p": {}}, lambda space, name: (columns[name], 1.5))
    row = capsys.readouterr().out.strip().splitlines()[-1]
    assert row.startswith("| layers | p | 1.00 | 5/5 | -1.00 | 0/5 |"), row
