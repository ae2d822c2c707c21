"""The configuration machinery every run kind shares: documented sections, checks, TOML.

A run's configuration is one frozen dataclass of *sections* (frozen dataclasses of fields);
each field carries a one-line doc (``metadata["doc"]``, see :func:`doc`) that
:func:`to_toml` writes as a comment, so ``zeroevo presets show NAME`` prints a file to start
from. Loading (:meth:`ConfigBase.from_data`) rejects unknown sections and fields, wrong
types and out-of-range values with a :class:`~zeroevo.core.errors.ConfigError` that names
``section.field`` and what is allowed. The sections every kind shares (``[run]``,
``[dispatch]``) live here; the program kind's are in :mod:`zeroevo.programs.config`, the
neural kind's in :mod:`zeroevo.neural.config`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import tomllib

from zeroevo.core.errors import ConfigError


def doc(text: str, default: Any = dataclasses.MISSING, **kw: Any) -> Any:
    """A dataclass field with a documentation line."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"doc": text}, **kw)
    return field(default=default, metadata={"doc": text}, **kw)


@dataclass(frozen=True)
class RunConfig:
    """How long to search and when to stop."""

    seed: int = doc("root seed: every random decision derives from it", 1)
    max_births: int = doc("stop after this many births in all, screened ones included (0 = no limit)", 0)
    max_seconds: float = doc("stop after this many wall-clock seconds (0 = no limit)", 0.0)
    max_restarts: int = doc("stop after this many restarts (0 = no limit)", 0)
    max_train_steps: float = doc("stop after this many training steps in all restarts (0 = no limit)", 0.0)
    sufficient_fitness: float = doc("stop once a select fitness exceeds this (0 = never)", 0.9999)
    engine: str = doc("'chunk' (numba, fast) or 'python' (the reference loop; slow)", "chunk")
    chunk: int = doc("births per numba kernel call", 10000)
    snapshot_every: int = doc("births between snapshots in the run directory", 200000)

    def __post_init__(self) -> None:
        check(0 <= self.seed <= 2**64 - 1, "run.seed", self.seed, "an integer in 0..18446744073709551615")
        check(self.engine in ("chunk", "python"), "run.engine", self.engine, "'chunk' or 'python'")
        for name in ("max_births", "max_restarts"):
            check(getattr(self, name) >= 0, f"run.{name}", getattr(self, name), ">= 0")
        for name in ("max_seconds", "max_train_steps"):
            check(getattr(self, name) >= 0, f"run.{name}", getattr(self, name), ">= 0")
        check(0.0 <= self.sufficient_fitness <= 1.0, "run.sufficient_fitness", self.sufficient_fitness, "0..1")
        check(1 <= self.chunk <= 10_000_000, "run.chunk", self.chunk, "1..10000000")
        check(self.snapshot_every >= 1, "run.snapshot_every", self.snapshot_every, ">= 1")


@dataclass(frozen=True)
class DispatchConfig:
    """Where evaluations run: this process, local worker processes, or a Dask cluster."""

    backend: str = doc("'serial', 'process' (local workers) or 'dask'", "serial")
    workers: int = doc("worker processes (process backend; local Dask cluster size)", 1)
    scheduler: str = doc("Dask scheduler address tcp://HOST:PORT ('' = start a local cluster)", "")
    lag: int = doc("neural runs: birth t is proposed once birth t-lag is committed (>= workers; "
                   "x predictor.candidates with a predictor, as screened births count)", 1)
    islands: int = doc("programs: independent populations (0 = one population, no islands)", 0)
    migrate_every: int = doc("programs: births per island between migrations", 50000)
    migrants: int = doc("programs: best programs each island sends to the next one", 5)

    def __post_init__(self) -> None:
        check(self.backend in ("serial", "process", "dask"), "dispatch.backend", self.backend,
               "'serial', 'process' or 'dask'")
        check(1 <= self.workers <= 4096, "dispatch.workers", self.workers, "1..4096")
        check(self.lag >= 1, "dispatch.lag", self.lag, ">= 1")
        check(self.islands >= 0, "dispatch.islands", self.islands, ">= 0")
        check(self.migrate_every >= 1, "dispatch.migrate_every", self.migrate_every, ">= 1")
        check(self.migrants >= 0, "dispatch.migrants", self.migrants, ">= 0")
        check(self.scheduler == "" or self.scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")),
               "dispatch.scheduler", self.scheduler, "'' or an address like tcp://127.0.0.1:8786")


