import dataclasses
import math
import warnings

import numpy as np
import pytest
import scipy.stats

from sklearn_hier.stats import PairedComparison, paired_comparison, paired_comparison_table


def test_hand_worked_example():
    # Per-fold scores (in %) of two configurations on the same 5 folds.
    a = [82.0, 75.0, 90.0, 84.0, 70.0]
    b = [80.0, 70.0, 86.0, 85.0, 65.0]
    # Differences d = a - b = [2, 5, 4, -1, 5]: mean 15 / 5 = 3.
    # Deviations from 3: -1, 2, 1, -4, 2; squares sum to 26; variance 26 / 4 = 6.5.
    # t = 3 / (sqrt(6.5) / sqrt(5)) = 2.6312 on 4 degrees of freedom. The t CDF with 4
    # degrees of freedom has the closed form 1/2 + (3/8) s (1 - t^2 / (12 (1 + t^2/4))),
    # s = t / sqrt(1 + t^2 / 4); the two-sided p is 2 (1 - F(t)) = 0.0581.
    t = 3 / (math.sqrt(6.5) / math.sqrt(5))
    s = t / math.sqrt(1 + t**2 / 4)
    t_pvalue = 2 * (1 - (0.5 + 3 / 8 * s * (1 - t**2 / (12 * (1 + t**2 / 4)))))
    # Wilcoxon: |d| = 2, 5, 4, 1, 5 rank 2, 4.5, 3, 1, 4.5 (the two 5s tie); the negative
    # difference holds rank 1, so W- = 1 and W+ = 14 of 15. Of the 2**5 = 32 equally likely
    # sign patterns, W+ <= 1 for two ({} and {rank 1}) and W+ >= 14 for their two mirrors:
    # p = 4 / 32 = 0.125.
    result = paired_comparison(a, b, random_state=0)
    assert result.mean_difference == pytest.approx(3.0)
    assert result.std_difference == pytest.approx(math.sqrt(6.5))
    assert result.ttest_pvalue == pytest.approx(t_pvalue, rel=1e-10)
    assert round(result.ttest_pvalue, 4) == 0.0581
    assert result.wilcoxon_pvalue == pytest.approx(4 / 32)
    assert (result.n_folds, result.n_dropped, result.confidence) == (5, 0, 0.95)


