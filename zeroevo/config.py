"""One typed, documented run configuration, loaded from TOML and validated on load.

Sections are frozen dataclasses; each field carries a one-line doc (``metadata["doc"]``)
that :func:`to_toml` writes as a comment, so ``zeroevo presets show NAME`` prints a file to
start from. Loading rejects unknown sections and fields, wrong types and out-of-range values
with a :class:`~zeroevo.errors.ConfigError` that names the field and what is allowed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from zeroevo.errors import ConfigError
from zeroevo.tasks import TaskSpec


def doc(text: str, default: Any = dataclasses.MISSING, **kw: Any) -> Any:
    """A dataclass field with a documentation line."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"doc": text}, **kw)
    return field(default=default, metadata={"doc": text}, **kw)


@dataclass(frozen=True)
class RunConfig:
    """How long to search and when to stop."""

    seed: int = doc("root seed: every random decision derives from it", 1)
    max_births: int = doc("stop after this many births in all (0 = no limit)", 0)
    max_seconds: float = doc("stop after this many wall-clock seconds (0 = no limit)", 0.0)
    max_restarts: int = doc("stop after this many restarts (0 = no limit)", 0)
    max_train_steps: float = doc("stop after this many training steps in all restarts (0 = no limit)", 0.0)
    sufficient_fitness: float = doc("stop once a select fitness exceeds this (0 = never)", 0.9999)
    engine: str = doc("'chunk' (numba, fast) or 'python' (the reference loop; slow)", "chunk")
    chunk: int = doc("births per numba kernel call", 10000)
    snapshot_every: int = doc("births between snapshots in the run directory", 200000)

    def __post_init__(self) -> None:
        _check(self.engine in ("chunk", "python"), "run.engine", self.engine, "'chunk' or 'python'")
        for name in ("max_births", "max_restarts"):
            _check(getattr(self, name) >= 0, f"run.{name}", getattr(self, name), ">= 0")
        for name in ("max_seconds", "max_train_steps"):
            _check(getattr(self, name) >= 0, f"run.{name}", getattr(self, name), ">= 0")
        _check(0.0 <= self.sufficient_fitness <= 1.0, "run.sufficient_fitness", self.sufficient_fitness, "0..1")
        _check(1 <= self.chunk <= 10_000_000, "run.chunk", self.chunk, "1..10000000")
        _check(self.snapshot_every >= 1, "run.snapshot_every", self.snapshot_every, ">= 1")


@dataclass(frozen=True)
class ProgramConfig:
    """The program search space: memory, features, ops per component, sizes."""

    features: int = doc("feature size F (1..256): v0 holds an example's features", 4)
    scalars: int = doc("scalar addresses (s0 = label, s1 = prediction)", 4)
    vectors: int = doc("vector addresses (v0 = features)", 3)
    matrices: int = doc("matrix addresses", 1)
    setup_ops: list = doc("ops the setup component may use", [])
    predict_ops: list = doc("ops the predict component may use", [])
    learn_ops: list = doc("ops the learn component may use", [])
    init_sizes: list = doc("initial sizes of setup, predict, learn", [10, 2, 8])
    min_sizes: list = doc("smallest sizes (remove stops there)", [0, 0, 0])
    max_sizes: list = doc("largest sizes (insert stops there; inclusive)", [10, 2, 8])
    initial: str = doc("initial population: random, noop, linear or neural_net", "random")
    eliminate_dead_code: bool = doc("drop instructions that cannot affect a prediction", True)


@dataclass(frozen=True)
class EvolutionConfig:
    """Regularized evolution (or random search) and its mutations."""

    algorithm: str = doc("'regularized' evolution or 'random' search", "regularized")
    population: int = doc("population size P (a ring: each child replaces the oldest)", 1000)
    tournament: int = doc("tournament size T (draws with replacement)", 10)
    mutate_prob: float = doc("probability that a child is mutated (else a re-evaluated clone)", 0.9)
    mutations: list = doc("mutation types, drawn uniformly (repeat one to weight it)",
                          ["alter_param", "randomize_instruction", "randomize_component"])
    max_train_steps: float = doc("training steps per restart before select (checked per generation)", 2e8)

    def __post_init__(self) -> None:
        _check(self.algorithm in ("regularized", "random"), "evolution.algorithm", self.algorithm,
               "'regularized' or 'random'")
        _check(2 <= self.population <= 10_000_000, "evolution.population", self.population, "2..10000000")
        _check(1 <= self.tournament <= self.population, "evolution.tournament", self.tournament,
               f"1..population ({self.population})")
        _check(self.max_train_steps > 0, "evolution.max_train_steps", self.max_train_steps, "> 0")