@dataclass(frozen=True)
class Objectives:
    """Accuracy against cost: what a tournament compares (see zeroevo.core.objectives)."""

    mode: str = doc("accuracy, limit (a hard cost limit), soft (MnasNet's reward) or pareto", "accuracy")
    cost: str = doc("the cost recorded and used: programs size or executed; neural params, flops, latency, "
                    "latency_batch or table_latency ('' = size / params)", "")
    limit: float = doc("mode limit: the largest cost a candidate may have", 0.0)
    target: float = doc("mode soft: the target cost T of fitness * (cost / T) ** weight", 1.0)
    weight: float = doc("mode soft: the exponent (MnasNet: -0.07)", -0.07)
    latency_table: str = doc("cost table_latency: a per-layer latency table measured on the target device "
                             "(zeroevo latency-table)", "")

    def __post_init__(self) -> None:
        check(self.mode in ("accuracy", "limit", "soft", "pareto"), "objectives.mode", self.mode,
              "accuracy, limit, soft or pareto")
        check(self.mode != "limit" or self.limit > 0, "objectives.limit", self.limit, "> 0 with mode limit")
        check(self.target > 0, "objectives.target", self.target, "> 0")
        check(self.cost != "table_latency" or self.latency_table != "", "objectives.latency_table",
              self.latency_table, "a table file with cost table_latency")

    def effective_cost(self, default: str) -> str:
        """The cost kind in use: the one named, else ``default`` when a mode needs a cost, else
        '' (no cost: 0 is recorded)."""
        return self.cost or (default if self.mode != "accuracy" else "")

    def codes(self, cost_kinds: tuple[str, ...]) -> np.ndarray:
        """``[mode, limit, target, weight, cost kind]`` for the kernels; the kind indexes
        ``cost_kinds``, whose first entry is the default and '' maps to -1 (no cost)."""
        from zeroevo.core.objectives import MODES

        cost = self.effective_cost(cost_kinds[0])
        kind = cost_kinds.index(cost) if cost else -1
        return np.array([MODES.index(self.mode), self.limit, self.target, self.weight, kind], dtype=np.float64)


class ConfigBase:
    """What every config kind shares: plain-data form, hash and validated copies.

    Subclasses are frozen dataclasses of sections with a ``preset`` field and a class
    attribute ``kind`` (the name a TOML file gives in its ``kind = ...`` line).
    """

    kind = ""

    def to_dict(self) -> dict:
        """Plain nested data (TOML/JSON-able; None values dropped), with the config kind."""
        return {"kind": self.kind, **_drop_none(dataclasses.asdict(self))}

    def digest(self) -> str:
        """A short stable hash of everything but the run section's stop limits and seed."""
        return config_digest(self.to_dict())

    def capped(self) -> Any:
        """This config, with ``run.max_births`` capped by ``$ZEROEVO_MAX_BIRTHS`` when set.

        A budget for smoke tests (the README test runs every documented command under it);
        unset, nothing changes.
        """
        cap = os.environ.get("ZEROEVO_MAX_BIRTHS")
        if not cap:
            return self
        if not cap.isdigit() or int(cap) < 1:
            raise ConfigError(f"ZEROEVO_MAX_BIRTHS = {cap!r} is not allowed; expected an integer >= 1")
        limit = self.run.max_births
        return self.replace("run", max_births=min(limit, int(cap)) if limit else int(cap))

    def replace(self, section: str, **changes: Any) -> Any:
        """A copy with some fields of one section changed (validated again)."""
        data = self.to_dict()
        return type(self).from_data({**data, section: {**data[section], **changes}})

    @classmethod
    def from_data(cls, data: dict, preset: str = "") -> Any:
        """A validated config of this kind from nested plain data (as read from TOML)."""
        if not isinstance(data, dict):
            raise ConfigError("a config must be a table of sections")
        data = dict(data)
        preset = data.pop("preset", preset) or preset
        kind = data.pop("kind", cls.kind)
        check(kind == cls.kind, "kind", kind, repr(cls.kind))
        return build_config(cls, data, preset)



