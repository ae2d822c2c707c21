"""Conformance: every implementation of a protocol through one suite.

- every registered search space: random genomes and long mutation chains stay valid, and
  survive an encode -> JSON -> decode round trip unchanged; neural spaces build them;
- every dispatcher kind: the same lagged evolution gives the same log as in-process
  evaluation;
- every way a run is stored and resumed (program chunk kernel, Python loop, islands, neural):
  a run stopped and resumed logs the same births as a straight run.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from zeroevo.core.engine import Engine
from zeroevo.core.protocols import EvalRequest, EvalResult, SearchSpace
from zeroevo.core.registry import make_space, space_names
from zeroevo.core.rng import new_state, train_seed
from zeroevo.dispatch import KINDS, make_dispatcher
from zeroevo.runs.birthlog import read_log
from zeroevo.runs.lifecycle import resume_run, start_run
from zeroevo.runs.presets import DEMO_OPS, load_preset

SPACE_CONFIGS = {
    "program": {"features": 4, "scalars": 4, "vectors": 3, "matrices": 2, "ops": [DEMO_OPS] * 3,
                "init_sizes": [3, 2, 4], "min_sizes": [0, 1, 0], "max_sizes": [6, 4, 8],
                "mutations": ["alter_param", "randomize_instruction", "randomize_component", "insert",
                              "remove", "trade", "randomize_algorithm", "identity", "redirect"]},
    "layers": {"max_layers": 6},
    "nasnet": {"blocks": 3, "cells_per_stack": 1, "stacks": 2, "filters": 4},
    "hierarchical": {"levels": 3, "motifs": [3, 1], "nodes": [3, 3], "filters": 4, "cells": 2},
}
DRAWS = {"program": 3000, "layers": 2000, "nasnet": 2000, "hierarchical": 2000}


def test_every_registered_space_is_covered():
    assert set(space_names()) == set(SPACE_CONFIGS)


def _rng(space, seed):
    if getattr(space, "uses_stream", False):
        return new_state(seed)
    return np.random.default_rng(seed)


@pytest.mark.parametrize("name", sorted(SPACE_CONFIGS))
def test_space_genomes_stay_valid_and_round_trip(name):
    space = make_space(name, json.loads(json.dumps(SPACE_CONFIGS[name])))
    assert isinstance(space, SearchSpace)
    seen_mutations = set()
    genome = space.random(_rng(space, 0))
    for i in range(DRAWS[name]):
        if i % 100 == 0:  # fresh lineages now and then, long chains in between
            genome = space.random(_rng(space, i + 1))
        genome, mutation = space.mutate(genome, _rng(space, 10_000 + i))
        seen_mutations.add(mutation)
        data = json.loads(json.dumps(space.encode(genome)))   # what logs and workers see
        back = space.decode(data)                               # decode validates
        assert space.encode(back) == data, (name, i)
        assert isinstance(space.render(back), str)
    assert len(seen_mutations) >= 2


@pytest.mark.parametrize("name", ["layers", "nasnet", "hierarchical"])
def test_neural_spaces_build_what_they_draw(name):
    import torch

    space = make_space(name, SPACE_CONFIGS[name])
    rng = np.random.default_rng(1)
    genome = space.random(rng)
    for i in range(12):
        genome, _ = space.mutate(genome, rng)
        net = space.build(genome, (1, 16, 16), 3, 0.5)
        with torch.no_grad():
            assert net.eval()(torch.zeros(2, 1, 16, 16)).shape == (2, 3), (name, i)


class Parity:
    """A deterministic evaluator for the dispatcher suite: fitness from the genome and seed."""

    def __init__(self, config: dict) -> None:
        self.salt = int(config.get("salt", 0))

    def evaluate(self, request: EvalRequest) -> EvalResult:
        """A fitness that depends on the encoded genome and the request's training seed."""
        text = json.dumps(request.genome, sort_keys=True)
        value = (sum(map(ord, text)) * 2654435761 + request.seed + self.salt) % 10_007
        return EvalResult(value / 10_007, metrics={"birth": request.birth})


def _lagged_log(kind: str, workers: int, lag: int = 4, births: int = 60) -> list[tuple]:
    """Regularized evolution of layer genomes with lag ``lag``, evaluated by ``kind``."""
    space = make_space("layers", SPACE_CONFIGS["layers"])
    engine = Engine(space, population=8, tournament=3, root_seed=7)
    log, proposals = [], {}
    with make_dispatcher(kind, "tests.test_conformance:Parity", {"salt": 3}, workers=workers) as d:
        for t in range(births):
            while len(proposals) < lag and t + len(proposals) < births:
                k = t + len(proposals)
                # Initial births depend on nothing; birth k >= P may be proposed once the
                # population is full and birth k - lag is committed (births < t are).
                p = engine.propose(k, k) if k < engine.P or (t >= engine.P and k - lag < t) else None
                if p is None:
                    break
                proposals[k] = p
                d.submit(k, EvalRequest("layers", space.encode(p.genome), train_seed(7, k), k))
            p = proposals.pop(t)
            result = d.wait(t)
            engine.commit(p, result)
            log.append((t, p.parent, p.mutation, result.fitness, json.dumps(space.encode(p.genome))))
    return log


@pytest.mark.parametrize("kind,workers", [(k, w) for k in KINDS for w in ((1,) if k == "serial" else (1, 2))])
def test_every_dispatcher_gives_the_serial_log(kind, workers):
    assert _lagged_log(kind, workers) == _lagged_log("serial", 1)


def _program_cfg(small_demo, engine):
    return small_demo.replace("run", max_births=2500 if engine == "chunk" else 900, snapshot_every=300,
                              chunk=200, engine=engine, sufficient_fitness=0.0)


def _neural_cfg():
    cfg = load_preset("fashion-layers").replace("data", dataset="digits").replace("final", top_k=0)
    cfg = cfg.replace("fidelity", train_subset=128, valid_subset=64, epochs=1, batch_size=32)
    cfg = cfg.replace("space", options={"max_layers": 3}).replace("dispatch", lag=2)
    return cfg.replace("run", max_births=8, snapshot_every=3).replace("evolution", population=4, tournament=2)


STORED = ["chunk", "python", "islands", "neural"]


def _stored_cfg(kind, small_demo):
    if kind == "neural":
        return _neural_cfg()
    if kind == "islands":
        cfg = _program_cfg(small_demo, "chunk").replace("dispatch", islands=2, migrate_every=300, migrants=2)
        return cfg.replace("run", max_births=2400)
    return _program_cfg(small_demo, kind)


def _rows(path):
    log = read_log(path)
    return {k: log.column(k).to_pylist() for k in log.column_names if k not in ("time", "metrics")}


@pytest.mark.parametrize("kind", STORED)
def test_every_stored_run_resumes_to_the_straight_log(tmp_path, small_demo, kind):
    cfg = _stored_cfg(kind, small_demo)
    total = cfg.run.max_births
    start_run(cfg, tmp_path / "straight")[0].run()
    start_run(cfg.replace("run", max_births=total // 2), tmp_path / "resumed")[0].run()
    resume_run(tmp_path / "resumed", max_births=total).run()
    assert _rows(tmp_path / "straight") == _rows(tmp_path / "resumed")
