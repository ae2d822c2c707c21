"""Weight-sharing supernets (single-path one-shot): a path computes exactly its stand-alone
network, gradients stay on the path, the size is bounded, the spec rebuilds the supernet."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from zeroevo.core.registry import make_space
from zeroevo.spaces.layers import OPS, Conv, LayerGenome, Residual

SHAPE = (1, 16, 16)
CLASSES = 5
CONFIGS = {
    "nasnet": {"blocks": 3, "stacks": 2, "cells_per_stack": 1, "filters": 4},
    "layers": {"max_layers": 4, "conv_filters": [4, 8], "conv_kernels": [1, 3], "dense_units": [8, 16]},
}
CONFIGS["layers_block"] = {**CONFIGS["layers"], "conv_block": True}  # conv-BN-ReLU blocks
KINDS = sorted(CONFIGS)


def space_of(name: str, **changes):
    """The space of a CONFIGS entry (``layers_block`` is a layer space)."""
    return make_space(name.split("_")[0], {**CONFIGS[name], **changes})


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny networks: a second intra-op thread only adds synchronisation on a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def randomise(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every parameter, batch-norm statistic and input statistic drawn from one generator, so
    a path that picked a wrong tensor (or a wrong slice) cannot match by accident."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.5, generator=gen)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.5, generator=gen)
                m.running_var.uniform_(0.5, 2.0, generator=gen)
                m.num_batches_tracked.fill_(7)
            if callable(getattr(m, "set_input_stats", None)):
                channels = SHAPE[0]
                m.set_input_stats(torch.rand(channels, generator=gen), torch.rand(channels, generator=gen) + 0.5)
    return net


def distinct(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every parameter element a different value (a random permutation of an even grid), so
    an element is known by its value alone."""
    params = list(net.parameters())
    total = sum(p.numel() for p in params)
    values = torch.randperm(total, generator=torch.Generator().manual_seed(seed)).float() / total - 0.5
    with torch.no_grad():
        start = 0
        for p in params:
            p.copy_(values[start:start + p.numel()].view_as(p))
            start += p.numel()
    return net


def genomes(space, count: int, seed: int) -> list:
    """``count`` genomes: random ones, each followed by its child and grandchild."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        out.append(space.random(rng))
        for _ in range(2):
            out.append(space.mutate(out[-1], rng)[0])
    return out[:count]


def coverage(space) -> list:
    """Genomes that random draws meet rarely: every op in every slot and stride variant, with
    h0, h1 or neither left unused (nasnet); every op after a padded merge of two inputs of
    different widths and sizes, and a head reading two layers (layers)."""
    if space.name == "nasnet":
        reads = {"chain": lambda j: (j, j + 1), "h0": lambda j: (0, 0), "h1": lambda j: (1, 1)}
        out = []
        for op in space.ops:
            for read in reads.values():
                cell = [[read(j)[0], op, read(j)[1], op] for j in range(space.blocks)]
                out.append(space.decode({"normal": cell, "reduction": cell}))
        return out
    rng = np.random.default_rng(12)
    return [LayerGenome((Conv(8, 3, 2), space.random_layer(rng, (-1, 0), op), space.random_layer(rng, (1,), op),
                         Conv(4, 1, 1))) for op in space.ops]


def images(seed: int, batch: int = 3) -> torch.Tensor:
    """Images in [0, 1], as the trainer feeds them."""
    return torch.rand(batch, *SHAPE, generator=torch.Generator().manual_seed(seed))


def standalone(space, net: torch.nn.Module, genome, width: float = 1.0) -> torch.nn.Module:
    """``space.build(genome)`` loaded (strictly: same keys, same shapes) with the path's state."""
    model = space.build(genome, SHAPE, CLASSES, width)
    state = net.standalone_state(space.encode(genome))
    expected = model.state_dict()
    assert set(state) == set(expected)
    assert {k: tuple(v.shape) for k, v in state.items()} == {k: tuple(v.shape) for k, v in expected.items()}
    model.load_state_dict(state)
    return model


@pytest.fixture(scope="module", params=KINDS)
def setup(request):
    """``(space, supernet)`` with random weights, in eval mode."""
    space = space_of(request.param)
    net = randomise(space.build_supernet(SHAPE, CLASSES), seed=1)
    return space, net.eval()


def test_every_path_computes_its_standalone_network(setup):
    space, net = setup
    x = images(0)
    with torch.no_grad():
        for genome in genomes(space, 24, seed=2) + coverage(space):
            model = standalone(space, net, genome).eval()
            assert torch.allclose(net(x, space.encode(genome)), model(x), rtol=1e-5, atol=1e-5), space.render(genome)


