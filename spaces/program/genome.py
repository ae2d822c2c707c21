"""The program genome: setup / predict / learn instruction lists, and the space they live in.

A :class:`Program` is held padded, the form the numba kernels use directly:
``ins[3, max_size, 4]`` int64 rows of (op, in1, in2, out) and ``data[3, max_size, 3]``
float64 constants, with ``sizes[3]`` rows in use per component (setup, predict, learn).
A :class:`ProgramSpec` fixes memory sizes, feature size F, the ops each component may use,
size bounds and the mutation menu. :meth:`ProgramSpec.validate` is the boundary check that
lets the interpreter skip bounds checks: anything it accepts is safe to run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zeroevo.core.errors import ConfigError, GenomeError
from zeroevo.primitives.program.ops import (
    BY_NAME,
    IN1_KIND,
    IN2_KIND,
    KIND_LETTER,
    MATRIX_CONST_SET,
    N_OPS,
    OPS,
    OUT_KIND,
    VECTOR_CONST_SET,
    op_code,
)

COMPONENTS = ("setup", "predict", "learn")

# Mutation codes, shared by the birth log, the Python loop and the numba chunk loop.
MUTATIONS = ("init", "clone", "identity", "alter_param", "randomize_instruction",
             "randomize_component", "insert", "remove", "trade", "randomize_algorithm",
             "migrate", "random", "redirect")
MUTATION_CODE = {name: i for i, name in enumerate(MUTATIONS)}
# init, clone, migrate and random are what the engine records itself; a config chooses from the rest.
EVOLVABLE_MUTATIONS = tuple(m for m in MUTATIONS if m not in ("init", "clone", "migrate", "random"))

# First address an instruction may write: s0 (label) and v0 (features) are never outputs.
FIRST_OUT = (1, 1, 0)
MAX_FEATURES = 256
MAX_ADDRESSES = 64
MAX_SIZE = 4096


@dataclass(frozen=True)
class ProgramSpec:
    """The program search space: memory, features, allowed ops, sizes and mutations."""

    features: int = 4
    scalars: int = 4
    vectors: int = 3
    matrices: int = 1
    ops: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] = ((), (), ())
    init_sizes: tuple[int, int, int] = (10, 2, 8)
    min_sizes: tuple[int, int, int] = (0, 0, 0)
    max_sizes: tuple[int, int, int] = (10, 2, 8)
    mutations: tuple[str, ...] = ("alter_param", "randomize_instruction", "randomize_component")
    mutate_prob: float = 0.9
    op_codes: tuple[np.ndarray, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        def bad(msg: str) -> None:
            raise ConfigError(msg)

        if not 1 <= self.features <= MAX_FEATURES:
            bad(f"features = {self.features} is out of range; allowed 1..{MAX_FEATURES}")
        for name, n, low in (("scalars", self.scalars, 2), ("vectors", self.vectors, 2),
                             ("matrices", self.matrices, 1)):
            if not low <= n <= MAX_ADDRESSES:
                bad(f"{name} = {n} is out of range; allowed {low}..{MAX_ADDRESSES}"
                    + (" (s0 = label, s1 = prediction)" if name == "scalars" else "")
                    + (" (v0 = features)" if name == "vectors" else ""))
        codes = []
        for c, names in enumerate(self.ops):
            try:
                codes.append(np.array([op_code(n) for n in names], dtype=np.int64))
            except KeyError as exc:
                bad(f"unknown op {exc.args[0]!r} in {COMPONENTS[c]} ops; allowed: "
                    + ", ".join(op.name for op in OPS[1:]))
        if len(codes) != 3:
            bad("ops must list three components (setup, predict, learn)")
        object.__setattr__(self, "op_codes", tuple(codes))
        for name in ("init_sizes", "min_sizes", "max_sizes"):
            value = getattr(self, name)
            if len(value) != 3 or not all(isinstance(x, (int, np.integer)) for x in value):
                bad(f"{name} = {list(value)} must be three integers (setup, predict, learn)")
        for c in range(3):
            lo, init, hi = self.min_sizes[c], self.init_sizes[c], self.max_sizes[c]
            if not 0 <= lo <= init <= hi <= MAX_SIZE:
                bad(f"{COMPONENTS[c]} sizes must satisfy 0 <= min ({lo}) <= init ({init}) "
                    f"<= max ({hi}) <= {MAX_SIZE}")
            if init > 0 and len(codes[c]) == 0:
                bad(f"{COMPONENTS[c]} has initial size {init} but no ops to draw from")
        for name in self.mutations:
            if name not in EVOLVABLE_MUTATIONS:
                bad(f"unknown mutation {name!r}; allowed: {', '.join(EVOLVABLE_MUTATIONS)}")
        if not self.mutations:
            bad("mutations must not be empty")
        if not 0.0 <= self.mutate_prob <= 1.0:
            bad(f"mutate_prob = {self.mutate_prob} is out of range; allowed 0..1")

    # ---- arrays for the numba kernels -------------------------------------------------
    @property
    def capacity(self) -> int:
        """Padded length of a component (largest size any program of the space can have)."""
        return max(1, max(self.max_sizes), max(self.init_sizes))

    def kernel_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(allowed[3, 65], n_allowed[3], bounds[3, 3], mem[4])`` for the mutation kernels.

        ``bounds`` rows are (min, init, max) sizes; ``mem`` is (NS, NV, NM, F).
        """
        allowed = np.zeros((3, N_OPS), dtype=np.int64)
        n_allowed = np.zeros(3, dtype=np.int64)
        for c in range(3):
            allowed[c, :len(self.op_codes[c])] = self.op_codes[c]
            n_allowed[c] = len(self.op_codes[c])
        bounds = np.array([self.min_sizes, self.init_sizes, self.max_sizes], dtype=np.int64).T.copy()
        mem = np.array([self.scalars, self.vectors, self.matrices, self.features], dtype=np.int64)
        return allowed, n_allowed, bounds, mem

    def mutation_codes(self) -> np.ndarray:
        """The configured mutation menu as codes (duplicates act as weights)."""
        return np.array([MUTATION_CODE[m] for m in self.mutations], dtype=np.int64)

    def empty(self) -> "Program":
        """A program with every component empty (sizes 0)."""
        cap = self.capacity
        return Program(np.zeros((3, cap, 4), np.int64), np.zeros((3, cap, 3)), np.zeros(3, np.int64))

    # ---- the boundary check -------------------------------------------------------------
    def validate(self, program: "Program") -> "Program":
        """Return ``program`` if it is safe and legal in this space, else raise GenomeError."""
        ins, data, sizes = program.ins, program.data, program.sizes
        cap = self.capacity
        if ins.shape != (3, cap, 4) or data.shape != (3, cap, 3) or sizes.shape != (3,):
            raise GenomeError(f"program arrays have shapes {ins.shape}/{data.shape}/{sizes.shape}; "
                              f"expected (3, {cap}, 4)/(3, {cap}, 3)/(3,)")
        limits = (self.scalars, self.vectors, self.matrices)
        for c in range(3):
            n = int(sizes[c])
            if not self.min_sizes[c] <= n <= self.max_sizes[c]:
                raise GenomeError(f"{COMPONENTS[c]} has {n} instructions; allowed "
                                  f"{self.min_sizes[c]}..{self.max_sizes[c]}")
            allowed = set(int(x) for x in self.op_codes[c]) | {0}
            for k in range(n):
                op, a, b, o = (int(x) for x in ins[c, k])
                where = f"{COMPONENTS[c]}[{k}]"
                if not 0 <= op < N_OPS:
                    raise GenomeError(f"{where}: op code {op} is out of range; allowed 0..{N_OPS - 1}")
                if op not in allowed:
                    raise GenomeError(f"{where}: op {OPS[op].name} is not allowed in {COMPONENTS[c]}; "
                                      f"allowed: {', '.join(OPS[x].name for x in sorted(allowed))}")
                if op == 0:
                    continue
                for role, kind, addr, first in (("in1", IN1_KIND[op], a, 0), ("in2", IN2_KIND[op], b, 0),
                                                 ("out", OUT_KIND[op], o, None)):
                    if kind < 0:
                        continue
                    lo = FIRST_OUT[kind] if first is None else 0
                    if not lo <= addr < limits[kind]:
                        raise GenomeError(f"{where}: {role} address {KIND_LETTER[kind]}{addr} is out of "
                                          f"range; allowed {KIND_LETTER[kind]}{lo}..{KIND_LETTER[kind]}"
                                          f"{limits[kind] - 1}")
                consts = data[c, k, :OPS[op].n_data]
                if not np.all(np.isfinite(consts)):
                    raise GenomeError(f"{where}: constants {consts.tolist()} must be finite")
                if op in (VECTOR_CONST_SET, MATRIX_CONST_SET):
                    n_idx = 1 if op == VECTOR_CONST_SET else 2
                    if not np.all((consts[:n_idx] >= 0.0) & (consts[:n_idx] < 1.0)):
                        raise GenomeError(f"{where}: element index fractions {consts[:n_idx].tolist()} "
                                          "must lie in [0, 1)")
        return program


