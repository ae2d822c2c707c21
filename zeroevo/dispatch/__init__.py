"""Dispatchers: where evaluation requests run (in process, in local worker processes, on Dask).

Every dispatcher follows one contract (:class:`~zeroevo.dispatch.base.Dispatcher`): submit a
plain :class:`~zeroevo.core.protocols.EvalRequest` under a birth number, collect results in
any order, and let the caller commit them in birth order, so a run never depends on which
dispatcher ran it. :func:`make_dispatcher` builds one by name; the implementations import
their heavy dependencies (multiprocess, dask) only when chosen.
"""
from __future__ import annotations

from zeroevo.core.errors import ConfigError
from zeroevo.dispatch.base import (
    Dispatcher,
    EvaluationError,
    evaluate_request,
    get_evaluator,
)

__all__ = ["KINDS", "Dispatcher", "EvaluationError", "evaluate_request", "get_evaluator", "make_dispatcher"]

KINDS = ("serial", "process", "dask")


def make_dispatcher(kind: str, evaluator_name: str, evaluator_config: dict | None = None,
                    workers: int = 1, address: str | None = None) -> Dispatcher:
    """A dispatcher of ``kind`` (serial, process or dask) for the evaluator ``(name, config)``."""
    if kind == "serial":
        from zeroevo.dispatch.serial import SerialDispatcher

        return SerialDispatcher(evaluator_name, evaluator_config)
    if kind == "process":
        from zeroevo.dispatch.process import ProcessDispatcher

        return ProcessDispatcher(evaluator_name, evaluator_config, workers=workers)
    if kind == "dask":
        from zeroevo.dispatch.dask_cluster import DaskDispatcher

        return DaskDispatcher(evaluator_name, evaluator_config, address=address, workers=workers)
    raise ConfigError(f"unknown dispatcher {kind!r}; allowed: {', '.join(KINDS)}")
