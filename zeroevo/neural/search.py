"""Neural architecture search: one controller, a central population, workers that train.

The controller runs the Python ``propose / commit`` loop (:mod:`zeroevo.core.engine`) with lag L:
the initial population's births are proposed at once (they depend on nothing); a later
birth t is proposed once birth t - L is committed and the initial population is complete.
Any worker evaluates it, and births are committed strictly in birth order. The trajectory therefore depends on L, never on worker timing or count (<= L).
Progressive dynamic hurdles are set at proposal time from the committed population's stage
accuracies, so they are deterministic too. Every birth row carries its genome (JSON).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pyarrow as pa

from zeroevo.core.births import BirthBatch, RunRecorder
from zeroevo.core.engine import Engine, Proposal
from zeroevo.core.errors import ConfigError
from zeroevo.core.protocols import (
    STATUS_FAILED,
    STATUS_SCREENED,
    STATUS_STOPPED,
    EvalRequest,
    EvalResult,
)
from zeroevo.core.registry import make_space
from zeroevo.core.rng import seed64, train_seed
from zeroevo.neural.config import NEURAL_COSTS, NeuralConfig
from zeroevo.neural.final import Archive, run_final_stage, winner
from zeroevo.neural.predictor import Screener

NEURAL_MUTATIONS = ("init", "random", "insert", "remove", "alter_op", "alter_param", "add_skip",
                    "remove_skip", "identity", "hidden_state", "op")
EXTRA_FIELDS = [pa.field("genome", pa.string()), pa.field("metrics", pa.string())]


@dataclass(frozen=True)
class NeuralProgress:
    """What a progress callback sees after each commit."""

    births: int
    best_fitness: float
    mean_fitness: float
    failed: int
    births_per_minute: float
    wall_seconds: float


@dataclass(frozen=True)
class NeuralResult:
    """The best architecture found, its validation accuracy, and the final stage's outcome
    (``test_accuracy`` is the final-stage winner's; None without a final stage)."""

    births: int
    best_birth: int
    best_fitness: float
    test_accuracy: float | None
    failed: int
    stopped: int
    wall_seconds: float
    cpu_seconds: float
    genome: dict = field(repr=False)
    text: str = field(repr=False)
    final: dict | None = field(default=None, repr=False)  # final.json data (see zeroevo.neural.final)

    def to_json(self) -> dict:
        """JSON-able summary (``genome`` encoded, ``program`` the rendered text); ``final`` the
        final stage's winner (test accuracy, parameters, FLOPs) and every candidate."""
        won = winner(self.final)
        return {"births": self.births, "best_birth": self.best_birth, "best_fitness": self.best_fitness,
                "search_fitness": self.best_fitness, "test_accuracy": self.test_accuracy,
                "failed": self.failed, "hurdle_stopped": self.stopped, "wall_seconds": self.wall_seconds,
                "cpu_seconds": self.cpu_seconds, "genome": self.genome, "program": self.text,
                "final": None if self.final is None else {
                    "winner": None if won is None else {k: won[k] for k in ("birth", "search_fitness", "val_accuracy",
                                                                          "test_accuracy", "params", "flops", "genome")},
                    "complete": self.final["complete"], "candidates": self.final["candidates"]}}


def _cost(metrics: dict, status: int) -> float:
    """A trained birth's cost as the screener learns it (NaN if it failed or has none)."""
    cost = metrics.get("cost")
    return float(cost) if cost is not None and status != STATUS_FAILED else math.nan


class NeuralSearch:
    """Regularized evolution over a neural space, evaluated through a dispatcher."""

    def __init__(self, config: NeuralConfig, recorder: RunRecorder | None = None,
                 progress: Callable[[NeuralProgress], None] | None = None) -> None:
        self.config = config
        self.space = make_space(config.space.name, dict(config.space.options))
        evo = config.evolution
        objectives = config.objectives.codes(NEURAL_COSTS) if config.objectives.mode != "accuracy" else None
        self.engine = Engine(self.space, evo.population, evo.tournament, seed64(config.run.seed),
                             algorithm=evo.algorithm, mutation_names=NEURAL_MUTATIONS, objectives=objectives)
        self.recorder = recorder
        self.progress = progress
        self.evaluator_config = config.evaluator_config()
        self.committed = 0                       # births committed so far (= next to commit)
        self.pending: dict[int, tuple[Proposal, EvalRequest]] = {}
        self.submitted: set[int] = set()
        self.member_metrics: list[dict] = [{} for _ in range(evo.population)]
        self.member_state: dict[int, bytes] = {}  # birth -> trained weights (inheritance)
        self.best = (-1, -1.0, None)              # (birth, fitness, encoded genome)
        self.archive: Archive | None = Archive()  # the best distinct architectures, for the final stage
        self.failed = self.stopped = self.screened = 0
        # Screening (see zeroevo.neural.predictor): steps of K proposals, one of them trains.
        pc = config.predictor
        self.K = pc.step
        self.screener = Screener(pc, config.run.seed, config.objectives, self._static_cost()) if pc.model else None
        self.screener_restored = True  # False after load_snapshot: refit from the log in run()
        # One-shot evaluation (zeroevo.neural.oneshot): births are scored in this process.
        self.one_shot: Any = None
        if config.evaluation.strategy == "one_shot" and not callable(getattr(self.space, "build_supernet", None)):
            raise ConfigError(f"evaluation.strategy = 'one_shot' needs a space with a supernet; "
                              f"{config.space.name!r} has none (allowed: layers, nasnet)")
        if config.evaluation.strategy == "one_shot":  # a space's own refusal, before the run folder exists
            getattr(self.space, "check_supernet", lambda: None)()

    # ---- proposing --------------------------------------------------------------------
    def _hurdles(self) -> tuple[float, ...]:
        ev, P = self.config.evaluation, self.config.evolution.population
        if not ev.hurdles or self.committed < P:
            return ()
        out = []
        for k in range(self.config.fidelity.epochs - 1):
            stage = [m["stage_accuracy"][k] for m in self.member_metrics
                     if len(m.get("stage_accuracy", ())) > k]
            out.append(float(np.quantile(stage, ev.hurdle_quantile)) if stage else 0.0)
        return tuple(out)

    def _request(self, t: int, proposal: Proposal) -> EvalRequest:
        inherit = self.config.evaluation.inherit_weights
        return EvalRequest(
            space=self.config.space.name, genome=self.space.encode(proposal.genome),
            seed=train_seed(self.config.run.seed, t), birth=t, hurdles=self._hurdles(),
            parent_state=self.member_state.get(proposal.parent) if inherit else None,
            keep_state=inherit)

    def _propose(self, t: int) -> int:
        """Propose birth ``t`` (an initial one), or the step starting at ``t``: K children from
        one population state, each with its own stream; the surrogate picks the one to train,
        the others are screened. Returns the next birth to propose."""
        P = self.config.evolution.population
        if t < P:
            proposal = self.engine.propose(t, t)
            self.pending[t] = (proposal, self._request(t, proposal), False, float("nan"))
            return t + 1
        step = P + (t - P) // self.K  # the generation: which slot the trained child replaces
        proposals = [self.engine.propose(t + j, step) for j in range(self.K)]
        requests = [self._request(t + j, p) for j, p in enumerate(proposals)]
        chosen, predicted = 0, np.full(self.K, np.nan)
        if self.K > 1 and self.screener is not None:
            chosen, predicted = self.screener.choose([r.genome for r in requests])
        for j, (p, r) in enumerate(zip(proposals, requests)):
            self.pending[t + j] = (p, r, j != chosen, float(predicted[j]))
        return t + self.K

    def _fill(self, dispatcher: Any, limit: int) -> None:
        # Birth t is proposed as soon as birth t - L is committed, even past the birth limit
        # (such proposals wait, unsubmitted, in the snapshot): a run stopped and resumed
        # must propose every birth from the same population state as a straight run.
        # The initial population depends on nothing, so all of it is proposed at once: the
        # workers stay busy until it is complete, however long its first births train.
        lag, P = self.config.dispatch.lag, self.config.evolution.population
        t = max(self.pending, default=self.committed - 1) + 1
        while t < P or (t < self.committed + lag and self.committed >= P):
            t = self._propose(t)
        for t in sorted(self.pending):
            if t < limit and t not in self.submitted and not self.pending[t][2] and self.one_shot is None:
                dispatcher.submit(t, self.pending[t][1])
                self.submitted.add(t)

    # ---- committing -------------------------------------------------------------------
    def _commit_screened(self, t: int, wall0: float) -> None:
        proposal, request, _, predicted = self.pending.pop(t)
        self.committed = t + 1
        self.screened += 1
        ready = np.isfinite(predicted)
        batch = BirthBatch(*(np.array([x]) for x in (
            t, 0, 0, proposal.parent, NEURAL_MUTATIONS.index(proposal.mutation), STATUS_SCREENED,
            predicted if ready else 0.0, 0, 0, 0, 0.0)))
        if self.recorder is not None:
            reason = "screened: a sibling was predicted better" if ready else "screened: the surrogate was not ready"
            self.recorder.append(batch, {"genome": pa.array([json.dumps(request.genome)]),
                                         "metrics": pa.array([json.dumps({"predicted": predicted if ready else None,
                                                                          "reason": reason})])})
        self._report(wall0)

    def _static_cost(self) -> Callable[[dict], float] | None:
        """A cost-aware screen's exact cost of an encoded genome when the cost is countable
        (params, FLOPs) without training; None: the screen predicts it (or needs none)."""
        kind = self.config.objectives.effective_cost(NEURAL_COSTS[0])
        if self.config.objectives.mode == "accuracy" or kind not in ("params", "flops"):
            return None
        from zeroevo.neural.evaluator import NeuralEvaluator

        evaluator = NeuralEvaluator(self.evaluator_config)  # loads its data on first use
        return lambda genome: evaluator.static_cost(genome, kind)

    def _commit(self, t: int, result: EvalResult, wall0: float) -> None:
        if self.pending[t][2]:
            self._commit_screened(t, wall0)
            return
        proposal, request, _, predicted = self.pending.pop(t)
        self.submitted.discard(t)
        old = int(self.engine.births[proposal.slot])
        self.engine.commit(proposal, result)
        self.member_metrics[proposal.slot] = result.metrics
        self.member_state.pop(old, None)
        if result.state is not None:
            self.member_state[t] = result.state
        self.committed = t + 1
        self.failed += result.status == STATUS_FAILED
        self.stopped += result.status == STATUS_STOPPED
        if result.fitness > self.best[1]:
            self.best = (t, float(result.fitness), request.genome)
        if result.status != STATUS_FAILED and self.archive is not None:
            self.archive.add(request.genome, result.fitness, t)
        stage = result.steps if result.status == STATUS_STOPPED else 0  # stopped after epoch `steps`
        batch = BirthBatch(*(np.array([x]) for x in (
            t, 0, 0, proposal.parent, NEURAL_MUTATIONS.index(proposal.mutation), result.status,
            result.fitness, result.steps, 0, stage, float(result.metrics.get("cost", 0.0)))))
        if self.recorder is not None:
            metrics = {**result.metrics, "reason": result.reason, "hurdles": list(request.hurdles)}
            if self.screener is not None:
                metrics["predicted"] = float(predicted) if np.isfinite(predicted) else None
            self.recorder.append(batch, {"genome": pa.array([json.dumps(request.genome)]),
                                         "metrics": pa.array([json.dumps(metrics)])})
        if self.screener is not None:
            self.screener.learn(request.genome, float(result.fitness), _cost(result.metrics, result.status))
        self._report(wall0)

    def _report(self, wall0: float) -> None:
        if self.progress is not None:
            fit = self.engine.fitness[np.isfinite(self.engine.fitness)]
            wall = time.time() - wall0
            self.progress(NeuralProgress(self.committed, max(self.best[1], 0.0), float(fit.mean()) if len(fit) else 0.0,
                                         self.failed, 60 * self.committed / wall if wall else 0.0, wall))

    def run(self) -> NeuralResult:
        """Evolve until ``max_births`` or ``max_seconds``, then run the final stage."""
        from zeroevo.dispatch import make_dispatcher

        cfg = self.config
        wall0, cpu0 = time.time(), time.process_time()
        limit = cfg.run.max_births or 2 ** 62
        d = cfg.dispatch
        dispatcher = make_dispatcher(d.backend, "neural", self.evaluator_config, workers=d.workers,
                                     address=d.scheduler or None)
        try:
            if self.archive is None:  # a snapshot from before the archive: rebuild it from the log
                self.archive = self._archive_from_log()
            if not self.screener_restored:  # resumed: the surrogates' data and fit, again from the log
                self._screener_from_log()
            ready = self._train_supernet(wall0)
            while ready and self.committed < limit and not (cfg.run.max_seconds and
                                                           time.time() - wall0 >= cfg.run.max_seconds):
                self._fill(dispatcher, limit)
                t = self.committed
                self._commit(t, self._result(t, dispatcher), wall0)
                if self.recorder is not None and self.recorder.due(self.committed):
                    self.snapshot()
            if self.recorder is not None:
                self.snapshot()
                self.recorder.save_document("best", [{"birth": self.best[0], "fitness": self.best[1],
                                          "genome": self.best[2], "kept": True}])
            final = None
            searched = ready and (self.committed >= limit or not cfg.run.max_seconds or
                                  time.time() - wall0 < cfg.run.max_seconds)
            if cfg.final.top_k and self.best[2] is not None and searched:
                final = run_final_stage(cfg.space.name, self.archive, cfg.run.seed, cfg.final, dispatcher,
                                        self.recorder.document("final") if self.recorder else None,
                                        (lambda data: self.recorder.save_document("final", data))
                                        if self.recorder else None)
        finally:
            dispatcher.close()
            if self.recorder is not None:
                self.recorder.close()
        won = winner(final)
        return NeuralResult(self.committed, self.best[0], max(self.best[1], 0.0),
                            won["test_accuracy"] if won else None, self.failed, self.stopped,
                            time.time() - wall0, time.process_time() - cpu0, self.best[2] or {},
                            self.space.render(self.space.decode(self.best[2])) if self.best[2] else "", final)

    def _train_supernet(self, wall0: float) -> bool:
        """One-shot runs: train (or finish training) the supernet; False if time ran out first."""
        cfg = self.config
        if cfg.evaluation.strategy != "one_shot":
            return True
        from zeroevo.neural.evaluator import NeuralEvaluator
        from zeroevo.neural.oneshot import OneShot

        if self.one_shot is None:
            self.one_shot = OneShot(NeuralEvaluator(self.evaluator_config), cfg.run.seed, cfg.evaluation)
        return self.one_shot.train(self.recorder, self.progress,
                                   wall0 + cfg.run.max_seconds if cfg.run.max_seconds else None)

    def _result(self, t: int, dispatcher: Any) -> EvalResult | None:
        """Birth ``t``'s evaluation: none if screened, its path's score in a one-shot run,
        else the dispatcher's training."""
        if self.pending[t][2]:
            return None
        return self.one_shot.evaluate(self.pending[t][1]) if self.one_shot is not None else dispatcher.wait(t)

    def _screener_from_log(self) -> None:
        log = self.recorder.log() if self.recorder is not None else None
        rows = [] if log is None else [
            (json.loads(g), f, _cost(json.loads(m or "{}"), st))
            for g, f, b, st, m in zip(*(log.column(c).to_pylist() for c in
                                        ("genome", "fitness", "birth", "status", "metrics")))
            if b < self.committed and st != STATUS_SCREENED]
        self.screener.restore(rows, self.screener.fitted_on)
        self.screener_restored = True

    def _archive_from_log(self) -> Archive:
        archive = Archive()
        log = self.recorder.log() if self.recorder is not None else None
        if log is not None:
            for g, f, b, status in zip(*(log.column(c).to_pylist() for c in ("genome", "fitness", "birth", "status"))):
                if b < self.committed and status != STATUS_FAILED:
                    archive.add(json.loads(g), f, b)
        return archive

    # ---- snapshots --------------------------------------------------------------------
    def snapshot(self) -> None:
        """Write the controller's state (population, pending proposals, counters)."""
        e = self.engine
        state = {
            "committed": self.committed, "failed": self.failed, "stopped": self.stopped,
            "best": list(self.best), "member_metrics": self.member_metrics,
            "genomes": [self.space.encode(g) if g is not None else None for g in e.genomes],
            "pending": [[t, p.slot, p.parent, p.mutation, r.genome, list(r.hurdles), screened,
                         None if not np.isfinite(pred) else pred]
                        for t, (p, r, screened, pred) in sorted(self.pending.items())],
            "screened": self.screened,
            "predictor_fitted_on": self.screener.fitted_on if self.screener is not None else 0,
            "member_state_births": sorted(self.member_state),
            "archive": self.archive.to_json() if self.archive is not None else None}
        arrays = {"pop_fitness": e.fitness, "pop_births": e.births, "pop_cost": e.cost}
        for b, blob in self.member_state.items():
            arrays[f"state_{b}"] = np.frombuffer(blob, np.uint8)
        for t, (_, r, _, _) in self.pending.items():
            if r.parent_state is not None:
                arrays[f"pending_state_{t}"] = np.frombuffer(r.parent_state, np.uint8)
        self.recorder.snapshot(self.committed, arrays, {"neural": state})

    def load_snapshot(self, arrays: dict[str, np.ndarray], meta: dict) -> None:
        """Continue from :meth:`snapshot` output."""
        s, e = meta["neural"], self.engine
        self.committed, self.failed, self.stopped = s["committed"], s["failed"], s["stopped"]
        self.best = tuple(s["best"])
        self.member_metrics = s["member_metrics"]
        self.archive = Archive(s["archive"]) if s.get("archive") is not None else None
        e.genomes = [self.space.decode(g) if g is not None else None for g in s["genomes"]]
        e.fitness[:] = arrays["pop_fitness"]
        e.births[:] = arrays["pop_births"]
        if "pop_cost" in arrays:  # absent in snapshots from before costs
            e.cost[:] = arrays["pop_cost"]
        self.member_state = {b: arrays[f"state_{b}"].tobytes() for b in s["member_state_births"]}
        inherit = self.config.evaluation.inherit_weights
        self.screened = s.get("screened", 0)
        if self.screener is not None:  # its data and fit are rebuilt from the log in run()
            self.screener.fitted_on = s.get("predictor_fitted_on", 0)
            self.screener_restored = False
        for t, slot, parent, mutation, genome, hurdles, *screening in s["pending"]:
            screened, pred = screening if screening else (False, None)  # older snapshots: no screening
            proposal = Proposal(t, slot, parent, mutation, self.space.decode(genome))
            blob = arrays.get(f"pending_state_{t}")
            self.pending[t] = (proposal, EvalRequest(
                self.config.space.name, genome, train_seed(self.config.run.seed, t), t, hurdles=tuple(hurdles),
                parent_state=blob.tobytes() if blob is not None else None, keep_state=inherit),
                bool(screened), float("nan") if pred is None else float(pred))