@dataclass(frozen=True, eq=False)
class Program:
    """A padded program genome (see the module docstring); treat the arrays as read-only."""

    ins: np.ndarray
    data: np.ndarray
    sizes: np.ndarray

    def component(self, c: int) -> tuple[np.ndarray, np.ndarray]:
        """The used rows ``(ins, data)`` of component ``c`` (0 setup, 1 predict, 2 learn)."""
        n = int(self.sizes[c])
        return self.ins[c, :n], self.data[c, :n]

    def same_as(self, other: "Program") -> bool:
        """True when both programs hold the same instructions and constants."""
        if not np.array_equal(self.sizes, other.sizes):
            return False
        for c in range(3):
            a, da = self.component(c)
            b, db = other.component(c)
            if not (np.array_equal(a, b) and np.array_equal(da, db)):
                return False
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Program) and self.same_as(other)

    __hash__ = None  # type: ignore[assignment]


def from_rows(spec: ProgramSpec, rows: dict[str, list[tuple]]) -> Program:
    """A program from readable rows: ``{"predict": [("VECTOR_INNER_PRODUCT", 1, 0, 1), ...]}``.

    Each row is ``(op name, in1, in2, out, *constants)``; the result is validated.
    """
    prog = spec.empty()
    ins, data, sizes = prog.ins.copy(), prog.data.copy(), prog.sizes.copy()
    for c, name in enumerate(COMPONENTS):
        for k, row in enumerate(rows.get(name, ())):
            if k >= spec.capacity:
                raise GenomeError(f"{name} has more than {spec.capacity} instructions")
            op = BY_NAME[row[0]].code if isinstance(row[0], str) else int(row[0])
            ins[c, k] = (op, row[1], row[2], row[3])
            consts = list(row[4:]) + [0.0] * (3 - len(row[4:]))
            data[c, k] = consts[:3]
            sizes[c] = k + 1
    return spec.validate(Program(ins, data, sizes))
