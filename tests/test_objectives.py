"""Accuracy against cost: Pareto tournaments, limits, MnasNet's reward, fronts, hypervolume."""
from __future__ import annotations

import numpy as np
import pytest

from tests.test_search import _run
from zeroevo.core.objectives import (LIMIT, PARETO, SOFT, hypervolume, pareto_front, pareto_pick,
                                     tournament_winner)

# A hand-built population: (accuracy, cost). Its front, cheapest first: 0, 2, 3, 5.
FIT = np.array([0.50, 0.45, 0.70, 0.80, 0.60, 0.90, 0.85])
COST = np.array([1.0, 2.0, 2.0, 4.0, 5.0, 8.0, 9.0])


def test_the_front_of_a_known_population():
    assert pareto_front(FIT, COST).tolist() == [0, 2, 3, 5]
    assert hypervolume(FIT, COST, ref_cost=10.0) == pytest.approx(9 * 0.5 + 8 * 0.2 + 6 * 0.1 + 2 * 0.1)
    assert hypervolume(FIT[[0]], COST[[0]], ref_cost=10.0) < hypervolume(FIT, COST, ref_cost=10.0)


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
