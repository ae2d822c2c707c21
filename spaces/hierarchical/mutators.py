"""The mutation of hierarchical genomes (Liu et al. 2017, section 3.1).

One mutation picks a level ``l >= 2``, a motif of that level, an edge ``(i, j)`` of its DAG,
and gives the edge a different op: another op of the level below or ``"none"``. Its name
says what it did: *insert* (a ``none`` edge got an op: an edge was added), *remove* (an op
became ``none``: the edge was removed) or *alter_op* (one op became another); the paper's
single mutation covers all three. The names are ones the neural search's birth log already
codes (``zeroevo.neural.search.NEURAL_MUTATIONS``), so a run records them unchanged.

The child is always valid: ``none`` is never offered for the only incoming edge of a node.
Draws are restricted to what can change, so a mutation always changes exactly one edge:
levels with a changeable edge, their motifs with one, its changeable edges, then the
alternatives of that edge. (An edge has no alternative only when it is a node's only input
and the level below offers a single op; on level 2 there are always >= 2 primitives.)

An optional *identity* mutation (rate set by the space) returns the parent unchanged, so a
well-trained architecture can be retrained, as aging evolution relies on in AmoebaNet.

Draw order is fixed (identity, level, motif, edge, op) so a given generator state always
gives the same child.
"""
from __future__ import annotations

import numpy as np

from zeroevo.core.errors import GenomeError
from zeroevo.spaces.hierarchical.genome import NONE, Genome, Motif, Shape

MUTATIONS: tuple[str, ...] = ("insert", "remove", "alter_op", "identity")


def alternatives(motif: Motif, i: int, j: int, options: tuple[str, ...]) -> tuple[str, ...]:
    """The ops edge ``(i, j)`` of ``motif`` may change to, keeping the motif valid.

    ``options`` are the non-``none`` ops of the level below, in a fixed order.
    """
    current = motif.op(i, j)
    # Removing the only incoming edge would cut node j (and all after it) off the input.
    none_ok = current == NONE or motif.incoming(j) > 1
    return tuple(op for op in ((NONE,) if none_ok else ()) + options if op != current)


def mutable_edges(motif: Motif, options: tuple[str, ...]) -> list[tuple[int, int]]:
    """The edges of ``motif`` that have at least one valid alternative op, in edge order."""
    return [(i, j) for i, j in motif.edges() if alternatives(motif, i, j, options)]


def mutate_edge(genome: Genome, shape: Shape, rng: np.random.Generator) -> tuple[Genome, str]:
    """``genome`` with one edge of one motif given a different op, and the mutation's name."""
    sites: dict[int, list[int]] = {}
    for level in range(2, shape.top + 1):
        options = shape.options(level)
        motifs = [k for k, m in enumerate(genome.levels[level - 2]) if mutable_edges(m, options)]
        if motifs:
            sites[level] = motifs
    if not sites:  # impossible for a valid genome of a valid space (level 2 always has >= 2 ops)
        raise GenomeError("hierarchical genome has no edge that can change; the space needs >= 2 ops")
    levels = sorted(sites)
    level = levels[int(rng.integers(len(levels)))]
    index = sites[level][int(rng.integers(len(sites[level])))]
    motif = genome.motif(level, index)
    options = shape.options(level)
    edges = mutable_edges(motif, options)
    i, j = edges[int(rng.integers(len(edges)))]
    choices = alternatives(motif, i, j, options)
    new = choices[int(rng.integers(len(choices)))]
    old = motif.op(i, j)
    name = "insert" if old == NONE else "remove" if new == NONE else "alter_op"
    return genome.with_motif(level, index, motif.with_op(i, j, new)), name


def mutate(genome: Genome, shape: Shape, rng: np.random.Generator, identity_rate: float = 0.0) -> tuple[Genome, str]:
    """A mutated copy of ``genome`` and the mutation's name; with probability
    ``identity_rate`` the parent itself and ``"identity"``."""
    # Drawn even at rate 0, so the rate does not shift the draws after it.
    if rng.random() < identity_rate:
        return genome, "identity"
    return mutate_edge(genome, shape, rng)
