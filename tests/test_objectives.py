"""Accuracy against cost: Pareto tournaments, limits, MnasNet's reward, fronts, hypervolume."""
from __future__ import annotations

import numpy as np
import pytest

from tests.test_search import _run
from zeroevo.core.objectives import (
    LIMIT,
    PARETO,
    SOFT,
    front_gain,
    hypervolume,
    pareto_front,
    pareto_pick,
    tournament_winner,
)

# A hand-built population: (accuracy, cost). Its front, cheapest first: 0, 2, 3, 5.
FIT = np.array([0.50, 0.45, 0.70, 0.80, 0.60, 0.90, 0.85])
COST = np.array([1.0, 2.0, 2.0, 4.0, 5.0, 8.0, 9.0])


def test_the_front_of_a_known_population():
    assert pareto_front(FIT, COST).tolist() == [0, 2, 3, 5]
    assert hypervolume(FIT, COST, ref_cost=10.0) == pytest.approx(9 * 0.5 + 8 * 0.2 + 6 * 0.1 + 2 * 0.1)
    assert hypervolume(FIT[[0]], COST[[0]], ref_cost=10.0) < hypervolume(FIT, COST, ref_cost=10.0)


def test_front_gain_prefers_what_extends_the_front_then_what_is_nearest_it():
    # (cost 3, 0.85) extends the front; (5, 0.79) falls 0.01 short of 0.80 at cost 4; (5, 0.6) 0.2 short.
    fit, cost = np.array([0.6, 0.79, 0.85]), np.array([5.0, 5.0, 3.0])
    gain = front_gain(fit, cost, FIT, COST)
    extended = hypervolume(np.append(FIT, 0.85), np.append(COST, 3.0), 10.0) - hypervolume(FIT, COST, 10.0)
    assert gain == pytest.approx([-0.2, -0.01, extended]) and extended > 0
    assert np.argmax(gain) == 2
    # Against no front at all, every point extends it, the better and cheaper the more.
    assert np.all(front_gain(fit, cost, np.zeros(0), np.zeros(0)) > 0)


def test_a_pareto_tournament_picks_the_front_then_the_least_crowded():
    # Dominated members never win against a member that dominates them.
    assert pareto_pick(FIT, COST, np.array([1, 2])) == 2
    assert pareto_pick(FIT, COST, np.array([4, 3, 6])) == 3     # 3 dominates 4; 3 and 6 are both ends
    # On the front, the ends are kept (infinite crowding): the first end drawn wins.
    assert pareto_pick(FIT, COST, np.array([3, 0, 2, 5])) == 0
    # Three front members: the middle one has finite crowding, the ends win.
    assert pareto_pick(FIT, COST, np.array([2, 3, 5])) == 2
    # Repeated draws of one member are one point.
    assert pareto_pick(FIT, COST, np.array([6, 6, 6])) == 6


def test_a_birth_without_a_cost_never_wins_a_pareto_tournament_by_looking_free():
    from zeroevo.core.engine import Engine, Proposal
    from zeroevo.core.protocols import STATUS_FAILED, EvalResult

    engine = Engine(None, population=3, tournament=3, root_seed=1)
    for slot, result in enumerate([EvalResult(0.5, metrics={"cost": 100.0}), EvalResult(0.0, STATUS_FAILED, {}),
                                   EvalResult(0.7, metrics={"cost": 300.0})]):
        engine.commit(Proposal(slot, slot, -1, "init", (slot,)), result)
    assert engine.cost[1] == np.inf
    assert tournament_winner(engine.fitness, engine.cost, [1, 0, 2], PARETO, 0.0, 1.0, 0.0) != 1


def test_limit_and_soft_tournaments():
    members = [5, 3, 0]
    assert tournament_winner(FIT, COST, members, LIMIT, 4.0, 1.0, -0.07) == 3   # 5 is over the limit
    assert tournament_winner(FIT, COST, members, LIMIT, 100.0, 1.0, -0.07) == 5
    # MnasNet: acc * (cost / target) ** w; a steep w prefers the cheap one.
    assert tournament_winner(FIT, COST, members, SOFT, 0.0, 1.0, -1.0) == 0
    assert tournament_winner(FIT, COST, members, SOFT, 0.0, 1.0, -0.01) == 5
    assert tournament_winner(FIT, COST, members, PARETO, 0, 1, -1) in (5, 0)


