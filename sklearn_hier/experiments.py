"""The paper's comparison (Table I): loss configurations x UnseenLeafKFold folds.

Everything goes through the public API: a ``Pipeline`` of the README
(``[AudioLoader ->] MelTransformer -> HierarchicalEmbedder``) scored by
:func:`sklearn.model_selection.cross_validate` with
:func:`~sklearn_hier.metrics.hierarchy_scorers`. The mel step is cached with
:class:`joblib.Memory` through the pipeline's ``memory``, so the
configurations share it fold by fold.
"""

from __future__ import annotations

import csv
import json
import math
import platform
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from sklearn_hier.plotting import _finite_stat

__all__ = ["PAPER_CONFIGS", "TABLE_COLUMNS", "CompareSettings", "compare", "summary_table"]

PAPER_CONFIGS = ("L", "L+T", "PL", "PL+T", "PL+B", "PL+B+T")

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
DATASETS = ("soundfont", "synthetic", "orchideasol", "folder")


@dataclass
class CompareSettings:
    """Every setting of one comparison run, as recorded in ``run.json``.

    The defaults are the paper's (full network, 128 mels, up to 2,500
    epochs with early stopping); :meth:`quick` shrinks data, network and
    epochs so the whole run fits in minutes on a laptop CPU.
    """

    dataset: str = "soundfont"
    data_dir: str | None = None
    losses: tuple[str, ...] = PAPER_CONFIGS
    triplets: str = "tree"
    n_splits: int = 5
    max_epochs: int = 2500
    device: str = "auto"
    random_state: int = 0
    n_jobs: int | None = None
    dataset_params: dict[str, Any] = field(default_factory=dict)
    mel_params: dict[str, Any] = field(default_factory=dict)
    embedder_params: dict[str, Any] = field(default_factory=dict)
    quick: bool = False

    @classmethod
    def quick_settings(cls, **overrides: Any) -> CompareSettings:
        """A subset of the data, 64 mel bands at 22.05 kHz, 32 channels, 3 folds, 8 epochs."""
        settings = cls(
            n_splits=3,
            max_epochs=8,
            quick=True,
            dataset_params={
                "soundfont": {
                    # Two programs from each of six families, four techniques: 48 leaves.
                    "programs": (0, 4, 16, 19, 24, 25, 40, 42, 56, 57, 72, 73),
                    "techniques": ("ordinario", "staccato", "tremolo", "vibrato"),
                    "n_per_leaf": 12,
                    "n_rare_leaves": 3,
                    "sr": 22050,
                },
                "synthetic": {"n_per_leaf": 12, "branching": (3, 3, 3), "sr": 16000, "duration": 0.5},
            },
            mel_params={"sr": 22050, "n_fft": 1024, "hop_length": 512, "n_mels": 64},
            embedder_params={"module__channels": 32, "embedding_dim": 64},
        )
        for key, value in overrides.items():
            setattr(settings, key, value)
        return settings


def compare(settings: CompareSettings | None = None, *, out: str | Path | None = None, verbose: int = 1) -> dict:
    """Run every loss configuration on every fold and write tables and plots.

    Parameters
    ----------
    settings : CompareSettings, default=None
        What to run; ``None`` runs the paper's defaults.
    out : str or Path, default=None
        Output folder, default ``./sklearn_hier_results/<timestamp>``. A
        config x fold pair whose result is already in ``out/runs/`` is not
        run again, so an interrupted run resumes where it stopped.
    verbose : int, default=1
        0 is silent; 1 shows an overall progress bar and the table; 2 also
        prints each fit's epochs.

    Returns
    -------
    results : dict
        ``rows`` (one dict per config x fold x metric, as in
        ``results.csv``), ``summary`` (config -> column -> (mean, std)),
        ``table`` (the Markdown table) and ``out`` (the folder).

    Examples
    --------
    >>> from sklearn_hier.experiments import CompareSettings
    >>> settings = CompareSettings.quick_settings(dataset="synthetic", losses=("PL", "PL+T"))
    >>> settings.n_splits, settings.max_epochs
    (3, 8)

    ``compare(settings, out="results")`` then runs 2 configs x 3 folds.
    """
    settings = settings or CompareSettings()
    _validate(settings)
    out = Path(out) if out is not None else Path("sklearn_hier_results") / datetime.now().strftime("%Y%m%d-%H%M%S")
    (out / "runs").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    X, y = _load_dataset(settings, verbose)
    splits = _splits(settings, X, y)
    rows, embeddings = _run_all(settings, X, y, splits, out, verbose)
    summary = _summarise(rows, settings.losses)
    table = summary_table(summary)
    _write_outputs(out, settings, rows, summary, table, embeddings, time.perf_counter() - started, len(y))
    if verbose:
        print(table)
        print(f"\nResults written to {out}")
    return {"rows": rows, "summary": summary, "table": table, "out": out}


