"""Source-level inlining for kernel variants: a call replaced by the callee's body, as text.

numba inlines ``inline="always"`` functions in its IR, deep-copying the callee's IR and
re-running passes on it at every site: for the interpreter inlined into its two harnesses
that is seconds of a first run's compile. A kernel variant is generated source anyway
(:mod:`zeroevo.programs.kernels`), so it splices instead: :func:`splice` rewrites a
function's source with a callee's body pasted at its call sites, parameters replaced by the
call's arguments (an argument other than a name or a constant is evaluated once, first,
into a local) and the callee's own locals renamed apart. Constant arguments
(``L = 1``, ``one = True``) become literals that numba folds, as IR inlining did.

Only what the harnesses need is supported, and anything else is refused: the call is a
statement or the whole right-hand side of an assignment; the callee assigns none of its
parameters, and returns only in its last statement.
"""
from __future__ import annotations

import ast
import copy
import textwrap


class _Rewrite(ast.NodeTransformer):
    def __init__(self, args: dict[str, ast.expr], renames: dict[str, str]) -> None:
        self.args, self.renames = args, renames

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.args:
            return copy.deepcopy(self.args[node.id])
        if node.id in self.renames:
            return ast.copy_location(ast.Name(self.renames[node.id], node.ctx), node)
        return node


def _function(source: str) -> ast.FunctionDef:
    node = ast.parse(textwrap.dedent(source)).body[0]
    if not isinstance(node, ast.FunctionDef):
        raise ValueError("splice: not a function definition")
    return node


def _assigned(fn: ast.FunctionDef) -> set[str]:
    return {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _body(callee: ast.FunctionDef, call: ast.Call, prefix: str) -> tuple[list[ast.stmt], ast.expr | None]:
    """The callee's statements for one call site, and its returned expression (or None)."""
    params = [a.arg for a in callee.args.args]
    if len(call.args) != len(params) or call.keywords:
        raise ValueError(f"splice: call of {callee.name} must pass its {len(params)} arguments by position")
    local = _assigned(callee)
    if local & set(params):
        raise ValueError(f"splice: {callee.name} assigns its parameters {sorted(local & set(params))}")
    body = [s for s in callee.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    returned = None
    if body and isinstance(body[-1], ast.Return):
        returned = body.pop().value
    if any(isinstance(n, ast.Return) for s in body for n in ast.walk(s)):
        raise ValueError(f"splice: {callee.name} returns before its last statement")
    # A name or a constant is substituted as is; any other argument is evaluated once, first,
    # into a local of its own (as a call would).
    args, bind = {}, []
    for param, arg in zip(params, call.args):
        if isinstance(arg, (ast.Name, ast.Constant)):
            args[param] = arg
        else:
            args[param] = ast.Name(prefix + param, ast.Load())
            bind.append(ast.Assign([ast.Name(prefix + param, ast.Store())], arg))
    rewrite = _Rewrite(args, {name: prefix + name for name in local})
    body = bind + [rewrite.visit(copy.deepcopy(s)) for s in body]
    return body, (rewrite.visit(copy.deepcopy(returned)) if returned is not None else None)


class _Sites(ast.NodeTransformer):
    def __init__(self, callee: ast.FunctionDef) -> None:
        self.callee, self.count = callee, 0

    def _is_call(self, node: ast.AST) -> bool:
        return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == self.callee.name)

    def visit_Expr(self, node: ast.Expr) -> ast.AST | list[ast.stmt]:
        if not self._is_call(node.value):
            return self.generic_visit(node)
        self.count += 1
        body, _ = _body(self.callee, node.value, f"_{self.callee.name.strip('_')}{self.count}_")
        return body or [ast.Pass()]

    def visit_Assign(self, node: ast.Assign) -> ast.AST | list[ast.stmt]:
        if not self._is_call(node.value):
            return self.generic_visit(node)
        self.count += 1
        body, returned = _body(self.callee, node.value, f"_{self.callee.name.strip('_')}{self.count}_")
        if returned is None:
            raise ValueError(f"splice: {self.callee.name} returns nothing to assign")
        return body + [ast.Assign(node.targets, returned)]

    def visit_Call(self, node: ast.Call) -> ast.AST:
        # Reached only for calls that are not a whole statement or right-hand side.
        if self._is_call(node):
            raise ValueError(f"splice: {self.callee.name} is called inside an expression")
        return self.generic_visit(node)


def splice(source: str, callee_source: str) -> str:
    """``source`` (one function) with every call of the function in ``callee_source`` replaced
    by that function's body; decorators are kept. Raises ``ValueError`` when the call sites or
    the callee are beyond what this supports (see the module docstring)."""
    fn, callee = _function(source), _function(callee_source)
    sites = _Sites(callee)
    fn.body = [out for stmt in fn.body for out in _as_list(sites.visit(stmt))]
    if sites.count == 0:
        raise ValueError(f"splice: {fn.name} does not call {callee.name}")
    return ast.unparse(ast.fix_missing_locations(fn)) + "\n"


def _as_list(node: ast.AST | list[ast.stmt]) -> list[ast.stmt]:
    return node if isinstance(node, list) else [node]
