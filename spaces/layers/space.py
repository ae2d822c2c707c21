"""The layer search space: its config, random genomes, mutation, codec, rendering and building.

:class:`LayerSpace` is a frozen record of the space's config (allowed ops, hyperparameter
choices, size bounds, mutations) that implements ``zeroevo.core.protocols.SearchSpace`` plus
:meth:`LayerSpace.build`, which turns a genome into a torch module.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from zeroevo.core.errors import ConfigError, GenomeError
from zeroevo.spaces.layers import codec, mutators
from zeroevo.spaces.layers.genome import (
    LAYER_TYPES,
    NETWORK_INPUT,
    OPS,
    Layer,
    LayerGenome,
    param_names,
    render,
)

# Which config field lists the allowed values of each (op, hyperparameter).
_CHOICE_FIELDS: dict[tuple[str, str], str] = {
    ("conv", "filters"): "conv_filters",
    ("conv", "kernel"): "conv_kernels",
    ("conv", "stride"): "conv_strides",
    ("residual", "kernel"): "conv_kernels",
    ("maxpool", "kernel"): "pool_kernels",
    ("maxpool", "stride"): "pool_strides",
    ("avgpool", "kernel"): "pool_kernels",
    ("avgpool", "stride"): "pool_strides",
    ("dense", "units"): "dense_units",
    ("activation", "fn"): "activations",
    ("dropout", "rate"): "dropout_rates",
}
ACTIVATION_NAMES = ("relu", "tanh", "gelu", "sigmoid", "elu", "silu", "leaky_relu")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _fail(name: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"layers space: {name} = {value!r} is invalid; allowed: {allowed}")


def _build_shape(input_shape: Sequence[int], num_classes: int, width: float) -> tuple:
    """``input_shape`` as a tuple, after checking it, the class count and the width
    (``ConfigError`` naming the bad one): what building a network or a supernet needs."""
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(_is_int(v) and v >= 1 for v in shape):
        raise ConfigError(f"layers input_shape must be (channels, height, width) of positive ints, got {input_shape!r}")
    if not _is_int(num_classes) or num_classes < 1:
        raise ConfigError(f"layers num_classes must be an integer >= 1, got {num_classes!r}")
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0:
        raise ConfigError(f"layers width must be a number > 0, got {width!r}")
    return shape


@dataclass(frozen=True)
class LayerSpace:
    """Sequences of up to ``max_layers`` layers with skip inputs (see ``genome``'s rules).

    Config fields (all optional): ``min_layers``/``max_layers`` bound the genome length,
    ``initial_layers`` is the largest length of a random genome, ``max_inputs`` caps the
    inputs of one layer, ``ops`` and ``mutations`` list what may be used, ``initial_ops``
    the ops of random genomes (empty: ``ops``; a prior, as a human starts from convolutions),
    ``conv_block`` makes every conv a conv-BN-ReLU block (Real et al. 2017 apply batch norm
    and ReLU at every vertex; a bare conv chain is linear), and the remaining tuples list
    the choices of each hyperparameter (kernels must be odd; a residual block draws its
    kernel from ``conv_kernels``).

    ``reductions`` fixes where resolution is lost instead of leaving it to search (NASNet's
    skeleton of normal and reduction cells): a genome of ``n`` layers is cut into
    ``reductions + 1`` stages, layer ``i`` in stage ``i * (reductions + 1) // n``, and every
    stage works at half the resolution of the one before (a 3x3/2 max pool the space inserts
    on each path into a later stage). With the strides set to ``[1]`` search then chooses
    what happens at each resolution, not where it is lost; a proxy of few epochs on few
    images otherwise rewards early downsampling (``benchmarks/neural_quality.py``).
    """

    min_layers: int = 1
    max_layers: int = 12
    initial_layers: int | None = None  # None: min(3, max_layers), at least min_layers
    max_inputs: int = 3
    ops: tuple[str, ...] = OPS
    conv_filters: tuple[int, ...] = (8, 16, 32, 64)
    conv_kernels: tuple[int, ...] = (1, 3, 5)
    conv_strides: tuple[int, ...] = (1, 2)
    pool_kernels: tuple[int, ...] = (3,)
    pool_strides: tuple[int, ...] = (1, 2)
    dense_units: tuple[int, ...] = (32, 64, 128)
    activations: tuple[str, ...] = ("relu", "tanh", "gelu")
    dropout_rates: tuple[float, ...] = (0.1, 0.25, 0.5)
    mutations: tuple[str, ...] = mutators.MUTATIONS
    initial_ops: tuple[str, ...] = ()
    conv_block: bool = False
    reductions: int = 0
    name: ClassVar[str] = "layers"

    def __post_init__(self) -> None:
        if self.initial_layers is None and _is_int(self.max_layers) and _is_int(self.min_layers):
            object.__setattr__(self, "initial_layers", max(self.min_layers, min(3, self.max_layers)))
        for key in ("min_layers", "max_layers", "initial_layers", "max_inputs"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                _fail(key, value, "an integer >= 1")
        if self.max_layers < self.min_layers:
            _fail("max_layers", self.max_layers, f"an integer >= min_layers ({self.min_layers})")
        if not self.min_layers <= self.initial_layers <= self.max_layers:
            _fail("initial_layers", self.initial_layers, "an integer in [min_layers, max_layers]")
        self._check_names("ops", OPS)
        if self.initial_ops:
            self._check_names("initial_ops", self.ops)
        if not isinstance(self.conv_block, bool):
            _fail("conv_block", self.conv_block, "true or false")
        if not _is_int(self.reductions) or self.reductions < 0:
            _fail("reductions", self.reductions, "an integer >= 0")
        self._check_names("mutations", mutators.MUTATIONS)
        self._check_names("activations", ACTIVATION_NAMES)
        for key in ("conv_filters", "conv_kernels", "conv_strides", "pool_kernels",
                    "pool_strides", "dense_units"):
            values = getattr(self, key)
            if not isinstance(values, tuple) or not values or any(
                isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values
            ):
                _fail(key, values, "a non-empty list of integers >= 1")
        for key in ("conv_kernels", "pool_kernels"):
            if any(k % 2 == 0 for k in getattr(self, key)):
                _fail(key, getattr(self, key), "odd kernel sizes (same padding needs them)")
        rates = self.dropout_rates
        if not isinstance(rates, tuple) or not rates or any(
            isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 <= r < 1 for r in rates
        ):
            _fail("dropout_rates", rates, "a non-empty list of numbers in [0, 1)")
        # Rates are floats everywhere (genome, JSON) so 0 and 0.0 are one value.
        object.__setattr__(self, "dropout_rates", tuple(float(r) for r in rates))

    def _check_names(self, key: str, known: tuple[str, ...]) -> None:
        values = getattr(self, key)
        if not isinstance(values, tuple) or not values or any(v not in known for v in values):
            _fail(key, values, f"a non-empty list drawn from {', '.join(known)}")

    @classmethod
    def from_config(cls, config: dict) -> "LayerSpace":
        """The space of a plain config dict (lists become tuples; unknown keys are refused)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ConfigError(
                f"layers space: unknown config field {unknown[0]!r}; allowed: {', '.join(sorted(known))}"
            )
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})

    def config(self) -> dict:
        """The plain config dict that :meth:`from_config` turns back into this space."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    # -- genome pieces ---------------------------------------------------------------------
    def choices(self, op: str, param: str) -> tuple:
        """The allowed values of hyperparameter ``param`` of ``op``."""
        return getattr(self, _CHOICE_FIELDS[(op, param)])

    def random_layer(
        self, rng: np.random.Generator, inputs: tuple[int, ...], op: str | None = None,
        keep: dict | None = None,
    ) -> Layer:
        """A layer of ``op`` (random if None) with random hyperparameters, reading ``inputs``.

        Hyperparameters named in ``keep`` whose value is allowed for ``op`` are kept (so a
        max pool altered to an average pool keeps its kernel and stride).
        """
        if op is None:
            op = self.ops[int(rng.integers(len(self.ops)))]
        params = {}
        for param in param_names(op):
            options = self.choices(op, param)
            if keep is not None and keep.get(param) in options:
                params[param] = keep[param]
            else:
                params[param] = options[int(rng.integers(len(options)))]
        return LAYER_TYPES[op](**params, inputs=inputs)

    # -- SearchSpace protocol --------------------------------------------------------------
    def random(self, rng: np.random.Generator) -> LayerGenome:
        """A chain of ``min_layers``..``initial_layers`` random layers (of ``initial_ops``),
        each reading the previous."""
        n = int(rng.integers(self.min_layers, self.initial_layers + 1))
        pick = self.initial_ops  # empty: random_layer draws from ops (the draws of older runs)

        def op() -> str | None:
            return pick[int(rng.integers(len(pick)))] if pick else None
        return LayerGenome(tuple(self.random_layer(rng, (i - 1,) if i else (), op()) for i in range(n)))

    def mutate(self, genome: LayerGenome, rng: np.random.Generator) -> tuple[LayerGenome, str]:
        """A mutated copy of ``genome`` and the mutation applied (drawn from ``mutations``)."""
        name = self.mutations[int(rng.integers(len(self.mutations)))]
        return self.mutate_with(genome, name, rng)

    def mutate_with(
        self, genome: LayerGenome, name: str, rng: np.random.Generator
    ) -> tuple[LayerGenome, str]:
        """Apply mutation ``name``; if it does not apply, the next applicable one in order.

        The fallback walks ``mutations`` cyclically from ``name`` (then ``identity``), so it
        is deterministic and always ends with a valid genome.
        """
        if name not in mutators.MUTATORS:
            raise ConfigError(f"unknown mutation {name!r}; allowed: {', '.join(mutators.MUTATIONS)}")
        order = list(self.mutations)
        start = order.index(name) if name in order else 0
        candidates = [name] + order[start:] + order[:start] + ["identity"]
        for candidate in candidates:
            child = mutators.MUTATORS[candidate](genome, self, rng)
            if child is not None:
                return child, candidate
        raise AssertionError("identity always applies")

    def encode(self, genome: LayerGenome) -> dict:
        """JSON-able ``{"layers": [{"op": ..., params..., "inputs": [...]}, ...]}``."""
        return codec.encode(genome)

    def decode(self, data: dict) -> LayerGenome:
        """The genome ``data`` describes; ``GenomeError`` if malformed or outside this space."""
        return codec.decode(data, self)

    def render(self, genome: LayerGenome) -> str:
        """One line per layer with its inputs (and its stage with ``reductions``), then the head."""
        lines = render(genome).split("\n")
        if self.reductions:
            lines[:-1] = [f"{line}  [stage {s}]" for line, s in zip(lines, self.stages(genome))]
        return "\n".join(lines)

    def validate(self, genome: LayerGenome) -> LayerGenome:
        """``genome`` in canonical form if it belongs to this space, else ``GenomeError``."""
        if not isinstance(genome, LayerGenome):
            raise GenomeError(f"expected a LayerGenome, got {type(genome).__name__}")
        return codec.decode(codec.encode(genome), self)

    # -- building --------------------------------------------------------------------------
    def stages(self, genome: LayerGenome) -> tuple[int, ...]:
        """The stage of each layer of ``genome`` (all 0 unless ``reductions`` is set)."""
        n = len(genome)
        return tuple(i * (self.reductions + 1) // n for i in range(n))

    def describe(
        self, genome: LayerGenome, input_shape: tuple[int, int, int], num_classes: int,
        width: float = 1.0,
    ) -> dict:
        """The plain-data network description ``torch_layers.build_network`` builds.

        ``width`` scales conv filters and dense units (at least one each); with
        ``reductions``, max-pool nodes bring each input down to its reader's stage. The genome is
        validated first (``GenomeError``), as are the shape and class count (``ConfigError``).
        """
        genome = self.validate(genome)
        shape = _build_shape(input_shape, num_classes, width)
        stage = self.stages(genome)
        nodes: list[dict] = []
        # (genome source, stage) -> its description index; a layer enters at its own stage
        at: dict[tuple[int, int], int] = {(NETWORK_INPUT, 0): NETWORK_INPUT}

        def source(j: int, s: int) -> int:
            """The description index of genome source ``j`` brought down to stage ``s``."""
            if (j, s) not in at:  # one pool below the stage above, shared by every reader
                nodes.append({"op": "maxpool", "kernel": 3, "stride": 2, "inputs": [source(j, s - 1)]})
                at[(j, s)] = len(nodes) - 1
            return at[(j, s)]

        for i, layer in enumerate(genome.layers):
            node = {"op": layer.op, **{k: v for k, v in codec.params_json(layer).items()}}
            if self.conv_block and layer.op == "conv":
                node["block"] = True
            for key in ("filters", "units"):
                if key in node:
                    node[key] = max(1, int(round(node[key] * width)))
            node["inputs"] = [source(j, stage[i]) for j in genome.sources(i)]
            nodes.append(node)
            at[(i, stage[i])] = len(nodes) - 1
        return {
            "input_shape": [int(s) for s in shape],
            "num_classes": int(num_classes),
            "nodes": nodes,
            "outputs": [at[(i, stage[i])] for i in genome.outputs()],
        }

    def build(
        self, genome: LayerGenome, input_shape: tuple[int, int, int], num_classes: int,
        width: float = 1.0,
    ) -> Any:
        """The ``torch.nn.Module`` of ``genome`` for images of ``input_shape`` (C, H, W)."""
        from zeroevo.primitives.neural.layers import build_network

        return build_network(self.describe(genome, input_shape, num_classes, width))

    def check_supernet(self) -> None:
        """``ConfigError`` if this space has no supernet (a staged space: positions have no
        fixed stage); cheap, so a run checks it before its folder exists."""
        if self.reductions:
            raise ConfigError("evaluation.strategy = 'one_shot' needs space.options.reductions = 0 (the "
                              "supernet's positions have no fixed stages); allowed: reductions = 0 or strategy 'train'")

    def build_supernet(
        self, input_shape: tuple[int, int, int], num_classes: int, width: float = 1.0,
    ) -> Any:
        """The weight-sharing supernet of every genome of this space (single-path one-shot).

        ``supernet(x, self.encode(genome))`` runs one genome's network (a path) on the shared
        weights, and ``supernet.standalone_state(self.encode(genome))`` is a state dict for
        ``self.build(genome, input_shape, num_classes, width)``, which then computes the
        same function. Its size grows with ``max_layers`` and ``max_inputs``: a position
        holds weights for the most channels any path can feed it (see
        ``zeroevo.primitives.neural.supernet_layers``).
        """
        from zeroevo.primitives.neural.supernet_layers import LayerSupernet

        self.check_supernet()
        shape = _build_shape(input_shape, num_classes, width)
        choices = {key: getattr(self, key) for key in (
            "conv_filters", "conv_kernels", "conv_strides", "pool_kernels", "pool_strides",
            "dense_units", "activations", "dropout_rates")}
        return LayerSupernet(
            input_shape=[int(v) for v in shape], num_classes=int(num_classes),
            max_layers=self.max_layers, max_inputs=self.max_inputs, ops=self.ops,
            width=float(width), conv_block=self.conv_block, **choices,
        )
