"""Named starting configurations: ``zeroevo evolve --preset NAME``.

Each preset is plain nested data (what a TOML file would hold); ``zeroevo presets show NAME``
prints it as commented TOML to start a config file from.
"""
from __future__ import annotations

from zeroevo.core.config import ConfigBase, merge
from zeroevo.core.errors import ConfigError
from zeroevo.runs.configs import from_dict

DEMO_OPS = ["SCALAR_CONST_SET", "VECTOR_INNER_PRODUCT", "SCALAR_DIFF", "SCALAR_PRODUCT",
            "SCALAR_VECTOR_PRODUCT", "VECTOR_SUM"]

# The ops of a 2-layer network trained by backpropagation, plus the demo's.
NONLINEAR_OPS = DEMO_OPS + ["MATRIX_VECTOR_PRODUCT", "VECTOR_HEAVYSIDE", "VECTOR_PRODUCT",
                            "VECTOR_OUTER_PRODUCT", "MATRIX_SUM", "VECTOR_MAX", "SCALAR_MATRIX_PRODUCT"]
NONLINEAR_SETUP_OPS = ["SCALAR_CONST_SET", "VECTOR_GAUSSIAN_SET", "MATRIX_GAUSSIAN_SET"]

ALL_OPS = [
    "SCALAR_SUM", "SCALAR_DIFF", "SCALAR_PRODUCT", "SCALAR_DIVISION", "SCALAR_ABS",
    "SCALAR_RECIPROCAL", "SCALAR_SIN", "SCALAR_COS", "SCALAR_TAN", "SCALAR_ARCSIN",
    "SCALAR_ARCCOS", "SCALAR_ARCTAN", "SCALAR_EXP", "SCALAR_LOG", "SCALAR_HEAVYSIDE",
    "VECTOR_HEAVYSIDE", "MATRIX_HEAVYSIDE", "SCALAR_VECTOR_PRODUCT", "SCALAR_BROADCAST",
    "VECTOR_RECIPROCAL", "VECTOR_NORM", "VECTOR_ABS", "VECTOR_SUM", "VECTOR_DIFF",
    "VECTOR_PRODUCT", "VECTOR_DIVISION", "VECTOR_INNER_PRODUCT", "VECTOR_OUTER_PRODUCT",
    "SCALAR_MATRIX_PRODUCT", "MATRIX_RECIPROCAL", "MATRIX_VECTOR_PRODUCT",
    "VECTOR_COLUMN_BROADCAST", "VECTOR_ROW_BROADCAST", "MATRIX_NORM", "MATRIX_COLUMN_NORM",
    "MATRIX_ROW_NORM", "MATRIX_TRANSPOSE", "MATRIX_ABS", "MATRIX_SUM", "MATRIX_DIFF",
    "MATRIX_PRODUCT", "MATRIX_DIVISION", "MATRIX_MATRIX_PRODUCT", "SCALAR_MIN", "VECTOR_MIN",
    "MATRIX_MIN", "SCALAR_MAX", "VECTOR_MAX", "MATRIX_MAX", "VECTOR_MEAN", "MATRIX_MEAN",
    "MATRIX_ROW_MEAN", "MATRIX_ROW_ST_DEV", "VECTOR_ST_DEV", "MATRIX_ST_DEV",
    "SCALAR_CONST_SET", "VECTOR_CONST_SET", "MATRIX_CONST_SET", "SCALAR_UNIFORM_SET",
    "VECTOR_UNIFORM_SET", "MATRIX_UNIFORM_SET", "SCALAR_GAUSSIAN_SET", "VECTOR_GAUSSIAN_SET",
    "MATRIX_GAUSSIAN_SET"]

# The reference's "basic" binary setting (run_baseline.sh): restricted ops per component.
BASIC_SETUP_OPS = ["SCALAR_CONST_SET", "SCALAR_GAUSSIAN_SET", "SCALAR_UNIFORM_SET", "VECTOR_GAUSSIAN_SET",
                   "VECTOR_UNIFORM_SET", "MATRIX_GAUSSIAN_SET", "MATRIX_UNIFORM_SET"]
