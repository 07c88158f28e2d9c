"""The ablation of issue 17: which addition to the paper's best configuration (PL+B+T) helps?

Six configurations on the soundfont dataset, every one on the same 5
UnseenLeafKFold folds, compared with PL+B+T by paired statistics over folds
(paired differences, t-test and Wilcoxon p-values, bootstrap interval of the
mean difference):

- ``PL+B+T``: the paper's best, the baseline;
- ``PL+B+T:triplets=batch_hard`` and ``PL+B+T:triplets=semi_hard``: triplets
  mined online instead of sampled from the tree (the paper's first open question);
- ``PL+B+T+HXE`` and ``PL+B+T+SOFT``: the hierarchical cross-entropy and the
  soft labels of "Making Better Mistakes";
- ``PL+B+T:geometry=poincare``: embeddings on the Poincaré ball (the second
  open question).

Presets:

- ``--preset cpu``: the settings of ``docs/results/soundfont-cpu``
  (``benchmarks/run_compare_cpu.py``): 22.05 kHz, 64 mel bands, a 16-channel
  ConvModel, 128-d embeddings, 8 epochs; one torch thread per fit.
- ``--preset gpu``: the paper's network: 44.1 kHz, 128 mel bands, a
  128-channel ConvModel, 256-d embeddings, early stopping as in the paper, up
  to ``--max-epochs`` epochs (default 2500, the paper's limit).

The output folder receives what ``sklearn-hier compare`` writes (summary.md
with the paired statistics beside the table, results.csv, stats.csv, run.json,
the plots and the fingerprinted pair records, so a rerun resumes) plus
``command.txt``, the exact command; summary.md ends with it too.

Run: python benchmarks/run_ablation.py OUT --preset cpu|gpu [--max-epochs N] [--n-jobs N] [--n-workers N]
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ABLATION = (
    "PL+B+T",
    "PL+B+T:triplets=batch_hard",
    "PL+B+T:triplets=semi_hard",
    "PL+B+T+HXE",
    "PL+B+T+SOFT",
    "PL+B+T:geometry=poincare",
)
PRESETS: dict[str, dict[str, Any]] = {
    # docs/results/soundfont-cpu, as benchmarks/run_compare_cpu.py runs it.
    "cpu": {
        "max_epochs": 8,
        "device": "cpu",
        "dataset_params": {"soundfont": {"sr": 22050}},
        "mel_params": {"sr": 22050, "n_fft": 1024, "hop_length": 512, "n_mels": 64, "batch_size": 32},
        "embedder_params": {"module__channels": 16, "embedding_dim": 128},
    },
    # The paper's network: CompareSettings' defaults (44.1 kHz, 128 mels, 128 channels, 256-d).
    "gpu": {"max_epochs": 2500, "device": "auto"},
}
# A run that only proves the script works: 6 programs x 2 techniques, 12 clips per leaf, 2 folds, 1 epoch.
SMOKE = {
    "n_splits": 2,
    "max_epochs": 1,
    "dataset_params": {
        "soundfont": {
            "programs": (0, 24, 40, 56, 65, 73),
            "techniques": ("ordinario", "staccato"),
            "n_per_leaf": 12,
            "n_rare_leaves": 0,
            "sr": 22050,
            "duration": 0.5,
        }
    },
    "mel_params": {"sr": 22050, "n_fft": 512, "hop_length": 256, "n_mels": 32},
    "embedder_params": {"module__channels": 4, "embedding_dim": 16},
}


def ablation_settings(preset: str, *, max_epochs: int | None = None, n_jobs: int | None = None, smoke: bool = False):
    """The :class:`~sklearn_hier.experiments.CompareSettings` of the ablation under a preset."""
    from sklearn_hier.experiments import CompareSettings

    chosen = {"dataset": "soundfont", "n_splits": 5, "losses": ABLATION, "baseline": ABLATION[0], "n_jobs": n_jobs}
    chosen |= PRESETS[preset]
    if smoke:
        chosen |= SMOKE
    if max_epochs is not None:
        chosen["max_epochs"] = max_epochs
    return CompareSettings(**chosen)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("out", help="output folder (a rerun with the same settings resumes)")
    parser.add_argument("--preset", choices=sorted(PRESETS), required=True)
    parser.add_argument("--max-epochs", type=int, help="epoch limit of each fit (default: cpu 8, gpu 2500)")
    parser.add_argument("--n-jobs", type=int, help="processes rendering the soundfont")
    parser.add_argument("--n-workers", type=int, help="concurrent fits on a local Dask cluster (the runner's)")
    parser.add_argument("--smoke", action="store_true", help="a tiny subset, 2 folds, 1 epoch: checks the script")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = shlex.join(
        [Path(sys.executable).name, "benchmarks/run_ablation.py", *(sys.argv[1:] if argv is None else argv)]
    )
    import torch

    from sklearn_hier.experiments import compare

    if args.preset == "cpu":
        torch.set_num_threads(1)  # as run_compare_cpu.py: a second thread only helps on an idle core
    settings = ablation_settings(args.preset, max_epochs=args.max_epochs, n_jobs=args.n_jobs, smoke=args.smoke)
    out = Path(args.out)
    compare(settings, out=out, verbose=1, n_workers=args.n_workers)
    (out / "command.txt").write_text(command + "\n")
    with open(out / "summary.md", "a") as summary:
        summary.write(f"\nMade by:\n\n```\n{command}\n```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
