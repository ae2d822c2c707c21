"""Public: the protocols at zeroevo's extension points (defined in :mod:`zeroevo.core.protocols`)."""
from zeroevo.core.protocols import (
                                    STATUS_FAILED,
                                    STATUS_FEC_HIT,
                                    STATUS_NAMES,
                                    STATUS_OK,
    STATUS_SCREENED,
                                    STATUS_STOPPED,
                                    EvalRequest,
                                    EvalResult,
                                    Evaluator,
                                    SearchSpace,
)

__all__ = ["STATUS_FAILED", "STATUS_FEC_HIT", "STATUS_NAMES", "STATUS_OK", "STATUS_SCREENED", "STATUS_STOPPED", "EvalRequest",
           "EvalResult", "Evaluator", "SearchSpace"]
