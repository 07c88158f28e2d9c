"""The tiny comparison the runner tests share: 2 configurations x 2 folds x 2 epochs on synthetic sounds."""

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
