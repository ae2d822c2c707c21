"""The configuration of a neural architecture search (layer sequences, NASNet cells or
hierarchical motifs).

Same loader, checks and TOML form as every run kind (:mod:`zeroevo.core.config`); a file
says ``kind = "neural"``. The trainer's :class:`~zeroevo.neural.fidelity.Fidelity` and
:class:`~zeroevo.neural.fidelity.Limits` are sections as they are.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from zeroevo.core.config import ConfigBase, DispatchConfig, Objectives, RunConfig, check, doc
from zeroevo.neural.fidelity import Fidelity, Limits


@dataclass(frozen=True)
class NeuralEvolution:
    """Regularized evolution (or random search) over architectures."""

    algorithm: str = doc("'regularized' evolution or 'random' search", "regularized")
    population: int = doc("population size P", 20)
    tournament: int = doc("tournament size T (draws with replacement)", 5)

    def __post_init__(self) -> None:
        check(self.algorithm in ("regularized", "random"), "evolution.algorithm", self.algorithm,
               "'regularized' or 'random'")
        check(2 <= self.population <= 1_000_000, "evolution.population", self.population, "2..1000000")
        check(1 <= self.tournament <= self.population, "evolution.tournament", self.tournament,
               f"1..population ({self.population})")


@dataclass(frozen=True)
class SpaceConfig:
    """The architecture space: 'layers', 'nasnet' or 'hierarchical', and its options."""

    name: str = doc("search space: layers, nasnet or hierarchical", "layers")
    options: dict = doc("the space's options (e.g. max_layers, blocks, filters)", {})

    def __post_init__(self) -> None:
        check(self.name in ("layers", "nasnet", "hierarchical"), "space.name", self.name,
               "'layers', 'nasnet' or 'hierarchical'")


@dataclass(frozen=True)
class DataConfig:
    """The image data set."""

    dataset: str = doc("fashion_mnist, mnist, cifar10 or digits", "fashion_mnist")
    path: str = doc("folder with mnist / cifar10 files ('' = the default place)", "")

    def __post_init__(self) -> None:
        check(self.dataset in ("fashion_mnist", "fashion-mnist", "mnist", "cifar10", "digits"),
               "data.dataset", self.dataset, "fashion_mnist, mnist, cifar10 or digits")


@dataclass(frozen=True)
class NeuralEvaluation:
    """Evaluation strategy: hurdles, weight inheritance, device, final retraining."""

    hurdles: bool = doc("progressive dynamic hurdles: stop a candidate below the population's "
                        "hurdle_quantile after each epoch but the last", False)
    hurdle_quantile: float = doc("quantile of the population's stage accuracy that sets a hurdle", 0.5)
    inherit_weights: bool = doc("start a child from its parent's trained weights where shapes match", False)
    device: str = doc("'' = CUDA when present, else CPU; or 'cpu', 'cuda', 'cuda:1'", "")
    final_epochs: int = doc("superseded by [final] (kept so older run directories load); must be 0", 0)
    strategy: str = doc("'train': every birth trains from scratch; 'one_shot': a weight-sharing supernet "
                        "is trained once and a birth is scored by its path (see zeroevo.neural.oneshot)", "train")
    supernet_epochs: int = doc("one_shot: epochs of uniform path sampling over the supernet's training images", 10)
    supernet_subset: int = doc("one_shot: training images of the supernet (0 = the fidelity's train_subset); "
                               "every path trains on a slice of it, so it needs more data than one network", 0)
    recalibrate_batches: int = doc("one_shot: training batches that re-estimate a path's batch-norm statistics", 8)

    def __post_init__(self) -> None:
        check(0.0 <= self.hurdle_quantile <= 1.0, "evaluation.hurdle_quantile", self.hurdle_quantile, "0..1")
        check(self.final_epochs == 0, "evaluation.final_epochs", self.final_epochs, "0 (set [final] epochs)")
        check(self.strategy in ("train", "one_shot"), "evaluation.strategy", self.strategy, "'train' or 'one_shot'")
        check(self.supernet_epochs >= 1, "evaluation.supernet_epochs", self.supernet_epochs, ">= 1")
        check(self.supernet_subset >= 0, "evaluation.supernet_subset", self.supernet_subset, ">= 0")
        check(self.recalibrate_batches >= 0, "evaluation.recalibrate_batches", self.recalibrate_batches, ">= 0")
        if self.strategy == "one_shot":
            check(not self.hurdles, "evaluation.hurdles", self.hurdles, "false with strategy 'one_shot' "
                  "(a path is scored, not trained)")
            check(not self.inherit_weights, "evaluation.inherit_weights", self.inherit_weights,
                  "false with strategy 'one_shot' (paths share the supernet's weights)")


@dataclass(frozen=True)
class FinalStage:
    """The final stage: the log's top architectures retrained at full fidelity, then tested."""

    top_k: int = doc("distinct architectures of the log retrained at the end (0 = no final stage)", 3)
    seeds: int = doc("retrainings per architecture (different seeds; accuracies averaged)", 1)
    epochs: int = doc("training epochs of each retraining", 6)
    train_subset: int = doc("training images of each retraining (0 = all not held out for validation)", 0)
    valid_subset: int = doc("held-out training images that choose the winner (the test split never does)", 5000)
    max_seconds: float = doc("seconds one retraining may take (0 = no limit; limits.max_seconds bounds the "
                             "search's proxy trainings only)", 0.0)
    # Its own, because a short proxy wants small batches (more steps on few images) where a
    # long retraining does not: fashion-nasnet's proxy trains at 16, its final stage at 64.
    batch_size: int = doc("minibatch size of each retraining (0 = the search fidelity's batch_size)", 0)

    def __post_init__(self) -> None:
        check(0 <= self.top_k <= 64, "final.top_k", self.top_k, "0..64")
        check(self.max_seconds >= 0, "final.max_seconds", self.max_seconds, ">= 0")
        check(1 <= self.seeds <= 100, "final.seeds", self.seeds, "1..100")
        check(self.epochs >= 1, "final.epochs", self.epochs, ">= 1")
        check(self.train_subset >= 0, "final.train_subset", self.train_subset, ">= 0")
        check(self.valid_subset >= 1, "final.valid_subset", self.valid_subset, ">= 1")
        check(self.batch_size == 0 or self.batch_size >= 2, "final.batch_size", self.batch_size,
              "0 (the search fidelity's) or an integer >= 2")

    def budget(self) -> dict:
        """The fidelity fields one retraining overrides (its time limit is ``max_seconds``)."""
        budget = {"epochs": self.epochs, "train_subset": self.train_subset, "valid_subset": self.valid_subset}
        return {**budget, "batch_size": self.batch_size} if self.batch_size else budget


