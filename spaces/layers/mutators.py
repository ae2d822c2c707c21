"""The mutations of layer genomes; each returns a valid child, or None where it does not apply.

Every mutator has the signature ``(genome, space, rng) -> LayerGenome | None``. None means
"not applicable" (removing the only layer, inserting into a full genome, adding a skip where
every layer already reads all it may); :meth:`LayerSpace.mutate_with` then moves on to the
next mutation in a fixed order, so the fallback is deterministic. Children keep the genome
rules of ``genome.py`` (inputs canonical, earlier layers only, at most ``max_inputs``).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Optional

import numpy as np

from zeroevo.spaces.layers.genome import (
    NETWORK_INPUT,
    LayerGenome,
    LayerRules,
    canonical_inputs,
    param_names,
    params_of,
)

Mutator = Callable[[LayerGenome, LayerRules, np.random.Generator], Optional[LayerGenome]]


def _pick(rng: np.random.Generator, items: list):
    return items[int(rng.integers(len(items)))]


def insert(genome: LayerGenome, space: LayerRules, rng: np.random.Generator) -> LayerGenome | None:
    """Splice a random layer in at a random position: it reads what the previous layer
    produced (or the network input), and the next layer reads it instead of that."""
    n = len(genome)
    if n >= space.max_layers:
        return None
    p = int(rng.integers(n + 1))
    prev = p - 1  # NETWORK_INPUT when inserting in front
    new = space.random_layer(rng, canonical_inputs((prev,)))
    layers = []
    for i, layer in enumerate(genome.layers):
        srcs = [j + 1 if j >= p else j for j in genome.sources(i)]
        if i == p:
            srcs = [p if j == prev else j for j in srcs]
        layers.append(replace(layer, inputs=canonical_inputs(srcs)))
    layers.insert(p, new)
    return LayerGenome(tuple(layers))


def remove(genome: LayerGenome, space: LayerRules, rng: np.random.Generator) -> LayerGenome | None:
    """Remove a random layer; its readers read its inputs instead (keeping the most recent
    ``max_inputs`` sources when the merge would exceed the cap)."""
    n = len(genome)
    if n <= max(1, space.min_layers):
        return None
    r = int(rng.integers(n))
    bypass = genome.sources(r)
    layers = []
    for i, layer in enumerate(genome.layers):
        if i == r:
            continue
        srcs = list(genome.sources(i))
        if r in srcs:
            srcs = sorted(set([j for j in srcs if j != r] + list(bypass)))[-space.max_inputs:]
        layers.append(replace(layer, inputs=canonical_inputs([j - 1 if j > r else j for j in srcs])))
    return LayerGenome(tuple(layers))


def alter_op(genome: LayerGenome, space: LayerRules, rng: np.random.Generator) -> LayerGenome | None:
    """Replace a random layer's op by another allowed op, keeping its inputs and any
    hyperparameter the new op shares (new ones are drawn at random)."""
    if len(set(space.ops)) < 2:
        return None
    i = int(rng.integers(len(genome)))
    layer = genome.layers[i]
    op = _pick(rng, [o for o in space.ops if o != layer.op])
    new = space.random_layer(rng, layer.inputs, op, keep=params_of(layer))
    return LayerGenome(genome.layers[:i] + (new,) + genome.layers[i + 1:])


def alter_param(genome: LayerGenome, space: LayerRules, rng: np.random.Generator) -> LayerGenome | None:
    """Give one hyperparameter of one layer another of its allowed values."""
    candidates = [
        (i, name)
        for i, layer in enumerate(genome.layers)
        for name in param_names(layer.op)
        if len(space.choices(layer.op, name)) >= 2
    ]
    if not candidates:
        return None
    i, name = _pick(rng, candidates)
    layer = genome.layers[i]
    value = _pick(rng, [v for v in space.choices(layer.op, name) if v != getattr(layer, name)])
    return LayerGenome(genome.layers[:i] + (replace(layer, **{name: value}),) + genome.layers[i + 1:])


def add_skip(genome: LayerGenome, space: LayerRules, rng: np.random.Generator) -> LayerGenome | None:
    """Let a random layer also read an earlier layer (or the network input) it did not read."""
    candidates = [
        (i, j)
        for i in range(len(genome))
        if len(genome.sources(i)) < space.max_inputs
        for j in range(NETWORK_INPUT, i)
        if j not in genome.sources(i)
    ]
    if not candidates:
        return None
    i, j = _pick(rng, candidates)
    layer = genome.layers[i]
    new = replace(layer, inputs=canonical_inputs(genome.sources(i) + (j,)))
    return LayerGenome(genome.layers[:i] + (new,) + genome.layers[i + 1:])


def remove_skip(genome: LayerGenome, space: LayerRules, rng: np.random.Generator) -> LayerGenome | None:
    """Drop one input of a random layer that reads several (a layer never loses its last)."""
    candidates = [
        (i, j) for i in range(len(genome)) if len(genome.sources(i)) >= 2 for j in genome.sources(i)
    ]
    if not candidates:
        return None
    i, j = _pick(rng, candidates)
    layer = genome.layers[i]
    new = replace(layer, inputs=canonical_inputs([s for s in genome.sources(i) if s != j]))
    return LayerGenome(genome.layers[:i] + (new,) + genome.layers[i + 1:])


def identity(genome: LayerGenome, space: LayerRules, rng: np.random.Generator) -> LayerGenome:
    """The genome unchanged (AmoebaNet's identity mutation: retrain the same network)."""
    return genome


MUTATORS: dict[str, Mutator] = {
    "insert": insert,
    "remove": remove,
    "alter_op": alter_op,
    "alter_param": alter_param,
    "add_skip": add_skip,
    "remove_skip": remove_skip,
    "identity": identity,
}
MUTATIONS: tuple[str, ...] = tuple(MUTATORS)
