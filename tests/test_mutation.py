"""Mutation coverage (spaces/program/mutation.py), by seeded draw counts.

For every mutation type, many seeded streams are applied to fixed parents: every allowed
outcome must eventually happen (each field, position, op, component, address), no
disallowed one may (a change elsewhere, an op outside the component's list, a size outside
its bounds, s0 / v0 as an output), and every child must pass ``ProgramSpec.validate``.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from zeroevo.core.rng import stream
from zeroevo.primitives.program.ops import IN1_KIND, IN2_KIND, OPS, OUT_KIND, op_code
from zeroevo.spaces.program.genome import (
    COMPONENTS,
    MUTATION_CODE,
    Program,
    ProgramSpec,
    from_rows,
)
from zeroevo.spaces.program.initial import random_from_stream
from zeroevo.spaces.program.mutation import (
    M_ALTER_PARAM,
    M_CLONE,
    M_IDENTITY,
    M_INSERT,
    M_RANDOMIZE_ALGORITHM,
    M_RANDOMIZE_COMPONENT,
    M_RANDOMIZE_INSTRUCTION,
    M_REDIRECT,
    M_REMOVE,
    M_TRADE,
    mutate,
)

SETUP_OPS = ("SCALAR_CONST_SET", "VECTOR_CONST_SET", "MATRIX_CONST_SET", "SCALAR_UNIFORM_SET",
             "VECTOR_GAUSSIAN_SET", "SCALAR_SUM", "MATRIX_GAUSSIAN_SET")
PREDICT_OPS = ("VECTOR_INNER_PRODUCT", "SCALAR_ABS", "MATRIX_VECTOR_PRODUCT", "VECTOR_NORM")
LEARN_OPS = ("SCALAR_DIFF", "SCALAR_VECTOR_PRODUCT", "VECTOR_SUM", "MATRIX_UNIFORM_SET",
             "VECTOR_OUTER_PRODUCT", "SCALAR_GAUSSIAN_SET", "VECTOR_UNIFORM_SET")
OPS3 = (SETUP_OPS, PREDICT_OPS, LEARN_OPS)
MIN, INIT, MAX = (1, 1, 2), (4, 3, 5), (7, 5, 8)
MEM = dict(features=4, scalars=5, vectors=4, matrices=3)
ALL_MUTATIONS = ("alter_param", "randomize_instruction", "randomize_component", "insert", "remove",
                 "trade", "randomize_algorithm", "identity")


def make_spec(init=INIT, ops=OPS3, mutations=ALL_MUTATIONS, mutate_prob=0.9, mins=MIN, maxs=MAX):
    return ProgramSpec(**MEM, ops=ops, init_sizes=init, min_sizes=mins, max_sizes=maxs,
                       mutations=mutations, mutate_prob=mutate_prob)


SPEC = make_spec()
ALLOWED = [set(op_code(n) for n in names) for names in OPS3]


def parent(seed: int, init=INIT) -> Program:
    spec = make_spec(init=init)
    return SPEC.validate(random_from_stream(spec, stream(seed, 1)))


def apply(prog: Program, codes, seed: int, i: int, prob: float = 1.0, spec: ProgramSpec = SPEC):
    ins, data, sizes = prog.ins.copy(), prog.data.copy(), prog.sizes.copy()
    allowed, n_allowed, bounds, mem = spec.kernel_arrays()
    code = mutate(ins, data, sizes, np.array(codes, np.int64), prob, allowed, n_allowed, bounds, mem,
                  stream(seed, 99, i))
    child = Program(ins, data, sizes)
    spec.validate(child)  # every mutated program is a valid genome
    return child, int(code)


def rows(prog: Program, c: int) -> list[tuple]:
    ins, data = prog.component(c)
    return [tuple(int(x) for x in r) + tuple(float(x) for x in d) for r, d in zip(ins, data)]


def changed_components(a: Program, b: Program) -> list[int]:
    return [c for c in range(3) if rows(a, c) != rows(b, c)]


def test_mutation_codes_agree_with_genome_table() -> None:
    for name, code in (("clone", M_CLONE), ("identity", M_IDENTITY), ("alter_param", M_ALTER_PARAM),
                       ("randomize_instruction", M_RANDOMIZE_INSTRUCTION),
                       ("randomize_component", M_RANDOMIZE_COMPONENT), ("insert", M_INSERT),
                       ("remove", M_REMOVE), ("trade", M_TRADE),
                       ("randomize_algorithm", M_RANDOMIZE_ALGORITHM), ("redirect", M_REDIRECT)):
        assert MUTATION_CODE[name] == code


# ---- identity and clone ------------------------------------------------------------------------

def test_identity_leaves_the_program_equal() -> None:
    p = parent(1)
    for i in range(200):
        child, code = apply(p, [M_IDENTITY], 1, i)
        assert code == M_IDENTITY and child == p


def test_clone_frequency_is_one_minus_mutate_prob() -> None:
    p = parent(2)
    n = 4000
    codes = Counter()
    for i in range(n):
        child, code = apply(p, [M_ALTER_PARAM, M_INSERT], 2, i, prob=0.9)
        codes[code] += 1
        if code == M_CLONE:
            assert child == p
    # binomial(4000, 0.1): mean 400, sd 19; allow 5 sd
    assert abs(codes[M_CLONE] - 400) < 95, codes
    assert set(codes) == {M_CLONE, M_ALTER_PARAM, M_INSERT}
    # the type is uniform over the list: alter vs insert about 1800 each
    assert abs(codes[M_ALTER_PARAM] - codes[M_INSERT]) < 5 * math.sqrt(3600), codes
    for i in range(300):
        assert apply(p, [M_ALTER_PARAM], 2, i, prob=1.0)[1] == M_ALTER_PARAM
        child, code = apply(p, [M_ALTER_PARAM], 2, i, prob=0.0)
        assert code == M_CLONE and child == p


def test_duplicates_in_the_mutation_list_act_as_weights() -> None:
    p = parent(3)
    codes = Counter(apply(p, [M_IDENTITY, M_INSERT, M_INSERT], 3, i)[1] for i in range(3000))
    # binomial(3000, 2/3): mean 2000, sd 26
    assert abs(codes[M_INSERT] - 2000) < 130 and set(codes) == {M_IDENTITY, M_INSERT}


# ---- alter_param -------------------------------------------------------------------------------

VALUE_FIELDS = {56: (4,), 57: (5,), 58: (6,), 59: (4, 5), 60: (4, 5), 61: (4, 5), 62: (4,), 63: (4,),
                64: (4,)}  # constants perturbed by log-scale-or-flip (rows: op, in1, in2, out, d0..)


def expected_fields(op: int) -> set[str]:
    """What alter_param may change on an instruction of ``op``."""
    if IN1_KIND[op] < 0:  # set ops: the output or one constant
        data = {56: {"d0"}, 57: {"d0", "d1"}, 58: {"d0", "d1", "d2"}}.get(op, {"d0", "d1"})
        return {"out"} | data
    if IN2_KIND[op] < 0:
        return {"in1", "out"}
    return {"in1", "in2", "out"}


FIELD = ("op", "in1", "in2", "out", "d0", "d1", "d2")


def test_alter_param_changes_one_field_of_one_instruction() -> None:
    seen: dict[tuple[int, int], set[str]] = {}
    positions: dict[int, set[int]] = {0: set(), 1: set(), 2: set()}
    flips = scaled = 0
    log_ratios = []
    index_moves = []
    n_unsorted_parents = 0
    for j in range(12):
        p = parent(100 + j)
        for c in range(3):
            for r in rows(p, c):
                if r[0] in (59, 60, 61) and r[4] > r[5]:
                    n_unsorted_parents += 1  # random init does not sort uniform bounds
        for i in range(700):
            child, code = apply(p, [M_ALTER_PARAM], 100 + j, i)
            assert code == M_ALTER_PARAM
            assert np.array_equal(child.sizes, p.sizes)
            comps = changed_components(p, child)
            assert len(comps) <= 1
            if not comps:
                continue  # a redrawn address can equal the old one
            c = comps[0]
            pr, cr = rows(p, c), rows(child, c)
            diff = [k for k in range(len(pr)) if pr[k] != cr[k]]
            assert len(diff) == 1
            k = diff[0]
            a, b = pr[k], cr[k]
            op = a[0]
            assert b[0] == op
            fields = [FIELD[f] for f in range(7) if a[f] != b[f]]
            if op in (59, 60, 61) and set(fields) <= {"d0", "d1"}:
                # one bound perturbed, then the pair re-sorted
                assert b[4] <= b[5]
                old, new = Counter([a[4], a[5]]), Counter([b[4], b[5]])
                assert sum((old - new).values()) == 1 and sum((new - old).values()) == 1
                changed_value = next(iter(old - new))
                moved = next(iter(new - old))
                fields = ["d0" if changed_value == a[4] else "d1"]
                before, after = changed_value, moved
            else:
                assert len(fields) == 1, (op, fields, a, b)
                before, after = a[FIELD.index(fields[0])], b[FIELD.index(fields[0])]
            f = fields[0]
            assert f in expected_fields(op), (OPS[op].name, f)
            seen.setdefault((c, op), set()).add(f)
            positions[c].add(k)
            # constants: an index fraction is redrawn in [0, 1); a value is scaled or flipped
            if f.startswith("d"):
                if (op == 57 and f == "d0") or (op == 58 and f in ("d0", "d1")):
                    assert 0.0 <= after < 1.0
                    index_moves.append((before, after))
                elif op in (62, 63, 64) and f == "d1":  # gaussian deviation: scaled, never flipped
                    assert after > 0.0 and before > 0.0
                    log_ratios.append(math.log(after / before))
                else:
                    if after == -before:
                        flips += 1
                    else:
                        assert np.sign(after) == np.sign(before)
                        scaled += 1
                        log_ratios.append(math.log(after / before))
    # every (component, op) present in the parents had every allowed field altered
    for (c, op), fields in seen.items():
        assert fields == expected_fields(op), (COMPONENTS[c], OPS[op].name, fields)
    assert {op for c, op in seen} == set.union(*ALLOWED)  # every op of the menus occurred
    for c in range(3):
        assert positions[c] == set(range(INIT[c]))
    n = flips + scaled
    assert n > 1000 and abs(flips / n - 0.1) < 5 * math.sqrt(0.09 / n), (flips, n)
    # the scale is exp(N(0, 1))
    assert abs(np.mean(log_ratios)) < 0.1 and abs(np.std(log_ratios) - 1.0) < 0.1
    assert n_unsorted_parents > 0
    # index fractions are redrawn U[0, 1), independent of the old value
    moves = np.array(index_moves)
    assert len(moves) > 150
    assert abs(moves[:, 1].mean() - 0.5) < 0.08
    assert np.mean(np.abs(moves[:, 1] - moves[:, 0]) < 0.05) < 0.2


def test_alter_param_on_zero_and_uniform_bounds() -> None:
    spec = make_spec()
    p = from_rows(spec, {"setup": [("SCALAR_CONST_SET", 0, 0, 1, 0.0)],
                         "predict": [("VECTOR_NORM", 1, 0, 1)],
                         "learn": [("VECTOR_UNIFORM_SET", 0, 0, 1, 0.5, -0.5), ("SCALAR_DIFF", 0, 1, 2)]})
    for i in range(400):
        child, _ = apply(p, [M_ALTER_PARAM], 7, i, spec=spec)
        assert child.data[0, 0, 0] == 0.0  # zero stays zero (scaled or flipped)
        r = rows(child, 2)[0]
        if (r[4], r[5]) != (0.5, -0.5):
            assert r[4] <= r[5]  # re-sorted whenever a bound was perturbed


# ---- randomize_instruction / component / algorithm ---------------------------------------------

def test_randomize_instruction_draws_from_the_component_menu() -> None:
    ops_seen = {0: set(), 1: set(), 2: set()}
    positions = {0: set(), 1: set(), 2: set()}
    p = parent(200)
    for i in range(4000):
        child, code = apply(p, [M_RANDOMIZE_INSTRUCTION], 200, i)
        assert code == M_RANDOMIZE_INSTRUCTION and np.array_equal(child.sizes, p.sizes)
        comps = changed_components(p, child)
        assert len(comps) <= 1
        for c in comps:
            pr, cr = rows(p, c), rows(child, c)
            diff = [k for k in range(len(pr)) if pr[k] != cr[k]]
            assert len(diff) == 1
            ops_seen[c].add(cr[diff[0]][0])
            positions[c].add(diff[0])
    for c in range(3):
        assert ops_seen[c] == ALLOWED[c]
        assert positions[c] == set(range(int(p.sizes[c])))


def test_randomize_component_keeps_size_and_menu() -> None:
    hit = Counter()
    p = parent(300)
    for i in range(1500):
        child, code = apply(p, [M_RANDOMIZE_COMPONENT], 300, i)
        assert np.array_equal(child.sizes, p.sizes)
        comps = changed_components(p, child)
        assert len(comps) == 1  # (all instructions equal again: negligible)
        c = comps[0]
        hit[c] += 1
        assert {r[0] for r in rows(child, c)} <= ALLOWED[c]
    assert all(abs(hit[c] - 500) < 5 * math.sqrt(1500 * 2 / 9) for c in range(3)), hit


def test_randomize_algorithm_redraws_every_component() -> None:
    p = parent(400)
    for i in range(300):
        child, code = apply(p, [M_RANDOMIZE_ALGORITHM], 400, i)
        assert code == M_RANDOMIZE_ALGORITHM and np.array_equal(child.sizes, p.sizes)
        assert changed_components(p, child) == [0, 1, 2]
        for c in range(3):
            assert {r[0] for r in rows(child, c)} <= ALLOWED[c]


# ---- insert / remove / trade ---------------------------------------------------------------------

def _inserted_at(before: list, after: list) -> list[int]:
    return [k for k in range(len(after)) if after[:k] + after[k + 1:] == before]


@pytest.mark.parametrize("c", (0, 1, 2))
def test_insert_hits_every_position_within_bounds(c: int) -> None:
    for init in (INIT, MIN, tuple(m - 1 for m in MAX)):
        p = parent(500 + sum(init), init=init)
        n = int(p.sizes[c])
        positions = set()
        ops = set()
        for i in range(700):
            child, code = apply(p, [M_INSERT], 500 + c, i)
            comps = [k for k in range(3) if child.sizes[k] != p.sizes[k] or rows(child, k) != rows(p, k)]
            assert len(comps) == 1 and child.sizes[comps[0]] == p.sizes[comps[0]] + 1
            if comps[0] != c:
                continue
            at = _inserted_at(rows(p, c), rows(child, c))
            assert at
            if len(at) == 1:
                positions.add(at[0])
            ops.add(rows(child, c)[at[0]][0])
        assert positions == set(range(n + 1)) and ops == ALLOWED[c]
    # at the maximum size nothing is inserted (max is inclusive here)
    p = parent(600, init=MAX)
    for i in range(300):
        child, code = apply(p, [M_INSERT], 600, i)
        assert code == M_INSERT and child == p


@pytest.mark.parametrize("c", (0, 1, 2))
def test_remove_hits_every_position_within_bounds(c: int) -> None:
    p = parent(700, init=MAX)
    n = int(p.sizes[c])
    positions = set()
    for i in range(900):
        child, code = apply(p, [M_REMOVE], 700, i)
        comps = [k for k in range(3) if child.sizes[k] != p.sizes[k] or rows(child, k) != rows(p, k)]
        assert len(comps) == 1 and child.sizes[comps[0]] == p.sizes[comps[0]] - 1
        if comps[0] == c:
            at = _inserted_at(rows(child, c), rows(p, c))
            assert at
            if len(at) == 1:
                positions.add(at[0])
    assert positions == set(range(n))
    # at the minimum size nothing is removed
    p = parent(701, init=MIN)
    for i in range(300):
        assert apply(p, [M_REMOVE], 701, i)[0] == p


def test_trade_keeps_size_even_at_the_bounds() -> None:
    n_changed = 0
    for init in (INIT, MIN, MAX):
        p = parent(800 + sum(init), init=init)
        for i in range(800):
            child, code = apply(p, [M_TRADE], 800, i)
            assert code == M_TRADE and np.array_equal(child.sizes, p.sizes)
            comps = changed_components(p, child)
            assert len(comps) <= 1
            for c in comps:
                before, after = rows(p, c), rows(child, c)
                assert any(before[:a] + before[a + 1:] == after[:b] + after[b + 1:]
                           for a in range(len(before)) for b in range(len(after)))
                assert {r[0] for r in after} <= ALLOWED[c] | {r[0] for r in before}
                n_changed += 1
    assert n_changed > 1500


# ---- redirect ----------------------------------------------------------------------------------

def _reads(prog: Program) -> list[tuple[int, int, int, int, int]]:
    """Every input operand in program order: (component, position, field, kind, address)."""
    out = []
    for c in range(3):
        ins, _ = prog.component(c)
        for k, (op, in1, in2, _out) in enumerate(ins.tolist()):
            out += [(c, k, 1, int(IN1_KIND[op]), in1)] if IN1_KIND[op] >= 0 else []
            out += [(c, k, 2, int(IN2_KIND[op]), in2)] if IN2_KIND[op] >= 0 else []
    return out


def test_redirect_sends_every_later_read_of_one_address_to_what_an_instruction_writes() -> None:
    n_changed, spans = 0, Counter()
    for seed in range(20):
        p = parent(900 + seed)
        for i in range(100):
            child, code = apply(p, [M_REDIRECT], 900 + seed, i)
            assert code == M_REDIRECT and np.array_equal(child.sizes, p.sizes)
            assert np.array_equal(child.data, p.data)
            assert np.array_equal(child.ins[..., [0, 3]], p.ins[..., [0, 3]])  # ops and outputs kept
            before, after = _reads(p), _reads(child)
            changed = [i for i, (x, y) in enumerate(zip(before, after)) if x != y]
            if not changed:
                continue
            n_changed += 1
            kind, a = before[changed[0]][3:]
            b = after[changed[0]][4]
            assert {(before[i][3:], after[i][4]) for i in changed} == {((kind, a), b)}
            # b is written before the first changed read, and no read of a is left after it
            c0, k0 = before[changed[0]][:2]
            writers = [(c, k) for c in range(3) for k, row in enumerate(p.component(c)[0].tolist())
                       if OUT_KIND[row[0]] == kind and row[3] == b and (c, k) < (c0, k0)]
            assert writers
            assert all(r[3:] != (kind, a) for r in after[changed[0]:])
            spans[len({before[i][0] for i in changed})] += 1
    assert n_changed > 500
    assert spans[2] > 0 or spans[3] > 0  # a redirect reaches into later components too


def test_redirect_crosses_from_linear_regression_beside_a_relu_layer_to_regression_on_the_layer() -> None:
    # The valley that stops the nonlinear search (README, program ladder): linear regression
    # that computes a random ReLU layer v4 it does not use becomes random ReLU features when its
    # prediction and its update both read v4 instead of the input v0. Either change alone breaks
    # the learner; one redirect makes both.
    ops = ("SCALAR_CONST_SET", "MATRIX_GAUSSIAN_SET", "VECTOR_GAUSSIAN_SET", "MATRIX_VECTOR_PRODUCT",
           "VECTOR_HEAVYSIDE", "VECTOR_PRODUCT", "VECTOR_INNER_PRODUCT", "SCALAR_DIFF", "SCALAR_PRODUCT",
           "SCALAR_VECTOR_PRODUCT", "VECTOR_SUM")
    spec = ProgramSpec(features=4, scalars=4, vectors=8, matrices=2, ops=(ops, ops, ops),
                       init_sizes=(3, 4, 4), max_sizes=(6, 8, 14), mutations=("redirect",))
    setup = [("SCALAR_CONST_SET", 0, 0, 2, 0.01), ("MATRIX_GAUSSIAN_SET", 0, 0, 0, 0.0, 0.5),
             ("VECTOR_GAUSSIAN_SET", 0, 0, 1, 0.0, 0.5)]
    layer = [("MATRIX_VECTOR_PRODUCT", 0, 0, 2), ("VECTOR_HEAVYSIDE", 2, 0, 3), ("VECTOR_PRODUCT", 2, 3, 4)]

    def learner(h: int) -> Program:
        return from_rows(spec, {"setup": setup, "predict": layer + [("VECTOR_INNER_PRODUCT", h, 1, 1)],
                                "learn": [("SCALAR_DIFF", 0, 1, 3), ("SCALAR_PRODUCT", 3, 2, 3),
                                          ("SCALAR_VECTOR_PRODUCT", 3, h, 7), ("VECTOR_SUM", 1, 7, 1)]})

    beside, features = learner(0), learner(4)
    hits = sum(apply(beside, [M_REDIRECT], 5, i, spec=spec)[0] == features for i in range(2000))
    # P = 1/3 (predict) * 1/4 (the instruction writing v4) * 1/7 (v0 of the other vectors)
    assert 2000 / 84 / 2 < hits < 2000 / 84 * 2


# ---- addresses ---------------------------------------------------------------------------------

def test_addresses_cover_their_ranges_and_outputs_avoid_label_and_features() -> None:
    spec = make_spec(ops=(tuple(op.name for op in OPS[1:]),) * 3, init=(10, 10, 10), maxs=(10, 10, 10),
                     mins=(0, 0, 0))
    limits = (MEM["scalars"], MEM["vectors"], MEM["matrices"])
    outs = {0: Counter(), 1: Counter(), 2: Counter()}
    ins = {0: Counter(), 1: Counter(), 2: Counter()}
    for i in range(300):
        prog = spec.validate(random_from_stream(spec, stream(900, i)))
        child, _ = apply(prog, [M_ALTER_PARAM, M_RANDOMIZE_INSTRUCTION, M_INSERT, M_TRADE], 900, i, spec=spec)
        for p in (prog, child):
            for c in range(3):
                for r in rows(p, c):
                    op = r[0]
                    if op == 0:
                        continue
                    outs[OUT_KIND[op]][r[3]] += 1
                    if IN1_KIND[op] >= 0:
                        ins[IN1_KIND[op]][r[1]] += 1
                    if IN2_KIND[op] >= 0:
                        ins[IN2_KIND[op]][r[2]] += 1
    first_out = (1, 1, 0)
    for kind in range(3):
        assert set(outs[kind]) == set(range(first_out[kind], limits[kind])), (kind, outs[kind])
        assert set(ins[kind]) == set(range(limits[kind])), (kind, ins[kind])


# ---- components with no ops ----------------------------------------------------------------------

def test_components_without_ops_are_never_chosen() -> None:
    spec = ProgramSpec(**MEM, ops=((), PREDICT_OPS, ()), init_sizes=(0, 3, 0), min_sizes=(0, 1, 0),
                       max_sizes=(3, 5, 3), mutations=ALL_MUTATIONS)
    base = random_from_stream(spec, stream(1000, 0))
    sizes = base.sizes.copy()
    sizes[0] = 3  # three no-ops in setup, two in learn: valid, and removable if chosen
    sizes[2] = 2
    p = spec.validate(Program(base.ins, base.data, sizes))
    codes = Counter()
    n_changed = Counter()
    for kind in (M_ALTER_PARAM, M_RANDOMIZE_INSTRUCTION, M_RANDOMIZE_COMPONENT, M_INSERT, M_REMOVE,
                 M_TRADE, M_RANDOMIZE_ALGORITHM):
        for i in range(300):
            child, code = apply(p, [kind], 1000, i, spec=spec)
            codes[code] += 1
            assert rows(child, 0) == rows(p, 0) and rows(child, 2) == rows(p, 2)
            assert child.sizes[0] == 3 and child.sizes[2] == 2
            assert {r[0] for r in rows(child, 1)} <= set(op_code(n) for n in PREDICT_OPS)
            n_changed[kind] += rows(child, 1) != rows(p, 1)
    assert len(codes) == 7
    # predict is the only choice, so every mutation lands there
    assert n_changed[M_INSERT] == n_changed[M_REMOVE] == n_changed[M_RANDOMIZE_COMPONENT] == 300
    assert n_changed[M_ALTER_PARAM] > 200 and n_changed[M_TRADE] > 200
