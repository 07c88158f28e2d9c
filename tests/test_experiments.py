"""The compare API and the ``sklearn-hier compare`` command, on tiny synthetic settings."""

import csv
import json
import os
import shutil
import signal
import time
import warnings
from importlib import metadata

import librosa
import numpy as np
import pytest
import torch
from _compare_settings import TINY
from sklearn.base import clone
from sklearn.exceptions import UndefinedMetricWarning
from torch.optim.lr_scheduler import ReduceLROnPlateau

from sklearn_hier._batches import clips_per_batch
from sklearn_hier.audio import _torch_mel
from sklearn_hier.audio import mel as mel_module
from sklearn_hier.audio.mel import mel_implementation
from sklearn_hier.cli import main
from sklearn_hier.experiments import (
    PAPER_CONFIGS,
    PAPER_RECIPE,
    TABLE_COLUMNS,
    CompareSettings,
    canonical_config,
    canonical_losses,
    compare,
    make_pipeline,
    summary_table,
)
from sklearn_hier.experiments._records import check_folder, fingerprint, pair_path, write_atomic
from sklearn_hier.experiments._runner import run_pairs
from sklearn_hier.experiments._settings import check_settings
from sklearn_hier.experiments._summary import (
    capped_precision,
    fold_scores,
    paired_statistics,
    paired_table,
    precision_note,
    summarise,
)
from sklearn_hier.stats import paired_comparison


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    return compare(CompareSettings(**TINY), out=out, verbose=0), out


def test_compare_writes_every_file(finished):
    results, out = finished
    for name in ("results.csv", "summary.md", "run.json", "metrics.png", "projection.png", "similarity.png"):
        assert (out / name).stat().st_size > 0, name
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert {(r["config"], r["fold"]) for r in rows} == {(c, str(k)) for c in ("PL", "PL+T") for k in (0, 1)}
    metrics = {r["metric"] for r in rows}
    assert {key for _, key, _ in TABLE_COLUMNS} | {"fit_time", "score_time", "epochs"} <= metrics
    epochs = [float(r["value"]) for r in rows if r["metric"] == "epochs"]
    assert epochs == [TINY["max_epochs"]] * 4  # patience is far longer: every fit runs them all
    run = json.loads((out / "run.json").read_text())
    assert run["epochs"] == 4 * TINY["max_epochs"]
    assert run["settings"]["losses"] == ["PL", "PL+T"] and run["versions"]["torch"] == metadata.version("torch")
    assert run["n_clips"] == 6 * 12
    # Which code computed the mels: torchaudio and plain PyTorch agree to ~1e-3 dB, not bit for bit.
    assert run["mel_backend"] == mel_implementation() == fingerprint(CompareSettings(**TINY))["mel_backend"]


