"""Tests of the hierarchical search space: genomes, the paper's mutation, codec, rendering,
torch build, export and a short training on real images."""
from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from zeroevo.core.errors import ConfigError, GenomeError
from zeroevo.core.protocols import STATUS_OK, SearchSpace
from zeroevo.core.registry import make_space, space_names
from zeroevo.neural.export import export_network
from zeroevo.primitives.neural import hierarchical as torch_hier
from zeroevo.spaces.hierarchical import MUTATIONS, NONE, PRIMITIVES, Genome, HierarchicalSpace, Motif

CONFIG = {"levels": 3, "motifs": [4, 1], "nodes": [3, 4], "filters": 4, "cells": 2}
SHAPE = (1, 16, 16)


@pytest.fixture(scope="module")
def space() -> HierarchicalSpace:
    return make_space("hierarchical", CONFIG)


@pytest.fixture(autouse=True)
def one_thread():
    # These networks are tiny: a second intra-op thread only adds synchronisation, which
    # costs a lot when other processes keep every core busy. (The trainer sets its own.)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _check_valid(space: HierarchicalSpace, genome: Genome) -> None:
    """The validity rules, checked here independently of ``genome.validate``."""
    assert len(genome.levels) == space.levels - 1
    for level, motifs in enumerate(genome.levels, start=2):
        assert len(motifs) == space.motifs[level - 2]
        allowed = set(space.ops) if level == 2 else {f"m{k}" for k in range(space.motifs[level - 3])}
        for motif in motifs:
            assert [len(row) for row in motif.rows] == list(range(1, space.nodes[level - 2]))
            for row in motif.rows:
                assert set(row) <= allowed | {NONE}
                assert any(op != NONE for op in row)  # every node has an incoming edge


def _diff(parent: Genome, child: Genome) -> list[tuple[int, int, int, int, str, str]]:
    """``(level, motif, i, j, old, new)`` of every edge that differs."""
    out = []
    for level, (a_motifs, b_motifs) in enumerate(zip(parent.levels, child.levels), start=2):
        for k, (a, b) in enumerate(zip(a_motifs, b_motifs)):
            out += [(level, k, i, j, a.op(i, j), b.op(i, j)) for i, j in a.edges() if a.op(i, j) != b.op(i, j)]
    return out


def _run(net: torch.nn.Module, classes: int = 3) -> None:
    out = net.eval()(torch.rand(2, *SHAPE, generator=torch.Generator().manual_seed(0)))
    assert out.shape == (2, classes) and torch.isfinite(out).all()


# --- mutations ------------------------------------------------------------------------------


def test_thousands_of_mutations_stay_valid_change_one_edge_and_build(space):
    names, sample = [], []
    genome = space.random(np.random.default_rng(0))
    for t in range(3000):
        if t % 100 == 0:  # fresh lineages now and then, long chains in between
            genome = space.random(np.random.default_rng(t + 1))
        child, name = space.mutate(genome, np.random.default_rng(10_000 + t))
        names.append(name)
        _check_valid(space, child)
        data = json.loads(json.dumps(space.encode(child)))
        back = space.decode(data)
        assert back == child and space.encode(back) == data
        changes = _diff(genome, child)
        assert len(changes) == 1, (t, name, changes)  # one edge of one motif at one level
        old, new = changes[0][4:]
        assert name == ("insert" if old == NONE else "remove" if new == NONE else "alter_op")
        if t % 200 == 199:
            sample.append(child)
        genome = child
    assert set(names) == {"insert", "remove", "alter_op"}
    assert len(sample) == 15
    with torch.no_grad():
        for genome in sample:
            _run(space.build(genome, SHAPE, 3, 1.0))


def test_every_level_gets_mutated(space):
    rng = np.random.default_rng(5)
    genome = space.random(rng)
    levels = set()
    for _ in range(300):
        child, _ = space.mutate(genome, rng)
        levels.add(_diff(genome, child)[0][0])
        genome = child
    assert levels == {2, 3}


def test_identity_rate_and_determinism():
    space = HierarchicalSpace(**CONFIG, identity_rate=0.5)
    rng = np.random.default_rng(3)
    genome = space.random(rng)
    names = []
    for _ in range(100):
        child, name = space.mutate(genome, rng)
        names.append(name)
        assert (child == genome) == (name == "identity")
        genome = child
    assert set(names) == set(MUTATIONS)
    for seed in (0, 1, 12345):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        ga, gb = space.random(a), space.random(b)
        assert ga == gb and space.mutate(ga, a) == space.mutate(gb, b)
    assert space.random(np.random.default_rng(0)) != space.random(np.random.default_rng(1))


