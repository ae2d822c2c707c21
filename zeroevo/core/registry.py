"""Name -> factory maps, so workers rebuild spaces and evaluators from ``(name, config)``.

Only names and plain config dicts cross process boundaries; a worker calls
:func:`make_space` / :func:`make_evaluator` to get live objects.
"""
from __future__ import annotations

from typing import Any, Callable

from zeroevo.core.errors import ConfigError
from zeroevo.core.protocols import Evaluator, SearchSpace

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


# Where the built-in spaces and evaluators register themselves (imported on first lookup).
# Only the neural ones may be absent: they need torch, which program searches never do.
BUILTIN_MODULES = ("zeroevo.spaces.program.space", "zeroevo.programs.islands", "zeroevo.spaces.layers",
                   "zeroevo.spaces.nasnet", "zeroevo.spaces.hierarchical", "zeroevo.neural.evaluator")
_loaded = False


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib

    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != "torch":
                raise
