"""Screening children with a surrogate: features, the fit, and a deterministic screened search."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.test_neural_search import _log, _strip_timing, tiny  # noqa: F401  (fixture)
from zeroevo.analysis.neural import best_birth, summary
from zeroevo.analysis.run import open_run
from zeroevo.core.protocols import STATUS_SCREENED
from zeroevo.neural.predictor import Predictor, Screener, features, kendall_tau, pareto_choice
from zeroevo.runs.lifecycle import resume_run, start_run


def test_kendall_tau_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 5, 40).astype(float), rng.normal(size=40)
    b[:10] = a[:10]
    assert kendall_tau(a, b) == pytest.approx(stats.kendalltau(a, b).statistic)
    assert kendall_tau(a, a) == pytest.approx(1.0) and kendall_tau(a, -a) == pytest.approx(-1.0)


def test_features_see_ops_and_positions():
    a = {"layers": [{"op": "conv", "k": 3}, {"op": "pool"}]}
    b = {"layers": [{"op": "pool"}, {"op": "conv", "k": 3}]}
    assert features(a).shape == features(b).shape
    assert not np.array_equal(features(a), features(b))         # positions differ
    assert np.array_equal(features(a), features(json.loads(json.dumps(a))))


@pytest.mark.parametrize("model", ["ridge", "gbm"])
def test_the_surrogate_learns_a_rank(model):
    # Fitness = number of "conv" layers, plus noise: the surrogate must rank unseen genomes.
    rng = np.random.default_rng(1)

    def genome():
        ops = rng.choice(["conv", "pool", "dense"], rng.integers(1, 6))
        return {"layers": [{"op": str(o)} for o in ops]}

    train = [genome() for _ in range(120)]
    test = [genome() for _ in range(40)]
    score = [lambda g: sum(layer["op"] == "conv" for layer in g["layers"])][0]
    fitted = Predictor(model, seed=0).fit(train, [score(g) + 0.1 * rng.normal() for g in train])
    assert kendall_tau(fitted.predict(test), np.array([score(g) for g in test])) > 0.6
    with pytest.raises(ValueError, match="allowed: ridge, gbm"):
        Predictor("forest")


def test_pareto_choice_trains_the_child_that_extends_the_front():
    trained = [({}, 0.5, 10.0), ({}, 0.7, 100.0), ({}, 0.8, 1000.0), ({}, 0.0, float("nan"))]
    # Log10 costs 1, 2, 3 on the front: a child predicted 0.75 at 10**1.5 extends it; the most
    # accurate child (0.79 at 10**3.5) is dominated by (0.8, 10**3) and loses.
    assert pareto_choice(np.array([0.79, 0.75, 0.6]), np.array([3.5, 1.5, 2.5]), trained) == 1
    # With no trained birth yet, the cheapest of equally accurate children.
    assert pareto_choice(np.array([0.5, 0.5]), np.array([3.0, 2.0]), []) == 1


def test_a_screener_ranks_children_as_the_tournament_would_and_never_picks_one_that_cannot_build():
    from types import SimpleNamespace

    from zeroevo.core.config import Objectives
    from zeroevo.neural.config import PredictorConfig

    costs = {"a": 10 ** 1.5, "b": 10 ** 3.5, "c": float("inf")}  # c does not build
    children = [{"id": k} for k in costs]
    stub = SimpleNamespace(ready=True, predict=lambda genomes: np.array([0.75, 0.79, 0.99]))

    def screener(**objectives) -> Screener:
        s = Screener(PredictorConfig(model="ridge"), 0, Objectives(**objectives) if objectives else None,
                     cost_of=lambda g: costs[g["id"]])
        s.trained = [({}, 0.5, 10.0), ({}, 0.7, 100.0), ({}, 0.8, 1000.0)]
        s.fitness = stub
        return s

    assert screener().choose(children)[0] == 2                       # accuracy alone
    assert screener(mode="pareto").choose(children)[0] == 0          # extends the front; b is dominated
    assert screener(mode="limit", limit=1000).choose(children)[0] == 0  # b is over the limit
    assert screener(mode="limit", limit=1e4).choose(children)[0] == 1
    # MnasNet's reward: 0.75 (31.6 / 1000) ** -0.07 = 0.955 beats 0.79 (3162 / 1000) ** -0.07 = 0.729;
    # with a weight of -0.01 the trade goes the other way (0.776 against 0.781).
    assert screener(mode="soft", target=1000, weight=-0.07).choose(children)[0] == 0
    assert screener(mode="soft", target=1000, weight=-0.01).choose(children)[0] == 1


@pytest.mark.parametrize("mode", ["accuracy", "pareto"])
def test_screened_search_is_deterministic_and_resumes(tmp_path, tiny, mode):  # noqa: F811
    cfg = tiny.replace("predictor", model="ridge", candidates=3, min_train=4, refit_every=2)
    cfg = cfg.replace("objectives", mode=mode)
    cfg = cfg.replace("run", max_births=25).replace("dispatch", lag=2)
    start_run(cfg, tmp_path / "straight")[0].run()
    straight = _strip_timing(_log(tmp_path / "straight"))
    status = np.array(straight["status"])
    # Births 4.. come in steps of 3, exactly one of which trains.
    trained_per_step = [int((status[s:s + 3] != STATUS_SCREENED).sum()) for s in range(4, 25, 3)]
    assert trained_per_step == [1] * 7, status
    # Once the surrogate is fitted, the one that trains is the sibling predicted best.
    metrics = straight["metrics"]
    checked = 0
    for s in range(4, 25, 3):
        predicted = [metrics[t]["predicted"] for t in range(s, s + 3)]
        if None not in predicted and mode == "accuracy":  # Pareto: see test_pareto_choice_*
            assert status[s + int(np.argmax(predicted))] != STATUS_SCREENED
            checked += 1
    assert checked >= 3 or mode == "pareto"
    # The same log from a run stopped mid-step and resumed, and with two workers.
    start_run(cfg.replace("run", max_births=14), tmp_path / "resumed")[0].run()
    resume_run(tmp_path / "resumed", max_births=25).run()
    assert _strip_timing(_log(tmp_path / "resumed")) == straight
    start_run(cfg.replace("dispatch", backend="process", workers=2), tmp_path / "two")[0].run()
    assert _strip_timing(_log(tmp_path / "two")) == straight
    # Analysis never takes a prediction for a measurement.
    run = open_run(tmp_path / "straight")
    assert status[best_birth(run)] != STATUS_SCREENED
    assert summary(run)["status_counts"]["screened"] == int((status == STATUS_SCREENED).sum())


def test_the_noise_ceiling_counts_each_training_once():
    """benchmarks/predictor_bench.py's training-noise estimate: arms of one seed share their initial
    population (same births, same training seeds), which must count once, or the noise shrinks."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "predictor_bench.py"
    spec = importlib.util.spec_from_file_location("predictor_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    a, b, c = {"op": "a"}, {"op": "b"}, {"op": "c"}
    evolution = {"birth": [0, 1, 2, 3], "genome": [a, b, a, c], "fitness": [0.5, 0.7, 0.6, 0.9], "failed": [False] * 4}
    predictor = {"birth": [0, 1, 5, 6], "genome": [a, b, b, c], "fitness": [0.5, 0.7, 0.8, 0.1], "failed": [False] * 3
                 + [True]}
    out = bench.noise_ceiling({"evolution": {1: evolution}, "predictor": {1: predictor}})
    # Trainings: a 0.5 0.6, b 0.7 0.8, c 0.9 (the failed one aside). Noise variance 0.005 per pair,
    # total variance 0.025: the architecture explains 80%.
    assert (out["genomes_repeated"], out["trainings_repeated"]) == (2, 4)
    assert out["noise_sd"] == pytest.approx(0.005 ** 0.5)
    assert out["reliability"] == pytest.approx(0.8)
    assert out["tau_ceiling"] == pytest.approx(2 / np.pi * np.arcsin(0.8 ** 0.5))
    assert out["tau_ceiling_later"] is None  # no genome trained three times
