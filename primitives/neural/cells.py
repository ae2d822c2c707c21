"""Torch modules of the NASNet search space: the eight ops, the cell and the whole network.

Self-contained on purpose: this file imports only torch, so an exported network file can
embed it verbatim and rebuild a network from plain data (``NasnetNetwork(**net.spec)``).
For the same reason there is no ``from __future__ import annotations`` (it must be a file's
first statement, which an embedded copy is not) and errors are plain ``ValueError``s; the
search space validates genomes with zeroevo's own errors before it gets here.

A cell's blocks are given as ``(input_a, op_a, input_b, op_b)`` tuples. States are numbered
0 = h0 (the output of the cell before the previous one), 1 = h1 (the previous cell's output),
2 + j = the output of block j. Block j may only read states ``< 2 + j``, so a cell is a DAG.
Conventions follow NASNet (Zoph et al. 2018) and its common PyTorch ports: ops are
ReLU-conv-BN, a separable conv runs twice, and a reduction cell applies stride 2 to every op
that reads a cell input.
"""
import torch
import torch.nn.functional as functional
from torch import nn

OP_NAMES = (
    "identity",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
    "avg_pool_3x3",
    "max_pool_3x3",
    "dil_sep_conv_3x3",
    "conv_1x7_7x1",
)


class ReLUConvBN(nn.Module):
    """ReLU, a plain convolution, batch norm: NASNet's basic unit (used to preprocess inputs)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 1, stride: int = 1, padding: int = 0):
        super().__init__()
        # Never in-place: the same hidden state may feed several ops, one of them identity.
        self.op = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The transformed input."""
        return self.op(x)


class FactorizedReduce(nn.Module):
    """Halves height and width (rounding up) and maps ``c_in`` to ``c_out`` channels.

    Two stride-2 1x1 convolutions, the second on the input shifted by one pixel, are
    concatenated, so every input pixel reaches the output (a single strided 1x1 conv would
    drop three pixels of four).
    """

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        c_second = c_out // 2
        self.relu = nn.ReLU()
        self.conv_a = nn.Conv2d(c_in, c_out - c_second, 1, stride=2, bias=False)
        # With one output channel there is no room for the shifted path.
        self.conv_b = nn.Conv2d(c_in, c_second, 1, stride=2, bias=False) if c_second else None
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The input at half resolution."""
        x = self.relu(x)
        out = self.conv_a(x)
        if self.conv_b is not None:
            # Pad before shifting (as NASNet does) so odd sizes give the same ceil(n/2) as path a.
            shifted = functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
            out = torch.cat([out, self.conv_b(shifted)], dim=1)
        return self.bn(out)


class SepConv(nn.Module):
    """Separable convolution (depthwise then pointwise, ReLU-conv-BN), applied twice as in NASNet."""

    def __init__(self, channels: int, kernel_size: int, stride: int):
        super().__init__()
        pad = kernel_size // 2
        c = channels
        self.op = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c, c, kernel_size, stride=stride, padding=pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(),
            nn.Conv2d(c, c, kernel_size, stride=1, padding=pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The transformed input."""
        return self.op(x)


class DilSepConv(nn.Module):
    """Dilated (rate 2) 3x3 separable convolution, ReLU-conv-BN, applied once."""

    def __init__(self, channels: int, stride: int):
        super().__init__()
        c = channels
        self.op = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c, c, 3, stride=stride, padding=2, dilation=2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The transformed input."""
        return self.op(x)


class Conv1x7x7x1(nn.Module):
    """A 1x7 then a 7x1 convolution (a cheap 7x7 receptive field), ReLU-conv-BN."""

    def __init__(self, channels: int, stride: int):
        super().__init__()
        c = channels
        self.op = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c, c, (1, 7), stride=(1, stride), padding=(0, 3), bias=False),
            nn.Conv2d(c, c, (7, 1), stride=(stride, 1), padding=(3, 0), bias=False),
            nn.BatchNorm2d(c),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The transformed input."""
        return self.op(x)


def make_op(name: str, channels: int, stride: int) -> nn.Module:
    """The module of op ``name`` on ``channels`` channels; stride 2 halves the resolution."""
    if name == "identity":
        return nn.Identity() if stride == 1 else FactorizedReduce(channels, channels)
    if name in ("sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7"):
        return SepConv(channels, int(name[-1]), stride)
    if name == "avg_pool_3x3":
        # Padding would otherwise count as zeros and darken the borders.
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == "dil_sep_conv_3x3":
        return DilSepConv(channels, stride)
    if name == "conv_1x7_7x1":
        return Conv1x7x7x1(channels, stride)
    raise ValueError(f"unknown NASNet op {name!r}; allowed: {', '.join(OP_NAMES)}")


