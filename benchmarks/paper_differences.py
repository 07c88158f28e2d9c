"""Measure, on models trained here, how much each deliberate difference from the paper's code moves a number.

For every fold of the soundfont comparison (the settings of ``soundfont-cpu/run.json``), it fits
``PL+T`` once and scores the same fitted model both ways for each difference that the user guide's
table "Where we differ from the paper's code" lists:

- the route from the per-level heads to a leaf (``deepest_level``, the paper's, against
  ``level_product``): leaf accuracy on test clips of seen leaves, blind accuracy on unseen leaves,
  and the share of clips on which the two routes pick different leaves, all from the same logits;
- macro F1 (ours) against micro F1 (the reference code's torchmetrics default) per level;
- NDCG as the mean of per-query NDCG (ours) against one NDCG over all pairs (the reference code
  through torchmetrics 1.4.1);
- cosine similarity (ours) against the un-normalised dot product the reference code ranks by;
- MNR divided by N - 1 (ours) against the reference's ``rank / N - 1``;
- the paper's class weights (``class_weight="balanced"``, on in every configuration of the paper's
  code, off by default here): the same configuration fitted a second time with them;
- exact ties in the similarities (ours: the expected rank over the tied clips; the reference:
  whatever order ``torch.sort`` leaves);
- the mel spectrograms of torchaudio against the package's plain-PyTorch copy (max |dB| difference).

Writes ``docs/results/paper_differences.md`` and prints it. About 25 minutes on a 2-core CPU once
the soundfont set is rendered (ten fits). Run from the repository root:
``python benchmarks/paper_differences.py``.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score

from sklearn_hier.experiments import CompareSettings, make_pipeline
from sklearn_hier.experiments._pairs import prepared
from sklearn_hier.metrics import hierarchical_ndcg_score, lsa_accuracy, mean_normalized_rank, precision_at_k
from sklearn_hier.metrics._classification import lsa_depths
from sklearn_hier.nn import leaf_log_scores

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
CONFIG = "PL+T"


def settings_of_the_comparison() -> CompareSettings:
    recorded = json.loads((RESULTS / "soundfont-cpu" / "run.json").read_text())["settings"]
    recorded["losses"] = (CONFIG,)
    return CompareSettings(**{k: v for k, v in recorded.items() if k in CompareSettings.__dataclass_fields__})


def head_outputs(estimator, Xt: np.ndarray):
    with torch.no_grad():
        estimator.module_.eval()
        z, outputs = estimator.module_(torch.as_tensor(Xt, device=estimator.device_))
    return z.cpu().numpy(), outputs


def blind_predictions(tax, leaf_codes: np.ndarray, y_unseen: np.ndarray) -> np.ndarray:
    """Each unseen clip's predicted leaf walked up to the depth of its lowest seen ancestor."""
    depths = lsa_depths(tax.lowest_seen_ancestor(y_unseen), tax)
    leaves = np.asarray(tax.leaves, dtype=object)[leaf_codes]
    pred = np.full(len(y_unseen), None, dtype=object)
    for depth in np.unique(depths[depths >= 1]):
        rows = depths == depth
        pred[rows] = tax.ancestor_at(leaves[rows], int(depth))
    return pred


