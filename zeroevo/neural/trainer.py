"""The one trainer of neural candidates: seeded, deterministic, failure-proof SGD training.

:func:`train_model` trains any ``nn.Module`` that maps images ``[N, C, H, W]`` scaled to
``[0, 1]`` to class logits, on a seeded subset of a data set's train split, and reports the
accuracy on a held-out part of that same split (the test split is kept for final reporting
with :func:`evaluate_model`). Per-channel normalisation statistics of the training subset are
passed to every module of the model with a ``set_input_stats(mean, std)`` method (such as
``primitives.torch_layers.InputNorm``), so a trained network carries its own preprocessing;
a model without one sees raw ``[0, 1]`` pixels.

Determinism: the parameters are re-initialised on the CPU from the seed (every module's
``reset_parameters()``, run inside ``torch.random.fork_rng`` so the caller's global RNG is
untouched; a module that owns parameters directly must define ``reset_parameters``), and
data order and augmentation draw from their own ``torch.Generator``s. Deterministic kernels,
cuDNN's deterministic mode and torch's intra-op thread count (``Fidelity.threads``: float
reductions depend on it) are set for the duration of a call and restored after, which is
safe for one training per process at a time (workers are processes). So a candidate trains
to the same bits serially, in a local worker or on a Dask worker.

Failures of the candidate (out of memory, non-finite loss, a shape error, too many
parameters, too slow) never raise: they come back as ``STATUS_FAILED`` with fitness 0.
Only a fidelity that cannot fit the data (the user's config) raises ``ConfigError``.
"""
from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from zeroevo.core.errors import ConfigError
from zeroevo.core.protocols import STATUS_FAILED, STATUS_OK, STATUS_STOPPED
from zeroevo.neural.fidelity import Fidelity, Limits

_MASK64 = 0xFFFFFFFFFFFFFFFF
_INIT, _ORDER, _AUGMENT = 1, 2, 3  # purposes of the seeds derived from one training seed
_CUDA_CHECK_EVERY = 25  # steps between loss checks on CUDA (each check waits for the GPU)


@dataclass(frozen=True)
class TrainOutcome:
    """What training found: ``fitness`` is the validation accuracy (0 when failed).

    ``metrics`` holds at least ``val_accuracy``, ``params``, ``flops`` (multiply-adds of one
    image), ``train_seconds``, ``epochs_done``; ``state`` the trained weights (None if failed).
    """

    fitness: float
    status: int
    reason: str = ""
    metrics: dict = field(default_factory=dict)
    state: dict[str, np.ndarray] | None = None