@dataclass(frozen=True)
class PredictorConfig:
    """Screening children with a surrogate before they train (PNAS; see zeroevo.neural.predictor)."""

    model: str = doc("'' = off; 'ridge' or 'gbm' (scikit-learn, on hashed features of the genome)", "")
    # 8 children per step, screening from the 10th training, refitted every 2nd: on
    # fashion-layers (40 trainings, 10 seeds, benchmarks/predictor_bench.py) every run reached
    # the target, in a median 19 trainings against 38.5-39 without a predictor; 4 children:
    # 24.5; 4 children from the 20th, refitted every 10th: 1.25x (a fit costs milliseconds,
    # a training seconds, a screened child nothing).
    candidates: int = doc("children proposed per step; only the one predicted best trains", 8)
    refit_every: int = doc("evaluated births between refits of the surrogate", 2)
    min_train: int = doc("evaluated births before it screens (until then the first child of a step trains)", 10)

    def __post_init__(self) -> None:
        check(self.model in ("", "ridge", "gbm"), "predictor.model", self.model, "'', 'ridge' or 'gbm'")
        check(1 <= self.candidates <= 64, "predictor.candidates", self.candidates, "1..64")
        check(self.refit_every >= 1, "predictor.refit_every", self.refit_every, ">= 1")
        check(self.min_train >= 2, "predictor.min_train", self.min_train, ">= 2")

    @property
    def step(self) -> int:
        """Births per step once the first population is in: K proposals, one trains (1 when off)."""
        return self.candidates if self.model else 1

    def births_for(self, trainings: int, population: int) -> int:
        """``run.max_births`` that buys ``trainings`` trained births: the first population
        trains every birth, each later step of ``step`` births trains one."""
        return trainings if trainings <= population else population + (trainings - population) * self.step


