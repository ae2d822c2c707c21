"""The dispatcher contract and what every dispatcher shares: the per-process evaluator cache.

Each worker rebuilds its evaluator from ``(evaluator_name, evaluator_config)`` once and keeps it
(:func:`evaluate_request`); only plain data crosses a process boundary. ``evaluator_name`` is a
:mod:`zeroevo.core.registry` name or ``"package.module:attr"``, whose ``attr(config)`` is the factory:
evaluators outside zeroevo (tests, user code) need no registration in each worker. Local
workers inherit ``sys.path``; ``dask worker`` processes must be able to import the module.
The serial kind is here; ``process`` is :mod:`zeroevo.dispatch.process`, ``dask``
:mod:`zeroevo.dispatch.dask_cluster`; :func:`make_dispatcher` builds any of them.

API (:class:`Dispatcher`)::

    capacity: int                            # evaluations that can run at once (advice)
    submit(key, request) -> None             # key: the birth number, unique until collected
    done() -> list[tuple[int, EvalResult]]   # successes since the last call; non-blocking
    wait(key) -> EvalResult                  # block for that key; raises the evaluator's error
    close() -> None                          # stop workers; also runs on GC and at exit

The caller commits in birth order with a fixed lag L, so the trajectory never depends on the
dispatcher, its worker count or timing (evaluators are deterministic given the request).
An error raised by an evaluator is re-raised by ``wait``: a ``ZeroevoError`` as itself, any
other as :class:`EvaluationError` with the worker's traceback. A dead worker (SIGKILL, out
of memory) loses nothing: its request runs again; one that kills its worker ``max_deaths``
times (Dask: ``allowed-failures``) gets a ``STATUS_FAILED`` result instead of looping forever.
"""
from __future__ import annotations

import importlib
import json
import threading
from typing import Any, Callable, Protocol

from zeroevo.core.errors import ConfigError
from zeroevo.core.protocols import STATUS_FAILED, EvalRequest, EvalResult


class EvaluationError(RuntimeError):
    """An evaluator raised an unexpected exception in a worker; the message has its traceback."""


class Dispatcher(Protocol):
    """Runs evaluation requests somewhere; see the module docs for the contract."""

    capacity: int

    def submit(self, key: int, request: EvalRequest) -> None:
        """Start evaluating ``request`` under ``key`` (the birth number)."""

    def done(self) -> list[tuple[int, EvalResult]]:
        """Results finished since the last call, in any order, without blocking."""

    def wait(self, key: int) -> EvalResult:
        """Block until the result of ``key`` is there and return it."""

    def close(self) -> None:
        """Stop all workers; pending requests are dropped."""


# -- evaluation, the same in every process ---------------------------------------------------

_CACHE: dict[tuple[str, str], Any] = {}
_CACHE_LOCK = threading.Lock()


def config_key(evaluator_config: dict | None) -> str:
    """The canonical JSON of an evaluator config; ``ConfigError`` if it is not plain data."""
    try:
        return json.dumps(evaluator_config or {}, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"evaluator config must be plain JSON data (it crosses processes): {exc}") from None


def import_object(path: str) -> Any:
    """The object named ``package.module:attr.attr``."""
    module_name, _, attr = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target


def get_evaluator(evaluator_name: str, evaluator_config: dict | None) -> Any:
    """The live evaluator of this process for ``(name, config)``, built on first use."""
    cache_key = (evaluator_name, config_key(evaluator_config))
    with _CACHE_LOCK:
        if cache_key not in _CACHE:
            if ":" not in evaluator_name:
                from zeroevo.core.registry import make_evaluator

                _CACHE[cache_key] = make_evaluator(evaluator_name, evaluator_config)
                return _CACHE[cache_key]
            try:
                factory: Callable[[dict], Any] = import_object(evaluator_name)
            except (ImportError, AttributeError) as exc:
                raise ConfigError(f"evaluator {evaluator_name!r} cannot be imported: {exc}") from None
            _CACHE[cache_key] = factory(dict(evaluator_config or {}))
        return _CACHE[cache_key]


def evaluate_request(evaluator_name: str, evaluator_config: dict | None, request: EvalRequest) -> EvalResult:
    """Evaluate ``request`` with this process's evaluator for ``(evaluator_name, evaluator_config)``.

    Nothing here depends on the process it runs in: an evaluator whose results depend on
    thread counts (the neural trainer) sets them itself, so every dispatcher gives the same
    results.
    """
    return get_evaluator(evaluator_name, evaluator_config).evaluate(request)


def died_result(key: int, detail: str) -> EvalResult:
    """The failed result of a birth whose evaluation killed its worker every time it ran."""
    return EvalResult(0.0, STATUS_FAILED, reason=f"the worker died each time it evaluated birth {key} ({detail})")


def check_new(key: int, *tables: Any) -> None:
    """Refuse a key that is still in any of ``tables`` (submitted and not collected)."""
    if any(key in t for t in tables):
        raise ValueError(f"birth {key} is already submitted and not yet collected")


class DispatcherBase:
    """What every dispatcher shares: the evaluator's ``(name, config)``, checked to be plain
    data, and use as a context manager (``close`` on exit)."""

    def __init__(self, evaluator_name: str, evaluator_config: dict | None) -> None:
        self.evaluator_name, self.evaluator_config = evaluator_name, dict(evaluator_config or {})
        config_key(self.evaluator_config)  # refuse a config that cannot cross a process boundary

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
