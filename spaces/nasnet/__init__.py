"""NASNet cell search space (Zoph et al. 2018) with AmoebaNet mutations (Real et al. 2019).

Importing this package registers the space as ``"nasnet"`` in :mod:`zeroevo.core.registry`.
Modules: ``genome`` (records, validation, codec), ``mutators`` (hidden-state / op /
identity), ``render`` (text and PNG), ``space`` (:class:`NasnetSpace`). The torch modules
live in :mod:`zeroevo.primitives.neural.cells` and are imported only by ``build``.
"""
from __future__ import annotations

from zeroevo.core.errors import ConfigError
from zeroevo.core.registry import register_space
from zeroevo.spaces.nasnet.genome import CELL_NAMES, NASNET_OPS, Block, Cell, Genome
from zeroevo.spaces.nasnet.mutators import MUTATIONS
from zeroevo.spaces.nasnet.space import CONFIG_KEYS, NasnetSpace

__all__ = ["Block", "Cell", "Genome", "NasnetSpace", "NASNET_OPS", "CELL_NAMES", "MUTATIONS", "make_space"]


def make_space(config: dict) -> NasnetSpace:
    """``NasnetSpace(**config)``, refusing unknown keys with a ``ConfigError`` (not a TypeError)."""
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ConfigError(f"nasnet has no config field {unknown[0]!r}; allowed: {', '.join(CONFIG_KEYS)}")
    return NasnetSpace(**config)


register_space("nasnet", make_space)
