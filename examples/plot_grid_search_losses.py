"""
===========================================
Choosing the loss terms with GridSearchCV
===========================================

Which sum of loss terms suits your data is a hyper-parameter like any other:
``GridSearchCV`` compares configurations of
:class:`~sklearn_hier.HierarchicalEmbedder` under
:class:`~sklearn_hier.UnseenLeafKFold`, scoring every one with all of
:func:`~sklearn_hier.hierarchy_scorers`. With several scorers, ``refit=``
names the one that picks the model refitted on all the data.
"""

# %%
# Data
# ----
# Synthetic sounds whose timbre follows a 3 x 3 tree. The mel spectrograms do
# not depend on the loss, so they are computed once, outside the search.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV

from sklearn_hier import HierarchicalEmbedder, MelTransformer, UnseenLeafKFold, hierarchy_scorers
from sklearn_hier.datasets import make_hierarchical_sounds
from sklearn_hier.plotting import MetricComparisonDisplay

waves, y = make_hierarchical_sounds(n_per_leaf=12, branching=(3, 3), sr=8000, duration=0.5, random_state=0)
X = MelTransformer(sr=8000, n_fft=256, hop_length=128, n_mels=32, device="cpu").fit_transform(waves)
print(f"mels: {X.shape}")

# %%
# The search
# ----------
# Three of the paper's configurations: the leaf cross-entropy alone (``L``),
# the per-level cross-entropy (``PL``) and the paper's hybrid ``PL+T``.
# ``refit="ndcg"``: after the search the configuration with the best mean NDCG
# over the folds is fitted on all clips and serves ``search.transform``.
embedder = HierarchicalEmbedder(
    embedding_dim=32,
    module__channels=8,
    module__n_blocks=2,
    max_epochs=6,
    lr=3e-3,
    device="cpu",
    random_state=0,
    verbose=0,
)
search = GridSearchCV(
    embedder,
    param_grid={"losses": ["L", "PL", "PL+T"]},
    scoring=hierarchy_scorers(),
    refit="ndcg",
    # Half of each seen leaf's 12 clips are test clips: 5 leaf-mates per query, so RP@5 can reach 1.
    cv=UnseenLeafKFold(n_splits=3, min_samples_leaf=8, test_size=0.5, random_state=0),
)
with warnings.catch_warnings():
    # "L" trains no per-level heads, so its Acc_aware is NaN by design; GridSearchCV would warn about it.
    warnings.filterwarnings("ignore", message="One or more of the test scores are non-finite")
    search.fit(X, y)
print(f"best by NDCG: {search.best_params_}, mean NDCG {search.best_score_:.3f}")
for params, mnr, ndcg in zip(
    search.cv_results_["params"],
    -search.cv_results_["mean_test_neg_mean_normalized_rank"],
    search.cv_results_["mean_test_ndcg"],
    strict=True,
):
    print(f"{params['losses']:5s} MNR {mnr:.3f}  NDCG {ndcg:.3f}")

# %%
# ``lsa_accuracy_aware`` is NaN for ``L``, which trains no per-level head: a
# scorer that does not apply says so rather than scoring 0 (scikit-learn warns
# that some test scores are non-finite). Choose a ``refit``
# metric every candidate has.
print(np.round(search.cv_results_["mean_test_lsa_accuracy_aware"], 3))

# %%
# Every metric of every candidate
# -------------------------------
# :meth:`~sklearn_hier.plotting.MetricComparisonDisplay.from_cv_results` reads
# ``cv_results_`` directly: one bar per candidate, its folds averaged.
disp = MetricComparisonDisplay.from_cv_results(
    search.cv_results_,
    labels=[p["losses"] for p in search.cv_results_["params"]],
    metrics=["neg_mean_normalized_rank", "ndcg", "precision_at_5", "ndcg_unseen", "lsa_accuracy_aware"],
    title="GridSearchCV over loss configurations",
)
plt.show()

# %%
# The refitted model
# ------------------
Z = search.best_estimator_.transform(X)
print(f"embeddings of the refitted {search.best_params_['losses']} model: {Z.shape}")
