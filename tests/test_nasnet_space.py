"""Tests of the NASNet search space: genomes, AmoebaNet mutations, codec, rendering, torch build."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from zeroevo.core.errors import ConfigError, GenomeError
from zeroevo.core.protocols import SearchSpace
from zeroevo.core.registry import make_space, space_names
from zeroevo.primitives.neural import cells as torch_cells
from zeroevo.spaces.nasnet import (
    MUTATIONS,
    NASNET_OPS,
    Block,
    Cell,
    Genome,
    NasnetSpace,
)

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]
TINY = dict(filters=2)  # two filters keep every network build + step in milliseconds


@pytest.fixture(scope="module")
def space() -> NasnetSpace:
    return NasnetSpace(**TINY)


def _forward_backward(space: NasnetSpace, genome: Genome, shape: tuple[int, int, int], seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    net = space.build(genome, shape, num_classes=3)
    # Batch 2: batch norm in training mode needs more than one value per channel.
    x = torch.randn((2, *shape), generator=gen)
    out = net(x)
    assert out.shape == (2, 3)
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def _uniform(op: str, layout: str, blocks: int = 5) -> Genome:
    """Every op in both cells is ``op``; ``chain``: block j reads (j, j+1), so blocks read both
    cell inputs and earlier blocks; ``h1_only``: every block reads h1 (stride-2 ops in the
    reduction cell) and h0 stays unused (the reduce-on-concat path)."""
    if layout == "chain":
        cell = Cell(tuple(Block((j, j + 1), (op, op)) for j in range(blocks)))
    else:
        cell = Cell(tuple(Block((1, 1), (op, op)) for j in range(blocks)))
    return Genome(normal=cell, reduction=cell)


# --- building and running -------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("op", NASNET_OPS)
def test_every_op_builds_and_trains_in_both_cells(space, op, shape):
    for layout in ("chain", "h1_only"):
        _forward_backward(space, _uniform(op, layout), shape)


@pytest.mark.parametrize("kind", MUTATIONS)
def test_every_mutation_kind_builds_and_trains(space, kind):
    for seed in range(3):
        rng = np.random.default_rng(seed)
        parent = space.random(rng)
        child, name = space.mutate(parent, rng, kind=kind)
        assert name == kind
        _forward_backward(space, child, SHAPES[seed % len(SHAPES)], seed)


def test_random_genomes_build_for_all_shapes(space):
    for seed, shape in enumerate(SHAPES * 2):
        _forward_backward(space, space.random(np.random.default_rng(100 + seed)), shape, seed)


def test_width_scales_filters_with_minimum_one():
    space = NasnetSpace(filters=8)
    genome = space.random(np.random.default_rng(1))
    assert space.build(genome, (1, 8, 8), 2, width=0.5).stem[0].out_channels == 4
    assert space.build(genome, (1, 8, 8), 2, width=0.01).stem[0].out_channels == 1
    _forward_backward(NasnetSpace(filters=1), genome, (1, 8, 8))  # odd/one-channel factorized reduce
    with pytest.raises(ConfigError):
        space.build(genome, (1, 8, 8), 2, width=0)
    with pytest.raises(ConfigError):
        space.build(genome, (8, 8), 2)


def test_network_layout_follows_config():
    space = NasnetSpace(filters=2, cells_per_stack=2, stacks=3)
    net = space.build(space.random(np.random.default_rng(2)), (1, 8, 8), 2)
    assert [c.reduction for c in net.cells] == [False, False, True, False, False, True, False, False]
    _forward_backward(space, space.random(np.random.default_rng(2)), (1, 8, 8))
    # Two reductions in a row (N = 0): the second cell's h0 is at twice h1's resolution.
    _forward_backward(NasnetSpace(filters=2, cells_per_stack=0, stacks=3), space.random(np.random.default_rng(3)), (1, 9, 9))


def test_unused_states_are_exactly_the_concatenated_ones(space):
    for seed in range(10):
        genome = space.random(np.random.default_rng(seed))
        net = space.build(genome, (1, 8, 8), 2)
        seen: list[tuple[bool, int]] = []
        hooks = [c.register_forward_hook(lambda m, i, o: seen.append((m.reduction, o.shape[1]))) for c in net.cells]
        net(torch.zeros(2, 1, 8, 8))
        for h in hooks:
            h.remove()
        channels = space.filters
        for cell_module, (is_reduction, got) in zip(net.cells, seen):
            channels *= 2 if is_reduction else 1
            cell = genome.reduction if is_reduction else genome.normal
            # Computed here independently of Cell.unused(): states no block reads.
            read = {i for block in cell.blocks for i in block.inputs}
            unused = [s for s in range(space.blocks + 2) if s not in read]
            assert list(cell.unused()) == unused == cell_module.concat
            assert got == channels * len(unused) == cell_module.out_channels


# --- mutations ------------------------------------------------------------------------------


def _diff(parent: Genome, child: Genome) -> list[tuple[str, int, str, int]]:
    """(cell, block, 'input'/'op', side) of every changed field."""
    out = []
    for name in ("normal", "reduction"):
        for j, (a, b) in enumerate(zip(parent.cell(name).blocks, child.cell(name).blocks)):
            out += [(name, j, "input", s) for s in range(2) if a.inputs[s] != b.inputs[s]]
            out += [(name, j, "op", s) for s in range(2) if a.ops[s] != b.ops[s]]
    return out


def test_many_mutations_stay_valid_and_round_trip(space):
    rng = np.random.default_rng(7)
    genome = space.random(rng)
    names = []
    for _ in range(200):
        child, name = space.mutate(genome, rng)
        names.append(name)
        space.validate(child)
        assert space.decode(json.loads(json.dumps(space.encode(child)))) == child
        changes = _diff(genome, child)
        if name == "identity":
            assert child == genome
        elif name == "hidden_state":
            assert len(changes) == 1 and changes[0][2] == "input"
            cell, j, _, side = changes[0]
            assert 0 <= child.cell(cell).blocks[j].inputs[side] < 2 + j  # earlier states only: no cycle
        else:
            assert name == "op" and len(changes) == 1 and changes[0][2] == "op"
            cell, j, _, side = changes[0]
            assert child.cell(cell).blocks[j].ops[side] in space.ops
        genome = child
    assert set(names) == set(MUTATIONS)


def test_forced_mutations_change_exactly_one_thing(space):
    for seed in range(50):
        rng = np.random.default_rng(seed)
        parent = space.random(rng)
        child, _ = space.mutate(parent, rng, kind="hidden_state")
        assert [c[2] for c in _diff(parent, child)] == ["input"]
        child, _ = space.mutate(parent, rng, kind="op")
        assert [c[2] for c in _diff(parent, child)] == ["op"]
        assert space.mutate(parent, rng, kind="identity")[0] == parent


def test_mutation_of_restricted_ops_space():
    space = NasnetSpace(filters=2, blocks=2, ops=["identity", "max_pool_3x3"])
    rng = np.random.default_rng(0)
    genome = space.random(rng)
    for _ in range(50):
        genome, _ = space.mutate(genome, rng)
        assert {op for c in (genome.normal, genome.reduction) for b in c.blocks for op in b.ops} <= set(space.ops)
    with pytest.raises(GenomeError):
        space.mutate(genome, rng, kind="crossover")


def test_determinism_same_seed_same_genome_and_mutation(space):
    for seed in (0, 1, 12345):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        ga, gb = space.random(a), space.random(b)
        assert ga == gb
        assert space.mutate(ga, a) == space.mutate(gb, b)
    assert space.random(np.random.default_rng(0)) != space.random(np.random.default_rng(1))


# --- codec and validation -------------------------------------------------------------------


def _good(space: NasnetSpace) -> dict:
    return space.encode(space.random(np.random.default_rng(0)))


def _set(data: dict, cell: str, j: int, k: int, value) -> dict:
    data = json.loads(json.dumps(data))
    data[cell][j][k] = value
    return data


@pytest.mark.parametrize(
    "mangle, words",
    [
        (lambda d: [d], "dict"),
        (lambda d: {"normal": d["normal"]}, "keys"),
        (lambda d: {**d, "extra": []}, "keys"),
        (lambda d: {**d, "normal": d["normal"][:4]}, "exactly 5"),
        (lambda d: {**d, "reduction": d["reduction"] + d["reduction"][:1]}, "exactly 5"),
        (lambda d: {**d, "normal": "abc"}, "list"),
        (lambda d: {**d, "normal": [d["normal"][0][:3]] + d["normal"][1:]}, "input_a"),
        (lambda d: _set(d, "normal", 0, 0, 2), "0..1"),  # block 0 reading itself
        (lambda d: _set(d, "reduction", 3, 2, 5), "0..4"),  # block 3 reading block 3: a cycle
        (lambda d: _set(d, "normal", 4, 0, -1), "earlier states"),
        (lambda d: _set(d, "normal", 2, 2, True), "input 1"),
        (lambda d: _set(d, "normal", 2, 0, 1.0), "input 0"),
        (lambda d: _set(d, "reduction", 1, 1, "conv_9x9"), "sep_conv_3x3"),
        (lambda d: _set(d, "reduction", 1, 3, 3), "allowed"),
    ],
)
def test_malformed_genomes_are_refused(space, mangle, words):
    with pytest.raises(GenomeError) as info:
        space.decode(mangle(_good(space)))
    message = str(info.value)
    assert words in message and "\n" not in message


def test_op_outside_configured_ops_is_refused():
    narrow = NasnetSpace(ops=["identity", "max_pool_3x3"])
    with pytest.raises(GenomeError, match="allowed: identity, max_pool_3x3"):
        narrow.decode(_good(NasnetSpace()) | {"normal": [[0, "sep_conv_3x3", 1, "identity"]] * 5})
    with pytest.raises(GenomeError):
        narrow.build(NasnetSpace().random(np.random.default_rng(0)), (1, 8, 8), 2)


@pytest.mark.parametrize(
    "config",
    [{"blocks": 0}, {"filters": 0}, {"stacks": 0}, {"cells_per_stack": -1}, {"blocks": 2.5},
     {"ops": ["identity"]}, {"ops": ["identity", "conv_9x9"]}, {"ops": "identity"}, {"B": 5},
     {"cells_per_stack": 0, "stacks": 1}],
)
def test_bad_config_is_refused(config):
    with pytest.raises(ConfigError) as info:
        make_space("nasnet", config)
    assert "\n" not in str(info.value)


def test_registered_and_protocol(space):
    assert "nasnet" in space_names()
    built = make_space("nasnet", space.config)
    assert isinstance(built, NasnetSpace) and isinstance(built, SearchSpace)
    assert built.name == "nasnet" and built.config == space.config


# --- rendering ------------------------------------------------------------------------------


def test_render_text():
    space = NasnetSpace(blocks=3)
    genome = space.decode({
        "normal": [[1, "sep_conv_3x3", 0, "identity"], [2, "max_pool_3x3", 1, "sep_conv_5x5"],
                   [1, "sep_conv_3x3", 2, "max_pool_3x3"]],
        "reduction": [[0, "avg_pool_3x3", 0, "conv_1x7_7x1"], [1, "dil_sep_conv_3x3", 2, "sep_conv_7x7"],
                      [3, "identity", 3, "identity"]],
    })
    assert space.render(genome).splitlines() == [
        "normal b0 = sep_conv_3x3(h1) + identity(h0)",
        "normal b1 = max_pool_3x3(b0) + sep_conv_5x5(h1)",
        "normal b2 = sep_conv_3x3(h1) + max_pool_3x3(b0)",
        "normal out = concat(b1, b2)",
        "reduction b0 = avg_pool_3x3(h0) + conv_1x7_7x1(h0)",
        "reduction b1 = dil_sep_conv_3x3(h1) + sep_conv_7x7(b0)",
        "reduction b2 = identity(b1) + identity(b1)",
        "reduction out = concat(b2)",
    ]


def test_diagram_writes_png(space, tmp_path: Path):
    for seed in range(2):
        path = tmp_path / f"cells{seed}.png"
        space.diagram(space.random(np.random.default_rng(seed)), path)
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 1024


# --- the torch module file ------------------------------------------------------------------


def test_torch_cells_is_self_contained():
    tree = ast.parse(Path(torch_cells.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(a.name == "torch" or a.name.startswith("torch.") for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.module == "torch" or node.module.startswith("torch.")
    assert torch_cells.OP_NAMES == NASNET_OPS
    for op in NASNET_OPS:
        for stride in (1, 2):
            out = torch_cells.make_op(op, 3, stride)(torch.zeros(1, 3, 7, 7))
            assert out.shape == (1, 3, 4 if stride == 2 else 7, 4 if stride == 2 else 7)


def test_network_rebuilds_from_its_plain_spec(space):
    net = space.build(space.random(np.random.default_rng(4)), (3, 32, 32), 10)
    twin = torch_cells.NasnetNetwork(**json.loads(json.dumps(net.spec)))
    twin.load_state_dict(net.state_dict())
    net.eval(), twin.eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert torch.equal(net(x), twin(x))
