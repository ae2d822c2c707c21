"""Name -> factory maps, so workers rebuild spaces and evaluators from ``(name, config)``.

Only names and plain config dicts cross process boundaries; a worker calls
:func:`make_space` / :func:`make_evaluator` to get live objects.
"""
from __future__ import annotations

from typing import Any, Callable

from zeroevo.errors import ConfigError
from zeroevo.protocols import Evaluator, SearchSpace

_SPACES: dict[str, Callable[[dict], SearchSpace]] = {}
_EVALUATORS: dict[str, Callable[[dict], Evaluator]] = {}


def register_space(name: str, factory: Callable[[dict], SearchSpace]) -> None:
    """Make ``factory(config)`` available as search space ``name``."""
    _SPACES[name] = factory


def register_evaluator(name: str, factory: Callable[[dict], Evaluator]) -> None:
    """Make ``factory(config)`` available as evaluator ``name``."""
    _EVALUATORS[name] = factory


def _lookup(table: dict[str, Callable[[dict], Any]], kind: str, name: str) -> Callable[[dict], Any]:
    _load_builtins()
    if name not in table:
        raise ConfigError(f"unknown {kind} {name!r}; registered: {', '.join(sorted(table)) or 'none'}")
    return table[name]


def make_space(name: str, config: dict | None = None) -> SearchSpace:
    """A live search space built from its registered name and config."""
    return _lookup(_SPACES, "search space", name)(dict(config or {}))


def make_evaluator(name: str, config: dict | None = None) -> Evaluator:
    """A live evaluator built from its registered name and config."""
    return _lookup(_EVALUATORS, "evaluator", name)(dict(config or {}))


def space_names() -> list[str]:
    """Registered search-space names."""
    _load_builtins()
    return sorted(_SPACES)


_loaded = False


def _load_builtins() -> None:
    # Imported lazily: the neural spaces pull in torch, which program searches never need.
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib

    for module in ("zeroevo.spaces.program.space", "zeroevo.spaces.layers", "zeroevo.spaces.nasnet",
                   "zeroevo.neural_eval", "zeroevo.islands"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a space not built yet, or torch missing
            if exc.name is None or not exc.name.startswith(("zeroevo.spaces", "zeroevo.neural_eval", "zeroevo.islands", "torch")):
                raise
