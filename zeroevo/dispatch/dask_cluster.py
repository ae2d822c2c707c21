"""Evaluation on Dask: :class:`DaskDispatcher`, the ``dask`` kind of :mod:`zeroevo.dispatch`.

It follows the :class:`zeroevo.dispatch.base.Dispatcher` contract. A run's tasks are keyed
``zeroevo-<run token>-<birth>`` and call one module-level function with plain-data arguments;
each Dask worker process rebuilds and caches the evaluator like any other worker. Workers
must import zeroevo (and a ``module:attr`` evaluator's module); start them with
``threads_per_worker=1`` / ``--nthreads 1``: evaluations are meant to run one per process.
"""
from __future__ import annotations

import logging
import os
import uuid
import weakref
from typing import Any

from zeroevo.core.protocols import EvalRequest, EvalResult
from zeroevo.dispatch import base as dispatch


def _dask_evaluate(evaluator_name: str, evaluator_config: dict, request: EvalRequest) -> EvalResult:
    """The task run on a Dask worker (module level, plain-data arguments)."""
    return dispatch.evaluate_request(evaluator_name, evaluator_config, request)


def _close(client: Any, cluster: Any) -> None:
    try:
        client.close()
    finally:
        if cluster is not None:
            cluster.close()


class DaskDispatcher(dispatch.DispatcherBase):
    """Runs requests on the Dask cluster at ``address``, or on a local cluster it owns.

    With no address it starts ``LocalCluster(n_workers=workers or cpu count,
    threads_per_worker=1, processes=True, dashboard_address=None)`` on 127.0.0.1, its HTTP
    routes on a free port, and closes it in :meth:`close` (or when garbage-collected). A task
    whose worker leaves is rerun elsewhere by the scheduler (after ``distributed.scheduler.allowed-failures`` deaths the
    request gets a ``STATUS_FAILED`` result); one that raises is retried ``retries`` times.
    """

    def __init__(self, evaluator_name: str, evaluator_config: dict | None = None,
                 address: str | None = None, workers: int | None = None, retries: int = 2) -> None:
        from dask.distributed import Client, LocalCluster

        super().__init__(evaluator_name, evaluator_config)
        self.retries = int(retries)
        self.token = uuid.uuid4().hex[:12]
        self.cluster = None
        if address is None:
            # No dashboard, but the scheduler serves its HTTP routes anyway, on 8787 unless told
            # otherwise: a free port, so a second run on the machine does not warn "port in use".
            self.cluster = LocalCluster(n_workers=int(workers or os.cpu_count() or 1), threads_per_worker=1,
                                        processes=True, dashboard_address=None, host="127.0.0.1",
                                        scheduler_kwargs={"dashboard_address": ":0"},
                                        silence_logs=logging.ERROR)
        self.client = Client(self.cluster if address is None else address, set_as_default=False)
        self._futures: dict[int, Any] = {}
        self._finalizer = weakref.finalize(self, _close, self.client, self.cluster)

    @property
    def capacity(self) -> int:
        """Worker threads the scheduler knows now (at least 1)."""
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, key: int, request: EvalRequest) -> None:
        """Send ``request`` to the cluster as task ``zeroevo-<token>-<key>``."""
        dispatch.check_new(key, self._futures)
        self._futures[key] = self.client.submit(
            _dask_evaluate, self.evaluator_name, self.evaluator_config, request,
            key=f"zeroevo-{self.token}-{key}", pure=False, retries=self.retries)

    def done(self) -> list[tuple[int, EvalResult]]:
        """Successful results finished since the last call (errors wait for :meth:`wait`)."""
        out = [(k, f) for k, f in self._futures.items() if f.status == "finished"]
        for k, _ in out:
            del self._futures[k]
        return [(k, f.result()) for k, f in out]

    def wait(self, key: int) -> EvalResult:
        """Block until ``key`` is evaluated; raise its error if the evaluator raised."""
        from dask.distributed import KilledWorker

        future = self._futures.pop(key, None)
        if future is None:
            raise KeyError(f"birth {key} was not submitted or was already collected")
        try:
            return future.result()
        except KilledWorker as exc:
            return dispatch.died_result(key, f"dask: {exc}")
        finally:
            future.release()

    def close(self) -> None:
        """Cancel outstanding tasks, close the client and the owned local cluster."""
        if self._futures and self.client.status == "running":
            self.client.cancel(list(self._futures.values()))
        self._futures.clear()
        self._finalizer()