def test_compare_leaves_the_matplotlib_backend_and_pyplot_alone(tmp_path):
    import matplotlib
    import matplotlib.pyplot as plt

    original = matplotlib.get_backend()
    try:
        matplotlib.use("svg")  # headless, and not the Agg the PNGs are written with
        compare(CompareSettings(**{**TINY, "losses": ("PL",)}), out=tmp_path, verbose=0)
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == []  # its figures are pyplot-free: none is left open for the caller
    finally:
        matplotlib.use(original)
    for name in ("metrics.png", "projection.png", "similarity.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_summary_table_has_every_config_and_column(finished):
    results, out = finished
    table = (out / "summary.md").read_text()
    for header, _, _ in TABLE_COLUMNS:
        assert header in table
    for config in ("PL", "PL+T"):
        assert f"| {config} |" in table
    # MNR is stored negated (greater is better for sklearn) and shown as itself.
    mnr = [r["value"] for r in results["rows"] if r["config"] == "PL" and r["metric"] == "neg_mean_normalized_rank"]
    assert results["summary"]["PL"]["MNR"][0] == pytest.approx(-np.mean(mnr))
    assert 0 < results["summary"]["PL"]["MNR"][0] < 1


def test_rerun_skips_finished_pairs(finished):
    results, out = finished
    marker = pair_path(out, "PL", 1)
    record = json.loads(marker.read_text())
    record["rows"][0]["value"] = 123.0  # a finished pair is read back, never recomputed
    marker.write_text(json.dumps(record))
    again = compare(CompareSettings(**TINY), out=out, verbose=0)
    assert 123.0 in [r["value"] for r in again["rows"]]


def test_summary_table_marks_the_best_per_column():
    table = summary_table({"L": {"MNR": (0.3, 0.1), "NDCG": (0.9, 0.0)}, "PL": {"MNR": (0.2, 0.1), "NDCG": (0.8, 0)}})
    assert "**0.200 ± 0.100**" in table and "**0.900 ± 0.000**" in table


def test_summary_table_does_not_rank_the_blind_aware_ratio():
    # A weak per-level head inflates the ratio (1.39 at Acc_aware 0.107): it is shown, never bolded.
    summary = {
        "PL": {"Acc_aware": (0.107, 0.0), "Acc_blind": (0.149, 0.0), "blind/aware": (1.393, float("nan"))},
        "PL+T": {"Acc_aware": (0.6, 0.0), "Acc_blind": (0.55, 0.0), "blind/aware": (0.917, float("nan"))},
    }
    table = summary_table(summary)
    assert "| blind/aware |" in table and "1.393" in table and "**1.393" not in table and "**0.917" not in table
    assert "**0.600 ± 0.000**" in table


def test_quick_settings_are_the_default_configs():
    quick = CompareSettings.quick_settings()
    assert quick.losses is None and quick.quick and quick.dataset == "soundfont"
    assert check_settings(quick).losses == PAPER_CONFIGS  # None: the dataset's own configurations


# ------------------------------------------------------------------ integrity
@pytest.mark.parametrize(
    ("specs", "same"),
    [
        (("PL+T", "t + pl", "1*PL+T*1"), True),
        (("PL*2+T", "2*PL+T"), True),
        (("PL*2+T", "PL+2*T"), False),
        (("PL+0.1*T", "PL+0.10000000000000002*T"), False),
    ],
)
def test_canonical_losses_equal_specs_share_one_file(specs, same, tmp_path):
    canonical = {canonical_losses(s) for s in specs}
    files = {pair_path(tmp_path, c, 0) for c in canonical}
    assert (len(canonical) == 1) is same and len(files) == len(canonical)


@pytest.mark.parametrize("losses", [("PL", "PL"), ("PL+T", "t+pl"), ("PL*2+T", "2*PL+T")])
def test_duplicate_loss_specs_are_rejected(losses, tmp_path):
    with pytest.raises(ValueError, match="same configuration"):
        compare(CompareSettings(**{**TINY, "losses": losses}), out=tmp_path, verbose=0)
    assert not (tmp_path / "runs").exists()  # refused before anything was written


def test_rerun_with_other_settings_is_refused(finished):
    results, out = finished
    before = sorted(p.name for p in (out / "runs").iterdir())
    with pytest.raises(ValueError, match=r"max_epochs: 2 there, 1 now.*--overwrite") as info:
        compare(CompareSettings(**{**TINY, "max_epochs": 1}), out=out, verbose=0)
    assert "\n" not in str(info.value)
    assert sorted(p.name for p in (out / "runs").iterdir()) == before


def test_added_configuration_resumes_a_finished_run(finished, tmp_path):
    # The loss configurations are not part of the fingerprint: each record names its own.
    results, out = finished
    check_folder(out, check_settings(CompareSettings(**{**TINY, "losses": ("PL", "PL+T", "L")})))


def test_record_of_an_older_format_is_refused(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "PL_fold0.json").write_text(json.dumps([{"config": "PL", "fold": 0}]))
    with pytest.raises(ValueError, match="cannot read"):
        check_folder(tmp_path, check_settings(CompareSettings(**TINY)))
    check_folder(tmp_path, check_settings(CompareSettings(**TINY)), overwrite=True)
    assert list((tmp_path / "runs").iterdir()) == []


def test_overwrite_starts_over(finished, tmp_path):
    results, out = finished
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    settings = CompareSettings(**{**TINY, "losses": ("PL",), "max_epochs": 1})
    again = compare(settings, out=copy, verbose=0, overwrite=True)
    assert {r["config"] for r in again["rows"]} == {"PL"}
    assert sorted(p.name for p in (copy / "runs").glob("*.json")) == sorted(
        pair_path(copy, "PL", k).name for k in (0, 1)
    )


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"max_epochs": 3}, "max_epochs"),
        ({"random_state": 1}, "random_state"),
        ({"n_splits": 3}, "n_splits"),
        ({"min_samples_leaf": 3}, "min_samples_leaf"),
        ({"triplets": "batch_hard"}, "triplets"),
        ({"geometry": "poincare"}, "geometry"),
        ({"mel_params": {"n_mels": 8}}, "mel_params"),
        ({"embedder_params": {"embedding_dim": 4}}, "embedder_params"),
        ({"dataset_params": {"synthetic": {"n_per_leaf": 5}}}, "dataset_params"),
    ],
)
def test_fingerprint_names_every_setting_that_matters(change, key):
    base = fingerprint(CompareSettings(**TINY))
    other = fingerprint(CompareSettings(**{**TINY, **change}))
    assert {k for k in base if base[k] != other[k]} == {key}
    assert base["package_version"] and base["data_version"]


