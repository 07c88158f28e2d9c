"""What a finished comparison leaves in its folder besides the pair records: CSV, table, plots, run.json."""

from __future__ import annotations

import csv
import io
import json
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from sklearn_hier._show_versions import describe_environment
from sklearn_hier.experiments._records import fingerprint, write_atomic
from sklearn_hier.experiments._settings import PAPER_RECIPE, CompareSettings, config_params
from sklearn_hier.experiments._summary import (
    capped_precision,
    paired_note,
    paired_table,
    precision_note,
    reported_columns,
)
from sklearn_hier.plotting import EmbeddingProjectionDisplay, LevelSimilarityDisplay, MetricComparisonDisplay
from sklearn_hier.taxonomy import Taxonomy

__all__ = ["share_in_words", "write_outputs"]


def write_outputs(
    out: Path,
    settings: CompareSettings,
    rows: list[dict],
    summary: dict,
    table: str,
    embeddings: dict,
    run: dict[str, Any],
    stats: list[dict] | None = None,
) -> None:
    """Write results.csv, stats.csv (the paired statistics), summary.md, the plots and run.json."""
    write_atomic(out / "results.csv", _csv(rows, ["config", "fold", "metric", "value"]))
    stats = stats or []
    if stats:
        write_atomic(out / "stats.csv", _csv(stats, list(stats[0])))
    note = _COLUMNS_NOTE[settings.label_sets]
    quick = (
        f"\n\nQuick mode: a subset of the data, a slimmer network and few epochs, and {share_in_words(settings)} "
        "so that RP@5 is defined (see run.json)."
    ) * settings.quick
    if precision := precision_note(rows, label_sets=settings.label_sets):
        note += "\n\n" + precision
    paired = _paired_section(settings, stats)
    if paired and paired_note(rows, settings.losses, settings.baseline):
        paired += "\n" + paired_note(rows, settings.losses, settings.baseline) + "\n"
    text = f"# Comparison on {settings.dataset}\n\n{table}\n\n{note}{quick}\n{paired}"
    write_atomic(out / "summary.md", text.encode())
    _write_plots(out, rows, settings, summary, embeddings)
    run = {
        "settings": asdict(settings),
        "versions": _versions(),
        "mel_backend": fingerprint(settings)["mel_backend"],
        **({"recipe": PAPER_RECIPE} if settings.recipe == "paper" else {}),
        **run,
        "fit_seconds": round(sum(r["value"] for r in rows if r["metric"] == "fit_time"), 1),
        "epochs": _total_epochs(rows),
        "machine": f"{platform.machine()} {platform.processor()}".strip(),
    }
    write_atomic(out / "run.json", json.dumps(run, indent=2, default=str).encode())


# What the table's columns are, under it: one label per clip (Table I), or label sets.
_COLUMNS_NOTE = {
    False: (
        "Columns MNR..F1: test clips of seen leaves; MNR unseen..Acc_blind: clips of leaves never seen in "
        "training. Mean ± std over folds; best per column in bold. F1: macro F1 per level, averaged over levels. "
        "Acc_aware is n/a for a configuration without PL: it trains no per-level heads to ask."
    ),
    True: (
        "Columns MNR..mAP: test clips whose every label was seen in training; MNR unseen..Acc_blind: clips "
        "carrying a label the fold held out (they may carry seen labels too). Mean ± std over folds; best per "
        "column in bold. MNR and NDCG take relevance from the overlap of the clips' ancestor closures; RP@5 "
        "counts the retrieved clips sharing one of the query's labels. F1: macro F1 per level of the predicted "
        "label sets (predict_label_sets) on their closures, averaged over levels. lwlrap and mAP rank the heads' "
        "probabilities (predict_proba) against the true labels. Acc_blind: the share of held-out labels whose "
        "lowest seen ancestors the predicted closure holds. Acc_aware, which asks a per-level head for one node "
        "per clip, is not scored on label sets."
    ),
}


def share_in_words(settings: CompareSettings) -> str:
    """What ``test_size`` holds out, in words, as the quick notes say it.

    Examples
    --------
    >>> share_in_words(CompareSettings(dataset="synthetic", test_size=0.5))
    "50% of each seen leaf's clips held out for testing"
    >>> print(share_in_words(CompareSettings(dataset="mixtures", test_size=0.3)))
    30% of each seen label's clips (of those free of held-out labels) held out for testing
    """
    # On label sets the clips that carry a held-out label are all tested as unseen; the share is of the others.
    whose = "label's clips (of those free of held-out labels)" if settings.label_sets else "leaf's clips"
    return f"{settings.test_size:.0%} of each seen {whose} held out for testing"