def test_only_input_edge_with_one_motif_below_never_breaks():
    # Level 3 has one motif below it: node 1's only edge can never change; others can.
    space = HierarchicalSpace(levels=3, motifs=[1, 1], nodes=[2, 3], filters=2)
    rng = np.random.default_rng(0)
    genome = space.random(rng)
    for _ in range(500):
        child, _ = space.mutate(genome, rng)
        _check_valid(space, child)
        assert len(_diff(genome, child)) == 1
        genome = child
    # Two-node motifs over a single lower motif have nothing to change: level 2 always does.
    flat = HierarchicalSpace(levels=3, motifs=[1, 1], nodes=[2, 2], ops=["identity", "conv_1x1"])
    genome = flat.random(rng)
    for _ in range(20):
        child, _ = flat.mutate(genome, rng)
        assert [c[0] for c in _diff(genome, child)] == [2]
        genome = child


# --- building -------------------------------------------------------------------------------


@pytest.mark.parametrize("op", PRIMITIVES)
def test_every_primitive_builds_and_trains(op):
    space = HierarchicalSpace(levels=2, motifs=[1], nodes=[3], filters=2, cells=3)
    genome = space.decode({"level_2": [[[op], [op, op]]]})
    net = space.build(genome, (1, 5, 5), 4)  # odd sizes: 5 -> 3 -> 2
    out = net(torch.rand(2, 1, 5, 5))
    assert out.shape == (2, 4)
    out.square().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_dead_nodes_and_unused_motifs_are_not_built():
    space = HierarchicalSpace(levels=3, motifs=[2, 1], nodes=[3, 2], filters=2, cells=1)
    # m0's node 1 (conv_3x3) feeds nothing; m1 (conv_1x1) is never used by the cell.
    genome = space.decode({"level_2": [[["conv_3x3"], ["identity", NONE]], [["conv_1x1"], [NONE, "conv_1x1"]]],
                           "level_3": [[["m0"]]]})
    net = space.build(genome, SHAPE, 2)
    assert not any(isinstance(m, torch.nn.Conv2d) for m in net.body.modules())
    text = space.render(genome).splitlines()
    assert text == [
        "level 2 m0: n1 = conv_3x3(n0) (dead); n2 = identity(n0)",
        "level 2 m1 (unused): n1 = conv_1x1(n0); n2 = conv_1x1(n1)",
        "cell: n1 = m0(n0)",
        "cell runs 1 primitive ops: identity x1",
    ]


def test_layout_width_and_input_checks(space):
    genome = space.random(np.random.default_rng(1))
    net = space.build(genome, SHAPE, 3, width=0.5)
    assert net.stem[0].out_channels == 2 and net.classifier.in_features == 4  # one reduction doubles
    assert space.build(genome, SHAPE, 3, width=0.01).stem[0].out_channels == 1
    with torch.no_grad():
        _run(space.build(genome, SHAPE, 3, width=0.01))
        _run(HierarchicalSpace(**{**CONFIG, "cells": 6}).build(genome, SHAPE, 3))  # down to 1x1
    with pytest.raises(ConfigError):
        space.build(genome, SHAPE, 3, width=0)
    with pytest.raises(ConfigError):
        space.build(genome, (16, 16), 3)
    with pytest.raises(GenomeError):
        HierarchicalSpace(**{**CONFIG, "motifs": [3, 1]}).build(genome, SHAPE, 3)


def test_network_rebuilds_from_spec_and_sets_input_stats(space):
    net = space.build(space.random(np.random.default_rng(2)), SHAPE, 3)
    again = type(net)(**json.loads(json.dumps(net.spec)))
    again.load_state_dict(net.state_dict())
    x = torch.rand(2, *SHAPE)
    with torch.no_grad():
        assert torch.equal(net.eval()(x), again.eval()(x))
    net.input_norm.set_input_stats(torch.tensor([0.5]), torch.tensor([0.25]))
    assert net.input_norm.mean.item() == 0.5 and net.input_norm.std.item() == 0.25


# --- codec and validation -------------------------------------------------------------------


def _good(space: HierarchicalSpace) -> dict:
    return space.encode(space.random(np.random.default_rng(0)))


def _set(data: dict, key: str, motif: int, j: int, i: int, value) -> dict:
    data = json.loads(json.dumps(data))
    data[key][motif][j - 1][i] = value
    return data


