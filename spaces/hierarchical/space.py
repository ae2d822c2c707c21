"""The hierarchical search space: random genomes, the paper's mutation, codec, rendering, build.

Config (all optional): ``levels`` L (default 3: primitives, motifs, the cell), ``motifs``
per level 2 .. L (a list of L - 1 counts ending in 1, the cell; default 6 per level and 1,
as in the paper), ``nodes`` per motif of levels 2 .. L (default 4 per level and 5 for the
cell, as in the paper), ``filters`` of the stem and first cell (default 8), ``cells`` (how
many copies of the cell are stacked, a stride-2 reduction between consecutive copies;
default 2), the allowed primitive ``ops`` (default all six) and ``identity_rate`` (the
probability that a mutation returns the parent unchanged; default 0, as in the paper).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from zeroevo.core.errors import ConfigError
from zeroevo.spaces.hierarchical import genome as _genome
from zeroevo.spaces.hierarchical import mutators, render
from zeroevo.spaces.hierarchical.genome import NONE, PRIMITIVES, Genome, Shape

CONFIG_KEYS: tuple[str, ...] = ("levels", "motifs", "nodes", "filters", "cells", "ops", "identity_rate")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _positive_int(field: str, value: Any, minimum: int) -> int:
    if not _is_int(value) or value < minimum:
        raise ConfigError(f"hierarchical.{field} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _per_level(field: str, value: Any, levels: int, minimum: int) -> tuple[int, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or len(value) != levels - 1:
        raise ConfigError(
            f"hierarchical.{field} must list {levels - 1} integers (levels 2..{levels}), got {value!r}"
        )
    if not all(_is_int(v) and v >= minimum for v in value):
        raise ConfigError(f"hierarchical.{field} entries must be integers >= {minimum}, got {list(value)!r}")
    return tuple(int(v) for v in value)


class HierarchicalSpace:
    """Hierarchical motifs mutated as in Liu et al. 2017; implements
    :class:`zeroevo.core.protocols.SearchSpace` plus :meth:`build`."""

    name = "hierarchical"

    def __init__(
        self,
        levels: int = 3,
        motifs: list[int] | tuple[int, ...] | None = None,
        nodes: list[int] | tuple[int, ...] | None = None,
        filters: int = 8,
        cells: int = 2,
        ops: list[str] | tuple[str, ...] = PRIMITIVES,
        identity_rate: float = 0.0,
    ):
        self.levels = _positive_int("levels", levels, 2)
        default_motifs = [6] * (self.levels - 2) + [1]
        default_nodes = [4] * (self.levels - 2) + [5]
        self.motifs = _per_level("motifs", default_motifs if motifs is None else motifs, self.levels, 1)
        if self.motifs[-1] != 1:
            raise ConfigError(
                f"hierarchical.motifs must end with 1 (the top level is the one cell), got {list(self.motifs)!r}"
            )
        self.nodes = _per_level("nodes", default_nodes if nodes is None else nodes, self.levels, 2)
        self.filters = _positive_int("filters", filters, 1)
        self.cells = _positive_int("cells", cells, 1)
        if isinstance(ops, str) or not isinstance(ops, (list, tuple)):
            raise ConfigError(f"hierarchical.ops must be a list of primitive names, got {ops!r}")
        unknown = [op for op in ops if op not in PRIMITIVES]
        if unknown:
            extra = f" ({NONE!r} is always allowed and is not listed)" if NONE in unknown else ""
            raise ConfigError(
                f"hierarchical.ops has unknown op {unknown[0]!r}{extra}; allowed: {', '.join(PRIMITIVES)}"
            )
        # Level-2 mutation must always find a different primitive for a node's only input.
        if len(set(ops)) < 2 or len(set(ops)) != len(ops):
            raise ConfigError(f"hierarchical.ops must list at least 2 distinct ops, got {list(ops)!r}")
        self.ops: tuple[str, ...] = tuple(ops)
        if isinstance(identity_rate, bool) or not isinstance(identity_rate, (int, float)) \
                or not 0.0 <= identity_rate < 1.0:
            raise ConfigError(f"hierarchical.identity_rate must be a number in [0, 1), got {identity_rate!r}")
        self.identity_rate = float(identity_rate)
        self.shape = Shape(motifs=self.motifs, nodes=self.nodes, ops=self.ops)

    @property
    def config(self) -> dict:
        """The plain config that rebuilds this space through the registry."""
        return {
            "levels": self.levels,
            "motifs": list(self.motifs),
            "nodes": list(self.nodes),
            "filters": self.filters,
            "cells": self.cells,
            "ops": list(self.ops),
            "identity_rate": self.identity_rate,
        }

    def random(self, rng: np.random.Generator) -> Genome:
        """A genome of uniformly drawn valid motifs (each edge ``none`` or an op of the level below)."""
        return _genome.random_genome(self.shape, rng)

    def mutate(self, genome: Genome, rng: np.random.Generator) -> tuple[Genome, str]:
        """A child with one edge of one motif changed, and its name (``insert``: an edge added,
        ``remove``: an edge removed, ``alter_op``; ``identity`` at ``identity_rate``)."""
        return mutators.mutate(genome, self.shape, rng, self.identity_rate)

    def validate(self, genome: Genome) -> None:
        """Raise ``GenomeError`` unless ``genome`` fits this space's levels, counts and ops."""
        _genome.validate(genome, self.shape)

    def encode(self, genome: Genome) -> dict:
        """``{"level_2": [motif, ...], ..., "level_L": [cell]}``, a motif as rows of incoming ops."""
        return _genome.encode(genome)

    def decode(self, data: dict) -> Genome:
        """The genome in ``data``; raises ``GenomeError`` if it does not fit this space."""
        return _genome.decode(data, self.shape)

    def render(self, genome: Genome) -> str:
        """One line per motif (``level 2 m0: n1 = conv_3x3(n0); ...``) and the cell's op counts."""
        return render.render_text(genome)

    def scaled_filters(self, width: float) -> int:
        """Stem filters at ``width`` (a fidelity knob): ``round(filters * width)``, at least 1."""
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
            raise ConfigError(f"hierarchical width must be a number > 0, got {width!r}")
        return max(1, round(self.filters * width))

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
        a derived seed, or re-initialises with its own ``torch.Generator`` (the trainer does).
        """
        # Lazily: mutation and encoding in the driver process never need torch.
        from zeroevo.primitives.neural.hierarchical import HierarchicalNetwork

        self.validate(genome)
        shape = tuple(input_shape)
        if len(shape) != 3 or not all(_is_int(v) and v >= 1 for v in shape):
            raise ConfigError(
                f"hierarchical input_shape must be (channels, height, width) of positive ints, got {input_shape!r}"
            )
        if not _is_int(num_classes) or num_classes < 1:
            raise ConfigError(f"hierarchical num_classes must be an integer >= 1, got {num_classes!r}")
        return HierarchicalNetwork(
            levels=genome.as_lists(),
            in_channels=int(shape[0]),
            num_classes=int(num_classes),
            filters=self.scaled_filters(width),
            cells=self.cells,
        )