BASIC_PREDICT_OPS = ["SCALAR_SUM", "MATRIX_VECTOR_PRODUCT", "VECTOR_MAX", "VECTOR_INNER_PRODUCT", "VECTOR_SUM"]
BASIC_LEARN_OPS = ["SCALAR_SUM", "SCALAR_DIFF", "SCALAR_PRODUCT", "SCALAR_VECTOR_PRODUCT", "VECTOR_SUM",
                   "VECTOR_HEAVYSIDE", "VECTOR_PRODUCT", "VECTOR_OUTER_PRODUCT", "MATRIX_SUM"]

# The paper's binary protocol: search on 36 class pairs; select on the 9 held-out pairs;
# report on the held-out pairs, validated on test-split images.
_BINARY = {"kind": "binary_projected", "features": 16, "num_train": 8000, "num_valid": 1000,
           "dataset": "fashion_mnist"}
BINARY_PROTOCOL = {
    "search_tasks": {**_BINARY, "num_tasks": 10, "pairs": "search"},
    # One draw of select tasks for all restarts: pairs differ so much in difficulty (logistic
    # regression scored 0.88-0.98 over 15 draws of one run) that, drawn anew, the kept program
    # is the one whose restart drew easy pairs (docs/semantics.md).
    "select_tasks": {**_BINARY, "num_tasks": 10, "pairs": "held_out", "redraw": False},
    "final_tasks": {**_BINARY, "num_tasks": 100, "pairs": "held_out", "valid_split": "test",
                    "data_seeds": [1000000], "param_seeds": [2000000]},
    # Births on these tasks cost milliseconds (50-250 per CPU-s), and islands stop at a
    # migration: the default 50,000 births per island took 4 minutes at first on the basic
    # preset and over 19 later (programs grow), so --max-seconds overran by as much.
    "dispatch": {"migrate_every": 2000},
}

# Adaptation: the 2-layer net's ops (and the demo's), plus ops that change how a learner
# learns (rates, normalisation, noise), from a working learner.
ADAPT_OPS = DEMO_OPS + ["MATRIX_VECTOR_PRODUCT", "VECTOR_HEAVYSIDE", "VECTOR_PRODUCT", "VECTOR_OUTER_PRODUCT",
                        "MATRIX_SUM", "SCALAR_SUM", "SCALAR_DIVISION", "SCALAR_ABS", "SCALAR_EXP",
                        "SCALAR_RECIPROCAL", "VECTOR_NORM", "VECTOR_MEAN", "VECTOR_ST_DEV", "SCALAR_MAX",
                        "SCALAR_MIN", "VECTOR_ABS", "SCALAR_GAUSSIAN_SET", "VECTOR_GAUSSIAN_SET",
                        "MATRIX_GAUSSIAN_SET", "SCALAR_MATRIX_PRODUCT"]


def _adaptation(initial: str) -> dict:
    return {
        "program": {"features": 16, "scalars": 8, "vectors": 10, "matrices": 3, "setup_ops": ADAPT_OPS,
                    "predict_ops": ADAPT_OPS, "learn_ops": ADAPT_OPS, "init_sizes": [3, 4, 8],
                    "min_sizes": [0, 1, 0], "max_sizes": [8, 10, 16], "initial": initial},
        "evolution": {"population": 100, "tournament": 10, "mutate_prob": 0.9,
                      "mutations": ["alter_param", "insert", "remove", "randomize_instruction"],
                      "max_train_steps": 4e9},
        "evaluation": {"fec": True, "fec_train": 10, "fec_valid": 10, "train_budget": 4.0},
        **BINARY_PROTOCOL,
        "run": {"sufficient_fitness": 0.0},
    }


