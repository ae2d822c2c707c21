"""How much training a neural candidate gets and the limits it must stay within.

:class:`Fidelity` and :class:`Limits` are the trainer's (:mod:`zeroevo.neural.trainer`) config
records: frozen, checked on construction, built from plain dicts by ``from_dict`` (a config
section or an evaluator config), with errors that name the field and the allowed values.
They need no torch, so a config loads without it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Callable

from zeroevo.core.errors import ConfigError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _validate(record: Any, rules: dict[str, tuple[Callable[[Any], bool], str]]) -> None:
    for name, (ok, allowed) in rules.items():
        if not ok(getattr(record, name)):
            kind = type(record).__name__
            raise ConfigError(f"{kind}.{name} = {getattr(record, name)!r} is invalid; allowed: {allowed}")


def _from_dict(cls: type, data: dict | None) -> Any:
    data = dict(data or {})
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} field {unknown[0]!r}; allowed: {', '.join(known)}")
    return cls(**data)


_INT_GE0, _INT_GE1, _NUM_GT0 = "an integer >= 0", "an integer >= 1", "a number > 0"
_FIDELITY_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {  # field: (check, what is allowed)
    "epochs": (lambda v: _is_int(v) and v >= 1, _INT_GE1),
    "train_subset": (lambda v: _is_int(v) and v >= 0, _INT_GE0 + " (0 = all)"),
    "valid_subset": (lambda v: _is_int(v) and v >= 1, _INT_GE1),
    "batch_size": (lambda v: _is_int(v) and v >= 2, "an integer >= 2"),
    "eval_batch_size": (lambda v: _is_int(v) and v >= 1, _INT_GE1),
    "threads": (lambda v: _is_int(v) and 1 <= v <= 1024, "an integer in 1..1024"),
    "split_seed": (lambda v: _is_int(v) and v >= 0, _INT_GE0),
    "lr": (lambda v: _is_num(v) and v > 0, _NUM_GT0), "width": (lambda v: _is_num(v) and v > 0, _NUM_GT0),
    "momentum": (lambda v: _is_num(v) and 0 <= v < 1, "a number in [0, 1)"),
    "weight_decay": (lambda v: _is_num(v) and v >= 0, "a number >= 0"),
    "augment": (lambda v: isinstance(v, bool), "true or false"),
    "precision": (lambda v: v in PRECISIONS, ", ".join(PRECISIONS)),
}
_LIMITS_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "max_params": (lambda v: v is None or (_is_int(v) and v >= 1), _INT_GE1 + " or none"),
    "max_seconds": (lambda v: v is None or (_is_num(v) and v > 0), _NUM_GT0 + " or none"),
}


@dataclass(frozen=True)
class Fidelity:
    """How much training a candidate gets; the defaults are a small CPU proxy.

    ``train_subset`` examples (0 = all not held out) train the model for ``epochs``;
    ``valid_subset`` other examples of the train split, fixed by ``split_seed`` for every
    candidate, measure it. SGD with ``momentum`` (Nesterov) and a per-step cosine schedule
    from ``lr`` to 0. ``width`` scales filters when a space builds the model. ``augment``
    adds random crops (and horizontal flips for 3-channel images). ``precision`` is the
    autocast type on CUDA (``auto``: bf16 where supported, else fp16); the CPU runs fp32.
    ``threads`` is torch's intra-op thread count during a training: float sums depend on it,
    so the trainer sets it for every training, in every dispatch mode, and the same seed
    gives the same weights whether a candidate trains in this process or in a worker.
    """

    epochs: int = 2
    train_subset: int = 2048
    valid_subset: int = 512
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    width: float = 1.0
    augment: bool = True
    split_seed: int = 0
    precision: str = "auto"
    eval_batch_size: int = 512
    threads: int = 1

    def __post_init__(self) -> None:
        _validate(self, _FIDELITY_RULES)

    @classmethod
    def from_dict(cls, data: dict | None) -> "Fidelity":
        """The fidelity of a plain dict; unknown fields raise ``ConfigError``."""
        return _from_dict(cls, data)


@dataclass(frozen=True)
class Limits:
    """Hard limits: a candidate over either fails (None = no limit)."""

    max_params: int | None = None
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        _validate(self, _LIMITS_RULES)

    @classmethod
    def from_dict(cls, data: dict | None) -> "Limits":
        """The limits of a plain dict; unknown fields raise ``ConfigError``."""
        return _from_dict(cls, data)
