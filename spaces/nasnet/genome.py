"""NASNet genomes: a normal and a reduction cell, each a fixed number of blocks.

A block reads two hidden states, applies one op to each and adds the results. States are
numbered 0 = h0 (output of the cell before the previous one), 1 = h1 (previous cell's output)
and 2 + j = output of block j; block j may read only states ``< 2 + j``, which keeps a cell
acyclic. The states no block reads are concatenated as the cell's output (Zoph et al. 2018).

The JSON-able encoding lists each cell's blocks as ``[input_a, op_a, input_b, op_b]``, the
same tuples :mod:`zeroevo.primitives.neural.cells` builds from.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zeroevo.core.errors import GenomeError

NASNET_OPS: tuple[str, ...] = (
    "identity",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
    "avg_pool_3x3",
    "max_pool_3x3",
    "dil_sep_conv_3x3",
    "conv_1x7_7x1",
)
CELL_NAMES: tuple[str, str] = ("normal", "reduction")


def state_name(index: int) -> str:
    """``h0``/``h1`` for the cell inputs, ``b<j>`` for the output of block j."""
    return f"h{index}" if index < 2 else f"b{index - 2}"


@dataclass(frozen=True)
class Block:
    """``ops[0](state inputs[0]) + ops[1](state inputs[1])``."""

    inputs: tuple[int, int]
    ops: tuple[str, str]

    def __post_init__(self) -> None:
        # Accept lists too, but store tuples so blocks stay hashable and compare equal.
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "ops", tuple(self.ops))


@dataclass(frozen=True)
class Cell:
    """The blocks of one cell, in order (block j may read blocks before it)."""

    blocks: tuple[Block, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))

    def unused(self) -> tuple[int, ...]:
        """States no block reads, ascending: the ones concatenated as the cell output."""
        used = {i for block in self.blocks for i in block.inputs}
        return tuple(s for s in range(len(self.blocks) + 2) if s not in used)

    def as_tuples(self) -> list[tuple[int, str, int, str]]:
        """Blocks as ``(input_a, op_a, input_b, op_b)``, what the torch cell is built from."""
        return [(b.inputs[0], b.ops[0], b.inputs[1], b.ops[1]) for b in self.blocks]


@dataclass(frozen=True)
class Genome:
    """A NASNet architecture: one normal cell and one reduction cell."""

    normal: Cell
    reduction: Cell

    def cell(self, name: str) -> Cell:
        """The cell called ``name`` (``"normal"`` or ``"reduction"``)."""
        if name not in CELL_NAMES:
            raise GenomeError(f"unknown cell {name!r}; allowed: {', '.join(CELL_NAMES)}")
        return self.normal if name == "normal" else self.reduction


def validate(genome: Genome, blocks: int, ops: tuple[str, ...]) -> None:
    """Raise ``GenomeError`` unless ``genome`` has ``blocks`` blocks per cell, only ``ops``
    and only inputs that read earlier states."""
    if not isinstance(genome, Genome):
        raise GenomeError(f"nasnet genome must be a Genome, got {type(genome).__name__}")
    for name in CELL_NAMES:
        cell = genome.cell(name)
        if not isinstance(cell, Cell):
            raise GenomeError(f"nasnet genome: {name} cell must be a Cell, got {type(cell).__name__}")
        if len(cell.blocks) != blocks:
            raise GenomeError(
                f"nasnet genome: {name} cell has {len(cell.blocks)} blocks; this space needs exactly {blocks}"
            )
        for j, block in enumerate(cell.blocks):
            where = f"nasnet genome: {name} block {j}"
            if not isinstance(block, Block) or len(block.inputs) != 2 or len(block.ops) != 2:
                raise GenomeError(f"{where} must be a Block with two inputs and two ops")
            for side in range(2):
                index, op = block.inputs[side], block.ops[side]
                # bool is an int subclass; True as a state index is a typo, not h1.
                if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 2 + j:
                    allowed = "h0, h1" + (f", b0..b{j - 1}" if j > 1 else ", b0" if j == 1 else "")
                    raise GenomeError(
                        f"{where} input {side} is {index!r}; allowed states 0..{1 + j} ({allowed}, earlier states only)"
                    )
                if op not in ops:
                    raise GenomeError(f"{where} op {side} is {op!r}; allowed: {', '.join(ops)}")


def encode(genome: Genome) -> dict:
    """``{"normal": [[in_a, op_a, in_b, op_b], ...], "reduction": [...]}``."""
    return {name: [list(t) for t in genome.cell(name).as_tuples()] for name in CELL_NAMES}


def decode(data: Any, blocks: int, ops: tuple[str, ...]) -> Genome:
    """The genome encoded in ``data``; raises ``GenomeError`` naming the first problem."""
    if not isinstance(data, dict):
        raise GenomeError(f"nasnet genome must be a dict with keys normal, reduction; got {type(data).__name__}")
    if set(data) != set(CELL_NAMES):
        raise GenomeError(
            f"nasnet genome keys are {', '.join(sorted(map(str, data))) or 'none'}; expected exactly normal, reduction"
        )
    cells = {}
    for name in CELL_NAMES:
        rows = data[name]
        if not isinstance(rows, (list, tuple)):
            raise GenomeError(f"nasnet genome: {name} must be a list of blocks, got {type(rows).__name__}")
        parsed = []
        for j, row in enumerate(rows):
            if not isinstance(row, (list, tuple)) or len(row) != 4:
                raise GenomeError(
                    f"nasnet genome: {name} block {j} must be [input_a, op_a, input_b, op_b], got {row!r}"
                )
            parsed.append(Block(inputs=(row[0], row[2]), ops=(row[1], row[3])))
        cells[name] = Cell(tuple(parsed))
    genome = Genome(normal=cells["normal"], reduction=cells["reduction"])
    validate(genome, blocks, ops)
    return genome