# ------------------------------------------------------------------ validation
def _validate(settings: CompareSettings) -> None:
    from sklearn_hier.nn import parse_losses

    if settings.dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}; got {settings.dataset!r}.")
    if settings.dataset in ("orchideasol", "folder"):
        if settings.data_dir is None:
            raise ValueError(f"dataset {settings.dataset!r} needs a data directory (--data-dir).")
        if not Path(settings.data_dir).is_dir():
            raise ValueError(f"data directory {settings.data_dir!r} does not exist.")
    if not settings.losses:
        raise ValueError("losses must name at least one configuration.")
    for config in settings.losses:
        parse_losses(config)
    if settings.n_splits < 2:
        raise ValueError(f"n_splits must be at least 2; got {settings.n_splits}.")


# ------------------------------------------------------------------------ data
def _load_dataset(settings: CompareSettings, verbose: int) -> tuple[Any, np.ndarray]:
    from sklearn_hier import datasets

    params = dict(settings.dataset_params.get(settings.dataset, {}))
    if settings.dataset == "synthetic":
        X, y = datasets.make_hierarchical_sounds(random_state=settings.random_state, **params)
        return X, y
    if settings.dataset == "soundfont":
        bunch = datasets.load_soundfont_instruments(verbose=verbose, n_jobs=settings.n_jobs, **params)
    elif settings.dataset == "orchideasol":
        bunch = datasets.load_orchideasol(settings.data_dir, **params)
    else:
        bunch = datasets.load_audio_folder(settings.data_dir, **params)
    return bunch.data, np.asarray(bunch.target, dtype=object)


def _sample_rate(settings: CompareSettings) -> int:
    params = settings.dataset_params.get(settings.dataset, {})
    default = 16000 if settings.dataset == "synthetic" else 44100
    return int(params.get("sr", settings.mel_params.get("sr", default)))


