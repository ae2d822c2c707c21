"""The program search space behind the ``SearchSpace`` protocol, plus text rendering.

The generic Python loop (:mod:`zeroevo.core.engine`) drives this space; the numba chunk loop
uses the same jitted mutation code directly. Programs draw from the birth's raw splitmix
stream (``uses_stream = True``) so both loops consume identical random numbers.
"""
from __future__ import annotations

import numpy as np

from zeroevo.core.errors import GenomeError
from zeroevo.core.registry import register_space
from zeroevo.primitives.program.ops import KIND_LETTER, OPS
from zeroevo.spaces.program.genome import COMPONENTS, MUTATIONS, Program, ProgramSpec
from zeroevo.spaces.program.initial import initial_program, random_from_stream
from zeroevo.spaces.program.mutation import mutate


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def render_instruction(op_code: int, row: np.ndarray, data: np.ndarray, features: int) -> str:
    """One instruction as readable code, e.g. ``s1 = dot(v0, v1)``."""
    op = OPS[op_code]
    names = {}
    for key, kind, addr in (("o", op.out, row[3]), ("a", op.in1, row[1]), ("b", op.in2, row[2])):
        if kind >= 0:
            names[key] = f"{KIND_LETTER[kind]}{int(addr)}"
    idx = [min(max(int(features * d), 0), features - 1) for d in data[:2]]
    return op.text.format(**names, d0=_fmt(data[0]), d1=_fmt(data[1]), d2=_fmt(data[2]),
                          i0=idx[0], i1=idx[1])


def render(program: Program, features: int) -> str:
    """The program as three Python-like functions."""
    lines = []
    for c, name in enumerate(COMPONENTS):
        ins, data = program.component(c)
        body = [render_instruction(int(r[0]), r, d, features) for r, d in zip(ins, data) if r[0] != 0]
        lines.append(f"def {name}():")
        lines.extend("  " + b for b in body or ["pass"])
    return "\n".join(lines)


def encode(program: Program) -> dict:
    """JSON-able form: per component, rows ``[op, in1, in2, out, d0, d1, d2]``."""
    out = {}
    for c, name in enumerate(COMPONENTS):
        ins, data = program.component(c)
        out[name] = [[int(x) for x in r] + [float(x) for x in d] for r, d in zip(ins, data)]
    return out


def decode(spec: ProgramSpec, payload: dict) -> Program:
    """The program described by :func:`encode`'s output; validated against ``spec``."""
    if not isinstance(payload, dict) or set(payload) - set(COMPONENTS):
        raise GenomeError(f"a program must be a mapping with keys {', '.join(COMPONENTS)}")
    prog = spec.empty()
    ins, data, sizes = prog.ins.copy(), prog.data.copy(), prog.sizes.copy()
    for c, name in enumerate(COMPONENTS):
        rows = payload.get(name, [])
        if len(rows) > spec.capacity:
            raise GenomeError(f"{name} has {len(rows)} instructions; at most {spec.capacity} allowed")
        for k, row in enumerate(rows):
            if not isinstance(row, (list, tuple)) or len(row) != 7:
                raise GenomeError(f"{name}[{k}] must be [op, in1, in2, out, d0, d1, d2]")
            try:
                ins[c, k] = [int(x) for x in row[:4]]
                data[c, k] = [float(x) for x in row[4:]]
            except (TypeError, ValueError, OverflowError):
                raise GenomeError(f"{name}[{k}] = {row!r} is not numeric") from None
        sizes[c] = len(rows)
    return spec.validate(Program(ins, data, sizes))


class ProgramSpace:
    """AutoML-Zero programs as a search space (see :class:`ProgramSpec` for the knobs)."""

    name = "program"
    uses_stream = True

    def __init__(self, spec: ProgramSpec, initial: str = "random") -> None:
        self.spec = spec
        self.initial_kind = initial
        self._arrays = spec.kernel_arrays()
        self._mutations = spec.mutation_codes()

    def initial(self, st: np.ndarray) -> Program:
        """A member of the initial population (per the configured initial kind)."""
        return initial_program(self.initial_kind, self.spec, st)

    def random(self, st: np.ndarray) -> Program:
        """A random program at the initial sizes."""
        return random_from_stream(self.spec, st)

    def mutate(self, genome: Program, st: np.ndarray) -> tuple[Program, str]:
        """A mutated copy (or a clone, with probability 1 - mutate_prob) and its mutation name."""
        ins, data, sizes = genome.ins.copy(), genome.data.copy(), genome.sizes.copy()
        allowed, n_allowed, bounds, mem = self._arrays
        code = mutate(ins, data, sizes, self._mutations, self.spec.mutate_prob, allowed,
                      n_allowed, bounds, mem, st)
        return Program(ins, data, sizes), MUTATIONS[code]

    def encode(self, genome: Program) -> dict:
        """JSON-able rows per component."""
        return encode(genome)

    def decode(self, data: dict) -> Program:
        """A validated program from :meth:`encode`'s output."""
        return decode(self.spec, data)

    def render(self, genome: Program) -> str:
        """Readable code of the program."""
        return render(genome, self.spec.features)


def _factory(config: dict) -> ProgramSpace:
    initial = config.pop("initial", "random")
    fields = {k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v
              for k, v in config.items()}
    return ProgramSpace(ProgramSpec(**fields), initial)


register_space("program", _factory)