def test_fingerprint_names_the_mel_implementation(monkeypatch):
    base = fingerprint(CompareSettings(**TINY))
    librosa_run = fingerprint(CompareSettings(**{**TINY, "mel_params": {**TINY["mel_params"], "backend": "librosa"}}))
    assert base["mel_backend"].startswith(("torchaudio ", "plain PyTorch (torch "))
    assert librosa_run["mel_backend"] == f"librosa {librosa.__version__}"
    # Without torchaudio the torch backend runs on the package's own copy of its three objects.
    monkeypatch.setattr(mel_module, "MelSpectrogram", _torch_mel.MelSpectrogram)
    assert fingerprint(CompareSettings(**TINY))["mel_backend"] == f"plain PyTorch (torch {torch.__version__})"


def test_records_from_before_test_size_resume_as_test_size_0_1(tmp_path):
    # test_size joined the fingerprint after records existed; every earlier run held out 10 %.
    settings = CompareSettings(**{**TINY, "losses": ("PL",)})
    compare(settings, out=tmp_path, verbose=0)
    for path in (tmp_path / "runs").glob("*.json"):
        record = json.loads(path.read_text())
        del record["fingerprint"]["test_size"]
        path.write_text(json.dumps(record))
    check_folder(tmp_path, settings)  # resumable: nothing to refit
    with pytest.raises(ValueError, match=r"test_size: 0.1 there, 0.5 now"):
        check_folder(tmp_path, CompareSettings(**{**TINY, "losses": ("PL",), "test_size": 0.5}))


def test_fingerprint_ignores_where_the_work_runs():
    base = fingerprint(CompareSettings(**TINY))
    assert base == fingerprint(CompareSettings(**{**TINY, "device": "auto", "n_jobs": 2, "losses": ("L",)}))
    assert base == fingerprint(CompareSettings(**{**TINY, "baseline": "PL+T"}))  # changes the statistics only


def test_write_atomic_leaves_no_file_when_writing_fails(tmp_path):
    def fail(f):
        f.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "r.json", fail)
    assert list(tmp_path.iterdir()) == []


class _InterruptedBackend:
    """Sends itself SIGINT during the second pair and, as skorch's partial_fit does, swallows it."""

    def __init__(self):
        self.ran = []

    def prepare(self, settings):
        return 0

    def results(self, settings, pairs, out):
        for config, fold in pairs:
            self.ran.append((config, fold))
            if len(self.ran) == 2:
                try:
                    os.kill(os.getpid(), signal.SIGINT)
                    time.sleep(5)  # the handler raises KeyboardInterrupt long before
                except KeyboardInterrupt:
                    pass
            yield {"config": config, "fold": fold, "rows": [], "embeddings": None, "device": "cpu", "n_clips": 0}


