"""Readable text of a hierarchical genome: one line per motif, then what one cell expands to.

A motif line lists its nodes in order, each as the sum of its incoming edges, e.g.
``level 2 m1: n1 = conv_3x3(n0); n2 = identity(n0) + max_pool_3x3(n1)``. Nodes whose value
never reaches the output are marked ``(dead)`` and motifs no live edge of the cell reaches
``(unused)``: the torch build leaves both out. The last line counts the primitives one copy
of the cell runs.
"""
from __future__ import annotations

from collections import Counter

from zeroevo.spaces.hierarchical.genome import NONE, Genome, Motif


def motif_text(motif: Motif) -> str:
    """``n1 = op(n0); n2 = op(n0) + op(n1); ...`` with dead nodes marked."""
    live = motif.live()
    parts = []
    for j in range(1, motif.nodes):
        terms = [f"{op}(n{i})" for i, op in enumerate(motif.rows[j - 1]) if op != NONE]
        parts.append(f"n{j} = {' + '.join(terms)}" + ("" if live[j] else " (dead)"))
    return "; ".join(parts)


def _live_ops(motif: Motif) -> list[str]:
    """The ops of the edges the torch build keeps: those into live nodes."""
    live = motif.live()
    return [motif.op(i, j) for i, j in motif.edges() if live[j] and motif.op(i, j) != NONE]


def used_motifs(genome: Genome) -> set[tuple[int, int]]:
    """``(level, index)`` of every motif one copy of the cell actually runs, the cell included."""
    top = len(genome.levels) + 1
    used = {(top, 0)}
    frontier = [(top, 0)]
    while frontier:
        level, index = frontier.pop()
        if level == 2:
            continue
        for op in _live_ops(genome.motif(level, index)):
            key = (level - 1, int(op[1:]))
            if key not in used:
                used.add(key)
                frontier.append(key)
    return used


def primitive_counts(genome: Genome) -> Counter:
    """How many times one copy of the cell runs each primitive (every motif use is a copy)."""
    top = len(genome.levels) + 1
    memo: dict[tuple[int, int], Counter] = {}

    def expand(level: int, index: int) -> Counter:
        key = (level, index)
        if key not in memo:
            counts: Counter = Counter()
            for op in _live_ops(genome.motif(level, index)):
                counts += Counter({op: 1}) if level == 2 else expand(level - 1, int(op[1:]))
            memo[key] = counts
        return memo[key]

    return expand(top, 0)


def render_text(genome: Genome) -> str:
    """One line per motif (level 2 first, the cell last), then the cell's primitive counts."""
    top = len(genome.levels) + 1
    used = used_motifs(genome)
    lines = []
    for level, motifs in enumerate(genome.levels, start=2):
        for index, motif in enumerate(motifs):
            name = "cell" if level == top else f"level {level} m{index}"
            mark = "" if (level, index) in used else " (unused)"
            lines.append(f"{name}{mark}: {motif_text(motif)}")
    counts = primitive_counts(genome)
    listed = ", ".join(f"{op} x{n}" for op, n in sorted(counts.items()))
    lines.append(f"cell runs {sum(counts.values())} primitive ops" + (f": {listed}" if listed else ""))
    return "\n".join(lines)
