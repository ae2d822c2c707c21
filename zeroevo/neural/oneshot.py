"""One-shot evaluation: one weight-sharing supernet trained once, births scored by their path.

Single-path one-shot (Guo et al. 2019) pairs with evolution: train a supernet that holds
every choice of the space by sampling one path (architecture) per step, uniformly, then score
each candidate by the validation accuracy of its path with the shared weights. A birth then
costs a forward pass over the validation images instead of a training.

- **Training** (:meth:`OneShot.train`): ``[evaluation] supernet_epochs`` epochs of SGD on
  ``supernet_subset`` training images (default: the fidelity's), one path per step. Each
  choice of each position trains only on the steps whose path takes it, so a supernet needs
  several times the images of one network (``benchmarks/oneshot_bench.py`` measures it). A
  path is a random genome of the space followed by 0..``WALK`` random mutations, so deeper
  genomes and every op that evolution can reach are trained too. Every draw is keyed by
  (run seed, step), data order by (run seed, epoch), and torch's generator is reseeded per
  epoch: the weights after epoch *e* are a function of the seed. After each epoch the
  weights, batch-norm statistics and momentum buffers are checkpointed in the run directory
  (Arrow, never pickle), so a killed run resumes at its last epoch and trains exactly what a
  straight run trains.
- **Scoring** (:meth:`OneShot.evaluate`): the path's weights are copied into the genome's
  stand-alone network (``standalone_state``), its batch-norm statistics are re-estimated on
  ``recalibrate_batches`` fixed training batches (the supernet's running statistics mix
  every path), and its accuracy on the fidelity's validation images is the fitness. The
  supernet is never changed by scoring, so a birth's score is a function of its genome.

Scoring runs in the controller (it is cheap); the final stage trains the top architectures
from scratch through the dispatcher, so a reported accuracy is always a stand-alone one.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from zeroevo.core.births import RunRecorder
from zeroevo.core.errors import ConfigError
from zeroevo.core.protocols import STATUS_FAILED, STATUS_OK, EvalRequest, EvalResult
from zeroevo.core.rng import key_of
from zeroevo.neural.config import NeuralEvaluation
from zeroevo.neural.evaluator import NeuralEvaluator
from zeroevo.neural.fidelity import Fidelity
from zeroevo.neural.trainer import accuracy, reset_weights, seeded, set_input_stats, split_data

WALK = 8  # most random mutations after a random genome, per sampled path
CHECKPOINT = "supernet"
_PATH, _ORDER, _TORCH, _INIT = 11, 12, 13, 14  # purposes of seeds derived from the run seed


@dataclass(frozen=True)
class SupernetProgress:
    """What a progress callback sees after each supernet epoch."""

    epoch: int
    epochs: int
    loss: float
    wall_seconds: float


def _seed(seed: int, purpose: int, index: int) -> int:
    return int(key_of(seed, purpose, index)) >> 1  # non-negative 63 bits, as torch takes


class OneShot:
    """A supernet over ``evaluator``'s space and data, trained once, scoring paths."""

    def __init__(self, evaluator: NeuralEvaluator, seed: int, evaluation: NeuralEvaluation) -> None:
        if not callable(getattr(evaluator.space, "build_supernet", None)):
            raise ConfigError(f"evaluation.strategy = 'one_shot' needs a space with a supernet; "
                              f"{evaluator.space_name!r} has none (allowed: layers, nasnet)")
        self.evaluator, self.seed, self.epochs = evaluator, seed, evaluation.supernet_epochs
        self.recalibrate_batches = evaluation.recalibrate_batches
        subset = evaluation.supernet_subset
        self.fidelity: Fidelity = evaluator.fidelity
        self.space = evaluator.space
        data = evaluator.data
        # The validation images depend on split_seed and valid_subset only, so a larger
        # supernet subset changes what trains the supernet, not what scores a path.
        self.split = split_data(data, replace(self.fidelity, train_subset=subset) if subset
                                else self.fidelity)
        self.input_shape = tuple(int(s) for s in self.split.x_train.shape[1:])
        self.classes = len(data.classes)
        self.supernet = self.space.build_supernet(self.input_shape, self.classes, self.fidelity.width)
        self.epoch = 0
        self.optimizer = torch.optim.SGD(self.supernet.parameters(), lr=self.fidelity.lr,
                                         momentum=self.fidelity.momentum, nesterov=self.fidelity.momentum > 0,
                                         weight_decay=self.fidelity.weight_decay)
        with seeded(_seed(seed, _INIT, 0), torch.device("cpu"), self.fidelity.threads):
            reset_weights(self.supernet)
        set_input_stats(self.supernet, self.split)

    # ---- training ---------------------------------------------------------------------
    def path(self, step: int) -> dict:
        """The encoded genome trained at global ``step``: a random genome, then 0..WALK mutations."""
        rng = np.random.default_rng(_seed(self.seed, _PATH, step))
        genome = self.space.random(rng)
        for _ in range(int(rng.integers(0, WALK + 1))):
            genome = self.space.mutate(genome, rng)[0]
        return self.space.encode(genome)

    def _steps(self) -> tuple[int, int]:
        n = len(self.split.y_train)
        batch = min(self.fidelity.batch_size, n)
        return n // batch, batch

    def train(self, recorder: RunRecorder | None, progress: Callable[[Any], None] | None = None,
              deadline: float | None = None) -> bool:
        """Continue training from the newest checkpoint to ``epochs``; True when complete
        (False: ``deadline``, a ``time.time()``, passed first; the next call continues)."""
        stored = recorder.latest_checkpoint(CHECKPOINT) if recorder is not None and self.epoch == 0 else None
        if stored is not None:
            self._load(*stored)
        steps, batch = self._steps()
        total = steps * self.epochs
        x, y = self.split.x_train, self.split.y_train
        net, opt = self.supernet, self.optimizer
        wall0 = time.time()
        while self.epoch < self.epochs:
            if deadline is not None and time.time() >= deadline:
                return False
            e = self.epoch
            with seeded(_seed(self.seed, _TORCH, e), torch.device("cpu"), self.fidelity.threads):
                net.train()
                order = torch.randperm(len(y), generator=torch.Generator().manual_seed(_seed(self.seed, _ORDER, e)))
                loss_sum = 0.0
                for b in range(steps):
                    step = e * steps + b
                    idx = order[b * batch:(b + 1) * batch]
                    for group in opt.param_groups:
                        group["lr"] = 0.5 * self.fidelity.lr * (1.0 + math.cos(math.pi * step / total))
                    loss = nn.functional.cross_entropy(net(x[idx].float().div_(255), self.path(step)), y[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    loss_sum += float(loss.detach())
            self.epoch = e + 1
            if recorder is not None:
                recorder.checkpoint(CHECKPOINT, self.epoch, *self._state(loss_sum / steps))
            if progress is not None:
                progress(SupernetProgress(self.epoch, self.epochs, loss_sum / steps, time.time() - wall0))
        return True

    def _state(self, loss: float) -> tuple[dict[str, np.ndarray], dict]:
        arrays = {f"w.{k}": v.detach().cpu().numpy() for k, v in self.supernet.state_dict().items()}
        names = {id(p): k for k, p in self.supernet.named_parameters()}
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                buf = self.optimizer.state.get(p, {}).get("momentum_buffer")
                if buf is not None:
                    arrays[f"m.{names[id(p)]}"] = buf.detach().cpu().numpy()
        return arrays, {"epoch": self.epoch, "epochs": self.epochs, "loss": loss, "seed": str(self.seed)}

    def _load(self, arrays: dict[str, np.ndarray], meta: dict) -> None:
        if int(meta.get("epoch", -1)) > self.epochs or str(meta.get("seed")) != str(self.seed):
            raise ConfigError(f"the supernet checkpoint (epoch {meta.get('epoch')}, seed {meta.get('seed')}) does not "
                              f"belong to this run (seed {self.seed}, {self.epochs} epochs)")
        state = {k[2:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("w.")}
        expected = {k: tuple(v.shape) for k, v in self.supernet.state_dict().items()}
        if {k: tuple(v.shape) for k, v in state.items()} != expected:
            raise ConfigError(f"the supernet checkpoint (epoch {meta.get('epoch')}) holds another supernet's weights "
                              f"(a different space config, or a zeroevo whose supernet layout differs); allowed: a "
                              f"checkpoint of this run's supernet, or a new run")
        self.supernet.load_state_dict(state)
        params = dict(self.supernet.named_parameters())
        for k, v in arrays.items():
            if k.startswith("m."):
                self.optimizer.state[params[k[2:]]]["momentum_buffer"] = torch.from_numpy(v).clone()
        self.epoch = int(meta["epoch"])

    # ---- scoring ----------------------------------------------------------------------
    def evaluate(self, request: EvalRequest) -> EvalResult:
        """The request's genome scored by its path: validation accuracy with shared weights
        (batch norm recalibrated); costs as a trained birth records them."""
        genome = self.space.decode(request.genome)
        start = time.perf_counter()
        model = self.space.build(genome, self.input_shape, self.classes, self.fidelity.width)
        costs = self.evaluator.costs(model, self.input_shape, self.fidelity)
        over = self.evaluator.over_limit(costs)
        if over:
            return EvalResult(0.0, STATUS_FAILED, costs, 0, over)
        model.cpu().load_state_dict(self.supernet.standalone_state(request.genome))
        with seeded(_seed(self.seed, _TORCH, 1 << 20), torch.device("cpu"), self.fidelity.threads):
            self._recalibrate(model)
            fitness = accuracy(model, self.split.x_valid, self.split.y_valid, self.fidelity.eval_batch_size)
        metrics = {**costs, "val_accuracy": fitness, "score_seconds": time.perf_counter() - start,
                   "supernet_epochs": self.epoch}
        return EvalResult(float(fitness), STATUS_OK, metrics, 0, "")

    def _recalibrate(self, model: nn.Module) -> None:
        norms = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
        if not norms or not self.recalibrate_batches:
            return
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the calibration batches
        steps, batch = self._steps()
        model.train()
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.eval()
        with torch.no_grad():
            for b in range(min(self.recalibrate_batches, steps)):  # the same first batches for every path
                model(self.split.x_train[b * batch:(b + 1) * batch].float().div_(255))
        model.eval()