@dataclass(frozen=True)
class EvaluationConfig:
    """Fitness: FEC, combination over tasks, early stop, train budget."""

    fec: bool = doc("functional equivalence cache on", True)
    fec_train: int = doc("probe training examples", 10)
    fec_valid: int = doc("probe validation examples", 10)
    fec_cache_size: int = doc("LRU capacity (entries)", 100000)
    fec_forget_every: int = doc("forget an entry after this many hits (0 = never)", 100)
    combine: str = doc("combine task fitness by 'mean' or 'median' (upper median)", "mean")
    max_abs_error: float = doc("a task stops with fitness 0 when |error| exceeds this (or NaN)", 100.0)
    train_budget: float = doc("fitness 0 above this multiple of a 2-layer net's static cost (0 = off)", 0.0)

    def __post_init__(self) -> None:
        _check(self.combine in ("mean", "median"), "evaluation.combine", self.combine, "'mean' or 'median'")
        for name in ("fec_train", "fec_valid", "fec_cache_size"):
            _check(getattr(self, name) >= 1, f"evaluation.{name}", getattr(self, name), ">= 1")
        _check(self.fec_forget_every >= 0, "evaluation.fec_forget_every", self.fec_forget_every, ">= 0")
        _check(self.max_abs_error > 0, "evaluation.max_abs_error", self.max_abs_error, "> 0")
        _check(self.train_budget >= 0, "evaluation.train_budget", self.train_budget, ">= 0")


@dataclass(frozen=True)
class DispatchConfig:
    """Where evaluations run: this process, local worker processes, or a Dask cluster."""

    backend: str = doc("'serial', 'process' (local workers) or 'dask'", "serial")
    workers: int = doc("worker processes (process backend; local Dask cluster size)", 1)
    scheduler: str = doc("Dask scheduler address tcp://HOST:PORT ('' = start a local cluster)", "")
    lag: int = doc("neural runs: birth t is proposed once birth t-lag is committed (>= workers)", 1)
    islands: int = doc("programs: independent populations (0 = one population, no islands)", 0)
    migrate_every: int = doc("programs: births per island between migrations", 50000)
    migrants: int = doc("programs: best programs each island sends to the next one", 5)

    def __post_init__(self) -> None:
        _check(self.backend in ("serial", "process", "dask"), "dispatch.backend", self.backend,
               "'serial', 'process' or 'dask'")
        _check(1 <= self.workers <= 4096, "dispatch.workers", self.workers, "1..4096")
        _check(self.lag >= 1, "dispatch.lag", self.lag, ">= 1")
        _check(self.islands >= 0, "dispatch.islands", self.islands, ">= 0")
        _check(self.migrate_every >= 1, "dispatch.migrate_every", self.migrate_every, ">= 1")
        _check(self.migrants >= 0, "dispatch.migrants", self.migrants, ">= 0")
        _check(self.scheduler == "" or self.scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")),
               "dispatch.scheduler", self.scheduler, "'' or an address like tcp://127.0.0.1:8786")


