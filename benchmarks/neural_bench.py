"""Architecture search on Fashion-MNIST at a small CPU proxy budget.

1. Regularized evolution against random search, the same number of candidates, mean over
   seeds (best validation accuracy found).
2. The best network found, retrained at full fidelity, against a hand-designed network of
   similar size (test accuracy, parameters).
3. Candidates per CPU-minute.

    PYTHONPATH=. python benchmarks/neural_bench.py [--candidates 40] [--seeds 1 2] [--space layers]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from zeroevo.core.protocols import EvalRequest
from zeroevo.runs.presets import load_preset

HAND_DESIGNED = {"layers": [
    {"op": "conv", "filters": 16, "kernel": 3, "stride": 1, "inputs": []},
    {"op": "batchnorm", "inputs": [0]},
    {"op": "activation", "fn": "relu", "inputs": [1]},
    {"op": "maxpool", "kernel": 3, "stride": 2, "inputs": [2]},
    {"op": "conv", "filters": 32, "kernel": 3, "stride": 1, "inputs": [3]},
    {"op": "activation", "fn": "relu", "inputs": [4]},
    {"op": "maxpool", "kernel": 3, "stride": 2, "inputs": [5]},
    {"op": "dense", "units": 64, "inputs": [6]},
]}


def search(space: str, algorithm: str, seed: int, candidates: int):  # noqa: ANN201
    """One search at the proxy fidelity; returns (result, cpu seconds)."""
    from zeroevo.neural.search import NeuralSearch

    preset = "fashion-layers" if space == "layers" else "fashion-nasnet"
    cfg = load_preset(preset).replace("run", max_births=candidates, seed=seed)
    cfg = cfg.replace("evolution", algorithm=algorithm, population=max(4, candidates // 4),
                      tournament=max(2, candidates // 12))
    cfg = cfg.replace("fidelity", train_subset=1024, valid_subset=1024, epochs=1)
    cpu = time.process_time()
    result = NeuralSearch(cfg).run()
    return result, time.process_time() - cpu, cfg


def full_fidelity(cfg, genome: dict, epochs: int, seed: int) -> tuple[float, int]:  # noqa: ANN001
    """Test accuracy and parameter count of ``genome`` trained on the whole training split."""
    import torch

    from zeroevo.neural.evaluator import NeuralEvaluator
    from zeroevo.neural.trainer import count_params, evaluate_model

    conf = cfg.evaluator_config()
    ev = NeuralEvaluator({**conf, "fidelity": {**conf["fidelity"], "epochs": epochs, "train_subset": 0},
                          "limits": {}})
    outcome = ev.train(EvalRequest(cfg.space.name, genome, seed))
    model = ev.space.build(ev.space.decode(genome), tuple(ev.data.x_train.shape[1:]), len(ev.data.classes))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in outcome.state.items()})
    return evaluate_model(model, ev.data.x_test, ev.data.y_test), count_params(model)


def main() -> None:
    """Run the comparison and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", type=int, default=40)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--space", choices=["layers", "nasnet"], default="layers")
    parser.add_argument("--full-epochs", type=int, default=3)
    args = parser.parse_args()
    best = {}
    for algorithm in ("regularized", "random"):
        accs, cpus = [], []
        for seed in args.seeds:
            result, cpu, cfg = search(args.space, algorithm, seed, args.candidates)
            accs.append(result.best_fitness)
            cpus.append(cpu)
            if algorithm == "regularized" and result.best_fitness >= max(best.get("acc", -1), -1):
                best = {"acc": result.best_fitness, "genome": result.genome, "cfg": cfg, "seed": seed}
            print(f"{algorithm:<12} seed {seed}: best validation accuracy {result.best_fitness:.4f}, "
                  f"{args.candidates / (cpu / 60):.1f} candidates per CPU-minute, "
                  f"{result.failed} failed")
        print(f"{algorithm:<12} mean best validation accuracy over seeds {np.mean(accs):.4f}  "
              f"({args.candidates * len(args.seeds) / (sum(cpus) / 60):.1f} candidates per CPU-minute)")
    if args.space == "layers":
        found, n_found = full_fidelity(best["cfg"], best["genome"], args.full_epochs, best["seed"])
        hand, n_hand = full_fidelity(best["cfg"], HAND_DESIGNED, args.full_epochs, best["seed"])
        print(f"full fidelity ({args.full_epochs} epochs, all 60k training images), test accuracy:")
        print(f"  evolved best     {found:.4f}  ({n_found:,} parameters)")
        print(f"  hand-designed    {hand:.4f}  ({n_hand:,} parameters)")


if __name__ == "__main__":
    main()
