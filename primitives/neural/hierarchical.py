"""Torch modules of the hierarchical search space (Liu et al. 2017): primitives, motifs, network.

Self-contained on purpose: this file imports only torch and the standard library, so an
exported network file can embed it verbatim and rebuild a network from plain data
(``HierarchicalNetwork(**net.spec)``). For the same reason there is no
``from __future__ import annotations`` (it must be a file's first statement, which an
embedded copy is not) and errors are plain ``ValueError``s; the search space validates
genomes with zeroevo's own errors before it gets here.

A genome arrives as ``levels``: ``levels[0]`` lists the motifs of level 2, ``levels[1]``
those of level 3, and so on; the last level holds exactly one motif, the cell. A motif of
``n`` nodes is given as ``n - 1`` rows: row ``j - 1`` lists the ops of the edges
``(0, j), (1, j), ..., (j - 1, j)`` into node ``j``. Node 0 is the motif's input and node
``n - 1`` its output. An op is ``"none"`` (no edge), a primitive name (level 2) or ``"m<k>"``,
motif ``k`` of the level below (levels 3 and up).

Conventions:

- Every op maps ``C`` channels to ``C`` channels at stride 1, so any edge fits any node.
- A node *sums* the outputs of its incoming edges. The paper concatenates depthwise (and a
  following 1x1 conv restores the width); a sum keeps every motif at ``C`` channels without
  extra parameters and makes a motif reusable anywhere a primitive fits.
- Convolutions are conv-BN-ReLU as in the paper; pools use stride 1 and padding 1.
- Nodes whose value never reaches the output are not built, so their ops cost no parameters
  and no time (they could not change the logits anyway).
- Each use of a motif is a fresh copy with its own weights: motifs share structure, not
  parameters.
"""

from collections.abc import Sequence

import torch
from torch import nn

PRIMITIVES = ("conv_1x1", "conv_3x3", "sep_conv_3x3", "max_pool_3x3", "avg_pool_3x3", "identity")
NONE = "none"


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


class ConvBNReLU(nn.Module):
    """A ``kernel x kernel`` convolution, batch norm and ReLU (the paper's conv primitive)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The transformed input."""
        return self.op(x)


class SepConvBNReLU(nn.Module):
    """Depthwise-separable ``kernel x kernel`` convolution (depthwise, then pointwise), BN, ReLU.

    With ``c_out != c_in`` or ``stride = 2`` it is the reduction between stacked cells.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.Conv2d(c_in, c_in, kernel, stride=stride, padding=kernel // 2, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The transformed input."""
        return self.op(x)


def make_primitive(name: str, channels: int) -> nn.Module:
    """The module of primitive ``name`` on ``channels`` channels (stride 1, shape-preserving)."""
    if name == "conv_1x1":
        return ConvBNReLU(channels, channels, 1)
    if name == "conv_3x3":
        return ConvBNReLU(channels, channels, 3)
    if name == "sep_conv_3x3":
        return SepConvBNReLU(channels, channels, 3)
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=1, padding=1)
    if name == "avg_pool_3x3":
        # Padding would otherwise count as zeros and darken the borders.
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if name == "identity":
        return nn.Identity()
    raise ValueError(f"unknown primitive {name!r}; allowed: {', '.join(PRIMITIVES)}")


def motif_index(op: str, count: int) -> int:
    """``k`` of an op ``"m<k>"`` naming one of ``count`` motifs of the level below."""
    digits = op[1:] if isinstance(op, str) and op.startswith("m") else ""
    if not digits.isdigit() or int(digits) >= count:
        raise ValueError(f"op {op!r} names no motif of the level below; allowed: m0..m{count - 1}, {NONE}")
    return int(digits)