@pytest.mark.parametrize("mode", ["pareto", "soft", "limit"])
def test_program_objectives_are_the_same_in_both_loops(small_demo, mode):
    cfg = small_demo.replace("run", max_births=2500, sufficient_fitness=0.0, chunk=600)
    cfg = cfg.replace("objectives", mode=mode, cost="executed", limit=6.0, target=5.0, weight=-0.3)
    fast, log_fast = _run(cfg)
    slow, log_slow = _run(cfg.replace("run", engine="python"))
    assert log_fast.equal(log_slow) and fast.program == slow.program
    assert (log_fast.cost >= 0).all() and len(np.unique(log_fast.cost)) > 3


def test_costs_steer_the_search(small_demo):
    cfg = small_demo.replace("run", max_births=8000, sufficient_fitness=0.0, chunk=1000)
    _, plain = _run(cfg.replace("objectives", cost="executed"))
    _, cheap = _run(cfg.replace("objectives", mode="soft", cost="executed", target=2.0, weight=-1.0))
    late = slice(6000, None)  # once selection had time to act
    assert cheap.cost[late].mean() < plain.cost[late].mean()


def _tiny_neural():
    from zeroevo.runs.presets import load_preset

    cfg = load_preset("fashion-layers").replace("data", dataset="digits").replace("final", top_k=0)
    cfg = cfg.replace("fidelity", train_subset=256, valid_subset=128, epochs=1, batch_size=32, lr=0.1)
    cfg = cfg.replace("space", options={"max_layers": 4})
    return cfg.replace("run", max_births=14, snapshot_every=5).replace("evolution", population=5, tournament=3)


def test_neural_births_record_their_costs_and_a_pareto_run_has_a_front(tmp_path):
    import json

    from tests.conftest import run_cli
    from zeroevo.runs.birthlog import read_log
    from zeroevo.runs.lifecycle import start_run

    cfg = _tiny_neural().replace("objectives", mode="pareto", cost="params")
    start_run(cfg, tmp_path / "r")[0].run()
    log = read_log(tmp_path / "r")
    metrics = [json.loads(m) for m in log.column("metrics").to_pylist()]
    assert all(m["params"] > 0 and m["flops"] > 0 and m["latency_ms"] > 0 and m["latency_batch_ms"] > 0
               for m in metrics)
    assert log.column("cost").to_pylist() == [float(m["params"]) for m in metrics]
    out = json.loads(run_cli("analyze", "front", str(tmp_path / "r"), "--json", "--png",
                             str(tmp_path / "front.png")).stdout)
    assert out["cost"] == "params" and out["members"] and (tmp_path / "front.png").stat().st_size > 1000
    costs = [m["cost"] for m in out["members"]]
    assert costs == sorted(costs)
    flops = json.loads(run_cli("analyze", "front", str(tmp_path / "r"), "--cost", "flops", "--json").stdout)
    assert flops["cost"] == "flops"
    member = out["members"][0]["birth"]
    proc = run_cli("analyze", "export", str(tmp_path / "r"), "--birth", str(member), "--out", str(tmp_path / "net"))
    assert proc.returncode == 0, proc.stderr


def test_a_neural_cost_limit_rejects_before_training(tmp_path):
    import json

    from zeroevo.runs.birthlog import read_log
    from zeroevo.runs.lifecycle import start_run

    # The limit lies inside this seed's range of sizes (20 to 1,546 parameters), so both kinds occur.
    cfg = _tiny_neural().replace("objectives", mode="limit", cost="params", limit=1000.0)
    start_run(cfg.replace("run", max_births=8), tmp_path / "r")[0].run()
    metrics = [json.loads(m) for m in read_log(tmp_path / "r").column("metrics").to_pylist()]
    over = [m for m in metrics if m["params"] > 1000]
    assert over and all("over the limit" in m["reason"] and m.get("epochs_done", 0) == 0 for m in over)
    assert any(m["params"] <= 1000 and m.get("epochs_done", 0) > 0 for m in metrics)
