"""The NASNet search space: random genomes, AmoebaNet mutations, codec, rendering, torch build.

Config (all optional): ``blocks`` per cell (B, default 5), ``cells_per_stack`` normal cells
per stack (N, default 1 for the proxy), ``stacks`` (default 3, so two reduction cells sit
between them as in NASNet), ``filters`` of the stem and first stack (F, default 8) and the
allowed ``ops`` (default all eight NASNet ops).
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from zeroevo.core.errors import ConfigError
from zeroevo.spaces.nasnet import genome as _genome
from zeroevo.spaces.nasnet import mutators, render
from zeroevo.spaces.nasnet.genome import CELL_NAMES, NASNET_OPS, Block, Cell, Genome

CONFIG_KEYS: tuple[str, ...] = ("blocks", "cells_per_stack", "stacks", "filters", "ops")


def _positive_int(field: str, value: Any, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"nasnet.{field} must be an integer >= {minimum}, got {value!r}")
    return value


class NasnetSpace:
    """NASNet cells mutated as in AmoebaNet; implements :class:`zeroevo.core.protocols.SearchSpace`."""

    name = "nasnet"

    def __init__(
        self,
        blocks: int = 5,
        cells_per_stack: int = 1,
        stacks: int = 3,
        filters: int = 8,
        ops: tuple[str, ...] | list[str] = NASNET_OPS,
    ):
        self.blocks = _positive_int("blocks", blocks, 1)
        self.cells_per_stack = _positive_int("cells_per_stack", cells_per_stack, 0)
        self.stacks = _positive_int("stacks", stacks, 1)
        self.filters = _positive_int("filters", filters, 1)
        if self.cells_per_stack == 0 and self.stacks == 1:
            raise ConfigError("nasnet.cells_per_stack = 0 needs stacks >= 2, else the network has no cell")
        if isinstance(ops, str) or not isinstance(ops, (list, tuple)):
            raise ConfigError(f"nasnet.ops must be a list of op names, got {ops!r}")
        unknown = [op for op in ops if op not in NASNET_OPS]
        if unknown:
            raise ConfigError(f"nasnet.ops has unknown op {unknown[0]!r}; allowed: {', '.join(NASNET_OPS)}")
        # Op mutation must always find a different op.
        if len(set(ops)) < 2 or len(set(ops)) != len(ops):
            raise ConfigError(f"nasnet.ops must list at least 2 distinct ops, got {list(ops)!r}")
        self.ops: tuple[str, ...] = tuple(ops)

    @property
    def config(self) -> dict:
        """The plain config that rebuilds this space through the registry."""
        return {
            "blocks": self.blocks,
            "cells_per_stack": self.cells_per_stack,
            "stacks": self.stacks,
            "filters": self.filters,
            "ops": list(self.ops),
        }

    def random(self, rng: np.random.Generator) -> Genome:
        """A genome with uniformly drawn inputs (earlier states only) and ops."""
        cells = []
        for _ in CELL_NAMES:
            blocks = []
            for j in range(self.blocks):
                a, op_a, b, op_b = (
                    int(rng.integers(2 + j)),
                    self.ops[int(rng.integers(len(self.ops)))],
                    int(rng.integers(2 + j)),
                    self.ops[int(rng.integers(len(self.ops)))],
                )
                blocks.append(Block(inputs=(a, b), ops=(op_a, op_b)))
            cells.append(Cell(tuple(blocks)))
        return Genome(normal=cells[0], reduction=cells[1])

    def mutate(self, genome: Genome, rng: np.random.Generator, kind: str | None = None) -> tuple[Genome, str]:
        """A child and its mutation name (``hidden_state``, ``op`` or ``identity``).

        ``kind`` forces one kind (tests, ablations); the draws consumed are the same.
        """
        return mutators.mutate(genome, rng, self.ops, kind)

    def validate(self, genome: Genome) -> None:
        """Raise ``GenomeError`` unless ``genome`` fits this space's block count and ops."""
        _genome.validate(genome, self.blocks, self.ops)

    def encode(self, genome: Genome) -> dict:
        """``{"normal": [[in_a, op_a, in_b, op_b], ...], "reduction": [...]}``."""
        return _genome.encode(genome)

    def decode(self, data: dict) -> Genome:
        """The genome in ``data``; raises ``GenomeError`` if it does not fit this space."""
        return _genome.decode(data, self.blocks, self.ops)

    def render(self, genome: Genome) -> str:
        """One line per block (``normal b2 = sep_conv_3x3(h1) + max_pool_3x3(b0)``) and per output."""
        return render.render_text(genome)

    def diagram(self, genome: Genome, path: str | os.PathLike) -> None:
        """Write a PNG drawing of both cells to ``path``."""
        render.draw_diagram(genome, path)

    def scaled_filters(self, width: float) -> int:
        """Stem filters at ``width`` (a fidelity knob): ``round(filters * width)``, at least 1."""
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
            raise ConfigError(f"nasnet width must be a number > 0, got {width!r}")
        return max(1, int(round(self.filters * width)))

    def build(
        self,
        genome: Genome,
        input_shape: tuple[int, int, int],
        num_classes: int,
        width: float = 1.0,
    ):
        """The torch network of ``genome`` for ``(channels, height, width)`` inputs.

        Weights come from torch's default initialisation (the global torch generator); a
        caller that needs reproducible weights builds inside ``torch.random.fork_rng`` with
        a derived seed, or re-initialises with its own ``torch.Generator``.
        """
        # Lazily: mutation and encoding in the driver process never need torch.
        from zeroevo.primitives.neural.cells import NasnetNetwork

        self.validate(genome)
        shape = tuple(input_shape)
        if len(shape) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape):
            raise ConfigError(f"nasnet input_shape must be (channels, height, width) of positive ints, got {input_shape!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ConfigError(f"nasnet num_classes must be an integer >= 1, got {num_classes!r}")
        return NasnetNetwork(
            normal=genome.normal.as_tuples(),
            reduction=genome.reduction.as_tuples(),
            in_channels=shape[0],
            num_classes=num_classes,
            filters=self.scaled_filters(width),
            cells_per_stack=self.cells_per_stack,
            stacks=self.stacks,
        )

    def build_supernet(
        self,
        input_shape: tuple[int, int, int],
        num_classes: int,
        width: float = 1.0,
    ):
        """The weight-sharing supernet of every genome of this space (single-path one-shot).

        ``supernet(x, self.encode(genome))`` runs one genome's network (a path) on the shared
        weights, and ``supernet.standalone_state(self.encode(genome))`` is a state dict for
        ``self.build(genome, input_shape, num_classes, width)``, which then computes the
        same function. Weights come from torch's default initialisation, as in ``build``.
        """
        from zeroevo.primitives.neural.supernet_cells import NasnetSupernet

        shape = tuple(input_shape)
        if len(shape) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape):
            raise ConfigError(f"nasnet input_shape must be (channels, height, width) of positive ints, got {input_shape!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ConfigError(f"nasnet num_classes must be an integer >= 1, got {num_classes!r}")
        return NasnetSupernet(
            blocks=self.blocks,
            ops=self.ops,
            in_channels=shape[0],
            num_classes=num_classes,
            filters=self.scaled_filters(width),
            cells_per_stack=self.cells_per_stack,
            stacks=self.stacks,
        )
