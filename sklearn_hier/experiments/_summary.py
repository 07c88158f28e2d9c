"""The comparison's tables: mean ± std over folds per configuration (the paper's Table I), and paired statistics."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sklearn_hier.stats import finite_stat, paired_comparison_table

__all__ = [
    "LABEL_SET_COLUMNS",
    "TABLE_COLUMNS",
    "capped_precision",
    "reported_columns",
    "fold_scores",
    "paired_statistics",
    "paired_note",
    "paired_table",
    "precision_note",
    "summarise",
    "summary_table",
]

# (column header, scorer key, higher is better): the columns of the paper's Table I.
TABLE_COLUMNS = (
    ("MNR", "neg_mean_normalized_rank", False),
    ("NDCG", "ndcg", True),
    ("RP@5", "precision_at_5", True),
    ("F1", "f1_macro_mean", True),
    ("MNR unseen", "neg_mean_normalized_rank_unseen", False),
    ("NDCG unseen", "ndcg_unseen", True),
    ("Acc_aware", "lsa_accuracy_aware", True),
    ("Acc_blind", "lsa_accuracy_blind", True),
)
# The same table for clips that carry label sets: F1 and the blind accuracy score the predicted label sets, the
# tagging scores of the heads (lwlrap, mAP; experiments._scoring) join them, and the aware accuracy, which asks a
# per-level head for one node per clip, is left out.
LABEL_SET_COLUMNS = (
    *TABLE_COLUMNS[:4],
    ("lwlrap", "lwlrap", True),
    ("mAP", "mean_average_precision", True),
    *TABLE_COLUMNS[4:6],
    TABLE_COLUMNS[7],
)
# Every column either table can have, in the order both write them: seen, then unseen clips.
_COLUMNS = (*TABLE_COLUMNS[:4], *LABEL_SET_COLUMNS[4:6], *TABLE_COLUMNS[4:])
_HIGHER_IS_BETTER = {header: higher for header, _, higher in _COLUMNS}


def reported_columns(rows: Sequence[dict]) -> tuple[tuple[str, str, bool], ...]:
    """The columns (header, scorer key, higher is better) that ``rows`` has scores for, in the table's order.

    A run on one label per clip scores :data:`TABLE_COLUMNS`, one on label sets
    :data:`LABEL_SET_COLUMNS` (see ``experiments._scoring``): the rows say which.

    Examples
    --------
    >>> rows = [{"config": "L", "fold": 0, "metric": m, "value": 0.5} for m in ("lwlrap", "ndcg_unseen", "ndcg")]
    >>> [header for header, _, _ in reported_columns(rows)]
    ['NDCG', 'lwlrap', 'NDCG unseen']
    """
    metrics = {row["metric"] for row in rows}
    return tuple(column for column in _COLUMNS if column[1] in metrics)


# Below this ceiling RP@5 mostly measures the data: fewer than half of the k places can hold a leaf-mate. (The
# paper's own protocol, 10 % of each leaf tested, leaves its leaves of 10-49 clips under 5 mates, so its RP@5
# ceiling sits a little under 1: still a measurement, read against the ceiling.)
CEILING_FLOOR = 0.5


def _ceilings(rows: Sequence[dict]) -> dict[int, float]:
    return {row["fold"]: row["value"] for row in rows if row["metric"] == "precision_at_5_ceiling"}


def capped_precision(rows: Sequence[dict]) -> dict[int, float]:
    """Fold -> the best RP@5 its seen test clips allow, for the folds where that is below ``CEILING_FLOOR`` (0.5).

    Where most seen leaves have fewer than 5 other test clips, RP@5 cannot get near 1, and
    every model scores near that ceiling: a number about the data, which the tables leave out.

    Examples
    --------
    >>> rows = [{"config": "L", "fold": f, "metric": "precision_at_5_ceiling", "value": v}
    ...         for f, v in enumerate([1.0, 0.9, 0.2])]
    >>> capped_precision(rows)
    {2: 0.2}
    """
    return {fold: value for fold, value in _ceilings(rows).items() if not value >= CEILING_FLOOR}


# Which test clips a query needs 5 of for RP@5 to reach 1, said of the seen test set: (too few, some ... fewer).
_SHORT_OF_PARTNERS = {
    False: ("too few seen leaves have 5 other test clips", "some seen leaves have fewer than 5 other test clips"),
    True: (
        "too few seen test clips have 5 others sharing one of their labels",
        "some seen test clips have fewer than 5 others sharing one of their labels",
    ),
}


def precision_note(rows: Sequence[dict], *, label_sets: bool = False) -> str:
    """One sentence on why RP@5 reads n/a or on the ceiling it is read against; "" when it can reach 1.

    ``label_sets`` words it for clips that carry label sets, where RP@5 counts
    the clips sharing one of the query's labels.

    Examples
    --------
    >>> rows = [{"config": "L", "fold": 0, "metric": "precision_at_5_ceiling", "value": 0.2}]
    >>> precision_note(rows)[:59]
    'RP@5 is n/a: in fold 0 too few seen leaves have 5 other tes'
    >>> precision_note([{**rows[0], "value": 0.95}])[:48]
    'RP@5 is read against its ceiling: in fold 0 some'
    """
    too_few, some = _SHORT_OF_PARTNERS[label_sets]
    capped = capped_precision(rows)
    if capped:
        folds = ", ".join(str(f) for f in sorted(capped))
        best = ", ".join(f"{capped[f]:.3f}" for f in sorted(capped))
        return (
            f"RP@5 is n/a: in fold{'s' * (len(capped) > 1)} {folds} {too_few}, "
            f"so no model can score above {best}; that number is about the data, not the models (results.csv keeps "
            f"precision_at_5 and its ceiling). More clips per {'label' if label_sets else 'leaf'} or a larger "
            "test_size make it defined."
        )
    below = {fold: value for fold, value in _ceilings(rows).items() if value < 1 - 1e-9}
    if not below:
        return ""
    folds = ", ".join(str(f) for f in sorted(below))
    return (
        f"RP@5 is read against its ceiling: in fold{'s' * (len(below) > 1)} {folds} {some}, "
        f"so no model can score above {min(below.values()):.3f}"
        f"{'-' + format(max(below.values()), '.3f') if len(below) > 1 else ''} (results.csv keeps each fold's "
        "ceiling)."
    )


def _reported(rows: Sequence[dict]) -> list[dict]:
    """``rows`` without RP@5 where it is capped (see :func:`capped_precision`)."""
    if not capped_precision(rows):
        return list(rows)
    return [row for row in rows if row["metric"] != "precision_at_5"]


def summarise(rows: Sequence[dict], configs: Sequence[str]) -> dict[str, dict[str, tuple[float, float]]]:
    """Config -> column header -> (mean, std) over folds, MNR shown as itself (stored negated).

    The columns are those ``rows`` scores (:func:`reported_columns`); with the LSA accuracies, their
    ratio blind/aware follows. RP@5 is NaN (n/a) when some fold's seen test clips keep its ceiling
    below 0.5 (:func:`capped_precision`).
    """
    columns = reported_columns(rows)
    values: dict[str, dict[str, list[float]]] = {c: {} for c in configs}
    for row in _reported(rows):
        values[row["config"]].setdefault(row["metric"], []).append(row["value"])
    summary = {}
    for config, metrics in values.items():
        summary[config] = {}
        for header, key, _ in columns:
            sign = -1.0 if key.startswith("neg_") else 1.0
            v = sign * np.asarray(metrics.get(key, [np.nan]), dtype=float)
            summary[config][header] = (finite_stat(np.mean, v), finite_stat(np.std, v))
        if "Acc_aware" in summary[config] and "Acc_blind" in summary[config]:
            aware, blind = summary[config]["Acc_aware"][0], summary[config]["Acc_blind"][0]
            summary[config]["blind/aware"] = (blind / aware if aware else math.nan, math.nan)
    return summary


def summary_table(summary: dict[str, dict[str, tuple[float, float]]]) -> str:
    """A Markdown table in the shape of the paper's Table I, best value per column in bold.

    Columns come in the order of ``summary`` (:func:`summarise`'s). Those
    before "MNR unseen" are on the test clips of seen leaves (or labels), the
    rest on the clips of unseen ones; MNR is lower-is-better, the rest higher.

    Examples
    --------
    >>> s = {"L": {"MNR": (0.2, 0.01)}, "PL": {"MNR": (0.1, 0.02)}}
    >>> print(summary_table(s))
    | config | MNR ↓ |
    |---|---|
    | L | 0.200 ± 0.010 |
    | PL | **0.100 ± 0.020** |
    """
    headers = list(dict.fromkeys(h for row in summary.values() for h in row))
    # blind/aware is not a score to maximise (a weak per-level head inflates it), so it is neither
    # ranked nor bolded: it is read against the paper's 0.8 threshold.
    better = {h: _HIGHER_IS_BETTER[h] for h in headers if h in _HIGHER_IS_BETTER}
    best = {}
    for h in headers:
        means = [row[h][0] for row in summary.values() if h in row and np.isfinite(row[h][0])]
        best[h] = (max if better[h] else min)(means) if means and h in better else None
    arrows = {h: (" ↑" if better[h] else " ↓") if h in better else "" for h in headers}
    lines = ["| config | " + " | ".join(f"{h}{arrows[h]}" for h in headers) + " |"]
    lines.append("|---" * (len(headers) + 1) + "|")
    for config, row in summary.items():
        cells = []
        for h in headers:
            mean, std = row.get(h, (math.nan, math.nan))
            text = "n/a" if not np.isfinite(mean) else f"{mean:.3f}" + ("" if not np.isfinite(std) else f" ± {std:.3f}")
            cells.append(f"**{text}**" if best[h] is not None and mean == best[h] else text)
        lines.append(f"| {config} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fold_scores(rows: Sequence[dict], configs: Sequence[str]) -> dict[str, dict[str, list[float]]]:
    """Column header -> config -> per-fold values in fold order, MNR as itself: the input of the paired statistics.

    Examples
    --------
    >>> rows = [{"config": "PL", "fold": f, "metric": "neg_mean_normalized_rank", "value": -v}
    ...         for f, v in ((1, 0.3), (0, 0.2))]
    >>> fold_scores(rows, ["PL"])["MNR"]
    {'PL': [0.2, 0.3]}
    """
    by_key: dict[tuple[str, str], dict[int, float]] = {}
    for row in _reported(rows):
        by_key.setdefault((row["config"], row["metric"]), {})[row["fold"]] = row["value"]
    scores: dict[str, dict[str, list[float]]] = {}
    for header, key, _ in reported_columns(rows):
        sign = -1.0 if key.startswith("neg_") else 1.0
        folds = {config: by_key.get((config, key), {}) for config in configs}
        if any(folds.values()):
            scores[header] = {c: [sign * v for _, v in sorted(f.items())] for c, f in folds.items()}
    return scores


def paired_statistics(rows: Sequence[dict], configs: Sequence[str], baseline: str, random_state: int = 0) -> list[dict]:
    """Every configuration against ``baseline`` on every table column, fold by fold.

    The rows of :func:`~sklearn_hier.stats.paired_comparison_table` (the
    ``metric`` is the column header; differences are ``config - baseline``,
    MNR as itself, so a negative MNR difference is an improvement), with
    ``higher_is_better`` added. Empty with a single configuration.
    """
    if len(configs) < 2:
        return []
    table = paired_comparison_table(fold_scores(rows, configs), baseline, random_state=random_state)
    better = _HIGHER_IS_BETTER
    # A column the baseline has no value for (Acc_aware of a model without PL) pairs no fold:
    # a row of n/a says nothing, paired_note says why it is missing.
    return [{**row, "higher_is_better": better[row["metric"]]} for row in table if row["n_folds"] > 0]


def paired_note(rows: Sequence[dict], configs: Sequence[str], baseline: str) -> str:
    """One sentence naming the columns left out of the paired table because the baseline has no value there.

    Examples
    --------
    >>> rows = [{"config": c, "fold": 0, "metric": "lsa_accuracy_aware", "value": v}
    ...         for c, v in (("L", float("nan")), ("PL", 0.5))]
    >>> paired_note(rows, ["L", "PL"], "L")[:62]
    'Not compared with L: Acc_aware, for which L has no value (Acc_'
    """
    if len(configs) < 2:
        return ""
    scores = fold_scores(rows, configs)
    missing = [h for h, by_config in scores.items() if not np.isfinite(by_config.get(baseline, [])).any()]
    if not missing:
        return ""
    why = " (Acc_aware needs the per-level heads that PL trains)" if "Acc_aware" in missing else ""
    return (
        f"Not compared with {baseline}: {', '.join(missing)}, for which {baseline} has no value{why}; "
        "--baseline (CompareSettings.baseline) names another configuration."
    )


def paired_table(stats: Sequence[dict]) -> str:
    """A Markdown table of :func:`paired_statistics`: mean difference, interval, p-values, folds.

    Examples
    --------
    >>> row = {"config": "PL+T", "metric": "NDCG", "higher_is_better": True, "mean_difference": 0.0123,
    ...        "ci_low": 0.002, "ci_high": 0.021, "confidence": 0.95, "ttest_pvalue": 0.031,
    ...        "wilcoxon_pvalue": 0.0625, "n_folds": 5}
    >>> print(paired_table([row]))
    | config | metric | mean difference [95% CI] | t-test p | Wilcoxon p | folds |
    |---|---|---|---|---|---|
    | PL+T | NDCG ↑ | +0.0123 [+0.0020, +0.0210] | 0.031 | 0.0625 | 5 |
    """
    if not stats:
        return ""
    level = f"{stats[0]['confidence']:.0%}"
    lines = [f"| config | metric | mean difference [{level} CI] | t-test p | Wilcoxon p | folds |", "|---" * 6 + "|"]
    for row in stats:
        arrow = "↑" if row["higher_is_better"] else "↓"
        diff = _signed(row["mean_difference"])
        interval = f"[{_signed(row['ci_low'])}, {_signed(row['ci_high'])}]"
        p_values = " | ".join(_p(row[key]) for key in ("ttest_pvalue", "wilcoxon_pvalue"))
        lines.append(
            f"| {row['config']} | {row['metric']} {arrow} | {diff} {interval} | {p_values} | {row['n_folds']} |"
        )
    return "\n".join(lines)


def _signed(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:+.4f}"


def _p(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.3g}"
