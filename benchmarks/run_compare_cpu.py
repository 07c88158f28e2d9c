"""The longest comparison that fits a 2-core CPU in about an hour: the source of docs/results/soundfont-cpu.

The whole default soundfont dataset (192 leaves, 5 UnseenLeafKFold folds, the
paper's six configurations), with the network and features slimmed (22.05 kHz,
64 mel bands, a 16-channel ConvModel, 128-d embeddings) and 8 epochs per fit,
on one torch thread (a second thread only helps when the other core is idle).
The paper's full settings need a GPU: on these 2 cores the paper's network
trains at about 12 clips/s, the 16-channel one at about 760 on one thread.

The results in docs/results/soundfont-cpu are summary.md, run.json,
results.csv and the plots of OUT (the mel cache and saved embeddings stay out).

Run: python benchmarks/run_compare_cpu.py [OUT]
"""

import sys

import torch

from sklearn_hier.experiments import CompareSettings, compare


def main(out: str = "sklearn_hier_results/soundfont-cpu") -> None:
    torch.set_num_threads(1)
    settings = CompareSettings(
        dataset="soundfont",
        n_splits=5,
        max_epochs=8,
        device="cpu",
        dataset_params={"soundfont": {"sr": 22050}},
        mel_params={"sr": 22050, "n_fft": 1024, "hop_length": 512, "n_mels": 64, "batch_size": 32},
        embedder_params={"module__channels": 16, "embedding_dim": 128},
    )
    compare(settings, out=out, verbose=1)


if __name__ == "__main__":
    main(*sys.argv[1:])
