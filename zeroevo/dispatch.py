"""Dispatchers: where evaluation requests run (in process, in local worker processes, on Dask).

Each worker rebuilds its evaluator from ``(evaluator_name, evaluator_config)`` once and keeps it
(:func:`evaluate_request`); only plain data crosses a process boundary. ``evaluator_name`` is a
:mod:`zeroevo.registry` name or ``"package.module:attr"``, whose ``attr(config)`` is the factory:
evaluators outside zeroevo (tests, user code) need no registration in each worker. Local
workers inherit ``sys.path``; ``dask worker`` processes must be able to import the module.
The serial kind is here; ``process`` is :mod:`zeroevo.process_pool`, ``dask``
:mod:`zeroevo.dask_cluster`; :func:`make_dispatcher` builds any of them.

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

from zeroevo.errors import ConfigError
from zeroevo.protocols import STATUS_FAILED, EvalRequest, EvalResult

KINDS = ("serial", "process", "dask")


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


def _config_key(evaluator_config: dict | None) -> str:
    try:
        return json.dumps(evaluator_config or {}, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"evaluator config must be plain JSON data (it crosses processes): {exc}") from None


def _import(path: str) -> Any:
    module_name, _, attr = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target


def get_evaluator(evaluator_name: str, evaluator_config: dict | None) -> Any:
    """The live evaluator of this process for ``(name, config)``, built on first use."""
    cache_key = (evaluator_name, _config_key(evaluator_config))
    with _CACHE_LOCK:
        if cache_key not in _CACHE:
            if ":" not in evaluator_name:
                from zeroevo.registry import make_evaluator

                _CACHE[cache_key] = make_evaluator(evaluator_name, evaluator_config)
                return _CACHE[cache_key]
            try:
                factory: Callable[[dict], Any] = _import(evaluator_name)
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


def _died_result(key: int, detail: str) -> EvalResult:
    return EvalResult(0.0, STATUS_FAILED, reason=f"the worker died each time it evaluated birth {key} ({detail})")


def _check_new(key: int, *tables: Any) -> None:
    if any(key in t for t in tables):
        raise ValueError(f"birth {key} is already submitted and not yet collected")


class _Base:
    def __init__(self, evaluator_name: str, evaluator_config: dict | None) -> None:
        self.evaluator_name, self.evaluator_config = evaluator_name, dict(evaluator_config or {})
        _config_key(self.evaluator_config)  # refuse a config that cannot cross a process boundary

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# -- serial ----------------------------------------------------------------------------------

class SerialDispatcher(_Base):
    """Evaluates in this process, lazily: ``wait(key)`` runs the evaluation; ``done()`` is empty."""

    capacity = 1

    def __init__(self, evaluator_name: str, evaluator_config: dict | None = None) -> None:
        super().__init__(evaluator_name, evaluator_config)
        self._pending: dict[int, EvalRequest] = {}

    def submit(self, key: int, request: EvalRequest) -> None:
        """Remember ``request``; it is evaluated when ``wait(key)`` asks for it."""
        _check_new(key, self._pending)
        self._pending[key] = request

    def done(self) -> list[tuple[int, EvalResult]]:
        """Nothing: serial evaluation happens inside :meth:`wait`."""
        return []

    def wait(self, key: int) -> EvalResult:
        """Evaluate the request of ``key`` now."""
        return evaluate_request(self.evaluator_name, self.evaluator_config, self._pending.pop(key))

    def close(self) -> None:
        """Drop pending requests."""
        self._pending.clear()


def make_dispatcher(kind: str, evaluator_name: str, evaluator_config: dict | None = None,
                    workers: int = 1, address: str | None = None) -> Dispatcher:
    """A dispatcher of ``kind`` (serial, process or dask) for the evaluator ``(name, config)``."""
    if kind == "serial":
        return SerialDispatcher(evaluator_name, evaluator_config)
    if kind == "process":
        from zeroevo.process_pool import ProcessDispatcher

        return ProcessDispatcher(evaluator_name, evaluator_config, workers=workers)
    if kind == "dask":
        from zeroevo.dask_cluster import DaskDispatcher

        return DaskDispatcher(evaluator_name, evaluator_config, address=address, workers=workers)
    raise ConfigError(f"unknown dispatcher {kind!r}; allowed: {', '.join(KINDS)}")


def __getattr__(name: str) -> Any:
    # DaskDispatcher lives in zeroevo.dask_cluster and ProcessDispatcher in zeroevo.process_pool
    # (both import this module); served lazily.
    if name == "DaskDispatcher":
        from zeroevo.dask_cluster import DaskDispatcher

        return DaskDispatcher
    if name == "ProcessDispatcher":
        from zeroevo.process_pool import ProcessDispatcher

        return ProcessDispatcher
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