def _cut(data: dict, key: str, motif: int, j: int) -> dict:
    data = json.loads(json.dumps(data))
    data[key][motif][j - 1] = [NONE] * j
    return data


@pytest.mark.parametrize(
    "mangle, words",
    [
        (lambda d: [d], "must be a dict with keys level_2, level_3"),
        (lambda d: {"level_2": d["level_2"]}, "expected exactly level_2, level_3"),
        (lambda d: {**d, "level_4": d["level_3"]}, "expected exactly level_2, level_3"),
        (lambda d: {**d, "level_2": d["level_2"][:3]}, "level 2 has 3 motifs; this space needs exactly 4"),
        (lambda d: {**d, "level_3": d["level_3"] * 2}, "level 3 has 2 motifs; this space needs exactly 1"),
        (lambda d: {**d, "level_2": "abc"}, "level_2 must be a list of motifs"),
        (lambda d: {**d, "level_2": [d["level_2"][0], "x", *d["level_2"][2:]]}, "level 2 motif 1 must be a list of rows"),
        (lambda d: {**d, "level_3": [d["level_3"][0][:2]]}, "level 3 motif 0 has 3 nodes; this space needs exactly 4"),
        (lambda d: {**d, "level_3": [[["m0"], ["m0"], ["m0", "m0", "m0"]]]}, "node 2 has 1 incoming ops; needs exactly 2"),
        (lambda d: _set(d, "level_2", 1, 2, 0, "foo"),
         "level 2 motif 1 edge (0, 2): op 'foo' not allowed; allowed: none, conv_1x1"),
        (lambda d: _set(d, "level_2", 0, 1, 0, "m0"), "edge (0, 1): op 'm0' not allowed"),
        (lambda d: _set(d, "level_3", 0, 3, 2, "m4"), "edge (2, 3): op 'm4' not allowed; allowed: none, m0, m1, m2, m3"),
        (lambda d: _set(d, "level_3", 0, 2, 1, "conv_3x3"), "level 3 motif 0 edge (1, 2): op 'conv_3x3'"),
        (lambda d: _set(d, "level_3", 0, 2, 1, 3), "op 3 not allowed"),
        (lambda d: _cut(d, "level_2", 2, 1), "level 2 motif 2 node 1 has no incoming edge"),
        (lambda d: _cut(d, "level_3", 0, 3), "level 3 motif 0 node 3 has no incoming edge"),
    ],
)
def test_malformed_genomes_are_refused(space, mangle, words):
    with pytest.raises(GenomeError) as info:
        space.decode(mangle(_good(space)))
    message = str(info.value)
    assert words in message and "\n" not in message and message.startswith("hierarchical genome")


def test_op_outside_configured_ops_is_refused(space):
    narrow = HierarchicalSpace(**{**CONFIG, "ops": ["identity", "max_pool_3x3"]})
    data = _set(_good(narrow), "level_2", 0, 1, 0, "conv_3x3")
    with pytest.raises(GenomeError, match="allowed: none, identity, max_pool_3x3"):
        narrow.decode(data)
    assert space.decode(data)  # the full space allows it


def test_genome_objects_are_validated_too(space):
    genome = space.random(np.random.default_rng(0))
    bad = genome.with_motif(2, 0, Motif(((NONE,), tuple(genome.motif(2, 0).rows[1]))))
    with pytest.raises(GenomeError, match="node 1 has no incoming edge"):
        space.validate(bad)
    with pytest.raises(GenomeError, match="must be a Genome"):
        space.validate({"level_2": []})


@pytest.mark.parametrize(
    "config",
    [{"levels": 1}, {"levels": 2.0}, {"levels": 3, "motifs": [4]}, {"motifs": [4, 2]}, {"motifs": [0, 1]},
     {"nodes": [1, 4]}, {"nodes": "34"}, {"nodes": [3, 4.5]}, {"filters": 0}, {"cells": 0}, {"cells": True},
     {"ops": ["identity"]}, {"ops": ["identity", "conv_9x9"]}, {"ops": ["identity", "none"]},
     {"ops": "identity"}, {"ops": ["identity", "identity"]}, {"identity_rate": 1.0}, {"identity_rate": -0.1},
     {"depth": 3}],
)
def test_bad_config_is_refused(config):
    with pytest.raises(ConfigError) as info:
        make_space("hierarchical", config)
    message = str(info.value)
    assert "\n" not in message and message.startswith("hierarchical")


