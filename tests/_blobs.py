"""Data shared by the estimator's test modules: Gaussian blobs whose centres follow a 3-level tree."""

import numpy as np

LEAVES = ["a/i/1", "a/i/2", "a/j/1", "a/j/2", "b/k/1", "b/k/2", "b/l/1", "b/l/2"]
FAST = dict(embedding_dim=8, module__hidden=(16,), triplets_per_batch=8, lr=1e-2, verbose=0)


def _centres(n_features, seed):
    """One centre per leaf, the sum of a family, an instrument and a leaf offset (smaller down the tree)."""
    rng = np.random.default_rng(seed)
    offsets = {}
    centres = []
    for leaf in LEAVES:
        names = leaf.split("/")
        centre = np.zeros(n_features)
        for depth, scale in zip(range(1, 4), (4.0, 2.0, 1.0), strict=True):
            key = "/".join(names[:depth])
            if key not in offsets:
                offsets[key] = scale * rng.normal(size=n_features) / np.sqrt(n_features) * 2
            centre += offsets[key]
        centres.append(centre)
    return np.array(centres)


def tree_blobs(n_per_leaf=12, seed=0, shape=(4,), noise=0.3, centres_seed=42):
    """Gaussian blobs whose centres follow the tree; X of shape (n, *shape), y label paths."""
    size = int(np.prod(shape))
    centres = _centres(size, centres_seed)
    rng = np.random.default_rng(seed)
    codes = np.repeat(np.arange(len(LEAVES)), n_per_leaf)
    X = centres[codes] + noise * rng.normal(size=(len(codes), size))
    return X.reshape(len(codes), *shape).astype(np.float32), np.array(LEAVES, dtype=object)[codes]