def _total_epochs(rows: list[dict]) -> int | None:
    """The epochs of every fit, summed; ``None`` when a pair recorded before epochs were recorded lacks them.

    Examples
    --------
    >>> _total_epochs([{"config": "L", "fold": 0, "metric": "epochs", "value": 3.0}])
    3
    >>> print(_total_epochs([{"config": "L", "fold": 0, "metric": "MNR", "value": 0.1}]))
    None
    """
    epochs = {(r["config"], r["fold"]): r["value"] for r in rows if r["metric"] == "epochs"}
    if len(epochs) < len({(r["config"], r["fold"]) for r in rows}):
        return None
    return int(sum(epochs.values()))


def _csv(rows: list[dict], fieldnames: list[str]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fieldnames)
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode()


def _paired_section(settings: CompareSettings, stats: list[dict]) -> str:
    """The paired statistics against the baseline, for summary.md; empty with a single configuration."""
    if not stats:
        return ""
    return (
        f"\n## Paired comparison with {settings.baseline}\n\n"
        f"Per-fold differences (configuration - {settings.baseline}) on the same {settings.n_splits} folds; "
        "MNR as itself, so there a negative difference is an improvement (the arrow marks the better "
        "direction). Two-sided paired t-test and Wilcoxon signed-rank p-values, and a bootstrap percentile "
        f"interval of the mean difference (10,000 resamplings of the folds; stats.csv has every field). "
        f"With {settings.n_splits} folds the smallest possible Wilcoxon p is {2 / 2**settings.n_splits:.3g}; "
        "nothing here corrects for the number of comparisons.\n\n" + paired_table(stats) + "\n"
    )


def _write_plots(out: Path, rows: list[dict], settings: CompareSettings, summary: dict, embeddings: dict) -> dict:
    """Write metrics.png and, with embeddings, similarity.png and (one label per clip) projection.png.

    Returns the displays by file name.
    """
    keys = [k for _, k, _ in reported_columns(rows)]
    capped = capped_precision(rows)
    # A capped RP@5 is drawn as n/a, as the table shows it, rather than as a bar of the data's ceiling.
    drawn = [
        {**r, "value": float("nan")} if capped and r["metric"] == "precision_at_5" else r
        for r in rows
        if r["metric"] in keys
    ]
    bars = MetricComparisonDisplay._from_rows(drawn, keys)
    _save(bars, out / "metrics.png", title="Hierarchy metrics by configuration")
    if not embeddings:
        return {"metrics.png": bars}
    ranked = [c for c in settings.losses if c in embeddings and np.isfinite(summary[c]["NDCG"][0])]
    best = max(ranked, key=lambda c: summary[c]["NDCG"][0]) if ranked else next(iter(embeddings))
    Z, y, curvature = embeddings[best]
    # The similarity the configuration was scored with: geodesic distance on the ball for poincare.
    metric = "poincare" if config_params(best, settings)["geometry"] == "poincare" else "cosine"
    whose = f"{best}, fold 0 test clips"
    similarity = LevelSimilarityDisplay._from_embeddings(
        Z, y, level=min(2, Taxonomy.from_label_sets(y).depth), metric=metric, curvature=curvature or 1.0, sep="/"
    )
    _save(similarity, out / "similarity.png", title=f"{whose}\n{similarity._default_title()}")
    displays = {"metrics.png": bars, "similarity.png": similarity}
    if settings.label_sets:
        # One colour per family cannot say which of its two or three families a mixture is: no projection.
        return displays
    projection = EmbeddingProjectionDisplay._from_embeddings(
        Z, y, colour_level=1, marker_level="auto", method="pca", sep="/", random_state=0
    )
    _save(projection, out / "projection.png", title=f"{whose}\nEmbeddings, PCA to 2-D")
    return {**displays, "projection.png": projection}


def _save(display: Any, path: Path, **plot_params: Any) -> None:
    """Draw ``display`` on a figure of its own size, made without pyplot, and write it as a PNG.

    A :class:`~matplotlib.figure.Figure` needs no GUI backend and is not kept by pyplot, so a
    comparison run from any program (a notebook, a GUI, a Dask worker) writes its plots the same way.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=display._figsize(), layout=display._layout)
    display.plot(ax=figure.add_subplot(), **plot_params)
    if hasattr(display, "_fit_figure"):
        display._fit_figure()  # what plot(ax=None) does on a figure of its own
    figure.savefig(path, dpi=120)


def _versions() -> dict[str, str]:
    return {k: v for k, v in describe_environment().items() if k != "device"}
