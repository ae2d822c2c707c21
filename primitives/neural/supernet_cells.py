"""A weight-sharing NASNet supernet: every op of every slot of every cell, one path at a time.

Single-path one-shot search (Guo et al. 2019; ENAS, SMASH before it) trains one network that
contains every architecture of the space and runs one *path* (one genome) per step; a
candidate is then scored with the supernet's weights instead of training it from scratch.

:class:`NasnetSupernet` has :class:`~zeroevo.primitives.neural.cells.NasnetNetwork`'s macro
structure (stem, stacks of normal cells with a reduction cell between stacks, head) and, in
every cell, for every block and each of its two op slots, one module per allowed op built by
the same ``make_op`` as the stand-alone cell. A reduction cell applies stride 2 to ops that
read a cell input and stride 1 to ops that read a block, so a slot of a reduction cell keeps
a stride-2 (``s2``) and, from block 1 on, a stride-1 (``s1``) module per op; which hidden
state a slot reads is pure routing and needs no weights of its own.

What a path changes beyond ops is the *width* of a cell's output: it concatenates the states
no block reads, ``channels`` each, so the 1x1 preprocessing of the next cells and the
classifier read 1 to ``blocks + 1`` chunks. Their weights hold one column block per state
(``blocks + 2`` of them; the stem's output is a single chunk) and a path gathers the blocks
of the states it concatenates, in order: the weights that read state ``s`` are the same
whichever other states a path concatenates, as the same op module is whichever state it reads.

A path is given as the encoded genome (plain data, what ``NasnetSpace.encode`` returns:
``{"normal": [[input_a, op_a, input_b, op_b], ...], "reduction": [...]}``), since this module
cannot know the space's genome classes. :meth:`NasnetSupernet.standalone_state` extracts a
path's weights in the keys and shapes of the stand-alone ``NasnetNetwork`` (batch-norm
statistics included), which then computes the same function.

As ``NasnetNetwork`` has no input normalisation (it reads ``[0, 1]`` pixels), neither has the
supernet: a path must compute exactly what the stand-alone network computes.
"""
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional

from zeroevo.primitives.neural.cells import (
    FactorizedReduce,
    ReLUConvBN,
    conv_stem,
    make_op,
    unused_states,
)


def gathered_weights(module: nn.Module, layout: Sequence[int], chunk: int) -> dict:
    """The weights of every conv and linear layer in ``module``, cut to the input channels of
    the states ``layout`` (in that order), whose chunks are ``chunk`` channels wide.

    Keys are the parameter names inside ``module``: the substitution that ``functional_call``
    runs the module with, and what :meth:`NasnetSupernet.standalone_state` stores.
    """
    out = {}
    for name, sub in module.named_modules():
        if isinstance(sub, (nn.Conv2d, nn.Linear)):
            device = sub.weight.device
            starts = torch.tensor([s * chunk for s in layout], device=device)
            index = (starts[:, None] + torch.arange(chunk, device=device)[None, :]).reshape(-1)
            out[f"{name}.weight" if name else "weight"] = sub.weight.index_select(1, index)
    return out


