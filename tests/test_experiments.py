"""The compare API and the ``sklearn-hier compare`` command, on tiny synthetic settings."""

import csv
import json

import numpy as np
import pytest

from sklearn_hier.cli import main
from sklearn_hier.experiments import PAPER_CONFIGS, TABLE_COLUMNS, CompareSettings, compare, summary_table
from sklearn_hier.experiments._records import pair_path

TINY = {
    "dataset": "synthetic",
    "losses": ("PL", "PL+T"),
    "n_splits": 2,
    "max_epochs": 2,
    "device": "cpu",
    "dataset_params": {"synthetic": {"n_per_leaf": 12, "branching": (2, 3), "sr": 8000, "duration": 0.25}},
    "mel_params": {"n_fft": 256, "hop_length": 128, "n_mels": 16},
    "embedder_params": {"module__channels": 4, "embedding_dim": 8, "triplets_per_batch": 8},
}


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
    assert {key for _, key, _ in TABLE_COLUMNS} | {"fit_time", "score_time"} <= metrics
    run = json.loads((out / "run.json").read_text())
    assert run["settings"]["losses"] == ["PL", "PL+T"] and run["versions"]["torch"] == "2.11.0"
    assert run["n_clips"] == 6 * 12


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


def test_quick_settings_are_the_default_configs():
    quick = CompareSettings.quick_settings()
    assert quick.losses == PAPER_CONFIGS and quick.quick and quick.dataset == "soundfont"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dataset", "synthetic", "--losses", "PL+Q"], "'Q'"),
        (["--dataset", "folder", "--data-dir", "/nonexistent/folder"], "does not exist"),
        (["--dataset", "orchideasol"], "needs a data directory"),
        (["--dataset", "synthetic", "--folds", "1"], "n_splits must be at least 2"),
        (["--dataset", "synthetic", "--quick", "--folds", "500"], "500"),
    ],
)
def test_cli_bad_arguments_exit_with_one_line(argv, message, capsys, tmp_path):
    assert main(["compare", "--quiet", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and err.startswith("sklearn-hier compare: error:")