@pytest.mark.parametrize("kind", KINDS)
def test_width_scales_paths_like_build(kind):
    space = space_of(kind)
    net = randomise(space.build_supernet(SHAPE, CLASSES, width=0.5), seed=3).eval()
    x = images(1)
    with torch.no_grad():
        for genome in genomes(space, 6, seed=4):
            model = standalone(space, net, genome, width=0.5).eval()
            assert torch.allclose(net(x, space.encode(genome)), model(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_training_mode_matches_and_updates_only_the_path_statistics(kind):
    # Batch statistics, and the running statistics a step leaves behind, are the stand-alone
    # network's. Dropout draws from torch's global generator, so it is left out here.
    space = space_of(kind, **({"ops": [op for op in OPS if op != "dropout"]} if kind.startswith("layers") else {}))
    net = randomise(space.build_supernet(SHAPE, CLASSES), seed=5).train()
    before = copy.deepcopy(net.state_dict())
    x = images(2, batch=4)
    for genome in genomes(space, 4, seed=6) + coverage(space)[::5]:
        net.load_state_dict(before)  # every genome starts from the same statistics
        model = standalone(space, net, genome).train()
        path = space.encode(genome)
        assert torch.allclose(net(x, path), model(x), rtol=1e-5, atol=1e-5)
        after = net.standalone_state(path)
        for key, value in model.state_dict().items():
            assert torch.allclose(after[key].to(value.dtype), value, rtol=1e-5, atol=1e-6), key


def test_gradients_reach_only_the_path(setup):
    space, fixed = setup
    net = distinct(copy.deepcopy(fixed), seed=7)
    x = images(3)
    for genome in genomes(space, 6, seed=8) + coverage(space)[::4]:
        net.zero_grad(set_to_none=True)
        model = standalone(space, net, genome).eval()
        net(x, space.encode(genome)).square().sum().backward()
        model(x).square().sum().backward()
        # Every value is distinct, so a supernet element is the stand-alone element of its value.
        expected = {v: g for p in model.parameters()
                    for v, g in zip(p.detach().flatten().tolist(), p.grad.flatten().tolist())}
        reached = 0
        for name, p in net.named_parameters():
            if p.grad is None:
                continue
            hit = p.grad != 0
            for value, grad in zip(p.detach()[hit].tolist(), p.grad[hit].tolist()):
                assert value in expected, f"{name}: a gradient reached an element off the path"
                assert grad == pytest.approx(expected[value], rel=1e-4, abs=1e-6), name
                reached += 1
        assert reached == sum(1 for g in expected.values() if g != 0)
        # Modules of other choices are not even part of the graph.
        assert any(p.grad is None for p in net.parameters())


def test_parameter_count_is_bounded():
    def count(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    nasnet = make_space("nasnet", CONFIGS["nasnet"])
    typical = np.median([count(nasnet.build(g, SHAPE, CLASSES)) for g in genomes(nasnet, 20, seed=9)])
    assert count(nasnet.build_supernet(SHAPE, CLASSES)) < 50 * typical

    # Random layer genomes are mostly parameter-free layers; "typical" is a conv chain, and with
    # residual blocks (whose weights grow with the square of the channels a position may read)
    # a conv followed by residual blocks.
    n = CONFIGS["layers"]["max_layers"]
    convs = {**CONFIGS["layers"], "ops": [op for op in OPS if op != "residual"]}
    for config, chain in ((convs, [Conv(8, 3, 1, inputs=(i - 1,) if i else ()) for i in range(n)]),
                          (CONFIGS["layers"], [Conv(8, 3, 1)] + [Residual(3, inputs=(i,)) for i in range(n - 1)])):
        layers = make_space("layers", config)
        supernet = layers.build_supernet(SHAPE, CLASSES)
        assert count(supernet) < 50 * count(layers.build(LayerGenome(tuple(chain)), SHAPE, CLASSES))
        # Widths are slices of one tensor: more filter and unit choices add no parameters.
        wider = make_space("layers", {**config, "conv_filters": [1, 2, 3, 5, 8], "dense_units": [2, 9, 16]})
        assert count(wider.build_supernet(SHAPE, CLASSES)) == count(supernet)


def test_spec_rebuilds_the_supernet(setup):
    space, net = setup
    twin = type(net)(**json.loads(json.dumps(net.spec)))
    assert {k: v.shape for k, v in twin.state_dict().items()} == {k: v.shape for k, v in net.state_dict().items()}
    twin.load_state_dict(net.state_dict())
    twin.eval()
    genome = space.random(np.random.default_rng(10))
    with torch.no_grad():
        assert torch.equal(twin(images(4), space.encode(genome)), net(images(4), space.encode(genome)))


def test_parameters_sit_in_modules_the_trainer_can_reset(setup):
    # The trainer re-initialises through every module's reset_parameters().
    _, net = setup
    owners = [m for m in net.modules() if any(True for _ in m.parameters(recurse=False))]
    assert owners and all(callable(getattr(m, "reset_parameters", None)) for m in owners)


def test_paths_outside_the_supernet_are_refused():
    nasnet = make_space("nasnet", {**CONFIGS["nasnet"], "ops": ["identity", "max_pool_3x3"]})
    net = nasnet.build_supernet(SHAPE, CLASSES)
    path = nasnet.encode(nasnet.random(np.random.default_rng(11)))
    x = images(5)
    for bad in ({**path, "normal": [[0, "sep_conv_3x3", 1, "identity"]] + path["normal"][1:]},
                {**path, "normal": [[2, "identity", 1, "identity"]] + path["normal"][1:]},
                {**path, "normal": path["normal"][:-1]},
                {"normal": path["normal"]}):
        with pytest.raises(ValueError):
            net(x, bad)
    with pytest.raises(TypeError):
        net(x, nasnet.random(np.random.default_rng(11)))  # the genome object, not its encoding
    layers = make_space("layers", CONFIGS["layers"])
    net = layers.build_supernet(SHAPE, CLASSES)
    conv = {"op": "conv", "filters": 4, "kernel": 3, "stride": 1, "inputs": []}
    for bad in ({"layers": [{**conv, "filters": 16}]}, {"layers": [{**conv, "kernel": 5}]},
                {"layers": [conv] * 5}, {"layers": [{**conv, "inputs": [0]}]}, {"layers": [{"op": "conv"}]}):
        with pytest.raises(ValueError):
            net(x, bad)
    with pytest.raises(TypeError):
        net(x, [conv])
