"""Neural evaluation: decode a genome, build its network, train it, report.

:class:`NeuralEvaluator` is the ``Evaluator`` of every neural search space. It is rebuilt in
each worker from a plain config dict::

    {"space": "layers", "space_config": {...},        # any registered space with build()
     "dataset": "fashion_mnist", "data_path": None,   # zeroevo.data.images.load_image_dataset
     "fidelity": {...}, "limits": {...},              # zeroevo.neural.fidelity.Fidelity / Limits
     "device": None}                                   # None: CUDA when present, else CPU

and loads its data set once, on first use. A request's ``budget`` may override fields of
the fidelity or the limits (multi-fidelity searches, the final stage), and ``test: true``
asks for the test split's accuracy too (``metrics["test_accuracy"]``; only the final stage
does, after choosing); ``parent_state`` may carry inherited
weights as :func:`state_to_bytes` bytes (an ``.npz`` archive, never a pickle).

A trained network is written out by :mod:`zeroevo.neural.export`.
"""
from __future__ import annotations

import dataclasses
import io
from typing import Any

import numpy as np

from zeroevo.core.errors import ConfigError, GenomeError
from zeroevo.core.protocols import STATUS_FAILED, EvalRequest, EvalResult
from zeroevo.core.registry import make_space, register_evaluator
from zeroevo.neural.fidelity import Fidelity, Limits
from zeroevo.neural.trainer import TrainOutcome, train_model

_CONFIG_FIELDS = ("space", "space_config", "dataset", "data_path", "fidelity", "limits", "device", "objectives")
# Metrics key of each neural cost kind ([objectives] cost).
COST_METRICS = {"params": "params", "flops": "flops", "latency": "latency_ms", "latency_batch": "latency_batch_ms",
                "table_latency": "table_latency_ms"}


def state_to_bytes(state: dict[str, np.ndarray]) -> bytes:
    """Weights as the bytes of an uncompressed ``.npz`` archive (what ``parent_state`` carries)."""
    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v) for k, v in state.items()})
    return buffer.getvalue()