def _splits(settings: CompareSettings, X: Any, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn_hier.model_selection import UnseenLeafKFold

    cv = UnseenLeafKFold(n_splits=settings.n_splits, random_state=settings.random_state)
    return list(cv.split(X, y))


def make_pipeline(settings: CompareSettings, losses: str, memory: Any = None, verbose: int = 0) -> Any:
    """The README pipeline for one loss configuration, built from ``settings``.

    File-based datasets get an :class:`~sklearn_hier.audio.AudioLoader` first.
    """
    from sklearn.pipeline import Pipeline

    from sklearn_hier.audio import AudioLoader, MelTransformer
    from sklearn_hier.embedder import HierarchicalEmbedder

    sr = _sample_rate(settings)
    mel = MelTransformer(**{**settings.mel_params, "sr": sr}, device=settings.device)
    embedder = HierarchicalEmbedder(
        losses=losses,
        triplets=settings.triplets,
        max_epochs=settings.max_epochs,
        device=settings.device,
        random_state=settings.random_state,
        verbose=int(verbose > 1),
        **settings.embedder_params,
    )
    steps = [("mel", mel), ("emb", embedder)]
    if settings.dataset in ("orchideasol", "folder"):
        steps.insert(0, ("audio", AudioLoader(sr=sr, n_jobs=settings.n_jobs)))
    return Pipeline(steps, memory=memory)


# --------------------------------------------------------------------- running
def _slug(config: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", config).strip("_")


def _run_all(
    settings: CompareSettings, X: Any, y: np.ndarray, splits: list, out: Path, verbose: int
) -> tuple[list[dict], dict[str, tuple[np.ndarray, np.ndarray]]]:
    from joblib import Memory
    from tqdm.auto import tqdm

    memory = Memory(out / "cache", verbose=0)
    pairs = [(config, fold) for config in settings.losses for fold in range(len(splits))]
    rows: list[dict] = []
    embeddings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    bar = tqdm(pairs, desc="config x fold", disable=not verbose, unit="fit")
    for config, fold in bar:
        bar.set_postfix_str(f"{config} fold {fold}")
        path = out / "runs" / f"{_slug(config)}_fold{fold}.json"
        if not path.exists():
            _run_one(settings, X, y, splits[fold], config, fold, memory, out, verbose)
        rows.extend(json.loads(path.read_text()))
    for config in settings.losses:
        saved = out / "runs" / f"{_slug(config)}_fold0_embeddings.npz"
        if saved.exists():
            with np.load(saved, allow_pickle=True) as data:
                embeddings[config] = (data["Z"], data["y"])
    return rows, embeddings


def _run_one(
    settings: CompareSettings,
    X: Any,
    y: np.ndarray,
    split: tuple,
    config: str,
    fold: int,
    memory: Any,
    out: Path,
    verbose: int,
) -> None:
    from sklearn.model_selection import cross_validate

    from sklearn_hier.metrics import hierarchy_scorers

    pipe = make_pipeline(settings, config, memory=memory, verbose=verbose)
    result = cross_validate(
        pipe, X, y, cv=[split], scoring=hierarchy_scorers(), return_estimator=fold == 0, error_score="raise"
    )
    rows = [
        {"config": config, "fold": fold, "metric": key[len("test_") :], "value": float(values[0])}
        for key, values in result.items()
        if key.startswith("test_")
    ]
    rows += [
        {"config": config, "fold": fold, "metric": t, "value": float(result[t][0])} for t in ("fit_time", "score_time")
    ]
    if fold == 0:
        test = split[1]
        Z = result["estimator"][0].transform(_take(X, test))
        np.savez(out / "runs" / f"{_slug(config)}_fold0_embeddings.npz", Z=Z, y=y[test])
    # Written last, so an interrupted pair is simply run again.
    (out / "runs" / f"{_slug(config)}_fold{fold}.json").write_text(json.dumps(rows))


def _take(X: Any, index: np.ndarray) -> Any:
    return X[index] if hasattr(X, "shape") else [X[i] for i in index]


# --------------------------------------------------------------------- summary
def _summarise(rows: Sequence[dict], configs: Sequence[str]) -> dict[str, dict[str, tuple[float, float]]]:
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
    better = {h: hib for h, _, hib in TABLE_COLUMNS} | {"blind/aware": True}
    best = {}
    for h in headers:
        means = [row[h][0] for row in summary.values() if h in row and np.isfinite(row[h][0])]
        best[h] = (max if better[h] else min)(means) if means else None
    arrows = {h: ("↑" if better[h] else "↓") for h in headers}
    lines = ["| config | " + " | ".join(f"{h} {arrows[h]}" for h in headers) + " |"]
    lines.append("|---" * (len(headers) + 1) + "|")
    for config, row in summary.items():
        cells = []
        for h in headers:
            mean, std = row.get(h, (math.nan, math.nan))
            text = "n/a" if not np.isfinite(mean) else f"{mean:.3f}" + ("" if not np.isfinite(std) else f" ± {std:.3f}")
            cells.append(f"**{text}**" if best[h] is not None and mean == best[h] else text)
        lines.append(f"| {config} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------- outputs
def _write_outputs(
    out: Path,
    settings: CompareSettings,
    rows: list[dict],
    summary: dict,
    table: str,
    embeddings: dict,
    seconds: float,
    n_clips: int,
) -> None:
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["config", "fold", "metric", "value"])
        writer.writeheader()
        writer.writerows(rows)
    note = (
        "Columns MNR..F1: test clips of seen leaves; MNR unseen..Acc_blind: clips of leaves never seen in "
        "training. Mean ± std over folds; best per column in bold. F1: macro F1 per level, averaged over levels."
    )
    quick = "\n\nQuick mode: a subset of the data, a slimmer network and few epochs (see run.json)." * settings.quick
    (out / "summary.md").write_text(f"# Comparison on {settings.dataset}\n\n{table}\n\n{note}{quick}\n")
    _write_plots(out, rows, settings, summary, embeddings)
    run = {
        "settings": asdict(settings),
        "versions": _versions(),
        "device": _device(settings.device),
        "n_clips": n_clips,
        "seconds": round(seconds, 1),
        "fit_seconds": round(sum(r["value"] for r in rows if r["metric"] == "fit_time"), 1),
        "machine": f"{platform.machine()} {platform.processor()}".strip(),
    }
    (out / "run.json").write_text(json.dumps(run, indent=2, default=str))


def _write_plots(out: Path, rows: list[dict], settings: CompareSettings, summary: dict, embeddings: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_hier.plotting import EmbeddingProjectionDisplay, LevelSimilarityDisplay, MetricComparisonDisplay

    keys = [k for _, k, _ in TABLE_COLUMNS]
    disp = MetricComparisonDisplay.from_results([r for r in rows if r["metric"] in keys])
    disp.figure_.tight_layout()
    disp.figure_.savefig(out / "metrics.png", dpi=120)
    plt.close(disp.figure_)
    if not embeddings:
        return
    ranked = [c for c in settings.losses if c in embeddings and np.isfinite(summary[c]["NDCG"][0])]
    best = max(ranked, key=lambda c: summary[c]["NDCG"][0]) if ranked else next(iter(embeddings))
    Z, y = embeddings[best]
    for name, display in (
        ("projection.png", EmbeddingProjectionDisplay.from_embeddings(Z, y)),
        ("similarity.png", LevelSimilarityDisplay.from_embeddings(Z, y, level=2)),
    ):
        display.ax_.set_title(f"{best}, fold 0 test clips")
        display.figure_.tight_layout()
        display.figure_.savefig(out / name, dpi=120)
        plt.close(display.figure_)


def _versions() -> dict[str, str]:
    from sklearn_hier.cli import describe_environment

    return {k: v for k, v in describe_environment().items() if k != "device"}


def _device(device: str) -> str:
    import torch

    from sklearn_hier._device import check_device

    resolved = check_device(device)
    return f"{resolved} ({torch.cuda.get_device_name(resolved)})" if resolved.type == "cuda" else str(resolved)
