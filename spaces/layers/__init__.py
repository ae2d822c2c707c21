"""The layer search space: networks as sequences of layers with skip inputs.

Importing this package registers the space as ``"layers"`` in :mod:`zeroevo.core.registry`.
Genome records and rules live in :mod:`.genome`, mutations in :mod:`.mutators`, the JSON
codec in :mod:`.codec`, and :class:`LayerSpace` (config, protocol, building) in :mod:`.space`.
"""
from __future__ import annotations

from zeroevo.core.registry import register_space
from zeroevo.spaces.layers.genome import (
    LAYER_TYPES,
    NETWORK_INPUT,
    OPS,
    Activation,
    AvgPool,
    BatchNorm,
    Conv,
    Dense,
    Dropout,
    Layer,
    LayerGenome,
    MaxPool,
    Residual,
    render,
)
from zeroevo.spaces.layers.mutators import MUTATIONS
from zeroevo.spaces.layers.space import LayerSpace

__all__ = [
    "LAYER_TYPES", "MUTATIONS", "NETWORK_INPUT", "OPS", "Activation", "AvgPool", "BatchNorm",
    "Conv", "Dense", "Dropout", "Layer", "LayerGenome", "LayerSpace", "MaxPool", "Residual",
    "render",
]

register_space("layers", LayerSpace.from_config)
