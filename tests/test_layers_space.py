"""The layer search space: ops, mutations, validity rules, codec and building."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from zeroevo.core.errors import ConfigError, GenomeError
from zeroevo.core.protocols import SearchSpace
from zeroevo.core.registry import make_space
from zeroevo.primitives.neural.layers import DagNetwork, concat_padded, pad_to
from zeroevo.spaces.layers import (
    MUTATIONS,
    OPS,
    Activation,
    AvgPool,
    BatchNorm,
    Conv,
    Dense,
    Dropout,
    LayerGenome,
    LayerSpace,
    MaxPool,
    Residual,
)

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]
SMALL = {"conv_filters": [2, 4], "dense_units": [4, 8], "max_layers": 8, "initial_layers": 3,
         "activations": ["relu", "tanh", "gelu", "sigmoid", "elu", "silu", "leaky_relu"]}


@pytest.fixture(scope="module")
def space() -> LayerSpace:
    return make_space("layers", SMALL)


def run_forward_backward(space: LayerSpace, genome: LayerGenome, shape: tuple[int, int, int],
                         classes: int = 3) -> DagNetwork:
    net = space.build(genome, shape, classes)
    net.train()
    x = torch.rand(2, *shape, generator=torch.Generator().manual_seed(0))
    out = net(x)
    assert out.shape == (2, classes)
    out.square().sum().backward()
    for p in net.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()
    return net


def test_registered_and_protocol(space: LayerSpace) -> None:
    assert isinstance(space, SearchSpace)
    assert space.name == "layers"
    assert make_space("layers").max_layers == LayerSpace().max_layers


def one_layer(op: str) -> list:
    return {
        "conv": [Conv(4, 3, 2)], "maxpool": [MaxPool(3, 2)], "avgpool": [AvgPool(3, 1)],
        "dense": [Dense(8)], "activation": [Activation("gelu")], "batchnorm": [BatchNorm()],
        "dropout": [Dropout(0.5)], "residual": [Residual(3)],
    }[op]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("op", OPS)
def test_every_op_builds_and_trains(space: LayerSpace, op: str, shape: tuple[int, int, int]) -> None:
    # Alone, after a conv, and followed by a conv (a dense output is a 1x1 map).
    layer = one_layer(op)[0]
    for layers in ([layer], [Conv(4, 3, 1), dataclasses.replace(layer, inputs=(0,))],
                   [layer, Conv(2, 5, 2, inputs=(0,))]):
        run_forward_backward(space, LayerGenome(tuple(layers)), shape)


def test_a_residual_layer_is_resnets_basic_block(space: LayerSpace) -> None:
    # It keeps its input's width (a conv of 4 filters before it: 2 * 3 * 3 * 4 * 4 weights and
    # two batch norms), and with its second conv zeroed it passes relu(input) on unchanged.
    genome = LayerGenome((Conv(4, 3, 1), Residual(3, inputs=(0,)), Conv(2, 1, 1, inputs=(0, 1))))
    net = space.build(genome, (1, 8, 8), 3).eval()
    conv, block = net.nodes[0], net.nodes[1]
    assert sum(p.numel() for p in block.parameters()) == 2 * 3 * 3 * 4 * 4 + 2 * 2 * 4
    assert net.nodes[2].in_channels == 8  # the block's 4 channels next to the conv's 4
    torch.nn.init.zeros_(block.conv2.weight)
    x = torch.rand(2, 4, 8, 8, generator=torch.Generator().manual_seed(1)) - 0.5
    with torch.no_grad():
        assert torch.equal(block(x), torch.relu(x))
        assert block(conv(x[:, :1])).shape == (2, 4, 8, 8)
    assert "1: residual 3x3 <- 0" in space.render(genome)


@pytest.mark.parametrize("fn", SMALL["activations"])
def test_every_activation(space: LayerSpace, fn: str) -> None:
    run_forward_backward(space, LayerGenome((Activation(fn), Conv(2, 1, 1, inputs=(0,)))), (1, 8, 8))


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_every_mutation_yields_buildable_genomes(space: LayerSpace, mutation: str) -> None:
    applied = 0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        genome = space.random(rng)
        for _ in range(2):  # random genomes are chains: give remove_skip something to remove
            genome, _ = space.mutate_with(genome, "add_skip", rng)
        for _ in range(4):
            genome, name = space.mutate_with(genome, mutation, rng)
            applied += name == mutation
            assert space.validate(genome) == genome  # valid and canonical
        run_forward_backward(space, genome, SHAPES[seed % 3])
    assert applied > 0


def test_long_random_mutation_chains(space: LayerSpace) -> None:
    rng = np.random.default_rng(7)
    genome = space.random(rng)
    seen = set()
    for step in range(150):
        genome, name = space.mutate(genome, rng)
        seen.add(name)
        assert space.decode(json.loads(json.dumps(space.encode(genome)))) == genome
        assert 1 <= len(genome) <= space.max_layers
        if step % 10 == 0:
            run_forward_backward(space, genome, SHAPES[(step // 10) % 3])
    assert seen == set(MUTATIONS)


def test_random_and_mutate_are_deterministic(space: LayerSpace) -> None:
    def chain(seed: int) -> list:
        rng = np.random.default_rng(seed)
        genome = space.random(rng)
        out = []
        for _ in range(20):
            genome, name = space.mutate(genome, rng)
            out.append((space.encode(genome), name))
        return out

    assert chain(3) == chain(3)
    assert chain(3) != chain(4)


def test_mutation_fallback_is_deterministic() -> None:
    single = LayerGenome((Conv(4, 3, 1),))
    # Removing the only layer cannot apply: the next mutation in order (alter_op) does.
    child, name = LayerSpace().mutate_with(single, "remove", np.random.default_rng(0))
    assert name == "alter_op" and child.layers[0].op != "conv"
    assert (child, name) == LayerSpace().mutate_with(single, "remove", np.random.default_rng(0))
    # With one op, one choice per hyperparameter and nothing to skip to, only identity is left.
    frozen = LayerSpace(conv_filters=(4,), max_layers=2, ops=("conv",), conv_kernels=(3,), conv_strides=(1,))
    assert frozen.mutate_with(single, "remove", np.random.default_rng(0)) == (single, "identity")
    full = LayerGenome((Conv(4, 3, 1), Conv(4, 3, 1, inputs=(0,))))
    assert frozen.mutate_with(full, "insert", np.random.default_rng(0))[1] == "remove"
    only_remove = LayerSpace(mutations=("remove",))
    assert only_remove.mutate(single, np.random.default_rng(0)) == (single, "identity")


def test_insert_and_remove_rewire() -> None:
    space = LayerSpace(ops=("batchnorm",))
    chain = LayerGenome((Conv(8), Conv(8, inputs=(0,)), Conv(8, inputs=(1,))))
    for seed in range(20):
        child, _ = space.mutate_with(chain, "insert", np.random.default_rng(seed))
        p = next(i for i, layer in enumerate(child.layers) if isinstance(layer, BatchNorm))
        # The new layer sits between p-1 and the old layer p: still a single chain.
        assert child.sources(p) == (p - 1,) and (p == 3 or child.sources(p + 1) == (p,))
        assert child.outputs() == (3,)
        removed, _ = space.mutate_with(chain, "remove", np.random.default_rng(seed))
        assert removed.outputs() == (1,) and removed.sources(1) in ((0,), (-1,))


# -- validity rules, one by one --------------------------------------------------------------

def capture_inputs(module: torch.nn.Module) -> list:
    seen: list = []
    module.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach()))
    return seen


def test_layer_without_inputs_reads_network_input(space: LayerSpace) -> None:
    genome = LayerGenome((Activation("relu"), Activation("tanh")))
    assert genome.sources(0) == genome.sources(1) == (-1,)
    net = space.build(genome, (1, 8, 8), 2)
    head_in = capture_inputs(net.head)
    x = torch.rand(3, 1, 8, 8)
    net(x)
    xn = net.input_norm(x)
    assert torch.equal(head_in[0], torch.cat([torch.relu(xn), torch.tanh(xn)], dim=1))


def test_unconsumed_outputs_are_concatenated(space: LayerSpace) -> None:
    genome = LayerGenome((Conv(4, 3, 1), Conv(2, 3, 1, inputs=(0,)), Conv(4, 1, 1, inputs=(0,))))
    assert genome.outputs() == (1, 2)
    net = space.build(genome, (1, 8, 8), 5)
    assert net.head.linear.in_features == 2 + 4
    head_in = capture_inputs(net.head)
    x = torch.rand(2, 1, 8, 8)
    net(x)
    h0 = net.nodes[0](net.input_norm(x))
    assert torch.allclose(head_in[0], torch.cat([net.nodes[1](h0), net.nodes[2](h0)], dim=1))


def test_several_inputs_concatenate_along_channels(space: LayerSpace) -> None:
    genome = LayerGenome((Conv(4, 3, 1), Activation("relu", inputs=(0,)), Conv(2, 1, 1, inputs=(0, 1))))
    net = space.build(genome, (1, 8, 8), 2)
    assert net.nodes[2].in_channels == 8
    seen = capture_inputs(net.nodes[2])
    x = torch.rand(2, 1, 8, 8)
    net(x)
    h0 = net.nodes[0](net.input_norm(x))
    assert torch.equal(seen[0], torch.cat([h0, torch.relu(h0)], dim=1))


def test_mismatched_sizes_are_zero_padded_to_the_largest(space: LayerSpace) -> None:
    # Layer 0 halves 8x8 to 4x4; layer 1 reads it with the 8x8 network input.
    genome = LayerGenome((Conv(4, 3, 2), Conv(2, 3, 1, inputs=(-1, 0))))
    net = space.build(genome, (1, 8, 8), 2)
    assert net.nodes[1].in_channels == 1 + 4
    seen = capture_inputs(net.nodes[1])
    x = torch.rand(2, 1, 8, 8)
    net(x)
    xn = net.input_norm(x)
    h0 = net.nodes[0](xn)
    merged = seen[0]
    assert merged.shape == (2, 5, 8, 8)
    assert torch.equal(merged[:, :1], xn)
    assert torch.equal(merged[:, 1:, 2:6, 2:6], h0)  # centred
    border = merged[:, 1:].clone()
    border[:, :, 2:6, 2:6] = 0
    assert not border.any()
    # An odd difference puts the extra row and column at the bottom and right.
    padded = pad_to(torch.ones(1, 1, 3, 3), 4, 4)
    assert padded[0, 0, 3].sum() == 0 and padded[0, 0, :, 3].sum() == 0 and padded.sum() == 9
    assert concat_padded([torch.ones(1, 2, 2, 5), torch.ones(1, 1, 4, 3)]).shape == (1, 3, 4, 5)


def test_dense_on_spatial_input_pools_globally(space: LayerSpace) -> None:
    net = space.build(LayerGenome((Dense(8), Conv(2, 3, 2, inputs=(0,)))), (3, 32, 32), 2)
    x = torch.rand(2, 3, 32, 32)
    dense = net.nodes[0]
    xn = net.input_norm(x)
    assert torch.allclose(dense(xn), dense.linear(xn.mean(dim=(2, 3)))[:, :, None, None])
    assert dense.linear.in_features == 3  # independent of the 32x32 size


def test_width_scales_filters_and_units(space: LayerSpace) -> None:
    genome = LayerGenome((Conv(4, 3, 1), Dense(8, inputs=(0,))))
    net = space.build(genome, (1, 8, 8), 2, width=0.5)
    assert net.nodes[0].out_channels == 2 and net.nodes[1].linear.out_features == 4


def test_render_lists_layers_with_inputs(space: LayerSpace) -> None:
    genome = LayerGenome((Conv(4, 3, 2), MaxPool(3, 2, inputs=(0,)), Dense(8, inputs=(-1, 1))))
    text = space.render(genome)
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[0] == "0: conv 4 3x3/2 <- input"
    assert lines[2] == "2: dense 8 <- input, 1"
    assert lines[3].startswith("head: concat(2)")


# -- codec -----------------------------------------------------------------------------------

def test_encode_decode_round_trip(space: LayerSpace) -> None:
    rng = np.random.default_rng(11)
    for _ in range(30):
        genome = space.random(rng)
        for _ in range(int(rng.integers(6))):
            genome, _ = space.mutate(genome, rng)
        data = json.loads(json.dumps(space.encode(genome)))
        assert space.decode(data) == genome
    assert space.decode({"layers": [{"op": "batchnorm", "inputs": [-1]}]}) == LayerGenome((BatchNorm(),))
    assert space.decode({"layers": [{"op": "dropout", "rate": 0.5}]}).layers[0].inputs == ()


GOOD = {"op": "conv", "filters": 4, "kernel": 3, "stride": 1, "inputs": []}
MALFORMED = [
    [],
    {"layers": []},
    {"layers": [GOOD], "extra": 1},
    {"layers": GOOD},
    {"layers": [GOOD] * 9},
    {"layers": ["conv"]},
    {"layers": [{**GOOD, "op": "lstm"}]},
    {"layers": [{"op": "conv", "filters": 4, "kernel": 3}]},
    {"layers": [{**GOOD, "padding": 1}]},
    {"layers": [{**GOOD, "stride": True}]},
    {"layers": [{**GOOD, "kernel": 3.0}]},
    {"layers": [{**GOOD, "kernel": 4}]},
    {"layers": [{**GOOD, "filters": 7}]},
    {"layers": [{"op": "activation", "fn": "softmax"}]},
    {"layers": [{"op": "dropout", "rate": 0.3}]},
    {"layers": [{**GOOD, "inputs": [0]}]},
    {"layers": [{**GOOD, "inputs": [-2]}]},
    {"layers": [GOOD, {**GOOD, "inputs": [0, -1]}]},
    {"layers": [GOOD, {**GOOD, "inputs": [0, 0]}]},
    {"layers": [GOOD, GOOD, GOOD, {**GOOD, "inputs": [-1, 0, 1, 2]}]},
    {"layers": [{**GOOD, "inputs": "0"}]},
    {"layers": [{**GOOD, "inputs": [0.0]}]},
]


@pytest.mark.parametrize("data", MALFORMED)
def test_malformed_genomes_are_refused(space: LayerSpace, data: object) -> None:
    with pytest.raises(GenomeError) as info:
        space.decode(data)
    assert "\n" not in str(info.value)


def test_ops_outside_the_space_are_refused() -> None:
    space = LayerSpace(ops=("conv", "activation"))
    with pytest.raises(GenomeError, match="not allowed"):
        space.decode({"layers": [{"op": "dense", "units": 64}]})
    with pytest.raises(GenomeError):
        space.build(LayerGenome((Dense(64),)), (1, 8, 8), 2)


@pytest.mark.parametrize("config", [
    {"conv_kernels": [2, 3]}, {"max_layers": 0}, {"min_layers": 3, "max_layers": 2},
    {"ops": ["conv", "rnn"]}, {"ops": []}, {"mutations": ["crossover"]}, {"dropout_rates": [1.0]},
    {"activations": ["swish"]}, {"conv_filters": [0]}, {"depth": 3}, {"initial_layers": 20},
    {"ops": ["conv", "dense"], "initial_ops": ["maxpool"]}, {"conv_block": "yes"},
    {"reductions": -1}, {"reductions": 1.5},
])
def test_bad_config_raises_config_error(config: dict) -> None:
    with pytest.raises(ConfigError):
        make_space("layers", config)


def test_bad_build_arguments(space: LayerSpace) -> None:
    genome = LayerGenome((Conv(4),))
    for shape, classes in (((8, 8), 2), ((1, 0, 8), 2), ((1, 8, 8), 0)):
        with pytest.raises(ConfigError):
            space.build(genome, shape, classes)


def test_initial_ops_and_conv_blocks() -> None:
    plain = make_space("layers", {"initial_layers": 4})
    prior = make_space("layers", {"initial_layers": 4, "initial_ops": ["conv", "maxpool"], "conv_block": True})
    rng = np.random.default_rng(0)
    drawn = {layer.op for _ in range(50) for layer in prior.random(rng).layers}
    assert drawn == {"conv", "maxpool"}
    # Without initial_ops a random genome is what it always was (older runs replay).
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    assert make_space("layers", {"initial_layers": 4, "conv_block": True}).random(a) == plain.random(b)
    genome = LayerGenome((Conv(8),))
    block = prior.build(genome, (1, 8, 8), 3).nodes[0]
    assert [type(m) for m in block] == [torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.ReLU]
    assert block[0].bias is None
    assert isinstance(plain.build(genome, (1, 8, 8), 3).nodes[0], torch.nn.Conv2d)


def test_reductions_fix_where_resolution_is_lost() -> None:
    space = make_space("layers", {**SMALL, "reductions": 2, "conv_strides": [1], "pool_strides": [1]})
    # Six layers, three stages: 0 0 1 1 2 2; layer 5 also reads the input and layer 1.
    genome = LayerGenome((Conv(2), Conv(2, inputs=(0,)), Conv(2, inputs=(1,)), Conv(2, inputs=(2,)),
                          Conv(2, inputs=(3,)), Conv(4, inputs=(-1, 1, 4))))
    assert space.stages(genome) == (0, 0, 1, 1, 2, 2)
    net = run_forward_backward(space, genome, (1, 28, 28))
    sizes = {}
    hooks = [m.register_forward_hook(lambda m, i, o, k=k: sizes.__setitem__(k, o.shape[-1]))
             for k, m in enumerate(net.nodes)]
    net(torch.rand(1, *(1, 28, 28)))
    for h in hooks:
        h.remove()
    ops = [node["op"] for node in net.spec["nodes"]]
    convs = [sizes[k] for k, op in enumerate(ops) if op == "conv"]
    assert convs == [28, 28, 14, 14, 7, 7]
    # One pool per stage boundary crossed, shared where paths overlap: 1 -> stage 1 (read by
    # layer 2, reused on 1's way to stage 2), 1 -> 2, 3 -> 2, and the input's two.
    assert ops.count("maxpool") == 5
    assert "[stage 2]" in space.render(genome).splitlines()[5]
    # A genome too short for every stage gets the stages it has, and still builds.
    assert space.stages(LayerGenome((Conv(2), Conv(2, inputs=(0,))))) == (0, 1)
    rng = np.random.default_rng(3)
    g = space.random(rng)
    for _ in range(300):
        g, _ = space.mutate(g, rng)
        space.build(g, (1, 12, 12), 3).eval()(torch.rand(1, 1, 12, 12))
    assert make_space("layers", SMALL).stages(genome) == (0,) * 6  # the default: as before
    with pytest.raises(ConfigError, match="reductions"):
        space.build_supernet((1, 28, 28), 10)


def test_the_staged_preset_is_fashion_layers_with_the_measured_changes() -> None:
    from zeroevo.runs.presets import load_preset

    plain, staged = load_preset("fashion-layers").to_dict(), load_preset("fashion-layers-staged").to_dict()
    changed = {k for k in plain if plain[k] != staged[k]}
    assert changed == {"preset", "space", "objectives", "predictor", "run"}
    assert staged["space"]["options"] == {**plain["space"]["options"], "reductions": 2, "conv_strides": [1],
                                          "pool_strides": [1], "min_layers": 3,
                                          "ops": plain["space"]["options"]["ops"] + ["residual"]}
    space = make_space("layers", staged["space"]["options"])
    rng = np.random.default_rng(0)
    g = space.random(rng)
    for _ in range(200):  # resolution is the space's to change, never a layer's
        g, _ = space.mutate(g, rng)
        assert all(getattr(layer, "stride", 1) == 1 for layer in g.layers)
