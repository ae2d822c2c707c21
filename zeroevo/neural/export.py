"""A trained network as a standalone ``network.py`` plus ``weights.npz``, verified.

:func:`export_network` works for any space whose ``build`` returns a module that keeps its
constructor arguments as plain data in ``spec`` (``type(net)(**net.spec)`` rebuilds it) and
whose class lives in a self-contained module (imports only torch and the standard library),
as ``primitives.neural.layers.DagNetwork`` and ``primitives.neural.cells.NasnetNetwork`` do.
The exported file embeds that module's source, so it needs neither zeroevo nor its version.
"""
from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np

import zeroevo

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
