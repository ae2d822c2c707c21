"""AmoebaNet's mutations of NASNet genomes (Real et al. 2019).

A mutation picks the normal or the reduction cell uniformly, then one of three kinds
uniformly: *hidden_state* (one input of one block now reads another earlier state),
*op* (one op of one block becomes another allowed op) or *identity* (no change; it lets
a well-trained architecture be retrained, which aging evolution relies on).

Draw order is fixed (cell, kind, block, side, replacement) so a given generator state
always gives the same child.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from zeroevo.core.errors import GenomeError
from zeroevo.spaces.nasnet.genome import CELL_NAMES, Block, Cell, Genome

MUTATIONS: tuple[str, ...] = ("hidden_state", "op", "identity")


def _replace_block(cell: Cell, j: int, block: Block) -> Cell:
    blocks = list(cell.blocks)
    blocks[j] = block
    return Cell(tuple(blocks))


def mutate_hidden_state(cell: Cell, rng: np.random.Generator) -> Cell:
    """``cell`` with one input of one block moved to a different, earlier state."""
    j = int(rng.integers(len(cell.blocks)))
    side = int(rng.integers(2))
    block = cell.blocks[j]
    # Only states before block j keep the cell acyclic; there are always >= 2 (h0, h1).
    choices = [s for s in range(2 + j) if s != block.inputs[side]]
    new = choices[int(rng.integers(len(choices)))]
    inputs = (new, block.inputs[1]) if side == 0 else (block.inputs[0], new)
    return _replace_block(cell, j, dataclasses.replace(block, inputs=inputs))


def mutate_op(cell: Cell, rng: np.random.Generator, ops: tuple[str, ...]) -> Cell:
    """``cell`` with one op of one block replaced by a different op from ``ops``."""
    j = int(rng.integers(len(cell.blocks)))
    side = int(rng.integers(2))
    block = cell.blocks[j]
    choices = [op for op in ops if op != block.ops[side]]
    new = choices[int(rng.integers(len(choices)))]
    new_ops = (new, block.ops[1]) if side == 0 else (block.ops[0], new)
    return _replace_block(cell, j, dataclasses.replace(block, ops=new_ops))


def mutate(
    genome: Genome,
    rng: np.random.Generator,
    ops: tuple[str, ...],
    kind: str | None = None,
) -> tuple[Genome, str]:
    """A mutated copy of ``genome`` and the mutation's name; ``kind`` forces one kind."""
    if kind is not None and kind not in MUTATIONS:
        raise GenomeError(f"unknown nasnet mutation {kind!r}; allowed: {', '.join(MUTATIONS)}")
    cell_name = CELL_NAMES[int(rng.integers(2))]
    # Drawn even when forced, so forcing a kind does not shift the draws after it.
    drawn = MUTATIONS[int(rng.integers(len(MUTATIONS)))]
    kind = kind or drawn
    if kind == "identity":
        return genome, kind
    cell = genome.cell(cell_name)
    new_cell = mutate_hidden_state(cell, rng) if kind == "hidden_state" else mutate_op(cell, rng, ops)
    return dataclasses.replace(genome, **{cell_name: new_cell}), kind
