"""A surrogate that screens children before they train (PNAS, neural predictors).

A trained candidate costs seconds to minutes; predicting one costs microseconds. With a
``[predictor]``, each step of the search proposes ``candidates`` children (each from its own
tournament and mutation, each from its own random stream) and trains only the one the
surrogate predicts best; the others are logged with status ``screened`` and their
prediction. The surrogate is a regressor from scikit-learn on features of the encoded
genome (:func:`features`: hashed counts of every (path, value) of its JSON, so any space
works unchanged), fitted on every evaluated birth so far, refitted every ``refit_every``
evaluated births. Everything is deterministic: the same births give the same fit, so a
resumed run refits from its log and proposes what a straight run proposes.
"""
from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Callable

import numpy as np

from zeroevo.core.config import Objectives

DIMENSIONS = 512
MODELS = ("ridge", "gbm")


def _tokens(value: Any, path: str = "") -> list[str]:
    """``path=value`` and ``path`` tokens of a JSON value; list positions count once with and
    once without their index (what an op is, and where it sits)."""
    if isinstance(value, dict):
        return [t for k in sorted(value) for t in _tokens(value[k], f"{path}/{k}")]
    if isinstance(value, list):
        out = []
        for i, v in enumerate(value):
            out += _tokens(v, f"{path}[{i}]") + _tokens(v, f"{path}[]")
        return out
    return [f"{path}={json.dumps(value)}", path]


def features(genome: dict) -> np.ndarray:
    """A fixed-length vector of an encoded genome: hashed token counts (any space)."""
    x = np.zeros(DIMENSIONS)
    for token in _tokens(genome):
        h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
        x[h % DIMENSIONS] += 1.0 if (h >> 63) & 1 else -1.0  # signed hashing keeps collisions unbiased
    return x


class Predictor:
    """A regressor of fitness from :func:`features` (``ridge`` or ``gbm``), deterministic."""

    def __init__(self, model: str = "ridge", seed: int = 0) -> None:
        if model not in MODELS:
            raise ValueError(f"unknown predictor {model!r}; allowed: {', '.join(MODELS)}")
        self.model_name, self.seed = model, seed
        self.model: Any = None

    @property
    def ready(self) -> bool:
        """Whether it has been fitted."""
        return self.model is not None

    def fit(self, genomes: list[dict], fitness: list[float]) -> "Predictor":
        """Fit on encoded genomes and their fitness."""
        from sklearn.ensemble import GradientBoostingRegressor
        from sklearn.linear_model import Ridge

        x = np.stack([features(g) for g in genomes])
        y = np.asarray(fitness, float)
        if self.model_name == "ridge":
            self.model = Ridge(alpha=1.0).fit(x, y)
        else:
            self.model = GradientBoostingRegressor(n_estimators=100, max_depth=3, learning_rate=0.1,
                                                   subsample=1.0, random_state=self.seed).fit(x, y)
        return self

    def predict(self, genomes: list[dict]) -> np.ndarray:
        """Predicted fitness of encoded genomes."""
        return np.asarray(self.model.predict(np.stack([features(g) for g in genomes])), float)


def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-b of two score vectors (ties counted as neither concordant nor discordant)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    da = np.sign(a[:, None] - a[None, :])
    db = np.sign(b[:, None] - b[None, :])
    iu = np.triu_indices(len(a), 1)
    s = float(np.sum(da[iu] * db[iu]))
    na, nb = float(np.sum(da[iu] != 0)), float(np.sum(db[iu] != 0))
    return s / np.sqrt(na * nb) if na and nb else float("nan")


def pareto_choice(fitness: np.ndarray, log_cost: np.ndarray, trained: list[tuple[dict, float, float]]) -> int:
    """Which of K children a Pareto search trains: the one whose predicted (fitness, log10
    cost) would extend the front of the ``trained`` births (genome, fitness, cost) most
    (:func:`zeroevo.core.objectives.front_gain`); the first of equals."""
    from zeroevo.core.objectives import front_gain

    seen = [(f, math.log10(max(c, 1.0))) for _, f, c in trained if math.isfinite(c)]
    front_fit, front_cost = (np.array(v, float) for v in zip(*seen)) if seen else (np.zeros(0), np.zeros(0))
    return int(np.argmax(front_gain(fitness, log_cost, front_fit, front_cost)))