STOP_LIMITS = ("max_births", "max_seconds", "max_restarts", "max_train_steps")


def config_digest(data: dict) -> str:
    """The hash a run directory records of its config (``ConfigBase.to_dict`` data): every
    field but the run's stop limits and seed, so it can be re-checked from the stored data."""
    data = json.loads(json.dumps(data))
    for key in ("seed", *STOP_LIMITS):
        data.get("run", {}).pop(key, None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def full_digest(data: dict) -> str:
    """A hash of every field of a config's plain data, seed and limits included."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def config_changes(old: dict, new: dict) -> dict[str, list]:
    """``{"section.field": [old, new]}`` for every field that differs between two configs' data."""
    out = {}
    for section in sorted(set(old) | set(new)):
        a, b = old.get(section), new.get(section)
        if isinstance(a, dict) and isinstance(b, dict):
            for name in sorted(set(a) | set(b)):
                if a.get(name) != b.get(name):
                    out[f"{section}.{name}"] = [a.get(name), b.get(name)]
        elif a != b:
            out[section] = [a, b]
    return out


def check(ok: bool, name: str, value: Any, allowed: str) -> None:
    """Raise ``ConfigError`` naming field ``name``, its ``value`` and what is ``allowed`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{name} = {value!r} is not allowed; expected {allowed}")


def _drop_none(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _drop_none(v) for k, v in x.items() if v is not None}
    if isinstance(x, (list, tuple)):
        return [_drop_none(v) for v in x]
    return x


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        return _coerce(value, next(o for o in options if o is not type(None)), where)
    if hint is bool:
        check(isinstance(value, bool), where, value, "true or false")
        return value
    if hint is int:
        check(isinstance(value, int) and not isinstance(value, bool), where, value, "an integer")
        return value
    if hint is float:
        check(isinstance(value, (int, float)) and not isinstance(value, bool), where, value, "a number")
        return float(value)
    if hint is str:
        check(isinstance(value, str), where, value, "a string")
        return value
    if hint is dict or origin is dict:
        check(isinstance(value, dict), where, value, "a table")
        return dict(value)
    if hint is list or origin in (list, tuple):
        check(isinstance(value, (list, tuple)), where, value, "a list")
        args = typing.get_args(hint)
        if args:
            item = args[0]
            check(args[-1] is Ellipsis or len(value) == len(args), where, value, f"{len(args)} items")
            return tuple(_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value))
        return list(value)
    return value


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"[{where}] must be a table of fields")
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in fields(cls) if f.init]
    kwargs = {}
    for key, value in data.items():
        if key not in allowed:
            raise ConfigError(f"unknown field {where}.{key}; allowed: {', '.join(allowed)}")
        kwargs[key] = _coerce(value, hints[key], f"{where}.{key}")
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(_in_section(str(exc), where, allowed)) from None


def _in_section(message: str, where: str, fields_: list[str]) -> str:
    """``message`` of a section's record, naming ``where.field`` (``[where]`` if no field)."""
    first, _, rest = message.partition(" ")
    if first.startswith(f"{where}."):
        return message
    field_name = first.split(".")[-1].rstrip(":")
    if field_name in fields_:  # e.g. "epochs = 0 ...", "Fidelity.epochs = 0 ...", "tasks.kind: ..."
        return f"{where}.{field_name}{first[len(first.rstrip(':')):]} {rest}"
    return f"[{where}] {message}"


def build_config(cls: type, data: dict, preset: str) -> Any:
    """Build config class ``cls`` (dataclass of section dataclasses) from plain data."""
    hints = typing.get_type_hints(cls)
    sections = [f.name for f in fields(cls) if f.name != "preset"]
    unknown = [k for k in data if k not in sections]
    if unknown:
        raise ConfigError(f"unknown section [{unknown[0]}]; allowed: {', '.join(sections)}")
    return cls(**{name: _build(hints[name], value, name) for name, value in data.items()}, preset=preset)


def read_toml(path: str | Path) -> dict:
    """The tables of a TOML file; any failure to read or parse it is one ``ConfigError`` line."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {p}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config {p} is not UTF-8 text (a TOML file is expected)") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p} is not valid TOML: {exc}") from None


def read_json_config(path: str | Path, field_name: str) -> Any:
    """A JSON file a config names (e.g. a latency table); any failure is one ``ConfigError``."""
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"{field_name} = {str(path)!r}: cannot read it ({exc.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{field_name} = {str(path)!r} is not a JSON file ({type(exc).__name__})") from None


def merge(base: dict, data: dict) -> dict:
    """``data`` laid over ``base`` table by table, at every depth: a file that sets
    ``[space.options] conv_strides = [1]`` over a preset changes that option and keeps the
    preset's others (a one-level merge would silently drop them). A table that names another
    thing than ``base``'s (``[space] name = "nasnet"`` over a layers preset) replaces it: the
    base's fields belong to what it named."""
    if data.get("name", base.get("name")) != base.get("name"):
        return dict(data)
    merged = dict(base)
    for name, value in data.items():
        below = merged.get(name)
        merged[name] = merge(below, value) if isinstance(value, dict) and isinstance(below, dict) else value
    return merged


def overridden(config: ConfigBase, items: list[str]) -> Any:
    """``config`` with ``SECTION.FIELD=JSON`` overrides laid over it (a benchmark's ``--set``,
    e.g. ``evolution.tournament=2`` or ``space.options.conv_strides=[1]``), validated again."""
    data: dict = {}
    sections = [f.name for f in fields(config) if f.name != "preset"]
    for item in items:
        path, sep, value = item.partition("=")
        keys = path.split(".")
        if not sep or len(keys) < 2 or not all(keys):
            raise ConfigError(f"--set {item!r} is not SECTION.FIELD=JSON")
        if keys[0] not in sections:  # `preset` and `kind` name the config, they are no sections
            raise ConfigError(f"--set {path}: unknown section [{keys[0]}]; allowed: {', '.join(sections)}")
        try:
            leaf = json.loads(value)
        except json.JSONDecodeError:
            raise ConfigError(f"--set {path}: {value!r} is not JSON (e.g. '[1]', '4', '\"flops\"')") from None
        for key in reversed(keys):
            leaf = {key: leaf}
        data = merge(data, leaf)
    return type(config).from_data(merge(config.to_dict(), data)) if data else config


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def to_toml(config: ConfigBase, title: str = "") -> str:
    """The config as commented TOML (every field, with its doc line)."""
    out = [f"# {line}" for line in title.splitlines()] if title else []
    hints = typing.get_type_hints(type(config))
    data = config.to_dict()
    if config.kind != "program":
        out.append(f"kind = {json.dumps(config.kind)}")
    if config.preset:
        out.append(f"preset = {json.dumps(config.preset)}")
    for name in [f.name for f in fields(type(config)) if f.name != "preset"]:
        cls = hints[name]
        out.append("")
        out.append(f"[{name}]  # {(cls.__doc__ or '').strip().splitlines()[0]}")
        for f in fields(cls):
            if not f.init or f.name not in data[name]:
                continue
            line = f"{f.name} = {_toml_value(data[name][f.name])}"
            text = f.metadata.get("doc", "")
            out.append(f"{line:<44} # {text}" if text else line)
    return "\n".join(out) + "\n"
