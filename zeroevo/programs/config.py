"""The configuration of a program search: memory and ops, evolution, fitness, tasks.

Same loader, checks and TOML form as every run kind (:mod:`zeroevo.core.config`); the
sections here describe the program space (:class:`ProgramConfig`), regularized evolution
over it (:class:`EvolutionConfig`), fitness (:class:`EvaluationConfig`) and the search,
select and final task sets (:class:`~zeroevo.programs.tasks.TaskSpec`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from zeroevo.core.config import ConfigBase, DispatchConfig, Objectives, RunConfig, check, doc
from zeroevo.programs.tasks import TaskSpec
from zeroevo.spaces.program.genome import ProgramSpec


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
    select_top: int = doc("at a restart's end, this many of the population's best by search fitness (over "
                          "all islands; more than it holds: all of it) meet the select tasks and the best there "
                          "is kept (1 = the best by search fitness, as the reference)", 1)

    def __post_init__(self) -> None:
        check(self.algorithm in ("regularized", "random"), "evolution.algorithm", self.algorithm,
               "'regularized' or 'random'")
        check(2 <= self.population <= 10_000_000, "evolution.population", self.population, "2..10000000")
        check(1 <= self.tournament <= self.population, "evolution.tournament", self.tournament,
               f"1..population ({self.population})")
        check(self.max_train_steps > 0, "evolution.max_train_steps", self.max_train_steps, "> 0")
        check(self.select_top >= 1, "evolution.select_top", self.select_top, ">= 1")


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
    hurdle_examples: list = doc("progressive dynamic hurdles: training examples of each stage, run on task 0 "
                                "before a child's full evaluation ([] = no hurdles)", [])
    hurdle_quantiles: list = doc("per stage: the quantile of recent children's stage fitness a child must "
                                 "reach to go on", [])
    hurdle_window: int = doc("how many recent children's stage fitness set each hurdle", 100)

    def __post_init__(self) -> None:
        check(self.combine in ("mean", "median"), "evaluation.combine", self.combine, "'mean' or 'median'")
        check(len(self.hurdle_examples) <= 4 and all(isinstance(n, int) and n >= 1 for n in self.hurdle_examples)
              and list(self.hurdle_examples) == sorted(set(self.hurdle_examples)), "evaluation.hurdle_examples",
              self.hurdle_examples, "up to 4 increasing integers >= 1")
        check(len(self.hurdle_quantiles) == len(self.hurdle_examples)
              and all(isinstance(q, (int, float)) and 0.0 <= q <= 1.0 for q in self.hurdle_quantiles),
              "evaluation.hurdle_quantiles", self.hurdle_quantiles, "one quantile in 0..1 per hurdle stage")
        check(self.hurdle_window >= 1, "evaluation.hurdle_window", self.hurdle_window, ">= 1")
        for name in ("fec_train", "fec_valid", "fec_cache_size"):
            check(getattr(self, name) >= 1, f"evaluation.{name}", getattr(self, name), ">= 1")
        check(self.fec_forget_every >= 0, "evaluation.fec_forget_every", self.fec_forget_every, ">= 0")
        check(self.max_abs_error > 0, "evaluation.max_abs_error", self.max_abs_error, "> 0")
        check(self.train_budget >= 0, "evaluation.train_budget", self.train_budget, ">= 0")


# A program's cost: its instructions (no-ops included: the genome's size), or the instructions
# that run for each example once dead code is dropped.
PROGRAM_COSTS = ("size", "executed")


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
    objectives: Objectives = field(default_factory=Objectives)
    dispatch: DispatchConfig = field(default_factory=DispatchConfig)
    preset: str = ""
    kind = "program"

    def __post_init__(self) -> None:
        self.program_spec()  # the program space must be valid on load, not at run time
        check(self.objectives.cost in ("",) + PROGRAM_COSTS, "objectives.cost", self.objectives.cost,
              " or ".join(PROGRAM_COSTS) + " for programs")
        for name in ("search_tasks", "select_tasks", "final_tasks"):
            check(getattr(self, name).features == self.program.features, f"{name}.features",
                   getattr(self, name).features, f"program.features ({self.program.features})")

    def program_spec(self) -> ProgramSpec:
        """The program space this config describes."""
        p, e = self.program, self.evolution
        return ProgramSpec(
            features=p.features, scalars=p.scalars, vectors=p.vectors, matrices=p.matrices,
            ops=(tuple(p.setup_ops), tuple(p.predict_ops), tuple(p.learn_ops)),
            init_sizes=tuple(p.init_sizes), min_sizes=tuple(p.min_sizes), max_sizes=tuple(p.max_sizes),
            mutations=tuple(e.mutations), mutate_prob=e.mutate_prob)