PRESETS: dict[str, tuple[str, dict]] = {
    "demo": (
        "AutoML-Zero's demo: rediscover linear regression trained by SGD (linear tasks, F=4).",
        {
            "program": {"features": 4, "scalars": 4, "vectors": 3, "matrices": 1,
                        "setup_ops": DEMO_OPS, "predict_ops": DEMO_OPS, "learn_ops": DEMO_OPS,
                        "init_sizes": [10, 2, 8], "min_sizes": [0, 0, 0], "max_sizes": [10, 2, 8],
                        "initial": "random"},
            "evolution": {"population": 1000, "tournament": 10, "mutate_prob": 0.9,
                          "mutations": ["alter_param", "randomize_instruction", "randomize_component"],
                          "max_train_steps": 2e8},
            "evaluation": {"fec": True, "fec_train": 10, "fec_valid": 10},
            "search_tasks": {"kind": "linear", "num_tasks": 10, "features": 4, "num_train": 100,
                             "num_valid": 100},
            "select_tasks": {"kind": "linear", "num_tasks": 100, "features": 4, "num_train": 1000,
                             "num_valid": 100},
            "final_tasks": {"kind": "linear", "num_tasks": 100, "features": 4, "num_train": 1000,
                            "num_valid": 100, "data_seeds": [1000000], "param_seeds": [2000000]},
            "run": {"sufficient_fitness": 0.9999},
        },
    ),
    "nonlinear": (
        "Rediscover a 2-layer ReLU network trained by backpropagation, on ReLU-teacher tasks.",
        {
            "program": {"features": 4, "scalars": 4, "vectors": 8, "matrices": 2,
                        "setup_ops": NONLINEAR_SETUP_OPS, "predict_ops": NONLINEAR_OPS,
                        "learn_ops": NONLINEAR_OPS, "init_sizes": [3, 4, 8], "min_sizes": [1, 1, 1],
                        "max_sizes": [6, 8, 14], "initial": "random"},
            "evolution": {"population": 1000, "tournament": 10, "mutate_prob": 0.9,
                          "mutations": ["alter_param", "randomize_instruction", "randomize_component",
                                        "insert", "remove"],
                          "max_train_steps": 1e9},
            "evaluation": {"fec": True, "fec_train": 10, "fec_valid": 10},
            "search_tasks": {"kind": "relu_teacher", "num_tasks": 10, "features": 4,
                             "num_train": 1000, "num_valid": 100},
            "select_tasks": {"kind": "relu_teacher", "num_tasks": 100, "features": 4,
                             "num_train": 1000, "num_valid": 100},
            "final_tasks": {"kind": "relu_teacher", "num_tasks": 100, "features": 4,
                            "num_train": 1000, "num_valid": 100, "data_seeds": [1000000],
                            "param_seeds": [2000000]},
            # Solved = as good as the target: the 2-layer network trained by backprop scores 0.93-0.94
            # on select tasks (its best learning rate; baselines.json), random features 0.53, linear
            # regression 0.42-0.57, predicting 0 0.41-0.45. No learner reaches 0.99 here: one epoch
            # of SGD on 1,000 examples leaves an RMSE near 0.1.
            "run": {"sufficient_fitness": 0.9},
        },
    ),
    "binary-fashion": (
        "The paper's binary protocol: projected Fashion-MNIST pairs (F=16), all ops, from empty programs.",
        {
            "program": {"features": 16, "scalars": 20, "vectors": 20, "matrices": 20,
                        "setup_ops": ALL_OPS, "predict_ops": ALL_OPS, "learn_ops": ALL_OPS,
                        "init_sizes": [0, 0, 0], "min_sizes": [0, 0, 0], "max_sizes": [21, 21, 45],
                        "initial": "noop"},
            "evolution": {"population": 100, "tournament": 10, "mutate_prob": 0.9,
                          "mutations": ["insert", "remove", "randomize_instruction",
                                        "randomize_component", "alter_param"],
                          "max_train_steps": 1e10},
            "evaluation": {"fec": True, "fec_train": 10, "fec_valid": 10, "train_budget": 2.0},
            **BINARY_PROTOCOL,
            "run": {"sufficient_fitness": 0.0},
        },
    ),
    "binary-fashion-basic": (
        "The reference's 'basic' binary baseline (run_baseline.sh): its ops, sizes, no FEC; short restarts.",
        {
            "program": {"features": 16, "scalars": 5, "vectors": 9, "matrices": 2,
                        "setup_ops": BASIC_SETUP_OPS, "predict_ops": BASIC_PREDICT_OPS,
                        "learn_ops": BASIC_LEARN_OPS, "init_sizes": [1, 1, 1], "min_sizes": [1, 1, 1],
                        "max_sizes": [7, 11, 23], "initial": "noop"},
            "evolution": {"population": 100, "tournament": 10, "mutate_prob": 0.9,
                          "mutations": ["alter_param", "randomize_component", "insert", "remove"],
                          # The reference's 1e11 steps end one restart in ~6 CPU-hours here, but a
                          # restart settles within ~40,000 births: 3e9 (~4 CPU-minutes at first)
                          # makes many restarts of a run, and the select stage picks among all
                          # of their populations (select_top: 200 = two islands' 100 each).
                          "max_train_steps": 3e9, "select_top": 200},
            "evaluation": {"fec": False, "train_budget": 2.0},
            **BINARY_PROTOCOL,
            "run": {"sufficient_fitness": 0.0},
        },
    ),
    "binary-fashion-adapt-linear": (
        "Adaptation (paper sec. 4.3): evolve improvements to logistic regression by SGD on binary Fashion-MNIST.",
        _adaptation("linear"),
    ),
    "binary-fashion-adapt-nn": (
        "Adaptation (paper sec. 4.3): evolve improvements to a 2-layer net trained by backprop on binary Fashion-MNIST.",
        _adaptation("neural_net"),
    ),
    "fashion-layers": (
        "Layer-sequence architectures (conv/pool/dense with skips) on Fashion-MNIST, a small CPU proxy.",
        {
            "kind": "neural",
            "run": {"max_births": 60, "snapshot_every": 5, "sufficient_fitness": 0.0},
            "evolution": {"population": 12, "tournament": 4},
            # Convs are conv-BN-ReLU blocks (Real et al. 2017) and first genomes are drawn from convs
            # and pools: with a few hundred births, evolution refines networks instead of discovering
            # that a network needs a nonlinearity (benchmarks/neural_quality.py measures it).
            "space": {"name": "layers", "options": {
                "max_layers": 8, "min_layers": 2, "initial_layers": 4, "conv_block": True,
                "ops": ["conv", "maxpool", "avgpool", "dense", "dropout"], "initial_ops": ["conv", "maxpool"]}},
            "data": {"dataset": "fashion_mnist"},
            # The proxy ranks 30 random architectures with Spearman rho 0.86 against the final stage
            # at 1/20 of its CPU cost (benchmarks/proxy_rank.py; 1 epoch on 1k images: 0.64).
            "fidelity": {"epochs": 2, "train_subset": 2048, "valid_subset": 1024, "batch_size": 64,
                         "lr": 0.05},
            "limits": {"max_params": 2_000_000, "max_seconds": 120.0},
            # With strategy = "one_shot": every path trains on a slice of the supernet, so it needs far
            # more images than one network. Kendall tau of path scores against stand-alone accuracy
            # (30 architectures, benchmarks/oneshot_bench.py): 0.01 at 10 epochs on 2,048 images,
            # 0.45 at 15 on 16,384, 0.52 at 30 on 16,384 (155 CPU-s, one thread).
            "evaluation": {"supernet_subset": 16384, "supernet_epochs": 30},
            # A final stage a CPU finishes in minutes per retraining: 5 epochs on 20,000 images
            # (all 55,000 and more epochs on a GPU: final.train_subset = 0).
            "final": {"top_k": 3, "seeds": 1, "epochs": 5, "train_subset": 20000, "valid_subset": 5000},
        },
    ),
    "fashion-nasnet": (
        "NASNet normal + reduction cells mutated as in AmoebaNet, on Fashion-MNIST, a small CPU proxy.",
        {
            "kind": "neural",
            "run": {"max_births": 40, "snapshot_every": 5, "sufficient_fitness": 0.0},
            "evolution": {"population": 10, "tournament": 3},
            "space": {"name": "nasnet", "options": {"blocks": 5, "cells_per_stack": 1, "stacks": 2,
                                                     "filters": 8}},
            "data": {"dataset": "fashion_mnist"},
            # 64 SGD steps of 16 images, measured on 2,048: Spearman rho 0.48 against the final stage
            # over 30 random cells at 1/16 of its cost (benchmarks/proxy_rank.py), as much as 2 epochs on
            # 4k images at 1/3. At batch 64 the same images gave 16 steps, cells stayed at 0.16-0.24
            # accuracy and rho was -0.14. There is little to rank: those 30 reach 0.80-0.84 at the end.
            "fidelity": {"epochs": 1, "train_subset": 1024, "valid_subset": 2048, "batch_size": 16,
                         "lr": 0.05},
            "limits": {"max_params": 2_000_000, "max_seconds": 180.0},
            # NASNet cells at 28x28 train at ~7 ms per image on one CPU thread: the CPU final stage
            # is 3 epochs on 8,192 images, the top 2 (a GPU affords final.train_subset = 0).
            "final": {"top_k": 2, "seeds": 1, "epochs": 3, "train_subset": 8192, "valid_subset": 5000,
                      "batch_size": 64},
        },
    ),
    "fashion-hierarchical": (
        "Hierarchical motifs (Liu et al. 2017) on Fashion-MNIST, a small CPU proxy.",
        {
            "kind": "neural",
            "run": {"max_births": 40, "snapshot_every": 5, "sufficient_fitness": 0.0},
            "evolution": {"population": 10, "tournament": 3},
            "space": {"name": "hierarchical", "options": {"levels": 3, "motifs": [4, 1], "nodes": [3, 4],
                                                           "filters": 8, "cells": 2}},
            "data": {"dataset": "fashion_mnist"},
            "fidelity": {"epochs": 1, "train_subset": 1024, "valid_subset": 512, "batch_size": 64,
                         "lr": 0.05},
            "limits": {"max_params": 2_000_000, "max_seconds": 180.0},
            "final": {"top_k": 3, "seeds": 1, "epochs": 6, "train_subset": 0, "valid_subset": 5000},
        },
    ),
}


