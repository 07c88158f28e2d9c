"""Paired statistics over cross-validation folds: is configuration A better than B on the same folds?

Every configuration of a comparison is scored on the same folds, so the
question is answered by the per-fold differences ``a - b`` (paired), not by
whether two mean ± std intervals overlap. :func:`paired_comparison` reports
their mean and standard deviation, a paired t-test, a Wilcoxon signed-rank
test and a bootstrap confidence interval of the mean difference;
:func:`paired_comparison_table` runs it for every configuration against a
baseline, metric by metric.

With few folds the tests have little power: with 5 folds the two-sided
Wilcoxon p-value is never below 2 / 2**5 = 0.0625. More folds, or repeated
runs with different seeds on the same folds, give power (say which).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
from scipy import stats as scipy_stats
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

__all__ = ["PairedComparison", "paired_comparison", "paired_comparison_table"]

# A fold's difference is known to within this, relative to that fold's own larger |score|: so
# 0.75 - 0.70 and 0.70 - 0.65 tie in the Wilcoxon ranks, and 0.1 + 0.2 - 0.3 counts as 0. Each fold's
# resolution comes from its own scores, so one fold of large scores cannot make the others' differences 0.
_RELATIVE_RESOLUTION = 1e-9


@dataclass(frozen=True)
class PairedComparison:
    """Paired comparison of two configurations over the same folds (differences are ``a - b``).

    Attributes
    ----------
    mean_difference : float
        Mean of the per-fold differences; positive when ``a`` scores higher.
    std_difference : float
        Their standard deviation (ddof=1).
    ttest_pvalue : float
        Two-sided paired t-test (:func:`scipy.stats.ttest_rel`).
    wilcoxon_pvalue : float
        Two-sided Wilcoxon signed-rank test (:func:`scipy.stats.wilcoxon`).
    ci_low, ci_high : float
        Bootstrap percentile interval of the mean difference.
    confidence : float
        Coverage of that interval, e.g. 0.95.
    n_folds : int
        Folds used: those where both scores are finite.
    n_dropped : int
        Folds dropped because ``a`` or ``b`` was NaN or infinite there.
    """

    mean_difference: float
    std_difference: float
    ttest_pvalue: float
    wilcoxon_pvalue: float
    ci_low: float
    ci_high: float
    confidence: float
    n_folds: int
    n_dropped: int


def finite_stat(stat: Any, values: Any) -> float:
    """``stat`` over the finite ``values``; NaN (without a warning) when there are none.

    How the comparison's table and plots summarise a metric over folds: a fold
    with no value (NaN, such as ``Acc_aware`` without per-level heads) is left
    out rather than turning the mean into NaN.

    Examples
    --------
    >>> finite_stat(np.mean, [0.2, np.nan, 0.4])
    0.3...
    >>> finite_stat(np.std, [np.nan, np.nan])
    nan
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    return float(stat(finite)) if finite.size else float("nan")


def _fold_scores(values: Any, name: str) -> np.ndarray:
    """``values`` as a 1-D float64 array of per-fold scores (a copy: the caller's array is never touched)."""
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must hold one number per fold; got {values!r}.") from error
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, one score per fold; got shape {array.shape}.")
    return array


