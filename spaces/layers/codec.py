"""Layer genomes to and from JSON-able dicts, with strict validation on the way in.

The encoding is ``{"layers": [{"op": "conv", "filters": 16, "kernel": 3, "stride": 1,
"inputs": [0]}, ...]}``: every hyperparameter of the op, and ``inputs`` (omitted or ``[]``
means the network input). Decoding refuses anything the space could not have produced: an
unknown or disallowed op, a missing, extra or mistyped field, a hyperparameter outside the
space's choices, an input that is not an earlier layer, or a length outside the bounds.
"""
from __future__ import annotations

from typing import Any

from zeroevo.core.errors import GenomeError
from zeroevo.spaces.layers.genome import (
    LAYER_TYPES,
    NETWORK_INPUT,
    Layer,
    LayerGenome,
    LayerRules,
    canonical_inputs,
    param_names,
    params_of,
)


def params_json(layer: Layer) -> dict[str, Any]:
    """The hyperparameters of ``layer`` as JSON scalars."""
    return {k: (float(v) if isinstance(v, float) else v) for k, v in params_of(layer).items()}


def encode(genome: LayerGenome) -> dict:
    """The JSON-able dict of ``genome``."""
    return {
        "layers": [
            {"op": layer.op, **params_json(layer), "inputs": list(layer.inputs)}
            for layer in genome.layers
        ]
    }


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _allowed(value: Any, options: tuple) -> bool:
    # bool is an int in Python: a JSON true must not pass as stride 1, nor 3.0 as kernel 3.
    if isinstance(value, bool):
        return False
    kind = type(options[0])
    if kind is str:
        ok_type = isinstance(value, str)
    elif kind is int:
        ok_type = _is_int(value)
    else:
        ok_type = isinstance(value, (int, float))
    return ok_type and value in options


def _decode_inputs(raw: Any, i: int, space: LayerRules) -> tuple[int, ...]:
    where = f"layer {i}"
    if not isinstance(raw, (list, tuple)) or not all(_is_int(j) for j in raw):
        raise GenomeError(f"{where}: inputs must be a list of integers, got {raw!r}")
    if any(not NETWORK_INPUT <= j < i for j in raw):
        raise GenomeError(f"{where}: inputs {list(raw)} out of range; allowed: -1 (network input) to {i - 1}")
    if list(raw) != sorted(set(raw)):
        raise GenomeError(f"{where}: inputs {list(raw)} must be strictly increasing")
    if len(raw) > space.max_inputs:
        raise GenomeError(f"{where}: {len(raw)} inputs; allowed: at most {space.max_inputs}")
    return canonical_inputs(raw)


def _decode_layer(raw: Any, i: int, space: LayerRules) -> Layer:
    where = f"layer {i}"
    if not isinstance(raw, dict):
        raise GenomeError(f"{where}: expected an object with 'op', got {type(raw).__name__}")
    op = raw.get("op")
    if op not in space.ops:
        raise GenomeError(f"{where}: op {op!r} not allowed; allowed: {', '.join(space.ops)}")
    names = param_names(op)
    extra = sorted(set(raw) - set(names) - {"op", "inputs"})
    if extra:
        raise GenomeError(f"{where}: unknown field {extra[0]!r} for {op}; allowed: {', '.join(names + ('inputs',))}")
    params = {}
    for name in names:
        if name not in raw:
            raise GenomeError(f"{where}: {op} needs field {name!r}")
        value, options = raw[name], space.choices(op, name)
        if not _allowed(value, options):
            raise GenomeError(
                f"{where}: {op} {name} = {value!r} not allowed; allowed: {', '.join(map(str, options))}"
            )
        params[name] = type(options[0])(value)
    inputs = _decode_inputs(raw.get("inputs", []), i, space)
    return LAYER_TYPES[op](**params, inputs=inputs)


def decode(data: Any, space: LayerRules) -> LayerGenome:
    """The genome described by ``data``; ``GenomeError`` naming the first problem found."""
    if not isinstance(data, dict) or set(data) != {"layers"}:
        raise GenomeError("layer genome: expected an object with exactly one field, 'layers'")
    raw_layers = data["layers"]
    if not isinstance(raw_layers, (list, tuple)):
        raise GenomeError(f"layer genome: 'layers' must be a list, got {type(raw_layers).__name__}")
    if not space.min_layers <= len(raw_layers) <= space.max_layers:
        raise GenomeError(
            f"layer genome: {len(raw_layers)} layers; allowed: {space.min_layers} to {space.max_layers}"
        )
    return LayerGenome(tuple(_decode_layer(raw, i, space) for i, raw in enumerate(raw_layers)))
