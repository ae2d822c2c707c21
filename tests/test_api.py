"""The Python API shown in the README."""
from __future__ import annotations

import numpy as np

import zeroevo.api as api
from zeroevo.core import registry
from zeroevo.core.protocols import EvalRequest, EvalResult
from zeroevo.programs.tasks import from_arrays


class BitSpace:
    """A toy space: 32 bits, mutated by flipping one."""

    name = "bits"

    def random(self, rng):
        return tuple(int(b) for b in rng.integers(0, 2, 32))

    def mutate(self, genome, rng):
        i = int(rng.integers(32))
        return genome[:i] + (1 - genome[i],) + genome[i + 1:], "flip"

    def encode(self, genome):
        return {"bits": list(genome)}

    def decode(self, data):
        return tuple(data["bits"])

    def render(self, genome):
        return "".join(map(str, genome))


class OneMax:
    def __init__(self, config):
        self.space = BitSpace()

    def evaluate(self, request: EvalRequest) -> EvalResult:
        bits = self.space.decode(request.genome)
        return EvalResult(sum(bits) / len(bits))


def test_user_space_and_evaluator_through_the_same_loop(monkeypatch):
    # registered for this test only: the registry is process-wide and other tests list it
    registry.space_names()  # built-ins first, so they stay in the restored tables
    monkeypatch.setattr(registry, "_SPACES", {**registry._SPACES})
    monkeypatch.setattr(registry, "_EVALUATORS", {**registry._EVALUATORS})
    registry.register_space("bits", lambda cfg: BitSpace())
    registry.register_evaluator("onemax", OneMax)
    res = api.evolve_space("bits", "onemax", population=20, tournament=5, max_births=400, seed=3)
    again = api.evolve_space("bits", "onemax", population=20, tournament=5, max_births=400, seed=3)
    rand = api.evolve_space("bits", "onemax", population=20, tournament=5, max_births=400, seed=3,
                            algorithm="random")
    assert res.fitness > 0.9 and res.fitness > rand.fitness
    assert res.log.equal(again.log) and res.genome == again.genome
    assert len(res.log) == 400


def test_evolve_demo_in_a_few_lines_and_on_user_arrays():
    result = api.evolve("demo", seed=2, run={"max_births": 3000}, evolution={"population": 100})
    assert result.births == 3000 and "def learn():" in result.text
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 150, 3))
    tasks = from_arrays(x[:, :100], x[:, :100].sum(-1), x[:, 100:], x[:, 100:].sum(-1))
    mine = api.evolve("demo", seed=1, tasks=tasks, run={"max_births": 3000}, evolution={"population": 100})
    assert mine.births == 3000 and 0 <= mine.final_fitness <= 1
