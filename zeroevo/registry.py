"""Public: register your own search spaces and evaluators by name (:mod:`zeroevo.core.registry`)."""
from zeroevo.core.registry import (
    make_evaluator,
    make_space,
    register_evaluator,
    register_space,
    space_names,
)

__all__ = ["make_evaluator", "make_space", "register_evaluator", "register_space", "space_names"]
