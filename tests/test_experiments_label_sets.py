"""The comparison on clips that carry label sets (``--dataset mixtures``): settings, refusals, records, tables."""

import json

import numpy as np
import pytest
from _compare_settings import TINY

import sklearn_hier.experiments
from sklearn_hier.cli import main
from sklearn_hier.experiments import (
    LABEL_SET_COLUMNS,
    LABEL_SET_CONFIGS,
    PAPER_CONFIGS,
    CompareSettings,
    compare,
    default_configs,
)
from sklearn_hier.experiments._outputs import _write_plots
from sklearn_hier.experiments._pairs import precision_ceiling
from sklearn_hier.experiments._records import fingerprint, read_embeddings, read_pair, write_pair
from sklearn_hier.experiments._settings import check_settings
from sklearn_hier.experiments._summary import paired_statistics, precision_note, summarise, summary_table

# Mixtures of the bundled soundfont small enough to render in a second: 12 leaves of 2 notes, 8 kHz.
TINY_MIXTURES = {
    **TINY,
    "dataset": "mixtures",
    "losses": ("PL", "PL+T:triplets=semi_hard"),
    "n_splits": 3,
    "test_size": 0.3,
    "min_samples_leaf": 3,
    "dataset_params": {
        "mixtures": {
            "programs": (0, 24, 40, 56, 73, 19),
            "techniques": ("ordinario", "staccato"),
            "n_per_leaf": 2,
            "n_clips": 120,
            "n_notes": 2,
            "sr": 8000,
            "duration": 0.5,
        }
    },
    "mel_params": {**TINY["mel_params"], "sr": 8000},
}


def _sets(*clips):
    y = np.empty(len(clips), dtype=object)
    y[:] = [frozenset(clip) for clip in clips]
    return y


# ------------------------------------------------------------------ settings
def test_mixtures_default_to_the_paper_six_with_mined_triplets():
    assert default_configs("mixtures") == LABEL_SET_CONFIGS and default_configs("synthetic") == PAPER_CONFIGS
    assert [config.partition(":")[0] for config in LABEL_SET_CONFIGS] == list(PAPER_CONFIGS)
    assert all(config.endswith(":triplets=semi_hard") for config in LABEL_SET_CONFIGS if "T" in config.split(":")[0])
    settings = CompareSettings.quick_settings(dataset="mixtures")
    assert settings.label_sets and settings.test_size == 0.3 and settings.max_epochs == 12 and settings.losses is None
    assert settings.dataset_params["mixtures"]["n_notes"] == (2, 3)
    assert CompareSettings.quick_settings(dataset="mixtures", test_size=0.3).test_size == 0.3  # overrides win
    assert CompareSettings.quick_settings(dataset="soundfont").test_size == 0.5  # the others keep theirs


def test_the_quick_mixtures_command_names_its_data_and_settings(monkeypatch, tmp_path, capsys):
    ran = {}
    monkeypatch.setattr(sklearn_hier.experiments, "compare", lambda settings, **kwargs: ran.update(settings=settings))
    assert main(["compare", "--dataset", "mixtures", "--quick", "--out", str(tmp_path)]) == 0
    settings = ran["settings"]
    assert settings.dataset == "mixtures" and settings.losses == LABEL_SET_CONFIGS and settings.test_size == 0.3
    printed = capsys.readouterr().out
    data = "Data: 2000 clips mixing 2-3 notes of different leaves of the soundfont (12 programs x 4 techniques)"
    assert data in printed
    assert "12 epochs, and 30% of each seen label's clips (of those free of held-out labels) held out" in printed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"losses": ("PL+HXE",)}, "'PL\\+HXE' on dataset 'mixtures': .* has HXE, which train"),
        ({"losses": ("PL+B+SOFT",)}, "has SOFT, which train"),
        ({"losses": ("PL+T",)}, "'PL\\+T' on dataset 'mixtures': .*triplets='tree' samples .* from one leaf per clip"),
        ({"losses": ("PL", "L+T:triplets=tree")}, "'L\\+T'.*mine them online instead: triplets='semi_hard'"),
        ({"embedder_params": {"leaf_source": "level_product"}}, "a label set has no one path"),
    ],
)
def test_configurations_that_cannot_train_on_label_sets_are_refused_before_any_work(change, message, tmp_path):
    settings = CompareSettings(**{**TINY_MIXTURES, **change})
    with pytest.raises(ValueError, match=message):
        compare(settings, out=tmp_path / "out", verbose=0)
    assert not (tmp_path / "out").exists()


