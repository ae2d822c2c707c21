"""Torch building blocks of layer networks: the layer ops, the padded merge, the DAG network.

A network is described by plain data (a *description*: input shape, class count, one dict per
node with its op, hyperparameters and input indices, and the indices of the output nodes);
:class:`DagNetwork` is built from it (``DagNetwork(**description)``) and keeps it as ``spec``.
Shapes are inferred here, analytically, so the description never carries channel counts.

Conventions every network built from these blocks follows:

- Input images are float tensors ``[N, C, H, W]`` scaled to ``[0, 1]``; the network's first
  module, :class:`InputNorm`, normalises them per channel with statistics the trainer writes
  into its buffers, so a trained network carries its own preprocessing.
- Several inputs are merged by zero-padding every map (centred) to the largest height and
  width among them and concatenating along channels (:func:`concat_padded`).
- Convolutions and pools use odd kernels with ``kernel // 2`` padding, so any spatial size,
  even 1x1, stays valid: the output size is ``(size - 1) // stride + 1``.
- A dense layer on a spatial input global-average-pools it first (rather than flattening), so
  its parameter count does not depend on the input size and every genome builds for every
  input shape; its output is a ``units x 1 x 1`` map, so any layer may follow it.

This module imports nothing but torch and the standard library, and has no ``from __future__``
import (which must be a file's first statement): network export embeds its source verbatim
into a standalone file, where ``DagNetwork(**spec)`` rebuilds the network. Other spaces'
networks may reuse :class:`InputNorm` (the trainer calls ``set_input_stats`` on every module
that defines it, so a self-contained copy works too),
:func:`concat_padded` and :class:`GlobalPoolHead`.
"""

from typing import Sequence

import torch
from torch import nn

NETWORK_INPUT = -1

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
}


class InputNorm(nn.Module):
    """Per-channel ``(x - mean) / std``; the trainer fills the buffers from training data."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    def set_input_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Store per-channel statistics (1-D tensors of length ``channels``); the trainer calls
        this on every module that has it."""
        with torch.no_grad():
            self.mean.copy_(mean.to(self.mean))
            self.std.copy_(std.to(self.std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised ``x``."""
        return (x - self.mean[:, None, None]) / self.std[:, None, None]


def pad_to(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``x`` zero-padded, centred (extra row/column at the bottom/right), to ``height x width``."""
    dh, dw = height - x.shape[2], width - x.shape[3]
    if dh == 0 and dw == 0:
        return x
    return nn.functional.pad(x, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2))


def concat_padded(xs: Sequence[torch.Tensor]) -> torch.Tensor:
    """The maps in ``xs`` zero-padded to the largest height and width, concatenated on channels."""
    if len(xs) == 1:
        return xs[0]
    height = max(x.shape[2] for x in xs)
    width = max(x.shape[3] for x in xs)
    return torch.cat([pad_to(x, height, width) for x in xs], dim=1)


def merged_shape(shapes: Sequence[tuple[int, int, int]]) -> tuple[int, int, int]:
    """The ``(C, H, W)`` that :func:`concat_padded` yields for inputs of ``shapes``."""
    return (sum(s[0] for s in shapes), max(s[1] for s in shapes), max(s[2] for s in shapes))


class DenseOp(nn.Module):
    """Global average pool, then a linear layer; the output is a ``units x 1 x 1`` map."""

    def __init__(self, in_channels: int, units: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_channels, units)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W] -> [N, units, 1, 1]``."""
        # mean() rather than adaptive pooling: its CUDA backward is deterministic.
        return self.linear(x.mean(dim=(2, 3)))[:, :, None, None]


class ResidualBlock(nn.Module):
    """ResNet's basic block at constant width: ``relu(x + bn2(conv2(relu(bn1(conv1(x))))))``."""

    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        # No conv biases: batch norm follows each conv.
        self.conv1 = nn.Conv2d(channels, channels, kernel, padding=kernel // 2, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel, padding=kernel // 2, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same shape as ``x``."""
        return torch.relu(x + self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))


class GlobalPoolHead(nn.Module):
    """The classifier: global average pool, then a linear layer to class logits."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C, H, W] -> [N, num_classes]`` logits."""
        return self.linear(x.mean(dim=(2, 3)))


def _strided(size: int, stride: int) -> int:
    return (size - 1) // stride + 1


