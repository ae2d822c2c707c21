"""A weight-sharing supernet of layer networks: every layer choice at every position.

Single-path one-shot search (Guo et al. 2019; ENAS, SMASH before it) trains one network that
contains every architecture of the space and runs one *path* (one genome) per step.
:class:`LayerSupernet` holds, at each position ``0 .. max_layers - 1``, one module per *layer
choice*: an op with its hyperparameters (``conv_k3_s2``, ``maxpool_k3_s1``, ``residual_k3``,
``activation_gelu``, ``dropout_0p25``, ...). The width of a layer (conv filters, dense units)
is not a separate choice: it is a slice of one tensor, as in slimmable networks and
Once-for-All. A conv holds the largest filter count and the largest input channel count any
path can feed it, and a path uses ``weight[:out, :in]`` and ``bias[:out]``; a dense layer
likewise; a residual block ``[:in, :in]`` in both its convs (its width is its input's); a
batch norm its first ``in`` channels (running statistics too: every path updates the slice it
uses, so a path's statistics are best recalibrated before it is evaluated, as single-path
one-shot does).

How many channels a position can receive is bounded exactly: a layer reads up to
``max_inputs`` earlier outputs, concatenated, and the ops that keep the channel count (pools,
activations, batch norm, dropout, residual blocks) pass them on, so the bound of position
``i`` is the sum of the ``max_inputs`` largest bounds before it. Skip inputs, the zero-padded
merge and the head follow :class:`~zeroevo.primitives.neural.layers.DagNetwork` exactly for
the path.

A path is given as the encoded genome (plain data, what ``LayerSpace.encode`` returns:
``{"layers": [{"op": "conv", "filters": 16, "kernel": 3, "stride": 1, "inputs": [0]}, ...]}``),
since this module cannot know the space's genome classes; filters and units are scaled by
the supernet's ``width`` exactly as ``LayerSpace.describe`` scales them.
:meth:`LayerSupernet.standalone_state` extracts a path's weights in the keys and shapes of the
stand-alone ``DagNetwork``, which then computes the same function.
"""
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call

from zeroevo.primitives.neural.layers import (
    ACTIVATIONS,
    NETWORK_INPUT,
    DenseOp,
    GlobalPoolHead,
    InputNorm,
    ResidualBlock,
    concat_padded,
    make_node,
    merged_shape,
    node_output_shape,
)

# Ops whose output has as many channels as their (merged) input.
CHANNEL_KEEPING = ("maxpool", "avgpool", "activation", "batchnorm", "dropout", "residual")


def scaled(value: int, width: float) -> int:
    """A filter or unit count at ``width``: the rule of ``LayerSpace.describe``."""
    return max(1, round(value * width))


def choice_key(node: dict) -> str:
    """The module name of a layer choice: the op and every hyperparameter but its width."""
    op = node["op"]
    if op in ("conv", "maxpool", "avgpool"):
        return f"{op}_k{node['kernel']}_s{node['stride']}"
    if op == "residual":
        return f"residual_k{node['kernel']}"
    if op == "activation":
        return f"activation_{node['fn']}"
    if op == "dropout":
        return "dropout_" + repr(float(node["rate"])).replace(".", "p")  # a '.' is no module name
    return op  # dense, batchnorm: their only hyperparameter is a width, or none


def channel_slices(module: nn.Module, in_channels: int, out_channels: int) -> dict:
    """``module``'s tensors cut to a path's channels (dim 0 to ``out``, dim 1 to ``in``).

    Keys are names inside ``module``: the substitution ``functional_call`` runs it with, and
    what :meth:`LayerSupernet.standalone_state` stores. Parameter-free modules get ``{}``.
    """
    if isinstance(module, nn.Conv2d):
        return {"weight": module.weight[:out_channels, :in_channels], "bias": module.bias[:out_channels]}
    if isinstance(module, nn.Sequential):  # a conv block: conv (no bias), batch norm of its output, ReLU
        conv, norm = module[0], module[1]
        return {"0.weight": conv.weight[:out_channels, :in_channels],
                **{f"1.{k}": v for k, v in channel_slices(norm, out_channels, 0).items()}}
    if isinstance(module, ResidualBlock):  # in == out: the block keeps its input's width
        return {**{f"{conv}.weight": getattr(module, conv).weight[:in_channels, :in_channels]
                   for conv in ("conv1", "conv2")},
                **{f"{norm}.{k}": v for norm in ("bn1", "bn2")
                   for k, v in channel_slices(getattr(module, norm), in_channels, 0).items()}}
    if isinstance(module, DenseOp):
        linear = module.linear
        return {"linear.weight": linear.weight[:out_channels, :in_channels], "linear.bias": linear.bias[:out_channels]}
    if isinstance(module, nn.BatchNorm2d):
        return {name: getattr(module, name)[:in_channels]
                for name in ("weight", "bias", "running_mean", "running_var")}
    if isinstance(module, GlobalPoolHead):
        return {"linear.weight": module.linear.weight[:, :in_channels]}
    return {}