def test_the_command_refuses_them_in_one_line(tmp_path, capsys):
    argv = ["compare", "--dataset", "mixtures", "--quick", "--losses", "PL", "PL+T", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "Configuration 'PL+T' on dataset 'mixtures'" in error and "'semi_hard'" in error
    assert not (tmp_path / "o").exists()


def test_mined_triplets_for_the_whole_run_make_t_acceptable():
    settings = check_settings(CompareSettings(**{**TINY_MIXTURES, "losses": ("PL+T",), "triplets": "semi_hard"}))
    assert settings.losses == ("PL+T",)


def test_single_label_datasets_still_take_every_term():
    assert check_settings(CompareSettings(**{**TINY, "losses": ("PL+T", "PL+HXE")})).losses == ("PL+T", "PL+HXE")


# ------------------------------------------------------------------ records
@pytest.mark.parametrize(
    "change", [{"n_clips": 121}, {"n_notes": (2, 3)}, {"level_db": 0.0}, {"distinct": "family"}, {"sr": 16000}]
)
def test_fingerprint_changes_with_every_mixture_parameter(change):
    base = fingerprint(CompareSettings(**TINY_MIXTURES))
    params = {"mixtures": {**TINY_MIXTURES["dataset_params"]["mixtures"], **change}}
    other = fingerprint(CompareSettings(**{**TINY_MIXTURES, "dataset_params": params}))
    assert {key for key in base if base[key] != other[key]} == {"dataset_params"}


def test_fingerprint_names_the_mixing_and_ignores_other_datasets_parameters():
    base = fingerprint(CompareSettings(**TINY_MIXTURES))
    assert base["data_version"].startswith("mixtures format 1; render format ")
    params = {**TINY_MIXTURES["dataset_params"], "soundfont": {"n_per_leaf": 3}}
    assert fingerprint(CompareSettings(**{**TINY_MIXTURES, "dataset_params": params})) == base
    assert fingerprint(CompareSettings(**{**TINY_MIXTURES, "dataset": "soundfont"})) != base


def test_label_set_embeddings_are_recorded_and_read_back_as_sets(tmp_path):
    settings = check_settings(CompareSettings(**{**TINY_MIXTURES, "losses": ("PL",)}))
    (tmp_path / "runs").mkdir()
    y = _sets({"Brass/Trumpet/ordinario", "Reed/Oboe/staccato"}, {"Brass/Trumpet/staccato"})
    row = {"config": "PL", "fold": 0, "metric": "lwlrap", "value": 0.5}
    result = {"config": "PL", "fold": 0, "rows": [row], "embeddings": (np.eye(2), y, None), "device": "cpu"}
    write_pair(tmp_path, settings, {**result, "n_clips": 2})
    Z, y_read, curvature = read_embeddings(tmp_path, read_pair(tmp_path, "PL", 0))
    assert y_read.dtype == object and list(y_read) == list(y) and curvature is None


# ------------------------------------------------------------------ scores and tables
def test_the_rp5_ceiling_counts_clips_sharing_a_most_specific_label():
    y_train = _sets({"a/x", "b/y"}, {"a/z"})
    y_test = _sets({"a/x"}, {"a/x", "b/y"}, {"b/y", "b"}, {"a/z"}, {"c/w", "a/x"})  # {c/w, a/x} is unseen
    # Relevant partners: 0 <-> 1 (a/x), 1 <-> 2 (b/y; b, above b/y, is no most specific label), 3 none.
    assert precision_ceiling(y_train, y_test, k=1) == pytest.approx((1 + 1 + 1 + 0) / 4)
    assert precision_ceiling(y_train, y_test, k=5) == pytest.approx((1 + 2 + 1 + 0) / 20)
    assert np.isnan(precision_ceiling(y_train, _sets({"c/w"}), k=5))


def _label_set_rows(configs=("L", "PL"), n_folds=3):
    rows = []
    for c, config in enumerate(configs):
        for fold in range(n_folds):
            for i, (_, key, _) in enumerate(LABEL_SET_COLUMNS):
                value = (0.3 + 0.1 * c + 0.01 * fold + 0.001 * i) * (-1 if key.startswith("neg_") else 1)
                rows.append({"config": config, "fold": fold, "metric": key, "value": value})
            rows.append({"config": config, "fold": fold, "metric": "precision_at_5_ceiling", "value": 1.0})
    return rows


def test_label_set_tables_show_the_tagging_columns_where_table_i_has_f1_and_accuracies():
    rows = _label_set_rows()
    summary = summarise(rows, ["L", "PL"])
    assert list(summary["PL"]) == [header for header, _, _ in LABEL_SET_COLUMNS]  # no blind/aware
    header = summary_table(summary).splitlines()[0]
    assert header == (
        "| config | MNR ↓ | NDCG ↑ | RP@5 ↑ | F1 ↑ | lwlrap ↑ | mAP ↑ | MNR unseen ↓ | NDCG unseen ↑ | Acc_blind ↑ |"
    )
    stats = paired_statistics(rows, ["L", "PL"], "L")
    assert [row["metric"] for row in stats] == [header for header, _, _ in LABEL_SET_COLUMNS]
    lwlrap = next(row for row in stats if row["metric"] == "lwlrap")
    assert lwlrap["higher_is_better"] and lwlrap["mean_difference"] == pytest.approx(0.1)


def test_the_rp5_note_speaks_of_labels_on_label_sets():
    rows = [{"config": "L", "fold": 0, "metric": "precision_at_5_ceiling", "value": 0.2}]
    assert "too few seen test clips have 5 others sharing one of their labels" in precision_note(rows, label_sets=True)
    assert "More clips per label" in precision_note(rows, label_sets=True)
    assert "too few seen leaves" in precision_note(rows)


def test_label_set_plots_are_the_metrics_and_the_similarity_of_families(tmp_path):
    from _figures import clipped_texts

    settings = check_settings(CompareSettings(**{**TINY_MIXTURES, "losses": ("L", "PL")}))
    rows = _label_set_rows()
    y = _sets(*[{"Brass/Trumpet/ordinario", "Reed/Oboe/staccato"}, {"Brass/Tuba/ordinario"}, {"Pipe/Flute/x"}] * 4)
    Z = np.random.default_rng(0).normal(size=(len(y), 8))
    displays = _write_plots(tmp_path, rows, settings, summarise(rows, settings.losses), {"PL": (Z, y, None)})
    assert sorted(displays) == ["metrics.png", "similarity.png"]  # no projection: a mixture has several families
    assert not (tmp_path / "projection.png").exists()
    for name, display in displays.items():
        assert (tmp_path / name).stat().st_size > 0 and clipped_texts(display.figure_) == [], name
    assert displays["similarity.png"].node_labels == ["Brass/Trumpet", "Brass/Tuba", "Pipe/Flute", "Reed/Oboe"]


def test_run_json_of_a_label_set_run_keeps_its_mixture_parameters(tmp_path):
    from sklearn_hier.experiments._outputs import write_outputs

    settings = check_settings(CompareSettings(**{**TINY_MIXTURES, "losses": ("L", "PL")}))
    rows = _label_set_rows()
    summary = summarise(rows, settings.losses)
    write_outputs(tmp_path, settings, rows, summary, summary_table(summary), {}, {"n_clips": 120}, [])
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["settings"]["dataset_params"]["mixtures"]["n_clips"] == 120
    text = (tmp_path / "summary.md").read_text()
    assert "# Comparison on mixtures" in text and "Columns MNR..mAP: test clips whose every label was seen" in text


# ------------------------------------------------------------------ end to end
def test_a_tiny_mixtures_comparison_runs_scores_resumes_and_compares_with_the_baseline(tmp_path):
    # Real mixtures of 12 rendered leaves (24 notes at 8 kHz), 2 configurations x 3 folds x 2 epochs.
    params = {"mixtures": {**TINY_MIXTURES["dataset_params"]["mixtures"], "data_home": str(tmp_path / "data")}}
    settings = CompareSettings(**{**TINY_MIXTURES, "dataset_params": params})
    results = compare(settings, out=tmp_path / "out", verbose=0)
    rows = {(r["config"], r["fold"], r["metric"]): r["value"] for r in results["rows"]}
    for config in ("PL", "PL+T:triplets=semi_hard"):
        for fold in range(3):
            for _, key, _ in LABEL_SET_COLUMNS:
                assert np.isfinite(rows[config, fold, key]), (config, fold, key)
            assert 0 < rows[config, fold, "precision_at_5_ceiling"] <= 1
    assert not any(metric == "lsa_accuracy_aware" for _, _, metric in rows)  # one node per clip: not on label sets
    header = results["table"].splitlines()[0]
    assert "| F1 ↑ | lwlrap ↑ | mAP ↑ |" in header and "Acc_blind" in header and "Acc_aware" not in header
    assert {row["metric"] for row in results["stats"]} == {header for header, _, _ in LABEL_SET_COLUMNS}
    out = tmp_path / "out"
    assert (out / "similarity.png").exists() and not (out / "projection.png").exists()
    # Resume: a rerun of the same settings fits nothing and writes the same table.
    before = sorted(p.stat().st_mtime_ns for p in (out / "runs").glob("*.json"))
    again = compare(settings, out=out, verbose=0)
    assert again["table"] == results["table"]
    assert sorted(p.stat().st_mtime_ns for p in (out / "runs").glob("*.json")) == before
    # Other mixtures are other data: refused, never mixed in.
    other = {"mixtures": {**params["mixtures"], "n_clips": 121}}
    with pytest.raises(ValueError, match="dataset_params"):
        compare(CompareSettings(**{**TINY_MIXTURES, "dataset_params": other}), out=out, verbose=0)
