"""Hierarchical search space (Liu et al. 2017, "Hierarchical Representations for Efficient
Architecture Search"): levels of motifs, each a small DAG whose edges are motifs of the level
below (primitive ops on level 2), the top level one cell stacked into a network.

Importing this package registers the space as ``"hierarchical"`` in
:mod:`zeroevo.core.registry`. Modules: ``genome`` (records, validity, random draws, codec),
``mutators`` (the paper's edge mutation, optional identity), ``render`` (text), ``space``
(:class:`HierarchicalSpace`). The torch modules live in
:mod:`zeroevo.primitives.neural.hierarchical` and are imported only by ``build``.
"""
from __future__ import annotations

from zeroevo.core.errors import ConfigError
from zeroevo.core.registry import register_space
from zeroevo.spaces.hierarchical.genome import NONE, PRIMITIVES, Genome, Motif, Shape
from zeroevo.spaces.hierarchical.mutators import MUTATIONS
from zeroevo.spaces.hierarchical.space import CONFIG_KEYS, HierarchicalSpace

__all__ = ["MUTATIONS", "NONE", "PRIMITIVES", "Genome", "HierarchicalSpace", "Motif", "Shape", "make_space"]


def make_space(config: dict) -> HierarchicalSpace:
    """``HierarchicalSpace(**config)``, refusing unknown keys with a ``ConfigError`` (not a TypeError)."""
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ConfigError(f"hierarchical has no config field {unknown[0]!r}; allowed: {', '.join(CONFIG_KEYS)}")
    return HierarchicalSpace(**config)


register_space("hierarchical", make_space)
