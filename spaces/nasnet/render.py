"""Readable forms of a NASNet genome: one line per block, and a PNG drawing of both cells.

The drawing uses matplotlib's object API with the Agg canvas (no pyplot), so it touches no
global figure or backend state of the caller.
"""
from __future__ import annotations

import os

from zeroevo.spaces.nasnet.genome import CELL_NAMES, Cell, Genome, state_name

_X_STEP = 2.4  # horizontal distance between depth columns, in data units
_Y_STEP = 1.3  # vertical distance between nodes of one column
_LABEL_AT = 0.68  # fraction along an edge where its op label sits (see _edge)
_COLORS = {"input": "#cfe2f3", "block": "#fff2cc", "output": "#d9ead3"}


def render_text(genome: Genome) -> str:
    """Lines like ``normal b2 = sep_conv_3x3(h1) + max_pool_3x3(b0)``, then each cell's output."""
    lines = []
    for name in CELL_NAMES:
        cell = genome.cell(name)
        for j, block in enumerate(cell.blocks):
            terms = [f"{op}({state_name(i)})" for i, op in zip(block.inputs, block.ops)]
            lines.append(f"{name} b{j} = {' + '.join(terms)}")
        lines.append(f"{name} out = concat({', '.join(state_name(s) for s in cell.unused())})")
    return "\n".join(lines)


def _layout(cell: Cell) -> dict[int | str, tuple[float, float]]:
    # Column = longest path from the inputs, so every edge points right.
    depth = [0, 0]
    for block in cell.blocks:
        depth.append(1 + max(depth[i] for i in block.inputs))
    columns: dict[int, list[int]] = {}
    for state, d in enumerate(depth):
        columns.setdefault(d, []).append(state)
    pos: dict[int | str, tuple[float, float]] = {}
    for d, states in columns.items():
        for rank, state in enumerate(states):
            pos[state] = (d * _X_STEP, ((len(states) - 1) / 2 - rank) * _Y_STEP)
    pos["out"] = ((max(depth) + 1) * _X_STEP, 0.0)
    return pos


def _edge(ax, start, end, rad: float, label: str | None, style: str = "-") -> None:
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops=dict(
            arrowstyle="-|>",
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=14,
            shrinkB=14,
            linestyle=style,
            color="#555555" if label else "#999999",
        ),
    )
    if label:
        # A point of arc3's quadratic Bezier (exact with equal aspect); its control point is
        # mid + rad * (dy, -dx). Labels near the block end overlap less than at the middle,
        # where edges leaving one state still crowd together.
        dx, dy = end[0] - start[0], end[1] - start[1]
        cx = (start[0] + end[0]) / 2 + rad * dy
        cy = (start[1] + end[1]) / 2 - rad * dx
        t = _LABEL_AT
        x = (1 - t) ** 2 * start[0] + 2 * t * (1 - t) * cx + t * t * end[0]
        y = (1 - t) ** 2 * start[1] + 2 * t * (1 - t) * cy + t * t * end[1]
        ax.text(x, y, label, fontsize=7, ha="center", va="center",
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85))


def _draw_cell(ax, name: str, cell: Cell) -> None:
    pos = _layout(cell)
    for j, block in enumerate(cell.blocks):
        for side, (i, op) in enumerate(zip(block.inputs, block.ops)):
            # Bend the two edges of a block apart so a block reading one state twice shows both.
            _edge(ax, pos[i], pos[2 + j], 0.18 if side == 0 else -0.18, op)
    for s in cell.unused():
        _edge(ax, pos[s], pos["out"], 0.0, None, style="--")
    for key, (x, y) in pos.items():
        kind = "output" if key == "out" else "input" if key < 2 else "block"
        text = "concat" if key == "out" else state_name(key) if key < 2 else f"{state_name(key)} (+)"
        ax.text(x, y, text, ha="center", va="center", fontsize=9, zorder=3,
                bbox=dict(boxstyle="round,pad=0.35", fc=_COLORS[kind], ec="#333333"))
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.9, max(xs) + 0.9)
    ax.set_ylim(min(ys) - 0.9, max(ys) + 0.9)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(f"{name} cell")


def draw_diagram(genome: Genome, path: str | os.PathLike) -> None:
    """Write a PNG at ``path`` showing both cells: states as nodes, ops as edge labels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    layouts = [_layout(genome.cell(name)) for name in CELL_NAMES]
    # Size the figure to the widest and tallest cell so nodes keep a readable size.
    span_x = max(max(p[0] for p in pos.values()) for pos in layouts) + 1.8
    span_y = max(max(p[1] for p in pos.values()) - min(p[1] for p in pos.values()) for pos in layouts) + 1.8
    fig = Figure(figsize=(max(6.0, 1.0 * span_x), 2 * max(2.5, 1.0 * span_y) + 0.6), dpi=100)
    FigureCanvasAgg(fig)
    for k, name in enumerate(CELL_NAMES):
        _draw_cell(fig.add_subplot(2, 1, k + 1), name, genome.cell(name))
    fig.tight_layout()
    fig.savefig(os.fspath(path), format="png")
