"""benchmarks/program_ladder.py: its top rung is the network the project ships
(``neural_net_program``), and the instruction counts it prints between rungs are what the
rungs differ by."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from zeroevo.programs.baselines import baseline_spec
from zeroevo.runs.presets import load_preset
from zeroevo.spaces.program.initial import neural_net_program

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "program_ladder.py"
_SPEC = importlib.util.spec_from_file_location("program_ladder", _PATH)
ladder = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ladder)

SPEC = baseline_spec(load_preset("nonlinear").program_spec())
TARGET = "2-layer ReLU network by backprop (the target)"


def test_the_last_rung_is_the_shipped_network():
    for lr in (0.01, 0.03):
        assert ladder.program(SPEC, TARGET, lr) == neural_net_program(SPEC, lr=lr)


def test_every_rung_grows_from_an_earlier_one():
    names = list(ladder.RUNGS)
    for k, (parent, *_) in enumerate(ladder.RUNGS.values()):
        assert parent is None if k == 0 else names.index(parent) < k


def test_edit_counts():
    counts = {name: ladder.edits(SPEC, name) for name in ladder.RUNGS}
    # mask: one new instruction (v6 = v5 * v3) and the outer product now reads v6
    assert counts[TARGET] == 2
    # backprop without the mask: v5 = s3 * v1, outer(v5, x), m0 += that
    assert counts["ReLU network, backprop without the ReLU mask"] == 3
    assert counts["predict 0 (empty program)"] == 0
    # the unused layer: two setup draws, W x, the ReLU's mask and product
    assert counts["linear regression beside an unused random ReLU layer"] == 5
    unused = ladder.program(SPEC, "linear regression beside an unused random ReLU layer", 0.1)
    features = ladder.program(SPEC, "random ReLU features (output layer learned)", 0.1)
    assert ladder.new_instructions(unused, features) == 2
    empty = ladder.program(SPEC, "predict 0 (empty program)", 0.1)
    assert not np.any(empty.sizes)


def test_a_climb_starts_from_its_rung():
    # The first `population` births are the initial population: copies of the rung, so the kept
    # program scores at least what the rung scores (the empty preset's programs score ~0.45).
    cfg = load_preset("nonlinear").replace("evolution", population=20)
    result = ladder.climb(cfg, TARGET, 0.03, seconds=60.0, births=30)
    assert result.births == 30
    assert result.search_fitness >= 0.9
    assert ladder._rung("2-layer") == TARGET
    assert ladder._rung("linear regression") == "linear regression"  # a whole name, though a prefix of another
