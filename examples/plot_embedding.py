"""
===========================================
Hierarchical embeddings of synthetic sounds
===========================================

Fit :class:`~sklearn_hier.HierarchicalEmbedder` with the paper's hybrid loss
``"PL+T"`` (per-level cross-entropy plus a triplet loss on tree triplets) on
synthetic sounds whose timbre follows a two-level label tree, then project the
embeddings of held-out clips to 2-D and colour them by their top-level node.

The whole script runs in about a minute on a laptop CPU: the clips are short,
the mel spectrograms small and the network the paper's ConvModel with fewer
channels.
"""

# %%
# Data: sounds whose timbre follows a tree
# ----------------------------------------
# :func:`~sklearn_hier.datasets.make_hierarchical_sounds` draws harmonic sounds
# for a full tree with 3 top-level nodes of 3 children each (9 leaves): clips
# are the more alike the deeper their lowest common ancestor is.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from sklearn_hier import HierarchicalEmbedder, MelTransformer
from sklearn_hier.datasets import make_hierarchical_sounds
from sklearn_hier.metrics import mean_normalized_rank

X, y = make_hierarchical_sounds(n_per_leaf=40, branching=(3, 3), sr=8000, duration=0.5, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
print(f"{len(X_train)} training clips, {len(X_test)} test clips, leaves: {sorted(set(y))[:3]} ...")

# %%
# The pipeline of the README
# --------------------------
# :class:`~sklearn_hier.MelTransformer` turns waveforms into dB mel
# spectrograms; the embedder builds its :class:`~sklearn_hier.Taxonomy` from
# the label paths and a ConvModel sized from the number of mel bands. The
# paper trains up to 2,500 epochs with early stopping; 40 epochs with a larger
# learning rate are enough here.
pipe = Pipeline(
    [
        ("mel", MelTransformer(sr=8000, n_fft=512, hop_length=128, n_mels=32)),
        (
            "emb",
            HierarchicalEmbedder(
                losses="PL+T",
                embedding_dim=32,
                module__channels=16,
                module__n_blocks=3,
                triplets_per_batch=16,
                lr=3e-3,
                max_epochs=40,
                random_state=0,
                verbose=0,
            ),
        ),
    ]
)
pipe.fit(X_train, y_train)
embedder = pipe.named_steps["emb"]
print(embedder.taxonomy_.render())

# %%
# Training curves
# ---------------
# The validation loss leaves the triplet term out, as in the paper; early
# stopping and the learning-rate schedule follow it, and the weights of its best
# epoch are the ones kept.
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(embedder.history[:, "train_loss"], label="train (PL + T)")
ax.plot(embedder.history[:, "valid_loss"], label="validation (PL)")
ax.set_xlabel("epoch")
ax.set_ylabel("loss")
ax.legend()
fig.tight_layout()

# %%
# Embeddings of held-out clips
# ----------------------------
# Mean normalised rank (lower is better, about 0.5 for random embeddings)
# averages, over both levels, where the clips sharing a query's node rank
# among its neighbours.
Z_test = pipe.transform(X_test)
random_Z = np.random.default_rng(0).normal(size=Z_test.shape)
print(f"MNR: {mean_normalized_rank(Z_test, y_test):.3f}")
print(f"MNR of random embeddings: {mean_normalized_rank(random_Z, y_test):.3f}")
print(f"leaf accuracy: {pipe.score(X_test, y_test):.2f}")

# %%
# A 2-D projection coloured by the top level
# ------------------------------------------
# Each top-level node forms one region; its children (marker shapes) split it.
top = embedder.predict_level(pipe[:-1].transform(X_test), level=1)  # the mels feed the embedder
true_top = np.array([path.split("/")[0] for path in y_test])
true_mid = np.array([path.split("/")[1] for path in y_test])
projected = PCA(n_components=2).fit_transform(Z_test / np.linalg.norm(Z_test, axis=1, keepdims=True))
fig, ax = plt.subplots(figsize=(5, 4.5))
markers = dict(zip(sorted(set(true_mid)), "os^", strict=True))
for colour, node in zip(["tab:blue", "tab:orange", "tab:green"], sorted(set(true_top)), strict=True):
    for child, marker in markers.items():
        keep = (true_top == node) & (true_mid == child)
        ax.scatter(*projected[keep].T, c=colour, marker=marker, s=18, label=f"{node}/{child}")
ax.set_title(f"PCA of test embeddings (top level predicted right: {np.mean(top == true_top):.0%})")
ax.legend(fontsize=7, ncol=3)
fig.tight_layout()
plt.show()
