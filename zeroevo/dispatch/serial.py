"""In-process evaluation: :class:`SerialDispatcher`, the ``serial`` kind of dispatcher."""
from __future__ import annotations

from zeroevo.core.protocols import EvalRequest, EvalResult
from zeroevo.dispatch.base import DispatcherBase, check_new, evaluate_request


class SerialDispatcher(DispatcherBase):
    """Evaluates in this process, lazily: ``wait(key)`` runs the evaluation; ``done()`` is empty."""

    capacity = 1

    def __init__(self, evaluator_name: str, evaluator_config: dict | None = None) -> None:
        super().__init__(evaluator_name, evaluator_config)
        self._pending: dict[int, EvalRequest] = {}

    def submit(self, key: int, request: EvalRequest) -> None:
        """Remember ``request``; it is evaluated when ``wait(key)`` asks for it."""
        check_new(key, self._pending)
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
