"""Inference latency of a network: measured on this device, or predicted from a lookup table.

:func:`measure_latency` times forward passes (warm-up excluded, median of repeats, in eval
mode, with the thread count the trainer uses). A search that ranks by measured latency is
not reproducible bit for bit (timings vary from run to run); for that, and for a target
device other than the one that trains, ProxylessNAS's answer is a per-layer *lookup table*
measured once on the target: :func:`build_table` times every distinct layer (its type, its
settings and its input shape) of a sample of architectures, ``zeroevo latency-table`` writes
the table, and :func:`predict_latency` sums a network's layers from it, the same every time.
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Iterable

import torch
from torch import nn

WARMUP, REPEATS = 2, 7


def _thread_count(threads: int):  # noqa: ANN202 - a context manager
    class _Threads:
        def __enter__(self) -> None:
            self.before = torch.get_num_threads()
            if self.before != threads:
                torch.set_num_threads(threads)

        def __exit__(self, *exc: Any) -> None:
            if torch.get_num_threads() != self.before:
                torch.set_num_threads(self.before)
    return _Threads()


def _time(fn: Any, device: torch.device, repeats: int = REPEATS, warmup: int = WARMUP) -> float:
    """Median milliseconds of ``fn()`` over ``repeats`` calls after ``warmup`` calls."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(1000.0 * (time.perf_counter() - t0))
    return statistics.median(times)


def measure_latency(model: nn.Module, input_shape: tuple[int, ...], batch: int, device: torch.device,
                    threads: int = 1, repeats: int = REPEATS) -> float:
    """Median milliseconds of one forward pass of a ``batch`` of inputs (eval mode, no grad)."""
    was_training = model.training
    model.eval()
    x = torch.zeros(batch, *input_shape, device=device)
    try:
        with torch.no_grad(), _thread_count(threads):
            return _time(lambda: model(x), device, repeats)
    finally:
        model.train(was_training)


def layer_calls(model: nn.Module, input_shape: tuple[int, ...], batch: int = 1) -> list[tuple[str, nn.Module, tuple]]:
    """``(key, module, input shape)`` of every leaf module call in one forward pass; the key
    names the layer's type, settings and input shape (what a latency table is keyed by)."""
    calls: list[tuple[str, nn.Module, tuple]] = []

    def hook(module: nn.Module, inputs: tuple, _out: Any) -> None:
        shape = tuple(inputs[0].shape) if inputs and isinstance(inputs[0], torch.Tensor) else ()
        calls.append((f"{type(module).__name__}({module.extra_repr()})@{list(shape)}", module, shape))

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = model.training
    param = next(model.parameters(), None)
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(batch, *input_shape, device=param.device if param is not None else "cpu"))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return calls


def build_table(models: Iterable[nn.Module], input_shape: tuple[int, ...], device: torch.device,
                batch: int = 1, threads: int = 1) -> dict[str, float]:
    """Milliseconds of every distinct leaf layer of ``models`` on ``device`` (median of repeats)."""
    table: dict[str, float] = {}
    with _thread_count(threads):
        for model in models:
            model.to(device).eval()
            for key, module, shape in layer_calls(model, input_shape, batch):
                if key in table or not shape:
                    continue
                x = torch.zeros(*shape, device=device)
                with torch.no_grad():
                    table[key] = _time(lambda m=module, x=x: m(x), device)
    return table


def predict_latency(model: nn.Module, input_shape: tuple[int, ...], table: dict[str, float],
                    batch: int = 1) -> float | None:
    """The sum of the table's entries for every layer ``model`` calls (None if one is missing)."""
    total = 0.0
    for key, _, _ in layer_calls(model, input_shape, batch):
        if key not in table:
            return None
        total += table[key]
    return total
