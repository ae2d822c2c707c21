"""Hierarchical genomes (Liu et al. 2017): levels of motifs, each a small DAG of lower motifs.

Level 1 holds the primitive ops (:data:`PRIMITIVES`). A motif of level ``l >= 2`` with
``n`` nodes is a DAG: node 0 is its input, node ``n - 1`` its output, and each edge
``(i, j)`` with ``i < j`` carries ``"none"`` (no edge) or an op of the level below: a
primitive name on level 2, ``"m<k>"`` (motif ``k`` of level ``l - 1``) above. A node sums
the outputs of its incoming edges. The top level holds exactly one motif, the cell.

Validity: every node ``j > 0`` has at least one non-``none`` incoming edge, so by induction
every node is reachable from the input and every motif computes a function of its input.

The JSON-able encoding is ``{"level_2": [motif, ...], ..., "level_L": [cell]}`` where a
motif is its list of rows, row ``j - 1`` listing the ops of edges ``(0, j) .. (j - 1, j)``:
the same nested lists :mod:`zeroevo.primitives.neural.hierarchical` builds from.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from zeroevo.core.errors import GenomeError

PRIMITIVES: tuple[str, ...] = ("conv_1x1", "conv_3x3", "sep_conv_3x3", "max_pool_3x3", "avg_pool_3x3", "identity")
NONE = "none"


def level_key(level: int) -> str:
    """The encoding's key of ``level`` (``"level_2"``, ...)."""
    return f"level_{level}"


def motif_op(index: int) -> str:
    """The op naming motif ``index`` of the level below (``"m0"``, ``"m1"``, ...)."""
    return f"m{index}"


@dataclass(frozen=True)
class Motif:
    """A DAG of ``len(rows) + 1`` nodes; ``rows[j - 1][i]`` is the op of edge ``(i, j)``."""

    rows: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        # Accept lists too, but store tuples so motifs stay hashable and compare equal.
        object.__setattr__(self, "rows", tuple(tuple(row) for row in self.rows))

    @property
    def nodes(self) -> int:
        """Node count, input and output included."""
        return len(self.rows) + 1

    def op(self, i: int, j: int) -> str:
        """The op of edge ``(i, j)``."""
        return self.rows[j - 1][i]

    def edges(self) -> Iterator[tuple[int, int]]:
        """Every edge slot ``(i, j)``, ``i < j``, by target node then source."""
        for j in range(1, self.nodes):
            for i in range(j):
                yield i, j

    def incoming(self, j: int) -> int:
        """How many non-``none`` edges enter node ``j``."""
        return sum(op != NONE for op in self.rows[j - 1])

    def with_op(self, i: int, j: int, op: str) -> Motif:
        """A copy with edge ``(i, j)`` set to ``op``."""
        rows = [list(row) for row in self.rows]
        rows[j - 1][i] = op
        return Motif(tuple(tuple(row) for row in rows))

    def live(self) -> tuple[bool, ...]:
        """For each node, whether its value reaches the output (the torch build skips the rest)."""
        live = [False] * self.nodes
        live[-1] = True
        for j in range(self.nodes - 1, 0, -1):
            if live[j]:
                for i, op in enumerate(self.rows[j - 1]):
                    live[i] = live[i] or op != NONE
        return tuple(live)

    def as_lists(self) -> list[list[str]]:
        """The rows as nested lists (the encoding, and what the torch motif is built from)."""
        return [list(row) for row in self.rows]


@dataclass(frozen=True)
class Genome:
    """A hierarchical architecture: ``levels[0]`` are the level-2 motifs, ``levels[-1]`` the cell."""

    levels: tuple[tuple[Motif, ...], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(tuple(level) for level in self.levels))

    def motif(self, level: int, index: int) -> Motif:
        """Motif ``index`` of ``level`` (2 .. top)."""
        return self.levels[level - 2][index]

    @property
    def cell(self) -> Motif:
        """The single motif of the top level."""
        return self.levels[-1][0]

    def with_motif(self, level: int, index: int, motif: Motif) -> Genome:
        """A copy with motif ``index`` of ``level`` replaced by ``motif``."""
        levels = [list(motifs) for motifs in self.levels]
        levels[level - 2][index] = motif
        return Genome(tuple(tuple(motifs) for motifs in levels))

    def as_lists(self) -> list[list[list[list[str]]]]:
        """Levels of motifs of rows, plain lists (what the torch network is built from)."""
        return [[motif.as_lists() for motif in level] for level in self.levels]


@dataclass(frozen=True)
class Shape:
    """What a space allows: motif counts and node counts of levels 2 .. L, and the primitives."""

    motifs: tuple[int, ...]
    nodes: tuple[int, ...]
    ops: tuple[str, ...]

    @property
    def top(self) -> int:
        """The top level L (the cell's level)."""
        return len(self.motifs) + 1

    def options(self, level: int) -> tuple[str, ...]:
        """The non-``none`` ops an edge of a ``level`` motif may carry."""
        if level == 2:
            return self.ops
        return tuple(motif_op(k) for k in range(self.motifs[level - 3]))