def derive_seed(seed: int, purpose: int) -> int:
    """An independent 63-bit seed for ``purpose`` from a training seed (any int, e.g. uint64)."""
    words = np.random.SeedSequence([int(seed) & _MASK64, int(purpose)]).generate_state(2, dtype=np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


def count_params(model: nn.Module) -> int:
    """The number of parameters of ``model``."""
    return int(sum(p.numel() for p in model.parameters()))


def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of Conv2d and Linear layers for one image of ``input_shape`` (C, H, W)."""
    total = [0]

    def hook(m: nn.Module, _inp: Any, out: torch.Tensor) -> None:
        fan_in = m.in_features if isinstance(m, nn.Linear) else m.in_channels // m.groups * math.prod(m.kernel_size)
        total[0] += out.numel() * fan_in

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    param = next(model.parameters(), None)
    try:
        model.eval()  # batch norm cannot train on a batch of one
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=param.device if param is not None else "cpu"))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return int(total[0])


def _amp_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "bf16" or (precision == "auto" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16


def _autocast(device: torch.device, amp: torch.dtype | None) -> Any:
    return torch.autocast(device.type, dtype=amp) if amp is not None else nullcontext()


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int,
             amp: torch.dtype | None = None) -> float:
    """Accuracy of ``model`` (in eval mode, restored after) on uint8 or [0, 1] images ``x``."""
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    try:
        with torch.no_grad(), _autocast(x.device, amp):
            for lo in range(0, len(y), batch):
                xb = x[lo:lo + batch]
                xb = xb.float().div_(255) if xb.dtype == torch.uint8 else xb.float()
                correct += (model(xb).argmax(dim=1) == y[lo:lo + batch]).sum()
    finally:
        model.train(was_training)
    return float(correct.item()) / max(1, len(y))


def evaluate_model(model: nn.Module, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor,
                   batch_size: int = 512) -> float:
    """Accuracy of ``model`` on images ``x`` (uint8, or float in [0, 1]) with labels ``y``.

    Runs on the device of the model's parameters; use it for the test split.
    """
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    x = torch.as_tensor(x).to(device)
    y = torch.as_tensor(y).to(device=device, dtype=torch.int64)
    return accuracy(model, x, y, batch_size, _amp_dtype("auto", device))


@dataclass(frozen=True)
class Split:
    """The images one training sees: a subset of the train split and held-out validation images."""

    x_train: torch.Tensor  # uint8 [N, C, H, W]
    y_train: torch.Tensor
    x_valid: torch.Tensor
    y_valid: torch.Tensor
    mean: torch.Tensor  # per channel, of x_train / 255
    std: torch.Tensor


def split_data(data: Any, fidelity: Fidelity) -> Split:
    """The fidelity's training subset and held-out validation images (uint8 tensors), and the
    per-channel statistics of the training subset. Depends on ``split_seed`` only."""
    x = np.asarray(data.x_train)
    y = np.asarray(data.y_train)
    if x.dtype != np.uint8 or x.ndim != 4 or len(y) != len(x):
        raise ConfigError(f"training images must be uint8 [N, C, H, W] with N labels, got {x.dtype} {x.shape}")
    if fidelity.valid_subset > len(x) - 2:
        raise ConfigError(f"Fidelity.valid_subset = {fidelity.valid_subset} leaves too few of the {len(x)} "
                          f"training images; allowed: at most {len(x) - 2}")
    # The split depends on split_seed only, so every candidate is measured on the same images.
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(fidelity.split_seed)).numpy()
    valid = perm[:fidelity.valid_subset]
    train = perm[fidelity.valid_subset:]
    if fidelity.train_subset:
        train = train[:fidelity.train_subset]
    xt = x[np.sort(train)]
    # Exact per-channel statistics from 256-bin histograms: no float copy of the data.
    counts = np.stack([np.bincount(xt[:, c].ravel(), minlength=256) for c in range(x.shape[1])])
    levels = np.arange(256) / 255.0
    mean = counts @ levels / counts.sum(axis=1)
    var = counts @ levels**2 / counts.sum(axis=1) - mean**2
    std = np.sqrt(np.maximum(var, 1e-6))
    return Split(
        torch.from_numpy(x[train]), torch.from_numpy(y[train].astype(np.int64)),
        torch.from_numpy(x[valid]), torch.from_numpy(y[valid].astype(np.int64)),
        torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32),
    )


def _augment(x: torch.Tensor, gen: torch.Generator, flip: bool) -> torch.Tensor:
    """Random crops from a zero-padded batch (pad = size / 8) and, if ``flip``, mirror images."""
    n, _, h, w = x.shape
    pad = max(1, round(h / 8))
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=gen).to(x.device)
    padded = nn.functional.pad(x, (pad, pad, pad, pad))
    rows = (offsets[:, :1] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (offsets[:, 1:] + torch.arange(w, device=x.device))[:, None, None, :]
    out = padded[torch.arange(n, device=x.device)[:, None, None, None],
                 torch.arange(x.shape[1], device=x.device)[None, :, None, None], rows, cols]
    if flip:
        mirror = (torch.rand(n, generator=gen) < 0.5).to(x.device)
        out = torch.where(mirror[:, None, None, None], out.flip(3), out)
    return out


@contextmanager
def seeded(seed: int, device: torch.device, threads: int) -> Iterator[None]:
    """Global RNGs seeded (inside a fork), deterministic kernels on and ``threads`` intra-op
    threads, all restored on exit."""
    cuda = device.type == "cuda"
    index = (device.index if device.index is not None else torch.cuda.current_device()) if cuda else None
    previous = (torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
                torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,
                torch.get_num_threads())
    with torch.random.fork_rng(devices=[index] if cuda else []):
        torch.random.default_generator.manual_seed(seed)
        if cuda:
            with torch.cuda.device(index):
                torch.cuda.manual_seed(seed)
        # warn_only: an op without a deterministic kernel should not fail the candidate.
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        if previous[4] != threads:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = previous[2], previous[3]
            if torch.get_num_threads() != previous[4]:
                torch.set_num_threads(previous[4])


def _inherit(model: nn.Module, init_state: dict[str, np.ndarray] | None) -> int:
    init_state = init_state or {}
    matches = [(tensor, init_state[name]) for name, tensor in model.state_dict().items()
               if name in init_state and tuple(np.shape(init_state[name])) == tuple(tensor.shape)]
    with torch.no_grad():
        for tensor, source in matches:
            tensor.copy_(torch.as_tensor(np.asarray(source)))
    return len(matches)


def _state(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def _failure_reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, (torch.cuda.OutOfMemoryError, MemoryError)) or "out of memory" in text.lower():
        return "out of memory"
    return f"{type(exc).__name__}: {text[:160]}"


def train_model(
    model: nn.Module,
    data: Any,
    fidelity: Fidelity,
    seed: int,
    limits: Limits = Limits(),
    hurdles: tuple[float, ...] = (),
    init_state: dict[str, np.ndarray] | None = None,
    device: str | None = None,
    test: bool = False,
) -> TrainOutcome:
    """Train ``model`` in place on ``data`` (an ``ImageData``) and report validation accuracy.

    ``hurdles[k]`` is the least validation accuracy allowed after epoch ``k + 1``; below it
    training stops with ``STATUS_STOPPED`` and the accuracy reached. ``init_state`` (weight
    inheritance) overwrites every tensor whose name and shape match. ``device`` defaults to
    CUDA when available, else the CPU; the model is left there. With ``test``, a model that
    trained to the end is also measured on the test split (``metrics["test_accuracy"]``),
    under the same thread and determinism settings.
    """
    start = time.perf_counter()
    split = split_data(data, fidelity)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.type == "cuda":
        # cuBLAS needs this for deterministic GEMMs; it only takes effect before cuBLAS starts.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    metrics: dict[str, Any] = {"val_accuracy": 0.0, "params": count_params(model), "flops": 0,
                               "train_seconds": 0.0, "epochs_done": 0}
    if limits.max_params is not None and metrics["params"] > limits.max_params:
        return TrainOutcome(0.0, STATUS_FAILED, f"{metrics['params']} parameters > max_params {limits.max_params}",
                            metrics)
    try:
        with seeded(derive_seed(seed, _INIT), dev, fidelity.threads):
            outcome = _run(model, split, fidelity, seed, limits, tuple(hurdles), init_state, dev, start, metrics)
            if test and outcome.status == STATUS_OK:
                outcome.metrics["test_accuracy"] = evaluate_model(model, data.x_test, data.y_test,
                                                                  fidelity.eval_batch_size)
            return outcome
    except Exception as exc:  # any failure of the candidate is a result, never an exception
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        return TrainOutcome(0.0, STATUS_FAILED, _failure_reason(exc), metrics)


def reset_weights(model: nn.Module) -> None:
    """Re-initialise every module that can, from torch's global generator (call it inside
    :func:`seeded`, so the weights are a function of the seed)."""
    for module in model.modules():
        if callable(getattr(module, "reset_parameters", None)):
            module.reset_parameters()


def set_input_stats(model: nn.Module, split: "Split") -> None:
    """Give every input-normalising module the training images' per-channel statistics."""
    for module in model.modules():
        if callable(getattr(module, "set_input_stats", None)):
            module.set_input_stats(split.mean, split.std)


