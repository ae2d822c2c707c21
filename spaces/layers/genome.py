"""Layer genomes: a sequence of layers, each reading the outputs of earlier layers.

A :class:`LayerGenome` is a tuple of layer records (one frozen dataclass per op). Every layer
carries ``inputs``, a strictly increasing tuple of indices of earlier layers, where ``-1`` is
the network input. The network the genome describes follows these rules:

- a layer with no inputs (``inputs == ()``) reads the network input; ``(-1,)`` alone is
  written as ``()`` so each network has one spelling;
- a layer with several inputs reads their concatenation along channels, each map first
  zero-padded (centred) to the largest height and width among them;
- the outputs of layers that no later layer reads are concatenated the same way, globally
  average-pooled and fed to a linear classifier head;
- a dense layer on a spatial input global-average-pools it (see ``primitives.neural.layers``);
- a residual layer is ResNet's basic block at the width of its (merged) input: two convs with
  batch norm, added to the input, so a genome can express a ResNet as well as a plain CNN.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Protocol, Union

import numpy as np

NETWORK_INPUT = -1


@dataclass(frozen=True)
class Conv:
    """A convolution: ``filters`` output channels, odd ``kernel`` with same padding, ``stride``."""

    filters: int = 16
    kernel: int = 3
    stride: int = 1
    inputs: tuple[int, ...] = ()
    op: ClassVar[str] = "conv"


@dataclass(frozen=True)
class Residual:
    """ResNet's basic block: ``relu(x + bn(conv(relu(bn(conv(x))))))``, odd ``kernel``; it keeps
    its input's channels and resolution (its width is its input's)."""

    kernel: int = 3
    inputs: tuple[int, ...] = ()
    op: ClassVar[str] = "residual"


@dataclass(frozen=True)
class MaxPool:
    """Max pooling over odd ``kernel`` windows (padded) with ``stride``."""

    kernel: int = 3
    stride: int = 2
    inputs: tuple[int, ...] = ()
    op: ClassVar[str] = "maxpool"


@dataclass(frozen=True)
class AvgPool:
    """Average pooling over odd ``kernel`` windows (padding not counted) with ``stride``."""

    kernel: int = 3
    stride: int = 2
    inputs: tuple[int, ...] = ()
    op: ClassVar[str] = "avgpool"


@dataclass(frozen=True)
class Dense:
    """A fully connected layer of ``units`` (global-average-pools a spatial input first)."""

    units: int = 64
    inputs: tuple[int, ...] = ()
    op: ClassVar[str] = "dense"


@dataclass(frozen=True)
class Activation:
    """An elementwise nonlinearity named ``fn`` (relu, tanh, gelu, ...)."""

    fn: str = "relu"
    inputs: tuple[int, ...] = ()
    op: ClassVar[str] = "activation"


@dataclass(frozen=True)
class BatchNorm:
    """Batch normalisation over channels."""

    inputs: tuple[int, ...] = ()
    op: ClassVar[str] = "batchnorm"


@dataclass(frozen=True)
class Dropout:
    """Elementwise dropout with probability ``rate`` (training only)."""

    rate: float = 0.25
    inputs: tuple[int, ...] = ()
    op: ClassVar[str] = "dropout"


Layer = Union[Conv, MaxPool, AvgPool, Dense, Activation, BatchNorm, Dropout, Residual]

LAYER_TYPES: dict[str, type] = {
    cls.op: cls for cls in (Conv, MaxPool, AvgPool, Dense, Activation, BatchNorm, Dropout, Residual)
}
OPS: tuple[str, ...] = tuple(LAYER_TYPES)


def param_names(op: str) -> tuple[str, ...]:
    """The hyperparameter names of ``op`` (its fields other than ``inputs``)."""
    return tuple(f.name for f in fields(LAYER_TYPES[op]) if f.name != "inputs")


def params_of(layer: Layer) -> dict[str, Any]:
    """The hyperparameters of ``layer`` by name."""
    return {name: getattr(layer, name) for name in param_names(layer.op)}


def canonical_inputs(inputs: tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """``inputs`` sorted without duplicates, with a lone network input written as ``()``."""
    out = tuple(sorted(set(int(j) for j in inputs)))
    return () if out == (NETWORK_INPUT,) else out


@dataclass(frozen=True)
class LayerGenome:
    """A network as a tuple of layers; see the module docstring for the rules."""

    layers: tuple[Layer, ...]

    def __len__(self) -> int:
        return len(self.layers)

    def sources(self, i: int) -> tuple[int, ...]:
        """The indices layer ``i`` reads (``-1`` = network input); never empty."""
        return self.layers[i].inputs or (NETWORK_INPUT,)

    def outputs(self) -> tuple[int, ...]:
        """Indices of layers whose output no later layer reads (they feed the head)."""
        consumed = {j for i in range(len(self.layers)) for j in self.sources(i)}
        return tuple(i for i in range(len(self.layers)) if i not in consumed)


def _describe_layer(layer: Layer) -> str:
    if isinstance(layer, Conv):
        return f"conv {layer.filters} {layer.kernel}x{layer.kernel}/{layer.stride}"
    if isinstance(layer, (MaxPool, AvgPool)):
        return f"{layer.op} {layer.kernel}x{layer.kernel}/{layer.stride}"
    if isinstance(layer, Residual):
        return f"residual {layer.kernel}x{layer.kernel}"
    if isinstance(layer, Dense):
        return f"dense {layer.units}"
    if isinstance(layer, Activation):
        return layer.fn
    if isinstance(layer, Dropout):
        return f"dropout {layer.rate:g}"
    return layer.op


def _name_source(j: int) -> str:
    return "input" if j == NETWORK_INPUT else str(j)


def render(genome: LayerGenome) -> str:
    """One line per layer (``index: op params <- sources``), then the head's inputs."""
    lines = [
        f"{i}: {_describe_layer(layer)} <- {', '.join(_name_source(j) for j in genome.sources(i))}"
        for i, layer in enumerate(genome.layers)
    ]
    outs = ", ".join(str(j) for j in genome.outputs())
    lines.append(f"head: concat({outs}) -> global avg pool -> linear")
    return "\n".join(lines)


class LayerRules(Protocol):
    """What the codec and the mutators need of a layer space (``LayerSpace`` is one)."""

    ops: tuple[str, ...]
    min_layers: int
    max_layers: int
    max_inputs: int

    def choices(self, op: str, param: str) -> tuple:
        """The allowed values of hyperparameter ``param`` of ``op``."""

    def random_layer(self, rng: np.random.Generator, inputs: tuple[int, ...], op: str | None = None,
                     keep: dict | None = None) -> Any:
        """A random layer of ``op`` (random if None) reading ``inputs``; ``keep`` fixes parameters."""