def state_from_bytes(data: bytes) -> dict[str, np.ndarray]:
    """The weights in :func:`state_to_bytes` bytes (pickled objects are refused)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}


class NeuralEvaluator:
    """Trains candidates of a neural search space on an image data set (see module docs).

    ``data`` (an ``ImageData``) replaces loading ``dataset`` from disk, for tests and for
    in-process use; workers rebuilt from the config alone load it themselves.
    """

    def __init__(self, config: dict, data: Any = None) -> None:
        config = dict(config or {})
        unknown = sorted(set(config) - set(_CONFIG_FIELDS))
        if unknown:
            raise ConfigError(f"unknown neural evaluator field {unknown[0]!r}; allowed: {', '.join(_CONFIG_FIELDS)}")
        self.space_name = config.get("space", "layers")
        self.space = make_space(self.space_name, config.get("space_config") or {})
        if not callable(getattr(self.space, "build", None)):
            raise ConfigError(f"search space {self.space_name!r} has no build(); it is not a neural space")
        self.dataset = config.get("dataset")
        self.data_path = config.get("data_path")
        if data is None and not isinstance(self.dataset, str):
            raise ConfigError("neural evaluator needs 'dataset': one of fashion_mnist, mnist, cifar10, digits")
        self.fidelity = Fidelity.from_dict(config.get("fidelity"))
        self.limits = Limits.from_dict(config.get("limits"))
        self.device = config.get("device")
        # {"cost": kind or "", "mode": ..., "limit": ..., "table": {layer key: ms} or None}
        self.objectives = dict(config.get("objectives") or {})
        self._data = data

    @property
    def data(self) -> Any:
        """The data set, loaded on first use and kept (one load per evaluator)."""
        if self._data is None:
            from zeroevo.data.images import load_image_dataset

            self._data = load_image_dataset(self.dataset, self.data_path)
        return self._data

    def _budgeted(self, budget: dict) -> tuple[Fidelity, Limits]:
        fidelity_names = {f.name for f in dataclasses.fields(Fidelity)}
        limit_names = {f.name for f in dataclasses.fields(Limits)}
        unknown = sorted(set(budget) - fidelity_names - limit_names - {"test"})
        if unknown:
            allowed = ", ".join(sorted(fidelity_names | limit_names | {"test"}))
            raise ConfigError(f"unknown budget field {unknown[0]!r}; allowed: {allowed}")
        fidelity = dataclasses.replace(self.fidelity, **{k: v for k, v in budget.items() if k in fidelity_names})
        limits = dataclasses.replace(self.limits, **{k: v for k, v in budget.items() if k in limit_names})
        return fidelity, limits

    def train(self, request: EvalRequest) -> TrainOutcome:
        """Decode, build and train the requested genome; the outcome keeps the trained weights.

        A malformed genome raises ``GenomeError`` and a request for another space raises
        ``ConfigError``; everything that goes wrong with the candidate itself is a failed
        outcome.
        """
        if request.space != self.space_name:
            raise ConfigError(f"request for space {request.space!r} sent to an evaluator of {self.space_name!r}")
        genome = self.space.decode(request.genome)
        fidelity, limits = self._budgeted(dict(request.budget or {}))
        init_state = state_from_bytes(request.parent_state) if request.parent_state else None
        data = self.data
        input_shape = tuple(int(s) for s in np.shape(data.x_train)[1:])
        try:
            model = self.space.build(genome, input_shape, len(data.classes), fidelity.width)
        except (GenomeError, ConfigError):
            raise
        except Exception as exc:  # a space that cannot build a genome fails that candidate only
            return TrainOutcome(0.0, STATUS_FAILED, f"build failed: {type(exc).__name__}: {str(exc)[:160]}")
        costs = self.costs(model, input_shape, fidelity)
        over = self.over_limit(costs)
        if over:  # a hard cost limit known before training: not trained at all
            return TrainOutcome(0.0, STATUS_FAILED, over, costs)
        outcome = train_model(model, data, fidelity, request.seed, limits, tuple(request.hurdles),
                              init_state, self.device, test=bool((request.budget or {}).get("test")))
        outcome.metrics.update(costs)
        return outcome

    def costs(self, model: Any, input_shape: tuple[int, ...], fidelity: Fidelity) -> dict:
        """Parameters, FLOPs, latency at batch 1 and at the training batch (this device), and
        the table's latency when there is a table: every birth records them; ``cost`` is the
        one ``[objectives]`` uses (0 when none)."""
        import torch

        from zeroevo.neural.latency import measure_latency, predict_latency
        from zeroevo.neural.trainer import count_flops, count_params

        dev = torch.device(self.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        out: dict[str, Any] = {"params": count_params(model), "flops": count_flops(model.cpu(), input_shape)}
        model.to(dev)
        out["latency_ms"] = measure_latency(model, input_shape, 1, dev, fidelity.threads)
        out["latency_batch_ms"] = measure_latency(model, input_shape, fidelity.batch_size, dev, fidelity.threads, 3)
        if self.objectives.get("table"):
            out["table_latency_ms"] = predict_latency(model.cpu(), input_shape, self.objectives["table"])
        kind = self.objectives.get("cost") or ""
        out["cost"] = float(out.get(COST_METRICS[kind]) or 0.0) if kind else 0.0
        return out

    def static_cost(self, encoded: dict, kind: str) -> float:
        """``params`` or ``flops`` of an encoded genome, counted without training it (inf if
        it does not build): what a Pareto search screens children by."""
        import torch

        from zeroevo.neural.trainer import count_flops, count_params

        input_shape = tuple(int(s) for s in np.shape(self.data.x_train)[1:])
        with torch.random.fork_rng(devices=[]):  # building draws initial weights: leave no trace
            try:
                model = self.space.build(self.space.decode(encoded), input_shape, len(self.data.classes),
                                         self.fidelity.width)
            except Exception:  # noqa: BLE001 (a child that cannot build is never chosen for its cost)
                return float("inf")
            return float(count_params(model) if kind == "params" else count_flops(model, input_shape))

    def over_limit(self, costs: dict) -> str:
        """Why ``costs`` break the ``[objectives]`` hard limit ('' when they do not)."""
        if self.objectives.get("mode") != "limit":
            return ""
        kind, limit = self.objectives.get("cost") or "params", float(self.objectives["limit"])
        value = costs.get(COST_METRICS[kind])
        if value is None:
            return f"{kind} unknown (the latency table lacks a layer of this network)"
        return f"{kind} {value:g} over the limit {limit:g}" if value > limit else ""

    def evaluate(self, request: EvalRequest) -> EvalResult:
        """The fitness (validation accuracy), status, metrics and epochs of the request."""
        outcome = self.train(request)
        return EvalResult(
            fitness=float(outcome.fitness),
            status=int(outcome.status),
            metrics=dict(outcome.metrics),
            steps=int(outcome.metrics.get("epochs_done", 0)),
            reason=outcome.reason,
            state=state_to_bytes(outcome.state) if request.keep_state and outcome.state else None,
        )


register_evaluator("neural", NeuralEvaluator)
