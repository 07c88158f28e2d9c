"""The decision rule of a model fit on label sets: the probability at which a class is predicted.

Each class has its own sigmoid, so a prediction is the set of classes whose
probability reaches a threshold. scikit-learn's convention is 0.5; after a
short training the sigmoids of rare classes stay below it and every predicted
set is empty, while class weights push them above it for most classes.
:func:`tune_threshold` picks the threshold that best reproduces the held-out
validation clips' label sets instead.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

__all__ = ["THRESHOLD_GRID", "tune_threshold"]

# The thresholds tried: a coarse grid, so that a handful of validation clips cannot pick a value to four decimals.
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)


def tune_threshold(truth: np.ndarray, proba: np.ndarray) -> float:
    """The threshold of :data:`THRESHOLD_GRID` whose predictions have the best micro F1 against ``truth``.

    Ties go to the threshold closest to 0.5 (then the lower one), so that
    validation clips that cannot tell thresholds apart leave the convention.

    Parameters
    ----------
    truth : ndarray of bool of shape (n_clips, n_classes)
        The validation clips' labels.
    proba : ndarray of shape (n_clips, n_classes)
        Their predicted class probabilities.

    Returns
    -------
    threshold : float

    Examples
    --------
    >>> truth = np.array([[1, 0, 0], [0, 1, 0]], bool)
    >>> proba = np.array([[0.3, 0.1, 0.05], [0.1, 0.35, 0.2]])  # the true classes score highest, below 0.5
    >>> tune_threshold(truth, proba)  # 0.25 and 0.3 both get every decision right; 0.3 is closer to 0.5
    0.3
    """
    if truth.shape != proba.shape:
        raise ValueError(f"truth and proba must have one shape; got {truth.shape} and {proba.shape}.")
    # Micro F1: 2 TP / (2 TP + FP + FN) over every (clip, class) decision; 1.0 when there is nothing to find.
    scores = [f1_score(truth, proba >= t, average="micro", zero_division=1.0) for t in THRESHOLD_GRID]
    best = max(scores)
    candidates = [t for t, s in zip(THRESHOLD_GRID, scores, strict=True) if s == best]
    return float(min(candidates, key=lambda t: (abs(t - 0.5), t)))