@pytest.mark.parametrize("n", [2, 5, 8, 12, 30, 60])
@pytest.mark.parametrize("seed", [0, 1])
def test_p_values_equal_scipy_on_continuous_scores(n, seed):
    rng = np.random.default_rng(seed)
    b = rng.uniform(0.5, 0.9, size=n)
    a = b + rng.normal(0.01, 0.02, size=n)
    result = paired_comparison(a, b, n_bootstrap=200, random_state=0)
    assert result.ttest_pvalue == pytest.approx(scipy.stats.ttest_rel(a, b).pvalue, rel=1e-12)
    assert result.wilcoxon_pvalue == pytest.approx(scipy.stats.wilcoxon(a, b).pvalue, rel=1e-12)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([3, 5, 4, 7, 6, 6], [1, 5, 2, 5, 4, 7]),  # a zero difference and ties
        ([10, 12, 11, 13, 15, 9, 10, 14], [9, 11, 10, 15, 13, 9, 8, 12]),
        ([1, 2, 3, 4, 5], [0, 1, 2, 3, 4]),  # all differences tie
    ],
)
def test_p_values_equal_scipy_with_ties_and_zeros(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    result = paired_comparison(a, b, n_bootstrap=100, random_state=0)
    assert result.wilcoxon_pvalue == pytest.approx(scipy.stats.wilcoxon(a, b).pvalue, rel=1e-12)
    if np.ptp(a - b) > 0:
        assert result.ttest_pvalue == pytest.approx(scipy.stats.ttest_rel(a, b).pvalue, rel=1e-12)


def test_floating_point_noise_does_not_break_ties():
    # 0.75 - 0.70 and 0.70 - 0.65 differ in the last bits; in intent they tie.
    a, b = [0.75, 0.70, 0.30, 0.20], [0.70, 0.65, 0.20, 0.25]
    assert (0.75 - 0.70) != (0.70 - 0.65)
    expected = scipy.stats.wilcoxon([75, 70, 30, 20], [70, 65, 20, 25]).pvalue
    assert paired_comparison(a, b, n_bootstrap=10).wilcoxon_pvalue == pytest.approx(expected)
    assert expected != pytest.approx(scipy.stats.wilcoxon(a, b).pvalue)


def test_five_folds_cannot_reach_below_0_0625():
    a = [0.9, 0.8, 0.85, 0.7, 0.95]
    b = [0.8, 0.75, 0.7, 0.68, 0.85]  # a wins every fold
    result = paired_comparison(a, b, n_bootstrap=10)
    assert result.wilcoxon_pvalue == pytest.approx(0.0625)
    assert result.ttest_pvalue < 0.05


def test_all_equal_gives_p_one_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = paired_comparison([0.5, 0.6, 0.7], [0.5, 0.6, 0.7])
        noisy = paired_comparison([0.1 + 0.2, 0.5], [0.3, 0.5])  # 0.1 + 0.2 - 0.3 = 5.6e-17
    assert (result.ttest_pvalue, result.wilcoxon_pvalue) == (1.0, 1.0)
    assert (result.mean_difference, result.std_difference, result.ci_low, result.ci_high) == (0, 0, 0, 0)
    assert (noisy.ttest_pvalue, noisy.wilcoxon_pvalue) == (1.0, 1.0)


def test_constant_nonzero_difference():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = paired_comparison([1.1, 2.1, 3.1, 4.1], [1.0, 2.0, 3.0, 4.0])
    assert result.ttest_pvalue == 0.0
    assert result.wilcoxon_pvalue == pytest.approx(2 / 2**4)
    assert result.mean_difference == pytest.approx(0.1)
    assert result.ci_low == pytest.approx(0.1) and result.ci_high == pytest.approx(0.1)


def test_non_finite_folds_are_dropped_pairwise_and_counted():
    a = np.array([0.8, np.nan, 0.7, 0.9, 0.6, 0.75])
    b = np.array([0.7, 0.6, np.inf, 0.85, 0.62, 0.7])
    before = a.copy(), b.copy()
    result = paired_comparison(a, b, random_state=0)
    kept = [0, 3, 4, 5]
    assert (result.n_folds, result.n_dropped) == (4, 2)
    assert result == dataclasses.replace(paired_comparison(a[kept], b[kept], random_state=0), n_dropped=2)
    np.testing.assert_array_equal(a, before[0])
    np.testing.assert_array_equal(b, before[1])


def test_fewer_than_two_complete_folds_gives_nan():
    result = paired_comparison([0.5, np.nan, 0.7], [0.4, 0.5, np.nan])
    assert (result.n_folds, result.n_dropped) == (1, 2)
    fields = dataclasses.asdict(result)
    for name in ("mean_difference", "std_difference", "ttest_pvalue", "wilcoxon_pvalue", "ci_low", "ci_high"):
        assert math.isnan(fields[name]), name


def test_bootstrap_interval_covers_the_mean_and_is_reproducible():
    rng = np.random.default_rng(0)
    b = rng.uniform(0.6, 0.8, size=10)
    a = b + rng.normal(0.02, 0.03, size=10)
    first = paired_comparison(a, b, random_state=42)
    assert first.ci_low < first.mean_difference < first.ci_high
    assert paired_comparison(a, b, random_state=42) == first
    assert paired_comparison(a, b, random_state=np.random.RandomState(42)) == first
    assert paired_comparison(a, b, random_state=7) != first
    narrow = paired_comparison(a, b, confidence=0.5, random_state=42)
    assert first.ci_low < narrow.ci_low < narrow.ci_high < first.ci_high


def test_bootstrap_interval_equals_a_loop_over_resamplings():
    d = np.array([0.02, 0.05, -0.01, 0.03, 0.04, 0.00, 0.01])
    rng = np.random.RandomState(3)
    means = [d[rng.randint(0, len(d), size=len(d))].mean() for _ in range(500)]
    expected = np.percentile(means, [5, 95])
    result = paired_comparison(d, np.zeros_like(d), n_bootstrap=500, confidence=0.9, random_state=3)
    np.testing.assert_allclose([result.ci_low, result.ci_high], expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ([0.1, 0.2, 0.3], [0.1, 0.2], "same folds; got 3 and 2 scores"),
        ([0.1], [0.2], "at least 2 folds; got 1"),
        ([], [], "at least 2 folds; got 0"),
        ([[0.1, 0.2], [0.3, 0.4]], [[0.1, 0.2], [0.3, 0.4]], r"a must be 1-D, one score per fold; got shape \(2, 2\)"),
        ([0.1, "x"], [0.1, 0.2], "a must hold one number per fold"),
    ],
)
def test_invalid_scores_are_named(a, b, message):
    with pytest.raises(ValueError, match=message):
        paired_comparison(a, b)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"n_bootstrap": 0}, "n_bootstrap"), ({"confidence": 1.0}, "confidence"), ({"confidence": 0}, "confidence")],
)
def test_invalid_parameters_are_named(kwargs, name):
    with pytest.raises(ValueError, match=f"'{name}' parameter"):
        paired_comparison([0.1, 0.2], [0.2, 0.3], **kwargs)