def unused_states(blocks: list) -> list:
    """Indices of the states no block reads: the ones a cell concatenates as its output."""
    used = {index for block in blocks for index in (block[0], block[2])}
    return [s for s in range(len(blocks) + 2) if s not in used]


class Cell(nn.Module):
    """One NASNet cell: preprocess h0 and h1, run the blocks, concatenate the unused states.

    ``reduce_h0`` is set when h0 has twice h1's resolution (the cell right after a
    reduction); h0 then goes through a factorized reduce instead of a 1x1 ReLU-conv-BN.
    """

    def __init__(
        self,
        blocks: list,
        c_h0: int,
        c_h1: int,
        channels: int,
        reduction: bool,
        reduce_h0: bool,
    ):
        super().__init__()
        self.reduction = bool(reduction)
        self.pre0 = FactorizedReduce(c_h0, channels) if reduce_h0 else ReLUConvBN(c_h0, channels)
        self.pre1 = ReLUConvBN(c_h1, channels)
        self.inputs = []
        self.ops = nn.ModuleList()
        for j, block in enumerate(blocks):
            a, op_a, b, op_b = block
            for index, name in ((a, op_a), (b, op_b)):
                if not 0 <= index < 2 + j:
                    raise ValueError(f"block {j} reads state {index}; allowed 0..{1 + j}")
                stride = 2 if self.reduction and index < 2 else 1
                self.ops.append(make_op(name, channels, stride))
            self.inputs.append((a, b))
        self.concat = unused_states(blocks)
        # An unused cell input of a reduction cell still has the input resolution.
        self.finish = nn.ModuleList(
            FactorizedReduce(channels, channels) if self.reduction and s < 2 else nn.Identity()
            for s in self.concat
        )
        self.out_channels = channels * len(self.concat)

    def forward(self, h0: torch.Tensor, h1: torch.Tensor) -> torch.Tensor:
        """The cell's output: the unused hidden states concatenated along channels."""
        states = [self.pre0(h0), self.pre1(h1)]
        for j, (a, b) in enumerate(self.inputs):
            states.append(self.ops[2 * j](states[a]) + self.ops[2 * j + 1](states[b]))
        return torch.cat([f(states[s]) for f, s in zip(self.finish, self.concat)], dim=1)


def conv_stem(in_channels: int, filters: int) -> nn.Sequential:
    """The stem before the first cell: a 3x3 conv to ``filters`` channels, then batch norm."""
    return nn.Sequential(nn.Conv2d(in_channels, filters, 3, padding=1, bias=False), nn.BatchNorm2d(filters))


class NasnetNetwork(nn.Module):
    """Stem conv, ``stacks`` stacks of ``cells_per_stack`` normal cells with a reduction cell
    between consecutive stacks, then ReLU, global average pooling and a linear classifier.

    The stem has ``filters`` channels; each reduction cell doubles the cell filter count.
    ``spec`` holds the constructor arguments as plain data for export.
    """

    def __init__(
        self,
        normal: list,
        reduction: list,
        in_channels: int,
        num_classes: int,
        filters: int = 8,
        cells_per_stack: int = 1,
        stacks: int = 3,
    ):
        super().__init__()
        self.spec = {
            "normal": [list(b) for b in normal],
            "reduction": [list(b) for b in reduction],
            "in_channels": int(in_channels),
            "num_classes": int(num_classes),
            "filters": int(filters),
            "cells_per_stack": int(cells_per_stack),
            "stacks": int(stacks),
        }
        self.stem = conv_stem(in_channels, filters)
        cells = []
        c_h0 = c_h1 = channels = filters
        level_h0 = level_h1 = 0  # how many times each input has been halved
        for stack in range(stacks):
            kinds = ([True] if stack > 0 else []) + [False] * cells_per_stack
            for is_reduction in kinds:
                if is_reduction:
                    channels *= 2
                cell = Cell(
                    reduction if is_reduction else normal,
                    c_h0,
                    c_h1,
                    channels,
                    reduction=is_reduction,
                    reduce_h0=level_h0 < level_h1,
                )
                cells.append(cell)
                c_h0, c_h1 = c_h1, cell.out_channels
                level_h0, level_h1 = level_h1, level_h1 + int(is_reduction)
        self.cells = nn.ModuleList(cells)
        self.classifier = nn.Linear(c_h1, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits of shape ``(batch, num_classes)``."""
        h0 = h1 = self.stem(x)
        for cell in self.cells:
            h0, h1 = h1, cell(h0, h1)
        pooled = functional.adaptive_avg_pool2d(functional.relu(h1), 1)
        return self.classifier(torch.flatten(pooled, 1))
