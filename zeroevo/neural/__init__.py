"""Architecture search: neural genomes proposed by one controller and trained by workers.

- :mod:`~zeroevo.neural.config`: the neural run's config (space, data, fidelity, evaluation);
- :mod:`~zeroevo.neural.fidelity`: how much training a candidate gets, and its limits;
- :mod:`~zeroevo.neural.trainer`: the one seeded, deterministic, failure-proof trainer;
- :mod:`~zeroevo.neural.evaluator`: decode, build, train: the ``Evaluator`` of every neural space;
- :mod:`~zeroevo.neural.export`: a trained network as standalone ``network.py`` + weights;
- :mod:`~zeroevo.neural.search`: regularized evolution with lag, hurdles and inheritance.

Only the torch-free names are re-exported here.
"""
from zeroevo.neural.config import NeuralConfig
from zeroevo.neural.fidelity import Fidelity, Limits

__all__ = ["Fidelity", "Limits", "NeuralConfig"]