class LayerSupernet(nn.Module):
    """Every layer network of a space in one module; ``forward(x, genome)`` runs one path.

    The arguments are the input shape, the class count, the space's config (size bounds,
    ops and choice lists, as ``LayerSpace`` names them) and the ``width`` scaling filters and
    units (no defaults: ``LayerSpace`` owns them). ``spec`` keeps them as plain data, so
    ``LayerSupernet(**net.spec)`` rebuilds it. Every parameter lives in a standard torch
    layer, whose own ``reset_parameters`` re-initialises it (at the fan-in of the largest
    slice, so a narrow path starts with smaller activations than its stand-alone network).
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        max_layers: int,
        max_inputs: int,
        ops: Sequence[str],
        conv_filters: Sequence[int],
        conv_kernels: Sequence[int],
        conv_strides: Sequence[int],
        pool_kernels: Sequence[int],
        pool_strides: Sequence[int],
        dense_units: Sequence[int],
        activations: Sequence[str],
        dropout_rates: Sequence[float],
        width: float = 1.0,
        conv_block: bool = False,
    ):
        super().__init__()
        self.spec = {
            "input_shape": [int(s) for s in input_shape],
            "num_classes": int(num_classes),
            "max_layers": int(max_layers),
            "max_inputs": int(max_inputs),
            "ops": [str(op) for op in ops],
            "conv_filters": [int(v) for v in conv_filters],
            "conv_kernels": [int(v) for v in conv_kernels],
            "conv_strides": [int(v) for v in conv_strides],
            "pool_kernels": [int(v) for v in pool_kernels],
            "pool_strides": [int(v) for v in pool_strides],
            "dense_units": [int(v) for v in dense_units],
            "activations": [str(fn) for fn in activations],
            "dropout_rates": [float(r) for r in dropout_rates],
            "width": float(width),
            "conv_block": bool(conv_block),
        }
        spec = self.spec
        self.input_norm = InputNorm(spec["input_shape"][0])
        self.widths = {op: {v: scaled(v, spec["width"]) for v in spec[key]}
                       for op, key in (("conv", "conv_filters"), ("dense", "dense_units"))}
        # The most channels each position can read and write over all paths (see the docstring).
        bounds = [spec["input_shape"][0]]  # bounds[j + 1]: the output bound of position j
        positions = []
        self.in_bounds: list[int] = []
        for _ in range(spec["max_layers"]):
            c_in = sum(sorted(bounds, reverse=True)[: spec["max_inputs"]])
            self.in_bounds.append(c_in)
            positions.append(nn.ModuleDict(self._choices(c_in)))
            outs = [max(self.widths[op].values()) for op in ("conv", "dense") if op in spec["ops"]]
            outs += [c_in] if any(op in spec["ops"] for op in CHANNEL_KEEPING) else []
            bounds.append(max(outs))
        self.positions = nn.ModuleList(positions)
        # Any set of layers may feed the head; it reads them in index order, as DagNetwork does.
        self.head = GlobalPoolHead(sum(bounds[1:]), spec["num_classes"])

    def _choices(self, c_in: int) -> dict:
        """One module per layer choice for a position reading at most ``c_in`` channels."""
        spec, ops, out = self.spec, self.spec["ops"], {}
        shape = (c_in, 1, 1)
        if "conv" in ops:
            c_out = max(self.widths["conv"].values())
            for k in spec["conv_kernels"]:
                for s in spec["conv_strides"]:
                    out[f"conv_k{k}_s{s}"] = make_node(
                        {"op": "conv", "filters": c_out, "kernel": k, "stride": s, "block": spec["conv_block"]},
                        shape)
        if "residual" in ops:
            for k in spec["conv_kernels"]:
                out[f"residual_k{k}"] = make_node({"op": "residual", "kernel": k}, shape)
        for op in ("maxpool", "avgpool"):
            if op in ops:
                for k in spec["pool_kernels"]:
                    for s in spec["pool_strides"]:
                        out[f"{op}_k{k}_s{s}"] = make_node({"op": op, "kernel": k, "stride": s}, shape)
        if "dense" in ops:
            out["dense"] = DenseOp(c_in, max(self.widths["dense"].values()))
        if "activation" in ops:
            for fn in spec["activations"]:
                out[f"activation_{fn}"] = ACTIVATIONS[fn]()
        if "batchnorm" in ops:
            out["batchnorm"] = nn.BatchNorm2d(c_in)
        if "dropout" in ops:
            for rate in spec["dropout_rates"]:
                out[choice_key({"op": "dropout", "rate": rate})] = nn.Dropout(rate)
        return out

    def path(self, genome: dict) -> list:
        """``(module, sources, node, in_channels, out_channels)`` per layer of an encoded genome.

        ``node`` is the layer as ``DagNetwork`` gets it (width applied); channel counts are
        inferred as ``DagNetwork`` infers them. ``ValueError`` if the genome is foreign
        (``TypeError`` if it is no encoded layer genome at all).
        """
        layers = genome.get("layers") if isinstance(genome, dict) else None
        if not isinstance(layers, (list, tuple)):
            raise TypeError("a layer path is an encoded genome: {'layers': [...]}")
        if not 1 <= len(layers) <= len(self.positions):
            raise ValueError(f"a path has 1..{len(self.positions)} layers, got {len(layers)}")
        in_shape = tuple(self.spec["input_shape"])
        shapes: list = []
        out = []
        for i, layer in enumerate(layers):
            node = {k: v for k, v in layer.items() if k != "inputs"}
            for op, key in (("conv", "filters"), ("dense", "units")):
                if node.get("op") == op:
                    if node.get(key) not in self.widths[op]:
                        raise ValueError(f"layer {i}: {op} {key} {node.get(key)!r} is not in this supernet")
                    node[key] = self.widths[op][node[key]]
            sources = tuple(int(j) for j in layer.get("inputs", ())) or (NETWORK_INPUT,)
            if len(sources) > self.spec["max_inputs"] or any(not NETWORK_INPUT <= j < i for j in sources):
                raise ValueError(f"layer {i}: inputs {list(sources)} are not earlier layers (at most "
                                 f"{self.spec['max_inputs']})")
            try:
                key = choice_key(node)
            except KeyError:  # a missing hyperparameter: no choice matches
                key = None
            if key not in self.positions[i]:
                raise ValueError(f"layer {i}: {layer!r} is not a choice of this supernet")
            shape = merged_shape([in_shape if j == NETWORK_INPUT else shapes[j] for j in sources])
            shapes.append(node_output_shape(node, shape))
            out.append((self.positions[i][key], sources, node, shape[0], shapes[-1][0]))
        return out

    @staticmethod
    def outputs(path: list) -> list:
        """Indices of the path's layers no later layer reads (the head's inputs, ascending)."""
        consumed = {j for _, sources, _, _, _ in path for j in sources}
        return [i for i in range(len(path)) if i not in consumed]

    def forward(self, x: torch.Tensor, genome: dict) -> torch.Tensor:
        """Class logits ``[N, num_classes]`` of the path ``genome`` (an encoded genome) for
        images ``[N, C, H, W]`` in ``[0, 1]``."""
        path = self.path(genome)
        x = self.input_norm(x)
        outs: list = []
        for module, sources, _node, c_in, c_out in path:
            merged = concat_padded([x if j == NETWORK_INPUT else outs[j] for j in sources])
            slices = channel_slices(module, c_in, c_out)
            outs.append(functional_call(module, slices, (merged,)) if slices else module(merged))
        merged = concat_padded([outs[j] for j in self.outputs(path)])
        return functional_call(self.head, channel_slices(self.head, merged.shape[1], 0), (merged,))

    def standalone_state(self, genome: dict) -> dict:
        """The path's weights as ``DagNetwork``'s state dict (same keys and shapes, copies).

        Loaded into the stand-alone network of ``genome`` (same input shape, classes and
        width), it computes what ``self(x, genome)`` computes; batch-norm statistics included.
        """
        path = self.path(genome)
        out = {f"input_norm.{k}": v for k, v in self.input_norm.state_dict().items()}
        for i, (module, _sources, _node, c_in, c_out) in enumerate(path):
            state = {**module.state_dict(), **channel_slices(module, c_in, c_out)}
            out.update({f"nodes.{i}.{k}": v for k, v in state.items()})
        c_head = sum(path[j][4] for j in self.outputs(path))
        head = {**self.head.state_dict(), **channel_slices(self.head, c_head, 0)}
        out.update({f"head.{k}": v for k, v in head.items()})
        return {k: v.detach().clone(memory_format=torch.contiguous_format) for k, v in out.items()}
