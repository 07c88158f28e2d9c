"""The comparison's table: mean ± std over folds per configuration, in the shape of the paper's Table I."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from sklearn_hier.plotting import _finite_stat

__all__ = ["TABLE_COLUMNS", "summarise", "summary_table"]

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


def summarise(rows: Sequence[dict], configs: Sequence[str]) -> dict[str, dict[str, tuple[float, float]]]:
    """Config -> column header -> (mean, std) over folds, MNR shown as itself (stored negated)."""
    values: dict[str, dict[str, list[float]]] = {c: {} for c in configs}
    for row in rows:
        values[row["config"]].setdefault(row["metric"], []).append(row["value"])
    summary = {}
    for config, metrics in values.items():
        summary[config] = {}
        for header, key, _ in TABLE_COLUMNS:
            sign = -1.0 if key.startswith("neg_") else 1.0
            v = sign * np.asarray(metrics.get(key, [np.nan]), dtype=float)
            summary[config][header] = (_finite_stat(np.mean, v), _finite_stat(np.std, v))
        aware, blind = summary[config]["Acc_aware"][0], summary[config]["Acc_blind"][0]
        summary[config]["blind/aware"] = (blind / aware if aware else math.nan, math.nan)
    return summary


def summary_table(summary: dict[str, dict[str, tuple[float, float]]]) -> str:
    """A Markdown table in the shape of the paper's Table I, best value per column in bold.

    Columns before "MNR unseen" are on the test clips of seen leaves, the rest
    on the clips of unseen leaves; MNR is lower-is-better, the rest higher.

    Examples
    --------
    >>> s = {"L": {"MNR": (0.2, 0.01)}, "PL": {"MNR": (0.1, 0.02)}}
    >>> print(summary_table(s))
    | config | MNR ↓ |
    |---|---|
    | L | 0.200 ± 0.010 |
    | PL | **0.100 ± 0.020** |
    """
    headers = [h for h, _, _ in TABLE_COLUMNS if any(h in row for row in summary.values())]
    if any("blind/aware" in row for row in summary.values()):
        headers.append("blind/aware")
    # blind/aware is not a score to maximise (a weak per-level head inflates it), so it is neither
    # ranked nor bolded: it is read against the paper's 0.8 threshold.
    better = {h: hib for h, _, hib in TABLE_COLUMNS}
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