# Listed after the others: it is fashion-layers with a few fields changed.
PRESETS["fashion-layers-staged"] = (
    "Layer sequences in three stages of fixed resolution, screened by a predictor: closest to hand design.",
    merge(PRESETS["fashion-layers"][1], {
        # Downsampling at fixed places (28, 14, 7 pixels; strides 1 elsewhere): the plain space's
        # winners downsample early, which the 2-epoch proxy rewards and the final stage punishes.
        # Five seeds of benchmarks/neural_quality.py: 0.8896 +- 0.0111 against 0.8752 +- 0.0040.
        # ResNet's residual block as an op: four of five seeds' winners use one, and evolution's
        # lead over random search grows (0.8984 +- 0.0057, p = 0.008, against 0.8928 without it).
        "space": {"options": {"reductions": 2, "conv_strides": [1], "pool_strides": [1], "min_layers": 3,
                              "ops": PRESETS["fashion-layers"][1]["space"]["options"]["ops"] + ["residual"]}},
        # Full-resolution layers are dear; the cap (about 1.5x a hand-designed CNN of ~130k
        # parameters) keeps a proxy training under a minute on a CPU thread.
        "objectives": {"mode": "limit", "cost": "flops", "limit": 30e6},
        # 8 children proposed per training, the best-predicted trains; 716 births buy 100 trainings.
        "predictor": {"model": "ridge"},
        "run": {"max_births": 716},
    }),
)


def names() -> list[str]:
    """Preset names, in listing order."""
    return list(PRESETS)


def preset_data(name: str) -> dict:
    """A preset's nested data (a fresh copy)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; allowed: {', '.join(PRESETS)}")
    import copy

    return {**copy.deepcopy(PRESETS[name][1]), "preset": name}


def describe(name: str) -> str:
    """The preset's one-line description."""
    preset_data(name)
    return PRESETS[name][0]


def load_preset(name: str) -> ConfigBase:
    """The validated config of preset ``name`` (a program ``Config`` or a ``NeuralConfig``)."""
    return from_dict(preset_data(name))
