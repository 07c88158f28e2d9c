"""The ``sklearn-hier`` command: arguments, messages, exit codes, and Ctrl-C / SIGTERM on a real process."""

import csv
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import sklearn_hier
from sklearn_hier.cli import build_parser, main
from sklearn_hier.experiments._records import pair_path

# The quick synthetic run, cut to one configuration x 2 folds x 3 epochs; one torch thread so
# that every process computes the same numbers (float reductions depend on the thread count).
QUICK = ["compare", "--dataset", "synthetic", "--quick", "--losses", "PL", "--folds", "2", "--max-epochs", "3"]
ENV = {**os.environ, "PYTHONPATH": str(Path(sklearn_hier.__file__).parents[1]), "OMP_NUM_THREADS": "1"}


def _start(out, *extra):
    cmd = [sys.executable, "-u", "-m", "sklearn_hier.cli", *QUICK, "--device", "cpu", "--out", str(out), *extra]
    # A test run started in the background (``cmd &``) inherits an ignored SIGINT, which the command would keep;
    # the command here must see Ctrl-C as a terminal user's would.
    restore = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    return subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=restore)


def _lines(stream):
    """Lines of ``stream`` as a queue filled by a thread, so the test can wait for one without blocking."""
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


def _wait_for_epoch_of_second_fit(proc, out):
    """Block until the second pair's fit has printed its first epoch: the run is mid-fit."""
    lines, deadline = _lines(proc.stdout), time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if pair_path(out, "PL", 0).exists() and re.match(r"\s+1\s", line):
            return
    pytest.fail(f"the run never reached its second fit (exit code {proc.poll()}).")


def _table(out):
    with open(out / "results.csv") as f:
        return [
            (r["config"], r["fold"], r["metric"], r["value"]) for r in csv.DictReader(f) if "_time" not in r["metric"]
        ]


def test_ctrl_c_stops_without_recording_the_cut_fit_and_resume_matches_an_uninterrupted_run(tmp_path):
    out = tmp_path / "interrupted"
    proc = _start(out, "-v")
    _wait_for_epoch_of_second_fit(proc, out)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "interrupted" in err.splitlines()[-1]
    assert pair_path(out, "PL", 0).exists() and not pair_path(out, "PL", 1).exists()
    assert not list(out.rglob("*.tmp")) and not (out / "results.csv").exists()

    resumed = _start(out, "--quiet")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()
    fresh = _start(tmp_path / "fresh", "--quiet")
    assert fresh.wait(timeout=600) == 0, fresh.stderr.read()
    assert _table(out) == _table(tmp_path / "fresh")
    assert (out / "summary.md").read_text() == (tmp_path / "fresh" / "summary.md").read_text()


def test_sigterm_still_ends_the_run_at_once_and_leaves_no_partial_file(tmp_path):
    proc = _start(tmp_path, "-v")
    _wait_for_epoch_of_second_fit(proc, tmp_path)
    proc.terminate()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGTERM
    assert not list(tmp_path.rglob("*.tmp")) and not pair_path(tmp_path, "PL", 1).exists()
    assert json.loads(pair_path(tmp_path, "PL", 0).read_text())["rows"]


