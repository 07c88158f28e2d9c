"""
=============================================
Plotting cross-validation results: Displays
=============================================

The three Display classes of :mod:`sklearn_hier.plotting`, fed straight from
``cross_validate``: metric bars per configuration
(:class:`~sklearn_hier.plotting.MetricComparisonDisplay`), a 2-D projection of
test embeddings (:class:`~sklearn_hier.plotting.EmbeddingProjectionDisplay`)
and the mean similarity between the nodes of one tree level
(:class:`~sklearn_hier.plotting.LevelSimilarityDisplay`).
"""

# %%
# Two configurations under cross-validation
# -----------------------------------------
# ``return_estimator=True`` and ``return_indices=True`` keep each fold's
# fitted model and test clips, for the embedding plots below.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import cross_validate

from sklearn_hier import HierarchicalEmbedder, MelTransformer, UnseenLeafKFold, hierarchy_scorers
from sklearn_hier.datasets import make_hierarchical_sounds
from sklearn_hier.plotting import EmbeddingProjectionDisplay, LevelSimilarityDisplay, MetricComparisonDisplay

waves, y = make_hierarchical_sounds(n_per_leaf=12, branching=(4, 3), sr=8000, duration=0.5, random_state=0)
X = MelTransformer(sr=8000, n_fft=256, hop_length=128, n_mels=32, device="cpu").fit_transform(waves)
# Half of each seen leaf's 12 clips are test clips: 5 leaf-mates per query, so RP@5 can reach 1.
cv = UnseenLeafKFold(n_splits=3, min_samples_leaf=8, test_size=0.5, random_state=0)
results = {}
for losses in ["L", "PL+T"]:
    embedder = HierarchicalEmbedder(
        losses=losses,
        embedding_dim=32,
        module__channels=8,
        module__n_blocks=2,
        max_epochs=8,
        lr=3e-3,
        device="cpu",
        random_state=0,
        verbose=0,
    )
    results[losses] = cross_validate(
        embedder, X, y, cv=cv, scoring=hierarchy_scorers(), return_estimator=True, return_indices=True
    )

# %%
# Metrics of both configurations
# ------------------------------
# A dict of ``cross_validate`` outputs gives one bar colour per configuration.
# Scores are shown as the results table shows them: the
# ``neg_mean_normalized_rank`` scorer is drawn as a positive MNR, where lower
# is better (↓). ``Acc_aware`` needs per-level heads, which ``L`` does not
# train: its bar is marked n/a.
metrics = [
    "neg_mean_normalized_rank",
    "ndcg",
    "precision_at_5",
    "ndcg_unseen",
    "lsa_accuracy_aware",
    "lsa_accuracy_blind",
]
disp = MetricComparisonDisplay.from_cv_results(results, metrics=metrics)

# %%
# Test embeddings of one fold, projected
# --------------------------------------
# Colour is the top level of the tree, marker shape the second; PCA keeps the
# two directions of largest variance (the axis labels say how much).
fold = 0
model = results["PL+T"]["estimator"][fold]
test = results["PL+T"]["indices"]["test"][fold]
Z = model.transform(X[test])
EmbeddingProjectionDisplay.from_embeddings(Z, y[test], colour_level=1, marker_level=2)

# %%
# Similarity between the nodes of one level
# -----------------------------------------
# Each cell is the mean cosine similarity between the clips of two level-2
# nodes: a bright diagonal, and brighter blocks for siblings, show an
# embedding that follows the tree.
LevelSimilarityDisplay.from_embeddings(Z, y[test], level=2)

# %%
# Side by side on axes of your own
# --------------------------------
# Every Display draws on a given ``ax``; ``title=None`` leaves the title to you.
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
for ax, losses in zip(axes, results, strict=True):
    model = results[losses]["estimator"][fold]
    EmbeddingProjectionDisplay.from_embeddings(model.transform(X[test]), y[test], marker_level=None, ax=ax, title=None)
    ax.set_title(f"{losses}: fold {fold} test clips, PCA")
print({losses: round(float(np.mean(r["test_ndcg"])), 3) for losses, r in results.items()})
plt.show()