def _where(level: int, index: int) -> str:
    return f"hierarchical genome: level {level} motif {index}"


def validate(genome: Genome, shape: Shape) -> None:
    """Raise ``GenomeError`` unless ``genome`` has ``shape``'s levels, motif and node counts,
    only allowed ops, and at least one incoming edge into every node after the input."""
    if not isinstance(genome, Genome):
        raise GenomeError(f"hierarchical genome must be a Genome, got {type(genome).__name__}")
    if len(genome.levels) != len(shape.motifs):
        raise GenomeError(
            f"hierarchical genome has {len(genome.levels) + 1} levels; this space needs exactly {shape.top}"
        )
    for level, (count, nodes) in enumerate(zip(shape.motifs, shape.nodes), start=2):
        motifs = genome.levels[level - 2]
        if len(motifs) != count:
            raise GenomeError(
                f"hierarchical genome: level {level} has {len(motifs)} motifs; this space needs exactly {count}"
            )
        allowed = (NONE, *shape.options(level))
        for index, motif in enumerate(motifs):
            if not isinstance(motif, Motif) or motif.nodes != nodes:
                got = motif.nodes if isinstance(motif, Motif) else type(motif).__name__
                raise GenomeError(f"{_where(level, index)} has {got} nodes; this space needs exactly {nodes}")
            for j in range(1, nodes):
                if len(motif.rows[j - 1]) != j:
                    raise GenomeError(
                        f"{_where(level, index)} node {j} has {len(motif.rows[j - 1])} incoming ops; "
                        f"needs exactly {j} (edges (0, {j})..({j - 1}, {j}))"
                    )
                for i, op in enumerate(motif.rows[j - 1]):
                    if not isinstance(op, str) or op not in allowed:
                        raise GenomeError(
                            f"{_where(level, index)} edge ({i}, {j}): op {op!r} not allowed; allowed: {', '.join(allowed)}"
                        )
                if motif.incoming(j) == 0:
                    raise GenomeError(
                        f"{_where(level, index)} node {j} has no incoming edge (all {NONE!r}); "
                        f"every node after the input needs at least one op"
                    )


def random_motif(nodes: int, options: tuple[str, ...], rng: np.random.Generator) -> Motif:
    """A motif drawn uniformly from the valid ones: each edge uniform over ``none`` and
    ``options``, a node's row redrawn while all its edges are ``none``."""
    choices = (NONE, *options)
    rows = []
    for j in range(1, nodes):
        # Rows are independent and validity is per row, so rejection per row is uniform.
        while True:
            row = tuple(choices[int(k)] for k in rng.integers(len(choices), size=j))
            if any(op != NONE for op in row):
                break
        rows.append(row)
    return Motif(tuple(rows))


def random_genome(shape: Shape, rng: np.random.Generator) -> Genome:
    """A genome of uniformly drawn valid motifs, level 2 first."""
    return Genome(tuple(
        tuple(random_motif(nodes, shape.options(level), rng) for _ in range(count))
        for level, (count, nodes) in enumerate(zip(shape.motifs, shape.nodes), start=2)
    ))


def encode(genome: Genome) -> dict:
    """``{"level_2": [[[op(0,1)], [op(0,2), op(1,2)], ...], ...], ..., "level_L": [cell]}``."""
    return {level_key(level): [m.as_lists() for m in motifs] for level, motifs in enumerate(genome.levels, start=2)}


def decode(data: Any, shape: Shape) -> Genome:
    """The genome encoded in ``data``; raises ``GenomeError`` naming the first problem."""
    keys = [level_key(level) for level in range(2, shape.top + 1)]
    if not isinstance(data, dict):
        raise GenomeError(f"hierarchical genome must be a dict with keys {', '.join(keys)}; got {type(data).__name__}")
    if set(data) != set(keys):
        raise GenomeError(
            f"hierarchical genome keys are {', '.join(sorted(map(str, data))) or 'none'}; expected exactly {', '.join(keys)}"
        )
    levels = []
    for level, key in enumerate(keys, start=2):
        motifs = data[key]
        if not isinstance(motifs, (list, tuple)):
            raise GenomeError(f"hierarchical genome: {key} must be a list of motifs, got {type(motifs).__name__}")
        parsed = []
        for index, rows in enumerate(motifs):
            # Check the nesting here: Motif() would otherwise split strings into characters.
            if not isinstance(rows, (list, tuple)) or not all(isinstance(row, (list, tuple)) for row in rows):
                raise GenomeError(
                    f"{_where(level, index)} must be a list of rows (row j-1 = ops of edges (0, j)..(j-1, j)), "
                    f"got {rows!r}"
                )
            parsed.append(Motif(tuple(tuple(row) for row in rows)))
        levels.append(tuple(parsed))
    genome = Genome(tuple(levels))
    validate(genome, shape)
    return genome