def _paired_differences(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-fold ``a - b`` where both are finite (0 within the fold's resolution), the resolutions, the folds dropped."""
    a, b = _fold_scores(a, "a"), _fold_scores(b, "b")
    if len(a) != len(b):
        raise ValueError(f"a and b must hold one score per fold for the same folds; got {len(a)} and {len(b)} scores.")
    if len(a) < 2:
        raise ValueError(f"A paired comparison needs at least 2 folds; got {len(a)}.")
    kept = np.isfinite(a) & np.isfinite(b)
    a, b = a[kept], b[kept]
    resolution = _RELATIVE_RESOLUTION * np.maximum(np.abs(a), np.abs(b))
    differences = a - b
    # 0 for every statistic alike, so that the tests and the interval read the same differences.
    differences[np.abs(differences) <= resolution] = 0.0
    return differences, resolution, int((~kept).sum())


def _merged_ties(values: np.ndarray, resolution: np.ndarray) -> np.ndarray:
    """``values`` with each run of near-equal ones replaced by the run's first (smallest) value.

    Sorted, a value joins the run of the smallest value it is within twice
    the finer of their two resolutions of, never a chain of neighbours: so a
    fold of coarse resolution (large scores) ties nothing that a fine one
    tells apart.
    """
    order = np.argsort(values, kind="stable")
    merged = values.copy()
    start = None
    for i in order:
        if start is not None and values[i] - values[start] <= 2 * min(resolution[i], resolution[start]):
            merged[i] = values[start]
        else:
            start = i
    return merged


def _ttest_pvalue(differences: np.ndarray, resolution: np.ndarray) -> float:
    """Two-sided paired t-test p; 1.0 when every difference is 0, 0.0 when all are the same non-zero value."""
    tied = _merged_ties(differences, resolution)
    if np.ptp(tied) == 0:
        # A zero variance: scipy warns and returns NaN (all zero) or p near 0 (t infinite).
        return 1.0 if tied[0] == 0 else 0.0
    return float(scipy_stats.ttest_1samp(differences, 0.0).pvalue)


def _wilcoxon_pvalue(differences: np.ndarray, resolution: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p; 1.0 when every difference is 0."""
    if not differences.any():
        return 1.0
    # The test reads only signs and ranks: merging near-equal magnitudes keeps the
    # order and makes floating-point near-ties exact.
    nonzero = differences != 0  # zeros are dropped by the test: they must not absorb the others
    signed = differences.copy()
    signed[nonzero] = np.sign(differences[nonzero]) * _merged_ties(np.abs(differences[nonzero]), resolution[nonzero])
    # method="auto": exact without ties or zeros (n <= 50); with them, an exact
    # enumeration of the 2**n sign flips for n <= 13, else the normal approximation.
    return float(scipy_stats.wilcoxon(signed, zero_method="wilcox", method="auto").pvalue)


def _bootstrap_interval(
    differences: np.ndarray, n_bootstrap: int, confidence: float, rng: np.random.RandomState
) -> tuple[float, float]:
    """Percentile interval of the mean difference over ``n_bootstrap`` resamplings of the folds."""
    resampled = rng.randint(0, len(differences), size=(n_bootstrap, len(differences)))
    means = differences[resampled].mean(axis=1)
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


@validate_params(
    {
        "a": ["array-like"],
        "b": ["array-like"],
        "n_bootstrap": [Interval(Integral, 1, None, closed="left")],
        "confidence": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def paired_comparison(
    a: Any, b: Any, *, n_bootstrap: int = 10000, confidence: float = 0.95, random_state: Any = None
) -> PairedComparison:
    """Compare two configurations on per-fold scores of the same folds.

    The per-fold differences ``a - b`` are summarised by their mean and
    standard deviation, tested against zero with a two-sided paired t-test and
    a two-sided Wilcoxon signed-rank test, and given a bootstrap percentile
    interval for their mean (folds resampled with replacement).

    Parameters
    ----------
    a : array-like of shape (n_folds,)
        Scores of the configuration under test, one per fold.
    b : array-like of shape (n_folds,)
        Scores of the reference configuration on the same folds, in the same order.
    n_bootstrap : int, default=10000
        Bootstrap resamplings.
    confidence : float, default=0.95
        Coverage of the bootstrap interval, in (0, 1).
    random_state : int, RandomState instance or None, default=None
        Seeds the bootstrap; an int gives the same interval on every call.

    Returns
    -------
    result : PairedComparison
        Frozen dataclass; ``dataclasses.asdict(result)`` gives a flat record.

    See Also
    --------
    paired_comparison_table : Every configuration against a baseline, per metric.

    Notes
    -----
    Folds where ``a`` or ``b`` is NaN or infinite are dropped from both
    (``n_dropped`` counts them). Fewer than 2 folds left: every statistic is
    NaN. A fold's difference is known to within 1e-9 of that fold's own larger
    ``|score|``, its resolution: a difference within it is 0 for every
    statistic (so 0.1 + 0.2 - 0.3 is 0, and the tests and the interval never
    disagree about it), and two differences within twice the finer of their
    resolutions tie in the tests (floating-point noise would otherwise break ties in the
    Wilcoxon ranks). Resolutions are per fold, so one fold of large scores
    cannot make the other folds' differences 0 or tie them: the p-values
    and the interval agree in sign (an interval that excludes 0 comes with
    p-values below 1).

    When every difference is 0, both p-values are 1.0 (scipy would warn and
    return NaN) and the interval is [0, 0]. When all differences are the same
    non-zero value, the t-test's statistic is infinite and its p is 0.0; read
    the Wilcoxon p then.

    The Wilcoxon test drops zero differences (Wilcoxon's convention). Without
    ties or zeros its p is exact for up to 50 folds; with ties or zeros it is
    exact (the 2**n sign flips enumerated) up to 13 folds, then the normal
    approximation. With n folds it is never below 2 / 2**n: 0.0625 for 5 folds,
    so a two-sided test at 0.05 cannot reject with 5 folds.

    The bootstrap interval describes the folds at hand and is too narrow with
    few folds: its variance of the mean is (n - 1) / n of the usual estimate,
    and with 5 folds the resampled means take few distinct values.

    References
    ----------
    Demšar, J. (2006). Statistical comparisons of classifiers over multiple
    data sets. JMLR 7, 1-30.

    Examples
    --------
    >>> from sklearn_hier.stats import paired_comparison
    >>> # MNR of two configurations on the same 5 folds (lower is better)
    >>> a = [0.20, 0.23, 0.19, 0.25, 0.22]
    >>> b = [0.22, 0.26, 0.20, 0.27, 0.22]
    >>> result = paired_comparison(a, b, random_state=0)
    >>> round(result.mean_difference, 3), result.n_folds
    (-0.016, 5)
    >>> round(result.ttest_pvalue, 4), result.wilcoxon_pvalue  # the 0 on fold 5 is dropped
    (0.0349, 0.125)
    >>> result.ci_low < result.mean_difference < result.ci_high
    True
    """
    differences, resolution, n_dropped = _paired_differences(a, b)
    if len(differences) < 2:
        nan = math.nan
        return PairedComparison(nan, nan, nan, nan, nan, nan, confidence, len(differences), n_dropped)
    low, high = _bootstrap_interval(differences, n_bootstrap, confidence, check_random_state(random_state))
    return PairedComparison(
        mean_difference=float(differences.mean()),
        std_difference=float(differences.std(ddof=1)),
        ttest_pvalue=_ttest_pvalue(differences, resolution),
        wilcoxon_pvalue=_wilcoxon_pvalue(differences, resolution),
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        n_folds=len(differences),
        n_dropped=n_dropped,
    )


def _check_scores_table(scores: Any, baseline: str) -> None:
    """Every metric must score the baseline, and every configuration on as many folds as the baseline."""
    if not isinstance(scores, dict) or not scores:
        raise ValueError("scores must be a non-empty dict: metric -> configuration -> per-fold scores.")
    for metric, by_config in scores.items():
        if not isinstance(by_config, dict):
            raise ValueError(f"scores[{metric!r}] must be a dict: configuration -> per-fold scores.")
        if baseline not in by_config:
            raise ValueError(
                f"The baseline {baseline!r} has no scores for metric {metric!r}; it has {list(by_config)}."
            )
        n_folds = len(_fold_scores(by_config[baseline], f"scores[{metric!r}][{baseline!r}]"))
        for config, values in by_config.items():
            n = len(_fold_scores(values, f"scores[{metric!r}][{config!r}]"))
            if n != n_folds:
                raise ValueError(
                    f"Configuration {config!r} has {n} scores for metric {metric!r}, the baseline "
                    f"{baseline!r} has {n_folds}: a paired comparison needs the same folds."
                )


@validate_params(
    {
        "scores": [dict],
        "baseline": [str],
        "n_bootstrap": [Interval(Integral, 1, None, closed="left")],
        "confidence": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def paired_comparison_table(
    scores: dict[str, dict[str, Any]],
    baseline: str,
    *,
    n_bootstrap: int = 10000,
    confidence: float = 0.95,
    random_state: Any = None,
) -> list[dict[str, Any]]:
    """Compare every configuration with a baseline, metric by metric.

    Parameters
    ----------
    scores : dict of str -> dict of str -> array-like of shape (n_folds,)
        ``scores[metric][config]`` holds the per-fold scores of ``config``;
        every configuration of a metric is scored on the same folds, in the
        same order.
    baseline : str
        The configuration every other one is compared with (differences are
        ``config - baseline``); it must be scored for every metric.
    n_bootstrap, confidence, random_state
        Passed to :func:`paired_comparison` for every row. An int
        ``random_state`` seeds each row alike, so a row does not change when
        configurations are added or removed.

    Returns
    -------
    rows : list of dict
        One per (metric, configuration other than the baseline), in the order
        of ``scores``: ``metric``, ``config``, ``baseline`` and the fields of
        :class:`PairedComparison`. Flat records, ready for ``csv.DictWriter``
        or ``pandas.DataFrame``.

    See Also
    --------
    paired_comparison : The comparison of one pair.

    Examples
    --------
    >>> from sklearn_hier.stats import paired_comparison_table
    >>> scores = {
    ...     "mnr": {"PL+B+T": [0.22, 0.26, 0.20, 0.27, 0.22], "PL+B+T+HXE": [0.20, 0.23, 0.19, 0.25, 0.22]},
    ...     "ndcg": {"PL+B+T": [0.81, 0.78, 0.80, 0.79, 0.83], "PL+B+T+HXE": [0.82, 0.78, 0.83, 0.80, 0.84]},
    ... }
    >>> rows = paired_comparison_table(scores, "PL+B+T", random_state=0)
    >>> [(row["metric"], row["config"], round(row["mean_difference"], 3)) for row in rows]
    [('mnr', 'PL+B+T+HXE', -0.016), ('ndcg', 'PL+B+T+HXE', 0.012)]
    """
    _check_scores_table(scores, baseline)
    rows = []
    for metric, by_config in scores.items():
        for config, values in by_config.items():
            if config == baseline:
                continue
            result = paired_comparison(
                values,
                by_config[baseline],
                n_bootstrap=n_bootstrap,
                confidence=confidence,
                random_state=random_state,
            )
            rows.append({"metric": metric, "config": config, "baseline": baseline, **asdict(result)})
    return rows