class ConfigBase:
    """What every config kind shares: plain-data form, hash and validated copies."""

    kind = "program"

    def to_dict(self) -> dict:
        """Plain nested data (TOML/JSON-able; None values dropped), with the config kind."""
        return {"kind": self.kind, **_drop_none(dataclasses.asdict(self))}

    def digest(self) -> str:
        """A short stable hash of everything but the run section's stop limits and seed."""
        data = self.to_dict()
        for key in ("seed", "max_births", "max_seconds", "max_restarts", "max_train_steps"):
            data["run"].pop(key, None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    def replace(self, section: str, **changes: Any) -> Any:
        """A copy with some fields of one section changed (validated again)."""
        data = self.to_dict()
        return from_dict({**data, section: {**data[section], **changes}})


@dataclass(frozen=True)
class Config(ConfigBase):
    """A whole program-search run: every section, as loaded and validated."""

    run: RunConfig = field(default_factory=RunConfig)
    program: ProgramConfig = field(default_factory=ProgramConfig)
    evolution: EvolutionConfig = field(default_factory=EvolutionConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    search_tasks: TaskSpec = field(default_factory=TaskSpec)
    select_tasks: TaskSpec = field(default_factory=lambda: TaskSpec(num_tasks=100, num_train=1000))
    final_tasks: TaskSpec = field(default_factory=lambda: TaskSpec(
        num_tasks=100, num_train=1000, data_seeds=(1000000,), param_seeds=(2000000,)))
    dispatch: DispatchConfig = field(default_factory=DispatchConfig)
    preset: str = ""

    def __post_init__(self) -> None:
        self.program_spec()  # the program space must be valid on load, not at run time
        for name in ("search_tasks", "select_tasks", "final_tasks"):
            _check(getattr(self, name).features == self.program.features, f"{name}.features",
                   getattr(self, name).features, f"program.features ({self.program.features})")

    def program_spec(self) -> "ProgramSpec":
        """The program space this config describes."""
        from zeroevo.spaces.program.genome import ProgramSpec

        p, e = self.program, self.evolution
        return ProgramSpec(
            features=p.features, scalars=p.scalars, vectors=p.vectors, matrices=p.matrices,
            ops=(tuple(p.setup_ops), tuple(p.predict_ops), tuple(p.learn_ops)),
            init_sizes=tuple(p.init_sizes), min_sizes=tuple(p.min_sizes), max_sizes=tuple(p.max_sizes),
            mutations=tuple(e.mutations), mutate_prob=e.mutate_prob)

SECTIONS = {f.name: f for f in fields(Config) if f.name != "preset"}
KINDS = ("program", "neural")


def _check(ok: bool, name: str, value: Any, allowed: str) -> None:
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
        _check(isinstance(value, bool), where, value, "true or false")
        return value
    if hint is int:
        _check(isinstance(value, int) and not isinstance(value, bool), where, value, "an integer")
        return value
    if hint is float:
        _check(isinstance(value, (int, float)) and not isinstance(value, bool), where, value, "a number")
        return float(value)
    if hint is str:
        _check(isinstance(value, str), where, value, "a string")
        return value
    if hint is dict or origin is dict:
        _check(isinstance(value, dict), where, value, "a table")
        return dict(value)
    if hint is list or origin in (list, tuple):
        _check(isinstance(value, (list, tuple)), where, value, "a list")
        args = typing.get_args(hint)
        if args:
            item = args[0]
            _check(args[-1] is Ellipsis or len(value) == len(args), where, value, f"{len(args)} items")
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
        msg = str(exc)
        raise ConfigError(msg if msg.startswith(where) or "." in msg.split(" ")[0] else f"{where}: {msg}") from None


def from_dict(data: dict, preset: str = "") -> Any:
    """A validated config from nested plain data (as read from TOML).

    ``kind = "neural"`` gives a :class:`zeroevo.neural_config.NeuralConfig`; otherwise a
    program :class:`Config`.
    """
    if not isinstance(data, dict):
        raise ConfigError("a config must be a table of sections")
    data = dict(data)
    preset = data.pop("preset", preset) or preset
    kind = data.pop("kind", "program")
    _check(kind in KINDS, "kind", kind, "'program' or 'neural'")
    if kind == "neural":
        from zeroevo.neural_config import NeuralConfig as cls
    else:
        cls = Config
    return build_config(cls, data, preset)


def build_config(cls: type, data: dict, preset: str) -> Any:
    """Build config class ``cls`` (dataclass of section dataclasses) from plain data."""
    hints = typing.get_type_hints(cls)
    sections = [f.name for f in fields(cls) if f.name != "preset"]
    unknown = [k for k in data if k not in sections]
    if unknown:
        raise ConfigError(f"unknown section [{unknown[0]}]; allowed: {', '.join(sections)}")
    return cls(**{name: _build(hints[name], value, name) for name, value in data.items()}, preset=preset)


def load(path: str | Path, base: dict | None = None,
         preset_data: typing.Callable[[str], dict] | None = None) -> Config:
    """Read a TOML file; its sections override ``base`` (a preset's data) field by field.

    Without ``base``, a file's own ``preset = "NAME"`` line picks the base through
    ``preset_data`` (the file then only needs the fields it changes).
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config {p}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p} is not valid TOML: {exc}") from None
    if base is None and preset_data is not None:
        name = data.get("preset", "demo")
        if not isinstance(name, str):
            raise ConfigError(f"preset = {name!r} must be a preset name")
        base = preset_data(name)
    merged = dict(base or {})
    for name, value in data.items():
        merged[name] = {**merged.get(name, {}), **value} if isinstance(value, dict) else value
    return from_dict(merged)


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


def to_toml(config: Config, title: str = "") -> str:
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
            text = f.metadata.get("doc") or (TASK_DOCS.get(f.name, "") if cls is TaskSpec else "")
            out.append(f"{line:<44} # {text}" if text else line)
    return "\n".join(out) + "\n"


TASK_DOCS = {
    "kind": "linear, relu_teacher or binary_projected",
    "num_tasks": "how many tasks",
    "features": "feature size F (must equal [program].features)",
    "num_train": "training examples per task (per epoch)",
    "num_valid": "validation examples per task",
    "epochs": "training epochs (epoch 0 in order, then shuffles)",
    "data_seeds": "data seeds (empty: drawn per restart; else each next task +1)",
    "param_seeds": "parameter seeds (as data_seeds)",
    "dataset": "binary_projected: fashion_mnist, mnist, cifar10 or digits",
    "dataset_path": "binary_projected: folder with mnist or cifar10 files",
    "classes": "binary_projected: [positive, negative] classes (absent: a seeded pair)",
}
