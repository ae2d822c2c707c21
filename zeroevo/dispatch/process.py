"""Local worker processes: :class:`ProcessDispatcher`, the ``process`` kind of :mod:`zeroevo.dispatch`.

It follows the :class:`zeroevo.dispatch.base.Dispatcher` contract. Each worker is a spawned
``multiprocess`` process with one pipe, running :func:`_worker_main` (module level, so the
spawned child imports it by name): it rebuilds the evaluator from ``(evaluator_name,
evaluator_config)`` once, then evaluates ``(key, request)`` messages one at a time. An error
comes back as plain data and is re-raised in the parent; a worker that dies is replaced and
its request runs again, up to ``max_deaths`` times.
"""
from __future__ import annotations

import collections
import os
import signal
import threading
import time
import traceback
import weakref
from typing import Any

from zeroevo.core.errors import ConfigError, ZeroevoError
from zeroevo.core.protocols import EvalRequest, EvalResult
from zeroevo.dispatch import base as dispatch


def _exit_with_parent(parent_pid: int) -> None:
    while True:  # an orphaned worker (parent SIGKILLed) must not outlive it by more than a second
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(0)


def _worker_main(conn: Any, evaluator_name: str, evaluator_config: dict, parent_pid: int) -> None:
    """Loop of a worker process: receive ``(key, request)``, send ``(key, ok, payload)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        key, request = message
        try:
            reply = (key, True, dispatch.evaluate_request(evaluator_name, evaluator_config, request))
        except Exception as exc:
            # Errors travel as plain data: an exception object may not unpickle in the parent.
            reply = (key, False, (*_names(exc), str(exc), traceback.format_exc()))
        try:
            conn.send(reply)
        except (BrokenPipeError, EOFError, OSError):
            return


def _names(exc: BaseException) -> tuple[str, str]:
    return type(exc).__module__, type(exc).__qualname__


def _remote_error(key: int, payload: tuple[str, str, str, str]) -> Exception:
    module, qualname, message, remote_tb = payload
    try:
        cls = dispatch.import_object(f"{module}:{qualname}")
        if isinstance(cls, type) and issubclass(cls, ZeroevoError):
            return cls(message)
    except Exception:  # a class the parent cannot import: report it by name
        pass
    return dispatch.EvaluationError(f"evaluating birth {key} raised {qualname}: {message}\n"
                                    f"--- worker traceback ---\n{remote_tb}")


class _Worker:
    __slots__ = ("process", "conn", "key")

    def __init__(self, process: Any, conn: Any) -> None:
        self.process, self.conn, self.key = process, conn, None


def _stop_workers(workers: dict[int, _Worker], grace: float = 1.0) -> None:
    for w in workers.values():
        try:
            if w.key is None:
                w.conn.send(None)
            else:
                w.process.terminate()  # busy: do not wait for a long training to end
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + grace
    for w in workers.values():
        w.process.join(max(0.0, deadline - time.monotonic()))
        if w.process.is_alive():
            w.process.kill()
            w.process.join(1.0)
        w.conn.close()
    workers.clear()


class ProcessDispatcher(dispatch.DispatcherBase):
    """``workers`` local processes (``multiprocess``, spawn), one pipe each; dead ones are replaced.

    The parent does the bookkeeping whenever it is called (``submit``, ``done``, ``wait``):
    it hands pending requests to idle workers in submission order, collects results and
    restarts any worker whose process ended, sending its in-flight request again.
    ``restarts`` counts replaced workers.
    """

    def __init__(self, evaluator_name: str, evaluator_config: dict | None = None, workers: int = 1,
                 max_deaths: int = 3, start_method: str = "spawn") -> None:
        import multiprocess

        if int(workers) < 1:
            raise ConfigError(f"workers must be at least 1, got {workers}")
        super().__init__(evaluator_name, evaluator_config)
        self.capacity = int(workers)
        self.max_deaths = int(max_deaths)
        self.restarts = 0
        self._ctx = multiprocess.get_context(start_method)
        self._workers: dict[int, _Worker] = {}  # sentinel -> worker
        self._pending: collections.OrderedDict[int, EvalRequest] = collections.OrderedDict()
        self._running: dict[int, EvalRequest] = {}
        self._results: dict[int, tuple[bool, Any]] = {}
        self._deaths: collections.Counter[int] = collections.Counter()
        self._closed = False
        self._finalizer = weakref.finalize(self, _stop_workers, self._workers)
        for _ in range(self.capacity):
            self._start_worker()

    def _start_worker(self) -> None:
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=_worker_main, name="zeroevo-worker", daemon=True,
            args=(child_conn, self.evaluator_name, self.evaluator_config, os.getpid()))
        process.start()
        child_conn.close()
        self._workers[process.sentinel] = _Worker(process, parent_conn)

    def pids(self) -> list[int]:
        """Process ids of the current workers."""
        return [w.process.pid for w in self._workers.values()]

    def _assign(self) -> None:
        for w in list(self._workers.values()):
            if not self._pending:
                return
            if w.key is not None:
                continue
            key, request = self._pending.popitem(last=False)
            w.key = key
            self._running[key] = request
            try:
                w.conn.send((key, request))
            except (BrokenPipeError, EOFError, OSError):
                self._reap(w)

    def _receive(self, w: _Worker) -> bool:
        try:
            key, ok, payload = w.conn.recv()
        except (EOFError, OSError):
            return False
        except Exception as exc:  # read whole but does not unpickle here: the pipe is still sound
            key, ok, payload = w.key, False, (*_names(exc), f"cannot receive the result: {exc}", "")
        self._running.pop(key, None)
        self._deaths.pop(key, None)
        self._results[key] = (ok, payload)
        w.key = None
        return True

    def _reap(self, w: _Worker) -> None:
        if self._workers.pop(w.process.sentinel, None) is None:
            return
        while w.key is not None:  # a result sent just before dying still counts
            try:
                if not w.conn.poll(0) or not self._receive(w):
                    break
            except (EOFError, OSError):
                break
        w.process.join(1.0)
        if w.process.is_alive():
            w.process.kill()
            w.process.join(1.0)
        w.conn.close()
        key = w.key
        if key is not None and key in self._running:
            request = self._running.pop(key)
            self._deaths[key] += 1
            if self._deaths[key] >= self.max_deaths:
                detail = f"{self._deaths.pop(key)} times, last exit code {w.process.exitcode}"
                self._results[key] = (True, dispatch.died_result(key, detail))
            else:  # first in line again: it is the oldest birth still owed
                self._pending[key] = request
                self._pending.move_to_end(key, last=False)
        if not self._closed:
            self.restarts += 1
            self._start_worker()

    def _pump(self, timeout: float | None) -> None:
        from multiprocess.connection import wait as mp_wait

        self._assign()
        conns = {w.conn: w for w in self._workers.values()}
        ready = mp_wait(list(conns) + list(self._workers), timeout)
        dead = [self._workers[r] for r in ready if r in self._workers]
        for r in ready:
            w = conns.get(r)
            if w is not None and w.process.sentinel in self._workers and not self._receive(w):
                dead.append(w)
        for w in dead:
            self._reap(w)
        self._assign()

    def submit(self, key: int, request: EvalRequest) -> None:
        """Queue ``request``; it starts as soon as a worker is idle."""
        if self._closed:
            raise RuntimeError("dispatcher is closed")
        dispatch.check_new(key, self._pending, self._running, self._results)
        self._pending[key] = request
        self._pump(0)

    def done(self) -> list[tuple[int, EvalResult]]:
        """Successful results finished since the last call (errors wait for :meth:`wait`)."""
        if not self._closed:
            self._pump(0)
        out = [(k, p) for k, (ok, p) in self._results.items() if ok]
        for k, _ in out:
            del self._results[k]
        return out

    def wait(self, key: int) -> EvalResult:
        """Block until ``key`` is evaluated; raise its error if the evaluator raised."""
        while key not in self._results:
            if key not in self._pending and key not in self._running:
                raise KeyError(f"birth {key} was not submitted, was already collected or the dispatcher is closed")
            self._pump(None)
        ok, payload = self._results.pop(key)
        if not ok:
            raise _remote_error(key, payload)
        return payload

    def close(self) -> None:
        """Stop the workers (busy ones are terminated) and drop pending requests."""
        self._closed = True
        self._pending.clear()
        self._running.clear()
        self._finalizer()