class SupernetCell(nn.Module):
    """One cell position of the supernet: preprocessing, every op of every slot, the finish.

    ``in0`` and ``in1`` are ``(chunk, chunks)`` of the cell's inputs h0 and h1: a path feeds
    some of the ``chunks`` states of ``chunk`` channels each (the stem is ``(filters, 1)``).
    """

    def __init__(
        self,
        blocks: int,
        ops: Sequence[str],
        in0: Sequence[int],
        in1: Sequence[int],
        channels: int,
        reduction: bool,
        reduce_h0: bool,
    ):
        super().__init__()
        self.blocks = int(blocks)
        self.reduction = bool(reduction)
        self.channels = int(channels)
        self.in0 = (int(in0[0]), int(in0[1]))
        self.in1 = (int(in1[0]), int(in1[1]))
        c_h0, c_h1 = self.in0[0] * self.in0[1], self.in1[0] * self.in1[1]
        self.pre0 = FactorizedReduce(c_h0, channels) if reduce_h0 else ReLUConvBN(c_h0, channels)
        self.pre1 = ReLUConvBN(c_h1, channels)
        # ops[2 * j + side][variant][op]: the stand-alone cell's ops[2 * j + side] for every op.
        self.ops = nn.ModuleList()
        for j in range(self.blocks):
            variants = []
            if self.reduction:
                variants.append(("s2", 2))
            if not self.reduction or j > 0:  # block 0 reads only the cell inputs
                variants.append(("s1", 1))
            for _side in range(2):
                self.ops.append(nn.ModuleDict({
                    key: nn.ModuleDict({op: make_op(op, channels, stride) for op in ops})
                    for key, stride in variants
                }))
        # A reduction cell halves an unused cell input before concatenating it.
        self.finish = nn.ModuleList(
            FactorizedReduce(channels, channels) for _ in range(2 if self.reduction else 0)
        )

    def variant(self, index: int) -> str:
        """The stride variant (``s1``/``s2``) of an op reading state ``index``."""
        return "s2" if self.reduction and index < 2 else "s1"

    def check(self, blocks: Sequence[Sequence]) -> None:
        """Raise ``ValueError`` unless ``blocks`` is a cell this supernet contains."""
        if len(blocks) != self.blocks:
            raise ValueError(f"a path cell needs {self.blocks} blocks, got {len(blocks)}")
        for j, block in enumerate(blocks):
            if len(block) != 4:
                raise ValueError(f"block {j} must be [input_a, op_a, input_b, op_b], got {block!r}")
            for side, (index, op) in enumerate(((block[0], block[1]), (block[2], block[3]))):
                if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 2 + j:
                    raise ValueError(f"block {j} reads state {index!r}; allowed 0..{1 + j}")
                if op not in self.ops[2 * j + side][self.variant(index)]:
                    raise ValueError(f"block {j} op {op!r} is not in this supernet")

    def forward(
        self,
        h0: torch.Tensor,
        layout0: Sequence[int],
        h1: torch.Tensor,
        layout1: Sequence[int],
        blocks: Sequence[Sequence],
    ) -> tuple:
        """The path's cell output and its layout (the states it concatenates, in order)."""
        states = [
            functional_call(self.pre0, gathered_weights(self.pre0, layout0, self.in0[0]), (h0,)),
            functional_call(self.pre1, gathered_weights(self.pre1, layout1, self.in1[0]), (h1,)),
        ]
        for j, (a, op_a, b, op_b) in enumerate(blocks):
            states.append(self.ops[2 * j][self.variant(a)][op_a](states[a])
                          + self.ops[2 * j + 1][self.variant(b)][op_b](states[b]))
        concat = unused_states(blocks)
        outs = [self.finish[s](states[s]) if self.reduction and s < 2 else states[s] for s in concat]
        return torch.cat(outs, dim=1), concat

    def path_state(self, layout0: Sequence[int], layout1: Sequence[int], blocks: Sequence[Sequence]) -> dict:
        """The stand-alone ``Cell``'s state dict (relative keys) for this path."""
        out = {}
        for name, module, layout, chunk in (("pre0", self.pre0, layout0, self.in0[0]),
                                            ("pre1", self.pre1, layout1, self.in1[0])):
            state = module.state_dict()
            state.update(gathered_weights(module, layout, chunk))
            out.update({f"{name}.{k}": v for k, v in state.items()})
        for j, (a, op_a, b, op_b) in enumerate(blocks):
            for side, (index, op) in enumerate(((a, op_a), (b, op_b))):
                state = self.ops[2 * j + side][self.variant(index)][op].state_dict()
                out.update({f"ops.{2 * j + side}.{k}": v for k, v in state.items()})
        if self.reduction:
            for position, s in enumerate(unused_states(blocks)):
                if s < 2:
                    out.update({f"finish.{position}.{k}": v for k, v in self.finish[s].state_dict().items()})
        return out