@pytest.fixture
def default_sigint():
    """SIGINT raising KeyboardInterrupt, as in a terminal, even when the tests were started with it ignored (``&``)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_fit_that_swallowed_ctrl_c_is_not_recorded(tmp_path, default_sigint):
    settings = check_settings(CompareSettings(**TINY))
    check_folder(tmp_path, settings)
    backend = _InterruptedBackend()
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        run_pairs(settings, tmp_path, backend, verbose=0)
    assert signal.getsignal(signal.SIGINT) is handler  # restored
    assert backend.ran == [("PL", 0), ("PL", 1)]
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [pair_path(tmp_path, "PL", 0).name]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_epochs": 0}, "max_epochs must be at least 1"),
        ({"min_samples_leaf": 0}, "min_samples_leaf must be at least 1"),
        ({"n_splits": 2.5}, "n_splits must be an integer"),
        ({"triplets": "hard"}, "triplets must be one of"),
        ({"losses": "PL+T"}, "not one string"),
        ({"losses": ()}, "at least one configuration"),
        ({"n_jobs": 0}, "n_jobs must be"),
    ],
)
def test_bad_settings_are_refused_before_any_work(change, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        compare(CompareSettings(**{**TINY, **change}), out=tmp_path / "out", verbose=0)
    assert not (tmp_path / "out").exists()


def test_workers_and_scheduler_are_exclusive(tmp_path):
    with pytest.raises(ValueError, match="not both"):
        compare(CompareSettings(**TINY), out=tmp_path, verbose=0, n_workers=2, scheduler="tcp://localhost:1")


def test_configurations_are_named_canonically_and_set_the_embedder():
    settings = check_settings(
        CompareSettings(**{**TINY, "losses": ("t+pl", "PL+T:geometry=poincare,triplets=semi_hard", "PL:triplets=tree")})
    )
    assert settings.losses == ("PL+T", "PL+T:triplets=semi_hard,geometry=poincare", "PL")
    assert settings.baseline == "PL+T"  # the first, by default
    embedder = make_pipeline(settings, settings.losses[1])[-1]
    assert (embedder.losses, embedder.triplets, embedder.geometry) == ("PL+T", "semi_hard", "poincare")
    # An option equal to the run's own setting is no part of the name.
    batch_hard = check_settings(
        CompareSettings(**{**TINY, "triplets": "batch_hard", "losses": ("PL+T:triplets=batch_hard",)})
    )
    assert batch_hard.losses == ("PL+T",) and make_pipeline(batch_hard, "PL+T")[-1].triplets == "batch_hard"
    assert check_settings(CompareSettings(**{**TINY, "baseline": "t + pl"})).baseline == "PL+T"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("PL:geometry=sphere", "Unknown option 'geometry=sphere'"),
        ("PL:margin=2", "Unknown option 'margin=2'"),
        ("PL:triplets", "Unknown option 'triplets'"),
        ("PL:geometry=poincare,geometry=euclidean", "given twice"),
    ],
)
def test_bad_configuration_options_name_the_option(spec, message):
    with pytest.raises(ValueError, match=message):
        canonical_config(spec)


def test_paired_statistics_follow_the_folds_and_show_mnr_as_itself():
    rows = [
        {"config": c, "fold": f, "metric": "neg_mean_normalized_rank", "value": -v}
        for c, values in (("A", (0.30, 0.20, 0.25)), ("B", (0.28, 0.17, 0.24)))
        for f, v in zip((2, 0, 1), values, strict=True)
    ]
    assert fold_scores(rows, ["A", "B"])["MNR"] == {"A": [0.20, 0.25, 0.30], "B": [0.17, 0.24, 0.28]}
    (row,) = paired_statistics(rows, ["A", "B"], "A")
    assert row["metric"] == "MNR" and row["config"] == "B" and row["higher_is_better"] is False
    assert row["mean_difference"] == pytest.approx(-0.02)
    expected = paired_comparison([0.17, 0.24, 0.28], [0.20, 0.25, 0.30], random_state=0)
    assert row["ttest_pvalue"] == pytest.approx(expected.ttest_pvalue)
    assert "| B | MNR ↓ | -0.0200 [" in paired_table([row])
    assert paired_statistics(rows, ["A"], "A") == []


def test_total_epochs_is_unknown_when_a_pair_predates_the_epoch_records():
    from sklearn_hier.experiments._outputs import _total_epochs

    scores = (("ndcg", 0.5), ("epochs", 7.0))
    new = [{"config": "PL", "fold": k, "metric": m, "value": v} for k in (0, 1) for m, v in scores]
    old = [{"config": "L", "fold": 0, "metric": "ndcg", "value": 0.4}]  # resumed from a record without epochs
    assert _total_epochs(new) == 14
    assert _total_epochs(new + old) is None


# ------------------------------------------------------------- the paper's recipe
@pytest.mark.parametrize("config, patience", [("PL", (50, 100)), ("PL+T", (250, 500))])
def test_paper_recipe_resolves_to_every_item_of_the_papers_list(config, patience):
    settings = CompareSettings.paper_recipe()  # the soundfont set, rendered at 44.1 kHz
    assert set(PAPER_RECIPE) >= {"batch", "optimizer", "lr_scheduler", "early_stopping", "max_epochs", "split"}
    assert (settings.n_splits, settings.min_samples_leaf, settings.max_epochs) == (5, 10, 2500)
    check_settings(settings)
    mel, emb = (step for _, step in make_pipeline(settings, config).steps)
    assert (mel.sr, mel.n_fft, mel.hop_length, mel.n_mels, mel.mel_scale, mel.power) == (
        44100,
        2048,
        512,
        128,
        "htk",
        2,
    )
    assert (emb.triplets, clips_per_batch(emb.triplets, emb.triplets_per_batch)) == ("tree", 96)
    assert (emb.optimizer, emb.lr, emb.weight_decay, emb.max_epochs) == (torch.optim.Adam, 1e-3, 1e-5, 2500)
    assert (emb.class_weight, emb.embedding_dim, emb.module) == ("balanced", 256, "auto")
    # 80 / 10 / 10 per seen leaf: the splitter's test share, then 1/9 of the remaining 90 %.
    assert emb.valid_size * 0.9 == pytest.approx(0.1)
    # The schedule, early stopping and clipping are resolved at fit: fit one epoch on tiny features to read them.
    X = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    y = np.repeat(["a/x", "a/y", "b/z", "b/w"], 10)
    fitted = clone(emb).set_params(max_epochs=1, verbose=0).fit(X, y)
    callbacks = dict(fitted.net_.callbacks_)
    scheduler, stopping = callbacks["lr_scheduler"], callbacks["early_stopping"]
    assert scheduler.policy is ReduceLROnPlateau
    assert (scheduler.kwargs["factor"], scheduler.monitor) == (0.6, "valid_loss")
    assert (scheduler.kwargs["patience"], stopping.patience) == patience
    assert stopping.monitor == "valid_loss" and stopping.load_best
    assert callbacks["gradient_clipping"].gradient_clip_value == 1.0
    assert "class_weights" in callbacks and isinstance(fitted.net_.optimizer_, torch.optim.Adam)


def test_paper_recipe_is_listed_in_run_json(tmp_path):
    settings = CompareSettings.paper_recipe(**{k: v for k, v in TINY.items() if k != "embedder_params"})
    settings.embedder_params = {**settings.embedder_params, **TINY["embedder_params"]}
    compare(settings, out=tmp_path, verbose=0)
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["settings"]["recipe"] == "paper" and run["recipe"] == PAPER_RECIPE
    assert run["settings"]["embedder_params"]["class_weight"] == "balanced"


def test_cli_recipe_and_quick_are_exclusive(capsys):
    assert main(["compare", "--dataset", "synthetic", "--quick", "--recipe", "paper"]) == 2
    assert "--quick and --recipe are two presets" in capsys.readouterr().err


def test_saved_plots_clip_no_text_and_use_the_scoring_metric(tmp_path):
    from _figures import clipped_texts

    from sklearn_hier.experiments._outputs import _write_plots

    settings = check_settings(CompareSettings(**{**TINY, "losses": ("PL+T:geometry=poincare", "PL")}))
    rows = [
        {"config": c, "fold": f, "metric": key, "value": 0.5 + 0.2 * f}
        for c in settings.losses
        for f in range(2)
        for _, key, _ in TABLE_COLUMNS
    ]
    from sklearn_hier.experiments._summary import summarise

    y = np.array([f"Guitar/Acoustic Guitar (nylon)/{t}" for t in ("ordinario", "staccato")] * 6 + ["Brass/Tuba/x"] * 6)
    Z = np.random.default_rng(0).normal(size=(len(y), 8)) * 0.05  # inside the unit ball
    displays = _write_plots(
        tmp_path, rows, settings, summarise(rows, settings.losses), {"PL+T:geometry=poincare": (Z, y, 1.0)}
    )
    assert sorted(displays) == ["metrics.png", "projection.png", "similarity.png"]
    for name, display in displays.items():
        assert (tmp_path / name).stat().st_size > 0
        assert clipped_texts(display.figure_) == [], name
    assert displays["similarity.png"].metric == "poincare"  # the config was scored with geodesic distance


def test_result_files_are_readable_like_any_file_the_user_writes(finished):
    _, out = finished
    umask = os.umask(0o022)
    os.umask(umask)
    for name in ("results.csv", "run.json", "stats.csv", "summary.md", "metrics.png"):
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
    assert all(path.stat().st_mode & 0o777 == 0o666 & ~umask for path in (out / "runs").iterdir())


def test_a_capped_rp5_is_not_reported_nor_bolded(finished):
    # TINY holds out 2 of 12 clips per seen leaf: one leaf-mate per query, so RP@5 is at most 0.2.
    results, out = finished
    assert all(results["summary"][c]["RP@5"][0] != results["summary"][c]["RP@5"][0] for c in ("PL", "PL+T"))
    summary = (out / "summary.md").read_text()
    assert "RP@5 is n/a: in folds 0, 1 too few seen leaves have 5 other test clips" in summary
    assert "**n/a**" not in summary and "RP@5" not in {r["metric"] for r in results["stats"]}
    with open(out / "results.csv") as f:
        ceilings = [float(r["value"]) for r in csv.DictReader(f) if r["metric"] == "precision_at_5_ceiling"]
    assert ceilings == [pytest.approx(0.2)] * 4


def test_rp5_below_one_but_above_the_floor_is_reported_against_its_ceiling():
    # The paper's protocol (10 % of each leaf tested) leaves leaves of 10-49 clips under 5 mates: RP@5's
    # ceiling is a little under 1 there, and the number is still a measurement of the models.
    rows = [
        {"config": c, "fold": f, "metric": m, "value": v}
        for c in ("PL", "PL+T")
        for f, ceiling in enumerate([0.96, 0.93])
        for m, v in (("precision_at_5", 0.4 + 0.1 * (c == "PL+T")), ("precision_at_5_ceiling", ceiling))
    ]
    assert capped_precision(rows) == {}
    assert precision_note(rows).startswith("RP@5 is read against its ceiling: in folds 0, 1")
    assert "no model can score above 0.930-0.960" in precision_note(rows)
    assert summary_table(summarise(rows, ("PL", "PL+T"))).count("**0.500 ± 0.000**") == 1  # ranked, bolded as usual


def test_warnings_come_once_per_run_and_point_at_the_callers_line(tmp_path):
    settings = CompareSettings(**{**TINY, "losses": ("PL",)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compare(settings, out=tmp_path, verbose=0)
    undefined = [w for w in caught if issubclass(w.category, UndefinedMetricWarning)]
    assert len(undefined) == 1  # not one per fold
    assert "[2 times in 2 fits; shown once]" in str(undefined[0].message)
    assert undefined[0].filename == __file__  # this test's line, not the library's
