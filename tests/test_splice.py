"""Source-level inlining: a spliced function computes what the original computed."""
from __future__ import annotations

import ast

import pytest

from zeroevo.programs.kernels import variant_source
from zeroevo.programs.splice import splice

CALLEE = '''
def step(xs, n, scale):
    """Add ``scale * i`` to the first n entries; i is the callee's own local."""
    total = 0.0
    for i in range(n):
        xs[i] += scale * i
        if xs[i] > 100:
            continue
        total += xs[i]
    return total
'''

CALLER = '''
def run(xs, n):
    i = 7
    total = -1.0
    calls = []
    while i < 9:
        t = step(xs, n, bump(calls))
        step(xs, n - 1, i)
        i += 1
    return i, total, t, list(xs), len(calls)
'''

BUMP = '''
def bump(calls):
    calls.append(1)
    return 2.0
'''


def _load(source: str, *others: str) -> dict:
    scope: dict = {}
    for text in (*others, source):
        exec(compile(text, "<test>", "exec"), scope)
    return scope


def test_a_spliced_function_computes_what_the_call_computed():
    spliced = splice(CALLER, CALLEE)
    assert "step(" not in spliced.split(":", 1)[1]  # every call site replaced
    for n in (0, 1, 4):
        want = _load(CALLER, CALLEE, BUMP)["run"]([1.0, 50.0, 3.0, 99.0, 5.0], n)
        got = _load(spliced, BUMP)["run"]([1.0, 50.0, 3.0, 99.0, 5.0], n)
        # The caller's own i and total are untouched by the callee's, and an argument
        # expression runs once per call however often the callee reads it.
        assert got == want and got[-1] == 2


@pytest.mark.parametrize("callee, caller, why", [
    ("def f(a):\n    a = 1\n", "def g(x):\n    f(x)\n", "assigns its parameters"),
    ("def f(a):\n    if a:\n        return 1\n    return 2\n", "def g(x):\n    y = f(x)\n", "returns before"),
    ("def f(a):\n    return a\n", "def g(x):\n    return f(x) + 1\n", "inside an expression"),
    ("def f(a):\n    pass\n", "def g(x):\n    y = f(x)\n", "returns nothing"),
    ("def f(a):\n    pass\n", "def g(x):\n    f(a=x)\n", "by position"),
    ("def f(a):\n    pass\n", "def g(x):\n    return x\n", "does not call"),
])
def test_what_splice_cannot_do_it_refuses(callee, caller, why):
    with pytest.raises(ValueError, match=why):
        splice(caller, callee)


def test_a_variants_harnesses_hold_the_interpreter_inline():
    tree = ast.parse(variant_source([2, 3, 27], 4))
    fns = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    for name in ("_lanes", "run_serial"):
        calls = {n.func.id for n in ast.walk(fns[name]) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert not calls & {"execute", "_one_lane"}, name
