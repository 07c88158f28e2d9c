"""Reaching the hierarchical estimator inside what a scorer is given (itself or a Pipeline)."""

from __future__ import annotations

from typing import Any

from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

__all__ = ["final_step"]

CONTRACT = ("transform", "predict_level")


def final_step(estimator: Any, X: Any) -> tuple[Any, Any]:
    """The fitted estimator that holds ``taxonomy_`` and the heads, and ``X`` as it receives it.

    For a :class:`~sklearn.pipeline.Pipeline`, ``X`` goes through every step but
    the last (``transform``), and the last step is returned.

    Raises
    ------
    TypeError
        If the final estimator lacks ``transform`` or ``predict_level``.
    sklearn.exceptions.NotFittedError
        If it has no ``taxonomy_`` yet.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> final_step(make_pipeline(StandardScaler()), [[0.0]])
    Traceback (most recent call last):
    ...
    TypeError: The final estimator must have transform and predict_level (a HierarchicalEmbedder); got StandardScaler.
    """
    final, Xt = estimator, X
    if isinstance(estimator, Pipeline):
        final = estimator[-1]
        if len(estimator) > 1:
            Xt = estimator[:-1].transform(X)
    missing = [name for name in CONTRACT if not callable(getattr(final, name, None))]
    if missing:
        raise TypeError(
            f"The final estimator must have {' and '.join(CONTRACT)} (a HierarchicalEmbedder); "
            f"got {type(final).__name__}."
        )
    check_is_fitted(final, "taxonomy_")
    return final, Xt