def test_registered_protocol_and_defaults(space):
    assert "hierarchical" in space_names()
    built = make_space("hierarchical", json.loads(json.dumps(space.config)))
    assert isinstance(built, HierarchicalSpace) and isinstance(built, SearchSpace)
    assert built.name == "hierarchical" and built.config == space.config
    default = make_space("hierarchical", {})  # the paper's shape: 6 level-2 motifs of 4 nodes, a 5-node cell
    assert (default.levels, default.motifs, default.nodes, default.ops) == (3, (6, 1), (4, 5), PRIMITIVES)
    assert make_space("hierarchical", {"levels": 4}).motifs == (6, 6, 1)


def test_render_lists_every_motif_and_the_cell(space):
    genome = space.random(np.random.default_rng(4))
    lines = space.render(genome).splitlines()
    assert [line.split(":")[0].split(" (")[0] for line in lines[:5]] == [
        "level 2 m0", "level 2 m1", "level 2 m2", "level 2 m3", "cell"]
    assert lines[-1].startswith("cell runs ")


# --- export and training --------------------------------------------------------------------


def test_torch_module_is_self_contained():
    tree = ast.parse(Path(torch_hier.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(a.name == "torch" or a.name.startswith("torch.") for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.module in ("torch", "collections.abc") or node.module.startswith("torch.")
    assert torch_hier.PRIMITIVES == PRIMITIVES


def test_export_round_trip(space, tmp_path):
    genome = space.random(np.random.default_rng(6))
    state = {k: v.detach().numpy() for k, v in space.build(genome, SHAPE, 3, 1.0).state_dict().items()}
    path = export_network(space, genome, state, SHAPE, 3, tmp_path)  # verifies itself on a random batch
    assert "zeroevo" not in "".join(line for line in path.read_text().splitlines() if "import" in line)
    spec = importlib.util.spec_from_file_location("_hier_exported", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    assert module.GENOME == space.encode(genome)
    with torch.no_grad():
        _run(module.load(), 3)


def test_short_training_on_digits_learns():
    from zeroevo.data.images import load_digits
    from zeroevo.neural.fidelity import Fidelity
    from zeroevo.neural.trainer import train_model

    space = HierarchicalSpace(levels=3, motifs=[2, 1], nodes=[3, 3], filters=8, cells=2)
    genome = space.decode({"level_2": [[["conv_3x3"], ["identity", "sep_conv_3x3"]],
                                       [["max_pool_3x3"], ["conv_1x1", "identity"]]],
                           "level_3": [[["m0"], ["m1", "m0"]]]})
    data = load_digits()
    fidelity = Fidelity(epochs=2, train_subset=512, valid_subset=256, batch_size=32, lr=0.05)
    shape = tuple(data.x_train.shape[1:])
    first = train_model(space.build(genome, shape, len(data.classes)), data, fidelity, seed=1)
    again = train_model(space.build(genome, shape, len(data.classes)), data, fidelity, seed=1)
    assert first.status == STATUS_OK, first.reason
    assert first.fitness > 0.3  # ten classes: chance is 0.1
    assert again.fitness == first.fitness


def test_mutation_names_are_ones_the_neural_log_codes():
    from zeroevo.neural.search import NEURAL_MUTATIONS

    assert set(MUTATIONS) <= set(NEURAL_MUTATIONS)


def test_preset_search_runs_on_digits(tmp_path):
    from zeroevo.runs.birthlog import read_log
    from zeroevo.runs.lifecycle import start_run
    from zeroevo.runs.presets import load_preset

    cfg = load_preset("fashion-hierarchical")
    assert cfg.space.name == "hierarchical" and make_space("hierarchical", cfg.space.options).motifs == (4, 1)
    cfg = cfg.replace("data", dataset="digits").replace("final", top_k=0)
    cfg = cfg.replace("fidelity", train_subset=128, valid_subset=64, epochs=1, batch_size=32)
    cfg = cfg.replace("space", options={**cfg.space.options, "filters": 4})
    cfg = cfg.replace("run", max_births=4, snapshot_every=2).replace("evolution", population=2, tournament=2)
    start_run(cfg, tmp_path / "run")[0].run()
    log = read_log(tmp_path / "run")
    space = make_space("hierarchical", cfg.space.options)
    assert log.num_rows == 4 and set(log.column("status").to_pylist()) == {STATUS_OK}
    for genome in log.column("genome").to_pylist():
        space.decode(json.loads(genome))