def fold_figures(settings: CompareSettings, X, y, train, test) -> dict[str, float]:
    pipe = make_pipeline(settings, CONFIG).fit(X[train], y[train])
    emb = pipe[-1]
    tax = emb.taxonomy_
    seen = np.isin(y[test], tax.leaves)
    Xt = pipe[:-1].transform(X[test])
    Z, outputs = head_outputs(emb, Xt)
    codes = {route: leaf_log_scores(outputs, tax, route).argmax(1).cpu().numpy() for route in ROUTES}
    y_seen, y_unseen, Z_seen = y[test][seen], y[test][~seen], Z[seen]
    figures = {}
    for route, c in codes.items():
        figures[f"leaf accuracy, {route}"] = float(np.mean(np.asarray(tax.leaves, dtype=object)[c[seen]] == y_seen))
        figures[f"Acc_blind, {route}"] = lsa_accuracy(y_unseen, blind_predictions(tax, c[~seen], y_unseen), tax)
    figures["routes disagree (share of clips)"] = float(np.mean(codes["deepest_level"] != codes["level_product"]))
    for average in ("macro", "micro"):
        per_level = [
            f1_score(tax.ancestor_at(y_seen, d), emb.predict_level(Xt[seen], d), average=average)
            for d in tax.informative_levels
        ]
        figures[f"F1 {average}, mean over levels"] = float(np.mean(per_level))
    for average in ("query", "global"):
        figures[f"NDCG {average}"] = hierarchical_ndcg_score(Z_seen, y_seen, average=average)
    for metric in ("cosine", "dot"):
        figures[f"MNR {metric}"] = mean_normalized_rank(Z_seen, y_seen, metric=metric)
        figures[f"NDCG {metric}"] = hierarchical_ndcg_score(Z_seen, y_seen, metric=metric)
        figures[f"RP@5 {metric}"] = precision_at_k(Z_seen, y_seen, k=5, metric=metric)
    figures.update(class_weight_figures(settings, X, y, train, test, figures))
    n = len(Z_seen)
    figures["MNR as the reference writes it (rank / N - 1)"] = figures["MNR cosine"] * (n - 1) / n - 1
    unit = Z_seen / np.linalg.norm(Z_seen, axis=1, keepdims=True)
    sim = (unit @ unit.T)[np.triu_indices(n, k=1)]
    figures["tied similarity pairs (share)"] = 1 - len(np.unique(sim)) / len(sim)
    # The reference code leaves tied clips in whatever order torch.sort gives: a jitter far below the
    # embeddings' scale breaks every tie at random (and reorders only near-ties) without moving the rest.
    jittered = Z_seen + np.random.default_rng(0).normal(scale=1e-6 * np.abs(Z_seen).max(), size=Z_seen.shape)
    figures["MNR, ties in random order"] = mean_normalized_rank(jittered.astype(np.float32), y_seen)
    figures["NDCG, ties in random order"] = hierarchical_ndcg_score(jittered.astype(np.float32), y_seen)
    figures["RP@5, ties in random order"] = precision_at_k(jittered.astype(np.float32), y_seen, k=5)
    return figures


def class_weight_figures(settings: CompareSettings, X, y, train, test, unweighted: dict) -> dict[str, float]:
    """The scores of the same configuration trained with the paper's class weights (``class_weight="balanced"``)."""
    from sklearn_hier.metrics import hierarchy_scorers

    weighted = CompareSettings(**{**vars(settings), "embedder_params": {**settings.embedder_params}})
    weighted.embedder_params["class_weight"] = "balanced"
    pipe = make_pipeline(weighted, CONFIG).fit(X[train], y[train])
    scorers = hierarchy_scorers()
    keys = {"neg_mean_normalized_rank": "MNR", "ndcg": "NDCG", "precision_at_5": "RP@5", "f1_macro_mean": "F1"}
    figures = {}
    for key, name in keys.items():
        value = scorers[key](pipe, X[test], y[test])
        figures[f"{name}, class_weight='balanced'"] = -value if key.startswith("neg_") else value
    return figures


def mel_difference(settings: CompareSettings, X) -> float:
    """Largest |dB| difference between torchaudio's mels and the plain-PyTorch copy's, on 64 clips."""
    import torchaudio

    from sklearn_hier.audio import _torch_mel

    params = {**settings.mel_params}
    sr, n_fft, hop, n_mels = params["sr"], params["n_fft"], params["hop_length"], params["n_mels"]
    waves = torch.as_tensor(np.asarray(X[:64], dtype=np.float32))
    results = []
    for module in (torchaudio.transforms, _torch_mel):
        mel = module.MelSpectrogram(sample_rate=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, mel_scale="htk")
        results.append(module.AmplitudeToDB(stype="power")(mel(waves).unsqueeze(1)))
    return float((results[0] - results[1]).abs().max())


ROUTES = ("deepest_level", "level_product")


def main() -> None:
    torch.set_num_threads(1)  # as benchmarks/run_compare_cpu.py ran the comparison
    settings = settings_of_the_comparison()
    X, y, splits = prepared(settings, verbose=1)
    per_fold = [fold_figures(settings, X, y, train, test) for train, test in splits]
    names = list(per_fold[0])
    lines = [
        f"# Differences from the paper's code, measured ({CONFIG}, soundfont, {len(splits)} folds)",
        "",
        f"Made by `python benchmarks/paper_differences.py` with the settings of `soundfont-cpu/run.json`, "
        f"on {sys.platform}, torch {torch.__version__}. Each row: mean ± std over folds, then the folds.",
        "",
        "| figure | mean ± std | per fold |",
        "|---|---|---|",
    ]
    for name in names:
        values = np.array([fold[name] for fold in per_fold], dtype=float)
        folds = ", ".join(f"{v:.4f}" for v in values)
        lines.append(f"| {name} | {np.nanmean(values):.4f} ± {np.nanstd(values):.4f} | {folds} |")
    lines += [
        "",
        f"Mel spectrograms, torchaudio against plain PyTorch, 64 clips: max |difference| "
        f"{mel_difference(settings, X):.2e} dB.",
    ]
    text = "\n".join(lines) + "\n"
    (RESULTS / "paper_differences.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
