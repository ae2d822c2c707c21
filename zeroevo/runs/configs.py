"""Configs of every run kind, by the ``kind`` a TOML file or a run directory names.

A file says ``kind = "neural"`` for an architecture search; without it, it is a program
search. :func:`from_dict` and :func:`load` are what the CLI, presets and run directories
use; each kind's class also loads itself (``Config.from_data``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from zeroevo.core.config import ConfigBase, check, merge, read_toml
from zeroevo.core.errors import ConfigError
from zeroevo.neural.config import NeuralConfig
from zeroevo.programs.config import Config

CONFIG_KINDS: dict[str, type[ConfigBase]] = {"program": Config, "neural": NeuralConfig}


def from_dict(data: dict, preset: str = "") -> Any:
    """A validated config of the kind ``data`` names (``kind``, default ``program``)."""
    if not isinstance(data, dict):
        raise ConfigError("a config must be a table of sections")
    kind = data.get("kind", "program")
    check(kind in CONFIG_KINDS, "kind", kind, " or ".join(repr(k) for k in CONFIG_KINDS))
    return CONFIG_KINDS[kind].from_data(data, preset)


def load(path: str | Path, base: dict | None = None,
         preset_data: Callable[[str], dict] | None = None) -> Any:
    """Read a TOML file; its sections override ``base`` (a preset's data) field by field.

    Without ``base``, a file's own ``preset = "NAME"`` line picks the base through
    ``preset_data`` (the file then only needs the fields it changes).
    """
    data = read_toml(path)
    if base is None and preset_data is not None:
        name = data.get("preset", "demo")
        if not isinstance(name, str):
            raise ConfigError(f"preset = {name!r} must be a preset name")
        base = preset_data(name)
    return from_dict(merge(base or {}, data))