def live_nodes(rows: Sequence[Sequence[str]]) -> list:
    """For each node of a motif given by ``rows``, whether its value reaches the output node.

    The output is live; a node feeding a live node through a non-``none`` edge is live.
    """
    n = len(rows) + 1
    live = [False] * n
    live[n - 1] = True
    for j in range(n - 1, 0, -1):
        if live[j]:
            for i, op in enumerate(rows[j - 1]):
                if op != NONE:
                    live[i] = True
    return live


class Motif(nn.Module):
    """Motif ``index`` of ``level`` (>= 2) at ``channels`` channels: a DAG whose edges are
    primitives (level 2) or copies of motifs of the level below, nodes summing their inputs."""

    def __init__(self, levels: Sequence, level: int, index: int, channels: int) -> None:
        super().__init__()
        if not 2 <= level <= len(levels) + 1 or not 0 <= index < len(levels[level - 2]):
            raise ValueError(f"no motif {index} at level {level}")
        rows = levels[level - 2][index]
        self.level = int(level)
        self.nodes = len(rows) + 1
        live = live_nodes(rows)
        wiring = []
        ops = nn.ModuleList()
        # Edges in order of their target node: every input of node j is final before j is read.
        for j in range(1, self.nodes):
            if len(rows[j - 1]) != j:
                raise ValueError(f"level {level} motif {index} node {j} has {len(rows[j - 1])} incoming ops, not {j}")
            if not live[j]:
                continue
            for i, op in enumerate(rows[j - 1]):
                if op == NONE:
                    continue
                if level == 2:
                    ops.append(make_primitive(op, channels))
                else:
                    ops.append(Motif(levels, level - 1, motif_index(op, len(levels[level - 3])), channels))
                wiring.append((i, j))
            if not wiring or wiring[-1][1] != j:
                raise ValueError(f"level {level} motif {index} node {j} has no incoming edge")
        self.ops = ops
        self.wiring = tuple(wiring)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The value of the output node for input ``x`` (same shape as ``x``)."""
        states: list = [x] + [None] * (self.nodes - 1)
        for op, (i, j) in zip(self.ops, self.wiring):
            out = op(states[i])
            # Never in-place: a state may feed several edges, one of them identity.
            states[j] = out if states[j] is None else states[j] + out
        return states[-1]


class HierarchicalNetwork(nn.Module):
    """Input normalisation, a 3x3 conv stem, ``cells`` copies of the cell (the top-level motif)
    with a stride-2 separable conv doubling the channels between consecutive copies, then
    global average pooling and a linear classifier.

    ``spec`` holds the constructor arguments as plain data for export.
    """

    def __init__(
        self,
        levels: Sequence,
        in_channels: int,
        num_classes: int,
        filters: int = 8,
        cells: int = 2,
    ) -> None:
        super().__init__()
        self.spec = {
            "levels": [[[list(row) for row in motif] for motif in level] for level in levels],
            "in_channels": int(in_channels),
            "num_classes": int(num_classes),
            "filters": int(filters),
            "cells": int(cells),
        }
        if not levels or len(levels[-1]) != 1:
            raise ValueError("the top level must hold exactly one motif (the cell)")
        if filters < 1 or cells < 1:
            raise ValueError(f"filters and cells must be >= 1, got {filters} and {cells}")
        top = len(levels) + 1
        self.input_norm = InputNorm(in_channels)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, filters, 3, padding=1, bias=False),
            nn.BatchNorm2d(filters),
        )
        blocks = []
        channels = filters
        for k in range(cells):
            if k > 0:
                # Halves height and width, rounding up, so even 1x1 maps stay valid.
                blocks.append(SepConvBNReLU(channels, 2 * channels, 3, stride=2))
                channels *= 2
            blocks.append(Motif(self.spec["levels"], top, 0, channels))
        self.body = nn.Sequential(*blocks)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``[N, num_classes]`` for images ``[N, C, H, W]`` in ``[0, 1]``."""
        h = self.body(self.stem(self.input_norm(x)))
        # mean() rather than adaptive pooling: its CUDA backward is deterministic.
        return self.classifier(h.mean(dim=(2, 3)))