def test_rerun_with_other_settings_is_refused_in_one_line(tmp_path, capsys):
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "PL-0_fold0.json").write_text(json.dumps({"fingerprint": {"max_epochs": 99}, "rows": []}))
    assert main([*QUICK, "--quiet", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "holds results of other settings" in err and "--overwrite" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dataset", "synthetic", "--losses", "PL+Q"], "'Q'"),
        (["--dataset", "synthetic", "--losses", "PL", "pl"], "same configuration"),
        (["--dataset", "synthetic", "--losses", "PL*2+T", "2*PL+T"], "same configuration"),
        (["--dataset", "folder", "--data-dir", "/nonexistent/folder"], "does not exist"),
        (["--dataset", "orchideasol"], "needs a data directory"),
        (["--dataset", "synthetic", "--folds", "1"], "n_splits must be at least 2"),
        (["--dataset", "synthetic", "--max-epochs", "0"], "max_epochs must be at least 1"),
        (["--dataset", "synthetic", "--min-samples-leaf", "0"], "min_samples_leaf must be at least 1"),
        (["--dataset", "synthetic", "--n-workers", "0"], "n_workers must be a positive integer"),
        (["--dataset", "synthetic", "--n-workers", "2", "--scheduler", "tcp://h:1"], "not both"),
        (["--dataset", "synthetic", "--device", "tpu"], "device must be"),
        (["--dataset", "synthetic", "--threads", "0"], "--threads must be at least 1"),
        (["--dataset", "synthetic", "--quick", "--folds", "500"], "500"),
        (["--dataset", "synthetic", "--losses", "PL:geometry=sphere"], "Unknown option 'geometry=sphere'"),
        (["--dataset", "synthetic", "--losses", "PL:triplets=tree", "PL"], "same configuration"),
        (["--dataset", "synthetic", "--losses", "PL", "--baseline", "PL+T"], "baseline 'PL+T' (PL+T) is not one of"),
    ],
)
def test_bad_arguments_exit_with_one_line(argv, message, capsys, tmp_path):
    assert main(["compare", "--quiet", "--out", str(tmp_path / "out"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and err.startswith("sklearn-hier compare: error:")


def test_unwritable_out_exits_with_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main([*QUICK, "--quiet", "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(blocker) in err


def test_missing_dask_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    assert main([*QUICK, "--quiet", "--n-workers", "2", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sklearn-hier[distributed]" in err


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"sklearn-hier {sklearn_hier.__version__}"


def test_every_option_has_help():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.choices and "compare" in a.choices).choices
    for name, sub in [("sklearn-hier", parser), *subparsers.items()]:
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
        assert "--" in sub.format_help()  # renders: no stray % in a help string


@pytest.mark.parametrize(("epochs", "text"), [("1", ", 1 epoch,"), ("2", ", 2 epochs,")])
def test_quick_message_counts_epochs(epochs, text, capsys, tmp_path):
    main(
        ["compare", "--dataset", "synthetic", "--quick", "--folds", "1", "--max-epochs", epochs, "--out", str(tmp_path)]
    )
    assert text in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "threads"), [(["--quick"], 1), (["--quick", "--threads", "2"], 2), ([], None)])
def test_quick_runs_on_one_torch_thread_unless_told(argv, threads, monkeypatch, tmp_path):
    import torch

    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    # --folds 1 stops the run at its first check, after the threads are set.
    main(["compare", "--quiet", "--dataset", "synthetic", "--folds", "1", "--out", str(tmp_path), *argv])
    assert calls == ([threads] if threads else [])


def test_a_tiny_ablation_end_to_end_names_each_config_and_compares_it_with_the_baseline(tmp_path, capsys):
    # Three configurations that differ in losses, triplets and geometry (not a grid), 2 folds, 1 epoch.
    configs = ["pl+t", "PL+T:triplets=batch_hard", "PL+T:geometry=poincare"]
    argv = ["compare", "--dataset", "synthetic", "--quick", "--folds", "2", "--max-epochs", "1", "--device", "cpu"]
    assert main([*argv, "--losses", *configs, "--baseline", "PL+T", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    names = ["PL+T", "PL+T:triplets=batch_hard", "PL+T:geometry=poincare"]
    for name in names:
        assert all(pair_path(tmp_path, name, fold).exists() for fold in (0, 1)), name
    records = list((tmp_path / "runs").glob("*fold?.json"))
    fingerprints = {json.dumps(json.loads(p.read_text())["fingerprint"], sort_keys=True) for p in records}
    assert len(records) == 6 and len(fingerprints) == 1  # one run's settings; each record names its config
    with open(tmp_path / "stats.csv") as f:
        stats = list(csv.DictReader(f))
    assert {(r["config"], r["baseline"]) for r in stats} == {(n, "PL+T") for n in names[1:]}
    assert {r["metric"] for r in stats} >= {"MNR", "NDCG", "MNR unseen"}
    # The CSV's differences are the per-fold differences of results.csv.
    with open(tmp_path / "results.csv") as f:
        ndcg = {(r["config"], int(r["fold"])): float(r["value"]) for r in csv.DictReader(f) if r["metric"] == "ndcg"}
    row = next(r for r in stats if r["config"] == names[2] and r["metric"] == "NDCG")
    expected = sum(ndcg[names[2], k] - ndcg["PL+T", k] for k in (0, 1)) / 2
    assert float(row["mean_difference"]) == pytest.approx(expected) and row["n_folds"] == "2"
    summary = (tmp_path / "summary.md").read_text()
    assert "## Paired comparison with PL+T" in summary and "| PL+T:geometry=poincare | NDCG ↑ |" in summary
    assert "Paired over folds, configuration - PL+T" in printed
    settings = json.loads((tmp_path / "run.json").read_text())["settings"]
    assert settings["losses"] == names and settings["baseline"] == "PL+T"


def _run_quick_to_a_file(tmp_path, dataset, *extra):
    """``compare --quick`` with stdout and stderr redirected to a file, as in a log or a CI job."""
    out, log = tmp_path / "out", tmp_path / "log.txt"
    cmd = [sys.executable, "-m", "sklearn_hier.cli", "compare", "--dataset", dataset, "--quick", "--device", "cpu"]
    with open(log, "w") as f:
        subprocess.run([*cmd, *extra, "-v", "--out", str(out)], env=ENV, stdout=f, stderr=f, check=True, timeout=1200)
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    return out, log.read_text(), rows


def _check_every_headline_metric_is_defined(rows, configs, n_folds):
    from sklearn_hier.experiments import TABLE_COLUMNS

    values = {(r["config"], int(r["fold"]), r["metric"]): float(r["value"]) for r in rows}
    for config in configs:
        for fold in range(n_folds):
            # The quick split leaves 6 test clips in every seen leaf: RP@5 can reach 1 in every fold.
            assert values[config, fold, "precision_at_5_ceiling"] == 1.0
            for header, key, _ in TABLE_COLUMNS:
                value = values[config, fold, key]
                if key == "lsa_accuracy_aware" and "PL" not in config:
                    # By design: without PL no per-level head is trained to ask (the table's note says so).
                    assert value != value, (config, fold, header)
                else:
                    assert np.isfinite(value), (config, fold, header)


def _check_plain(log):
    assert "\x1b" not in log  # no colour or cursor codes from skorch's epoch table or the progress bar
    assert "\r" not in log  # no bar redrawn in place
    assert "Warning" not in log  # no warning storm: the quick split leaves no metric undefined


def test_quick_run_on_synthetic_data_defines_every_metric_in_every_fold_and_logs_plain_text(tmp_path):
    # The quick run's data, split and folds, cut to two configurations and 2 epochs.
    out, log, rows = _run_quick_to_a_file(tmp_path, "synthetic", "--losses", "L", "PL+T", "--max-epochs", "2")
    _check_every_headline_metric_is_defined(rows, ["L", "PL+T"], 3)
    _check_plain(log)
    for fold in range(3):
        assert f"PL+T, fold {fold} (of 3): " in log  # each epoch table says whose it is
    assert "config x fold: 4/6 fits, PL+T fold 0 done" in log  # one line per fit, not a redrawn bar
    # The paired table holds only numbers; the column L cannot be compared on is named instead.
    assert "n/a [n/a, n/a]" not in log and "Not compared with L: Acc_aware, for which L has no value" in log
    summary = (out / "summary.md").read_text()
    assert "RP@5 is n/a" not in summary and "50% of each seen leaf's clips held out for testing" in summary


def test_quick_run_on_soundfont_data_defines_every_metric_in_every_fold(tmp_path):
    # The bundled soundfont's quick subset (rendered once, then cached), one configuration, 1 epoch.
    _, log, rows = _run_quick_to_a_file(tmp_path, "soundfont", "--losses", "PL+T", "--max-epochs", "1")
    _check_every_headline_metric_is_defined(rows, ["PL+T"], 3)
    _check_plain(log)


def test_folder_mode_says_how_it_reads_the_files_and_takes_sr_and_duration(tmp_path, capsys):
    import soundfile as sf

    from sklearn_hier.experiments._pairs import make_pipeline

    rng = np.random.default_rng(0)
    for leaf in ("Brass/Horn", "Brass/Tuba", "Strings/Viola", "Strings/Cello"):
        (tmp_path / "clips" / leaf).mkdir(parents=True)
        for i in range(10):
            sf.write(tmp_path / "clips" / leaf / f"{i}.wav", rng.normal(scale=0.1, size=32000), 16000)
    argv = ["compare", "--dataset", "folder", "--data-dir", str(tmp_path / "clips"), "--quick", "--losses", "PL"]
    argv += ["--folds", "2", "--max-epochs", "1", "--device", "cpu", "--sr", "8000", "--duration", "1.5"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert f"every audio file under {str(tmp_path / 'clips')!r}, resampled to 8000 Hz, the first 1.5 s" in printed
    assert "subset" not in printed  # every clip of the folder is used
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["n_clips"] == 40 and run["settings"]["dataset_params"]["folder"] == {"sr": 8000, "duration": 1.5}
    from sklearn_hier.experiments import CompareSettings

    settings = CompareSettings(
        dataset="folder", data_dir=str(tmp_path), dataset_params=run["settings"]["dataset_params"]
    )
    loader, mel = make_pipeline(settings, "PL")[:2]
    assert (loader.sr, loader.duration, mel.sr) == (8000, 1.5, 8000)


@pytest.mark.parametrize(("option", "message"), [("--sr=10", "--sr must be"), ("--duration=0", "--duration must be")])
def test_bad_sr_and_duration_are_one_line(option, message, tmp_path, capsys):
    assert main([*QUICK, option, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_epoch_tables_are_printed_with_v_only(tmp_path, capsys):
    assert main([*QUICK, "--device", "cpu", "--out", str(tmp_path / "quiet")]) == 0
    assert "train_loss" not in capsys.readouterr().out
    assert main([*QUICK, "--device", "cpu", "-v", "--out", str(tmp_path / "verbose")]) == 0
    printed = capsys.readouterr().out
    assert "PL, fold 1 (of 2): " in printed and printed.count("train_loss") == 2
    assert "\x1b" not in printed  # captured output is not a terminal: skorch's colours are left out