def _run(model: nn.Module, split: Split, fidelity: Fidelity, seed: int, limits: Limits,
         hurdles: tuple[float, ...], init_state: dict[str, np.ndarray] | None, dev: torch.device,
         start: float, metrics: dict[str, Any]) -> TrainOutcome:
    # Initialise on the CPU so the weights do not depend on the device.
    model.cpu()
    reset_weights(model)
    metrics["inherited"] = _inherit(model, init_state)
    set_input_stats(model, split)
    model.to(dev)
    shape = tuple(split.x_train.shape[1:])
    metrics["flops"] = count_flops(model, shape)
    x_train, y_train = split.x_train.to(dev), split.y_train.to(dev)
    x_valid, y_valid = split.x_valid.to(dev), split.y_valid.to(dev)
    amp = _amp_dtype(fidelity.precision, dev)
    scaler = torch.amp.GradScaler(dev.type, enabled=amp == torch.float16)  # a no-op unless fp16
    optimizer = torch.optim.SGD(model.parameters(), lr=fidelity.lr, momentum=fidelity.momentum,
                                nesterov=fidelity.momentum > 0, weight_decay=fidelity.weight_decay)
    order_gen = torch.Generator().manual_seed(derive_seed(seed, _ORDER))
    augment_gen = torch.Generator().manual_seed(derive_seed(seed, _AUGMENT))
    n = len(y_train)
    batch = min(fidelity.batch_size, n)
    steps = n // batch  # the last partial batch is dropped: a batch of one breaks batch norm
    total_steps = steps * fidelity.epochs
    check_every = _CUDA_CHECK_EVERY if dev.type == "cuda" else 1
    train_start = time.perf_counter()

    def fail(reason: str) -> TrainOutcome:
        metrics["train_seconds"] = time.perf_counter() - train_start
        return TrainOutcome(0.0, STATUS_FAILED, reason, metrics)

    step = 0
    for epoch in range(fidelity.epochs):
        model.train()
        perm = torch.randperm(n, generator=order_gen).to(dev)
        loss_sum = torch.zeros((), device=dev)
        for b in range(steps):
            idx = perm[b * batch:(b + 1) * batch]
            xb = x_train[idx].float().div_(255)
            if fidelity.augment:
                xb = _augment(xb, augment_gen, flip=xb.shape[1] == 3)
            for group in optimizer.param_groups:
                group["lr"] = 0.5 * fidelity.lr * (1.0 + math.cos(math.pi * step / total_steps))
            with _autocast(dev, amp):
                logits = model(xb)
            loss = nn.functional.cross_entropy(logits.float(), y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            loss_sum += loss.detach()
            step += 1
            if (step % check_every == 0 or b == steps - 1) and not bool(torch.isfinite(loss_sum)):
                return fail(f"non-finite loss in epoch {epoch + 1}")
            if limits.max_seconds is not None and time.perf_counter() - start > limits.max_seconds:
                return fail(f"over max_seconds {limits.max_seconds:g}")
        metrics["epochs_done"] = epoch + 1
        metrics["train_loss"] = float(loss_sum.item()) / steps
        last = epoch == fidelity.epochs - 1
        if epoch < len(hurdles) or last:
            acc = accuracy(model, x_valid, y_valid, fidelity.eval_batch_size, amp)
            metrics["val_accuracy"] = acc
            metrics.setdefault("stage_accuracy", []).append(acc)
            metrics["train_seconds"] = time.perf_counter() - train_start
            if epoch < len(hurdles) and acc < hurdles[epoch]:
                return TrainOutcome(acc, STATUS_STOPPED,
                                    f"hurdle {hurdles[epoch]:g} after epoch {epoch + 1}", metrics, _state(model))
    return TrainOutcome(metrics["val_accuracy"], STATUS_OK, "", metrics, _state(model))