def test_result_is_frozen():
    result = paired_comparison([0.1, 0.2], [0.2, 0.4])
    assert isinstance(result, PairedComparison)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.n_folds = 3


SCORES = {
    "mnr": {
        "PL+B+T": [0.22, 0.26, 0.20, 0.27, 0.22],
        "batch_hard": [0.21, 0.27, 0.18, 0.26, 0.20],
        "poincare": [0.20, 0.23, 0.19, 0.25, np.nan],
    },
    "ndcg": {"batch_hard": [0.8, 0.7, 0.9, 0.85, 0.8], "PL+B+T": [0.79, 0.72, 0.88, 0.8, 0.81]},
}


def test_table_compares_every_configuration_with_the_baseline():
    rows = paired_comparison_table(SCORES, "PL+B+T", n_bootstrap=300, random_state=0)
    assert [(row["metric"], row["config"]) for row in rows] == [
        ("mnr", "batch_hard"),
        ("mnr", "poincare"),
        ("ndcg", "batch_hard"),
    ]
    for row in rows:
        expected = paired_comparison(
            SCORES[row["metric"]][row["config"]], SCORES[row["metric"]]["PL+B+T"], n_bootstrap=300, random_state=0
        )
        assert row == {
            "metric": row["metric"],
            "config": row["config"],
            "baseline": "PL+B+T",
            **dataclasses.asdict(expected),
        }
    assert rows[1]["n_dropped"] == 1


def test_table_row_does_not_depend_on_the_other_configurations():
    alone = {"mnr": {key: SCORES["mnr"][key] for key in ("PL+B+T", "poincare")}}
    rows = paired_comparison_table(SCORES, "PL+B+T", n_bootstrap=300, random_state=0)
    assert paired_comparison_table(alone, "PL+B+T", n_bootstrap=300, random_state=0) == [rows[1]]


def test_table_errors_name_the_metric_and_configuration():
    with pytest.raises(ValueError, match=r"baseline 'PL\+T' has no scores for metric 'mnr'"):
        paired_comparison_table(SCORES, "PL+T")
    short = {"mnr": {"PL+B+T": [0.1, 0.2, 0.3], "semi_hard": [0.1, 0.2]}}
    with pytest.raises(ValueError, match=r"'semi_hard' has 2 scores for metric 'mnr', the baseline 'PL\+B\+T' has 3"):
        paired_comparison_table(short, "PL+B+T")
    with pytest.raises(ValueError, match="non-empty dict"):
        paired_comparison_table({}, "PL+B+T")
    with pytest.raises(ValueError, match=r"scores\['mnr'\] must be a dict"):
        paired_comparison_table({"mnr": [0.1, 0.2]}, "PL+B+T")


def test_the_package_exports_the_paired_statistics():
    import sklearn_hier
    from sklearn_hier import stats

    assert {"PairedComparison", "paired_comparison", "paired_comparison_table"} <= set(sklearn_hier.__all__)
    assert sklearn_hier.paired_comparison is stats.paired_comparison
    assert sklearn_hier.paired_comparison_table is stats.paired_comparison_table
    assert sklearn_hier.PairedComparison is stats.PairedComparison