def node_output_shape(node: dict, shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """The ``(C, H, W)`` a node of the description produces from a merged input of ``shape``."""
    op = node["op"]
    c, h, w = shape
    if op == "conv":
        return (node["filters"], _strided(h, node["stride"]), _strided(w, node["stride"]))
    if op in ("maxpool", "avgpool"):
        return (c, _strided(h, node["stride"]), _strided(w, node["stride"]))
    if op == "dense":
        return (node["units"], 1, 1)
    if op in ("activation", "batchnorm", "dropout", "residual"):
        return shape
    raise ValueError(f"unknown layer op {op!r}")


def make_node(node: dict, shape: tuple[int, int, int]) -> nn.Module:
    """The module of one node of the description, reading a merged input of ``shape``."""
    op = node["op"]
    if op == "conv":
        k = node["kernel"]
        if node.get("block"):  # conv-BN-ReLU (the bias is redundant before batch norm)
            return nn.Sequential(nn.Conv2d(shape[0], node["filters"], k, stride=node["stride"], padding=k // 2,
                                           bias=False), nn.BatchNorm2d(node["filters"]), nn.ReLU())
        return nn.Conv2d(shape[0], node["filters"], k, stride=node["stride"], padding=k // 2)
    if op == "residual":
        return ResidualBlock(shape[0], node["kernel"])
    if op == "maxpool":
        k = node["kernel"]
        return nn.MaxPool2d(k, stride=node["stride"], padding=k // 2)
    if op == "avgpool":
        k = node["kernel"]
        # Padding is excluded from the average so border pixels are not dimmed.
        return nn.AvgPool2d(k, stride=node["stride"], padding=k // 2, count_include_pad=False)
    if op == "dense":
        return DenseOp(shape[0], node["units"])
    if op == "activation":
        return ACTIVATIONS[node["fn"]]()
    if op == "batchnorm":
        return nn.BatchNorm2d(shape[0])
    if op == "dropout":
        return nn.Dropout(node["rate"])
    raise ValueError(f"unknown layer op {op!r}")


class DagNetwork(nn.Module):
    """A network from plain data: node ``i`` reads the padded concatenation of its inputs.

    ``nodes`` are dicts with ``op``, the op's hyperparameters and ``inputs`` (indices of
    earlier nodes, ``-1`` = the normalised network input, empty = the network input); the
    classifier head reads the padded concatenation of the ``outputs`` nodes. ``spec`` keeps
    the constructor arguments, so ``DagNetwork(**net.spec)`` rebuilds the network (export).
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        nodes: Sequence[dict],
        outputs: Sequence[int],
    ) -> None:
        super().__init__()
        self.spec = {
            "input_shape": [int(s) for s in input_shape],
            "num_classes": int(num_classes),
            "nodes": [{**node, "inputs": [int(j) for j in node.get("inputs", ())]} for node in nodes],
            "outputs": [int(j) for j in outputs],
        }
        in_shape = tuple(self.spec["input_shape"])
        shapes: list[tuple[int, int, int]] = []
        modules: list[nn.Module] = []
        sources: list[tuple[int, ...]] = []
        for node in self.spec["nodes"]:
            srcs = tuple(node["inputs"]) or (NETWORK_INPUT,)
            shape = merged_shape([in_shape if j == NETWORK_INPUT else shapes[j] for j in srcs])
            modules.append(make_node(node, shape))
            shapes.append(node_output_shape(node, shape))
            sources.append(srcs)
        self.input_norm = InputNorm(in_shape[0])
        self.nodes = nn.ModuleList(modules)
        self.sources = tuple(sources)
        self.outputs = tuple(self.spec["outputs"])
        head_in = merged_shape([shapes[j] for j in self.outputs])
        self.head = GlobalPoolHead(head_in[0], self.spec["num_classes"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``[N, num_classes]`` for images ``[N, C, H, W]`` in ``[0, 1]``."""
        x = self.input_norm(x)
        outs: list[torch.Tensor] = []
        for node, srcs in zip(self.nodes, self.sources):
            outs.append(node(concat_padded([x if j == NETWORK_INPUT else outs[j] for j in srcs])))
        return self.head(concat_padded([outs[j] for j in self.outputs]))


def build_network(description: dict) -> DagNetwork:
    """The network of a description: ``input_shape``, ``num_classes``, ``nodes``, ``outputs``."""
    return DagNetwork(**description)