class Screener:
    """Chooses which of a step's K children trains: the one that the search's tournament would
    rank first by its predictions. By accuracy alone, the one predicted most accurate; under a
    cost limit or MnasNet's soft reward (``objectives`` mode ``limit`` / ``soft``), the best
    predicted objective value; in a Pareto search the one predicted to extend the front most
    (:func:`pareto_choice`). A child's cost is exact from ``cost_of`` when it is countable
    (params, FLOPs), else a second surrogate's log10 cost. Learns from every trained birth;
    refits every ``refit_every`` of them from the ``min_train``-th on (``config``: a
    ``PredictorConfig``; ``objectives``: an ``[objectives]`` section, None = accuracy)."""

    def __init__(self, config: Any, seed: int, objectives: Any = None,
                 cost_of: Callable[[dict], float] | None = None) -> None:
        self.objectives = objectives if objectives is not None else Objectives()
        self.fitness = Predictor(config.model, seed)
        cost_aware = self.objectives.mode != "accuracy"
        self.cost = Predictor(config.model, seed) if cost_aware and cost_of is None else None
        self.cost_of = cost_of
        self.min_train, self.refit_every = config.min_train, config.refit_every
        self.trained: list[tuple[dict, float, float]] = []  # (genome, fitness, cost; NaN unknown)
        self.fitted_on = 0                                  # how many of them the last fit saw

    def choose(self, genomes: list[dict]) -> tuple[int, np.ndarray]:
        """The index of the child to train (0 until fitted) and every child's predicted fitness."""
        if not self.fitness.ready:
            return 0, np.full(len(genomes), np.nan)
        predicted = self.fitness.predict(genomes)
        o = self.objectives
        if o.mode == "accuracy":
            return int(np.argmax(predicted)), predicted  # the first of equals
        if self.cost_of is not None:
            log_cost = np.log10(np.maximum([self.cost_of(g) for g in genomes], 1.0))
        else:
            log_cost = self.cost.predict(genomes)
        unbuildable = ~np.isfinite(log_cost)  # it would fail: never chosen
        score = np.where(unbuildable, -np.inf, predicted)
        log_cost = np.where(unbuildable, 0.0, log_cost)
        if o.mode == "pareto":
            return pareto_choice(score, log_cost, self.trained), predicted
        from zeroevo.core.objectives import MODES, tournament_winner  # limit / soft: as the tournament ranks

        return tournament_winner(score, 10.0 ** log_cost, range(len(genomes)), MODES.index(o.mode), o.limit,
                                 o.target, o.weight), predicted

    def learn(self, genome: dict, fitness: float, cost: float) -> None:
        """Add a trained birth; refit when it is due."""
        self.trained.append((genome, fitness, cost))
        n = len(self.trained)
        if n >= self.min_train and n % self.refit_every == 0:
            self.fit(n)

    def fit(self, n: int) -> None:
        """Fit on the first ``n`` trained births (the cost surrogate on those with a cost)."""
        rows = self.trained[:n]
        self.fitness.fit([g for g, _, _ in rows], [f for _, f, _ in rows])
        if self.cost is not None:
            costed = [(g, math.log10(max(c, 1.0))) for g, _, c in rows if math.isfinite(c)]
            if costed:
                self.cost.fit(*zip(*costed))
        self.fitted_on = n

    def restore(self, trained: list[tuple[dict, float, float]], fitted_on: int) -> None:
        """The state after ``trained`` births, the last fit on the first ``fitted_on`` (a resume)."""
        self.trained = list(trained)
        self.fitted_on = 0
        if fitted_on:
            self.fit(fitted_on)