# What a neural candidate's cost may be ([objectives] cost); the first is the default.
NEURAL_COSTS = ("params", "flops", "latency", "latency_batch", "table_latency")


@dataclass(frozen=True)
class NeuralConfig(ConfigBase):
    """A whole neural search run: every section, as loaded and validated."""

    run: RunConfig = field(default_factory=lambda: RunConfig(max_births=100, sufficient_fitness=0.0,
                                                            snapshot_every=10))
    evolution: NeuralEvolution = field(default_factory=NeuralEvolution)
    space: SpaceConfig = field(default_factory=SpaceConfig)
    data: DataConfig = field(default_factory=DataConfig)
    fidelity: Fidelity = field(default_factory=Fidelity)
    limits: Limits = field(default_factory=Limits)
    evaluation: NeuralEvaluation = field(default_factory=NeuralEvaluation)
    final: FinalStage = field(default_factory=FinalStage)
    objectives: Objectives = field(default_factory=Objectives)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    dispatch: DispatchConfig = field(default_factory=DispatchConfig)
    preset: str = ""
    kind = "neural"

    def __post_init__(self) -> None:
        check(self.objectives.cost in ("",) + NEURAL_COSTS, "objectives.cost", self.objectives.cost,
              " or ".join(NEURAL_COSTS) + " for neural runs")

    @classmethod
    def from_data(cls, data: dict, preset: str = "") -> "NeuralConfig":
        """As :meth:`ConfigBase.from_data`; a config recorded before the final stage existed
        (no ``[final]`` section, an ``evaluation.final_epochs`` field) has no final stage."""
        if isinstance(data, dict) and "final" not in data and "final_epochs" in (data.get("evaluation") or {}):
            data = {**data, "final": {"top_k": 0}}
        return super().from_data(data, preset)

    def capped(self) -> "NeuralConfig":
        """As :meth:`ConfigBase.capped`; under ``$ZEROEVO_MAX_BIRTHS`` every training shrinks too
        (births: one epoch on at most 256 images; the final stage: one network, one epoch, 1,024
        images; the supernet: one epoch on at most 256 images), so a smoke test of a documented
        command takes seconds rather than the preset's hour of training."""
        capped = super().capped()
        if capped is self:
            return self
        p = capped.fidelity
        capped = capped.replace("fidelity", epochs=1, train_subset=min(p.train_subset or 256, 256),
                                valid_subset=min(p.valid_subset, 256))
        f = capped.final
        capped = capped.replace("final", top_k=min(f.top_k, 1), seeds=1, epochs=min(f.epochs, 1),
                                train_subset=min(f.train_subset or 1024, 1024),
                                valid_subset=min(f.valid_subset, 1024))
        e = capped.evaluation
        return capped.replace("evaluation", supernet_epochs=min(e.supernet_epochs, 1),
                              supernet_subset=min(e.supernet_subset, 256) if e.supernet_subset else 0)

    def evaluator_config(self) -> dict:
        """The plain config a worker rebuilds the neural evaluator from."""
        import dataclasses

        return {"space": self.space.name, "space_config": dict(self.space.options),
                "dataset": self.data.dataset, "data_path": self.data.path or None,
                "fidelity": dataclasses.asdict(self.fidelity),
                "limits": {k: v for k, v in dataclasses.asdict(self.limits).items() if v is not None},
                "device": self.evaluation.device or None, "objectives": self.objectives_config()}

    def objectives_config(self) -> dict:
        """What workers need of ``[objectives]``: cost kind, mode, limit, and the latency table
        itself (read here, so workers on other machines need no copy of the file)."""
        o = self.objectives
        table = None
        if o.latency_table:
            from zeroevo.core.config import read_json_config

            table = read_json_config(o.latency_table, "objectives.latency_table")
        return {"cost": o.effective_cost(NEURAL_COSTS[0]), "mode": o.mode, "limit": o.limit, "table": table}