class NasnetSupernet(nn.Module):
    """Every NASNet network of a space in one module; ``forward(x, genome)`` runs one path.

    The arguments are the space's options (``blocks`` per cell, allowed ``ops``) and
    ``NasnetNetwork``'s macro arguments; ``spec`` keeps them as plain data, so
    ``NasnetSupernet(**net.spec)`` rebuilds it. Every parameter lives in a standard torch
    layer, whose own ``reset_parameters`` re-initialises it.
    """

    def __init__(
        self,
        blocks: int,
        ops: Sequence[str],
        in_channels: int,
        num_classes: int,
        filters: int = 8,
        cells_per_stack: int = 1,
        stacks: int = 3,
    ):
        super().__init__()
        self.spec = {
            "blocks": int(blocks),
            "ops": [str(op) for op in ops],
            "in_channels": int(in_channels),
            "num_classes": int(num_classes),
            "filters": int(filters),
            "cells_per_stack": int(cells_per_stack),
            "stacks": int(stacks),
        }
        self.stem = conv_stem(in_channels, filters)
        # The same walk as NasnetNetwork; an input is (chunk channels, chunks) instead of a width.
        cells = []
        in0 = in1 = (filters, 1)
        channels = filters
        level_h0 = level_h1 = 0
        for stack in range(stacks):
            kinds = ([True] if stack > 0 else []) + [False] * cells_per_stack
            for is_reduction in kinds:
                if is_reduction:
                    channels *= 2
                cells.append(SupernetCell(blocks, ops, in0, in1, channels, is_reduction,
                                          reduce_h0=level_h0 < level_h1))
                in0, in1 = in1, (channels, blocks + 2)
                level_h0, level_h1 = level_h1, level_h1 + int(is_reduction)
        self.cells = nn.ModuleList(cells)
        self.head_in = in1
        self.classifier = nn.Linear(in1[0] * in1[1], num_classes)

    def path(self, genome: dict) -> tuple:
        """``(normal, reduction)`` block lists of an encoded genome; ``ValueError`` if foreign
        (``TypeError`` if it is no dict)."""
        if not isinstance(genome, dict):
            raise TypeError("a NASNet path is an encoded genome: {'normal': [...], 'reduction': [...]}")
        if set(genome) != {"normal", "reduction"}:
            raise ValueError(f"a NASNet path has cells normal and reduction, got {sorted(map(str, genome))}")
        normal = [tuple(b) for b in genome["normal"]]
        reduction = [tuple(b) for b in genome["reduction"]]
        for cell in self.cells:
            cell.check(reduction if cell.reduction else normal)
        return normal, reduction

    def forward(self, x: torch.Tensor, genome: dict) -> torch.Tensor:
        """Class logits ``(batch, num_classes)`` of the path ``genome`` (an encoded genome)."""
        normal, reduction = self.path(genome)
        h0 = h1 = self.stem(x)
        layout0 = layout1 = [0]
        for cell in self.cells:
            out, layout = cell(h0, layout0, h1, layout1, reduction if cell.reduction else normal)
            h0, layout0, h1, layout1 = h1, layout1, out, layout
        pooled = torch.flatten(functional.adaptive_avg_pool2d(functional.relu(h1), 1), 1)
        weights = gathered_weights(self.classifier, layout1, self.head_in[0])
        return functional_call(self.classifier, weights, (pooled,))

    def standalone_state(self, genome: dict) -> dict:
        """The path's weights as ``NasnetNetwork``'s state dict (same keys and shapes, copies).

        Loaded into the stand-alone network of ``genome`` (same filters, stacks, classes), it
        computes what ``self(x, genome)`` computes; batch-norm running statistics included.
        """
        normal, reduction = self.path(genome)
        out = {f"stem.{k}": v for k, v in self.stem.state_dict().items()}
        layout0 = layout1 = [0]
        for i, cell in enumerate(self.cells):
            blocks = reduction if cell.reduction else normal
            out.update({f"cells.{i}.{k}": v for k, v in cell.path_state(layout0, layout1, blocks).items()})
            layout0, layout1 = layout1, unused_states(blocks)
        head = {**self.classifier.state_dict(), **gathered_weights(self.classifier, layout1, self.head_in[0])}
        out.update({f"classifier.{k}": v for k, v in head.items()})
        return {k: v.detach().clone() for k, v in out.items()}
