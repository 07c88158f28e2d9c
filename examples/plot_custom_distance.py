"""
=============================
Your own distance
=============================

A :class:`~sklearn_hier.nn.Distance` says how close two embeddings are (a
similarity: higher is closer). Pass one as ``metric=``: the triplet term, the
online miners and the scorers then all use it, and the fitted estimator keeps
it as ``distance_``. The built-in ones are :class:`~sklearn_hier.nn.Cosine`
(the paper's), :class:`~sklearn_hier.nn.Dot`,
:class:`~sklearn_hier.nn.Euclidean` and :class:`~sklearn_hier.nn.Poincare`.

Here: the Manhattan (L1) distance, trained and scored against cosine.
"""

# %%
# The distance
# ------------
import matplotlib.pyplot as plt
import torch
from sklearn.model_selection import cross_validate

from sklearn_hier import HierarchicalEmbedder, MelTransformer, UnseenLeafKFold, hierarchy_scorers
from sklearn_hier.datasets import make_hierarchical_sounds
from sklearn_hier.nn import Distance


class Manhattan(Distance):
    """The negated L1 distance between rows."""

    name = "manhattan"

    def similarity(self, a, b):
        return -torch.cdist(a, b, p=1)


# %%
# Data
# ----
waves, y = make_hierarchical_sounds(n_per_leaf=12, branching=(3, 3), sr=8000, duration=0.5, random_state=0)
X = MelTransformer(sr=8000, n_fft=256, hop_length=128, n_mels=32, device="cpu").fit_transform(waves)

# %%
# Trained and scored in each geometry
# -----------------------------------
# ``hierarchy_scorers()`` ranks by the fitted estimator's own ``distance_``
# (its default ``metric="auto"``), so each model is measured in the distance
# it was trained for. The online miner (``triplets="batch_hard"``) mines with
# it too.
common = dict(
    losses="PL+T",
    triplets="batch_hard",
    embedding_dim=16,
    module__channels=8,
    module__n_blocks=2,
    max_epochs=6,
    lr=3e-3,
    device="cpu",
    random_state=0,
    verbose=0,
)
cv = UnseenLeafKFold(n_splits=3, min_samples_leaf=8, test_size=0.5, random_state=0)
results = {}
for name, metric in {"cosine": "cosine", "Manhattan (ours)": Manhattan()}.items():
    results[name] = cross_validate(
        HierarchicalEmbedder(metric=metric, **common), X, y, cv=cv, scoring=hierarchy_scorers(k=3)
    )
    print(f"{name:<17} NDCG {results[name]['test_ndcg'].mean():.3f}")

fitted = HierarchicalEmbedder(metric=Manhattan(), **common).fit(X, y)
print(f"fitted distance_: {fitted.distance_!r}; the miner's: {fitted.net_.miner_.distance!r}")

fig, ax = plt.subplots(figsize=(4.5, 3), layout="constrained")
names = list(results)
ax.bar(names, [results[n]["test_ndcg"].mean() for n in names], yerr=[results[n]["test_ndcg"].std() for n in names])
ax.set_ylabel("NDCG (3 folds)")
ax.set_ylim(0, 1)
ax.set_title("PL+T, batch-hard mining")
plt.show()
