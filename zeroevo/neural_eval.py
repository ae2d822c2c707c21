"""Neural evaluation: decode a genome, build its network, train it, report; and export.

:class:`NeuralEvaluator` is the ``Evaluator`` of every neural search space. It is rebuilt in
each worker from a plain config dict::

    {"space": "layers", "space_config": {...},        # any registered space with build()
     "dataset": "fashion_mnist", "data_path": None,   # zeroevo.datasets.load_image_dataset
     "fidelity": {...}, "limits": {...},              # zeroevo.fidelity.Fidelity / Limits
     "device": None}                                   # None: CUDA when present, else CPU

and loads its data set once, on first use. A request's ``budget`` may override fields of
the fidelity or the limits (multi-fidelity searches); ``parent_state`` may carry inherited
weights as :func:`state_to_bytes` bytes (an ``.npz`` archive, never a pickle).

:func:`export_network` writes a trained network as a standalone ``network.py`` plus
``weights.npz``. It works for any space whose ``build`` returns a module that keeps its
constructor arguments as plain data in ``spec`` (``type(net)(**net.spec)`` rebuilds it) and
whose class lives in a self-contained module (imports only torch and the standard library),
as ``primitives.torch_layers.DagNetwork`` and ``primitives.torch_cells.NasnetNetwork`` do.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import io
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np

import zeroevo
from zeroevo.errors import ConfigError, GenomeError
from zeroevo.fidelity import Fidelity, Limits
from zeroevo.protocols import STATUS_FAILED, EvalRequest, EvalResult
from zeroevo.registry import make_space, register_evaluator
from zeroevo.trainer import TrainOutcome, train_model

_CONFIG_FIELDS = ("space", "space_config", "dataset", "data_path", "fidelity", "limits", "device")


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
        self._data = data

    @property
    def data(self) -> Any:
        """The data set, loaded on first use and kept (one load per evaluator)."""
        if self._data is None:
            from zeroevo.datasets import load_image_dataset

            self._data = load_image_dataset(self.dataset, self.data_path)
        return self._data

    def _budgeted(self, budget: dict) -> tuple[Fidelity, Limits]:
        fidelity_names = {f.name for f in dataclasses.fields(Fidelity)}
        limit_names = {f.name for f in dataclasses.fields(Limits)}
        unknown = sorted(set(budget) - fidelity_names - limit_names)
        if unknown:
            allowed = ", ".join(sorted(fidelity_names | limit_names))
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
        return train_model(model, data, fidelity, request.seed, limits, tuple(request.hurdles),
                           init_state, self.device)

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


# -- export --------------------------------------------------------------------------------

_NETWORK_TEMPLATE = '''"""A standalone {cls} network exported by zeroevo {version} (search space {space!r}).

Needs only torch and numpy. The network takes float images [N, C, H, W] of shape
INPUT_SHAPE scaled to [0, 1] (uint8 pixels / 255) and returns NUM_CLASSES logits:

    import network
    net = network.load()      # reads weights.npz beside this file; eval mode
    logits = net(images)
"""
import json as _json
from pathlib import Path as _Path

import numpy as _np
import torch

# ---- source of {module}, embedded verbatim ----
{source}
# ---- the exported network ----
GENOME = _json.loads({genome!r})
SPEC = _json.loads({spec!r})
INPUT_SHAPE = {input_shape!r}
NUM_CLASSES = {num_classes!r}


def build():
    """The network with fresh (untrained) weights."""
    return {cls}(**SPEC)


def load(weights=None, device="cpu"):
    """The trained network from ``weights`` (default: weights.npz beside this file), in eval mode."""
    path = _Path(weights) if weights is not None else _Path(__file__).with_name("weights.npz")
    net = build()
    with _np.load(path, allow_pickle=False) as arrays:
        net.load_state_dict({{k: torch.from_numpy(arrays[k]) for k in arrays.files}})
    return net.to(device).eval()
'''


def _standalone_source(module_name: str) -> str:
    module = sys.modules[module_name]
    source = inspect.getsource(module)
    for node in ast.walk(ast.parse(source)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        if any(n == "zeroevo" or n.startswith("zeroevo.") or n == "__future__" for n in names):
            raise TypeError(
                f"{module_name} cannot be embedded: it imports {names[0]} (allowed: torch and the standard library)"
            )
        if isinstance(node, ast.ImportFrom) and node.level:
            raise TypeError(f"{module_name} cannot be embedded: it has a relative import")
    return source


def _write_atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _load_exported(path: Path) -> Any:
    name = f"_zeroevo_exported_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing look a class's module up here
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def export_network(
    space: Any,
    genome: Any,
    state: dict[str, np.ndarray],
    input_shape: tuple[int, int, int],
    num_classes: int,
    out_dir: str | os.PathLike,
    width: float = 1.0,
) -> Path:
    """Write ``network.py`` and ``weights.npz`` for a trained genome into ``out_dir``.

    The network file embeds the source of the module defining the built network's class,
    the JSON genome and the network's ``spec``; the weights are a plain ``.npz``. The export
    is verified: loading it must reproduce the original's outputs on a random batch, else
    ``RuntimeError``. Returns the path of ``network.py``.
    """
    import torch

    model = space.build(genome, tuple(input_shape), num_classes, width)
    net_spec = getattr(model, "spec", None)
    if not isinstance(net_spec, dict):
        raise TypeError(f"{type(model).__name__} has no plain-data 'spec'; it cannot be exported")
    model.load_state_dict({k: torch.as_tensor(np.array(v)) for k, v in state.items()})
    cls = type(model)
    text = _NETWORK_TEMPLATE.format(
        cls=cls.__name__, version=zeroevo.__version__, space=getattr(space, "name", "?"),
        module=cls.__module__, source=_standalone_source(cls.__module__).rstrip() + "\n\n",
        genome=json.dumps(space.encode(genome)), spec=json.dumps(net_spec),
        input_shape=tuple(int(s) for s in input_shape), num_classes=int(num_classes),
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    network_path, weights_path = out / "network.py", out / "weights.npz"
    _write_atomic(network_path, lambda h: h.write(text.encode()))
    _write_atomic(weights_path, lambda h: np.savez(h, **{k: np.asarray(v) for k, v in state.items()}))

    exported = _load_exported(network_path).load(weights_path)
    batch = torch.rand(4, *input_shape, generator=torch.Generator().manual_seed(0))
    model = model.cpu().eval()
    with torch.no_grad():
        diff = (model(batch) - exported(batch)).abs().max().item()
    if not diff <= 1e-5:
        raise RuntimeError(f"exported network differs from the original by {diff:g} on a random batch")
    return network_path
