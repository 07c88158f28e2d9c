"""
=============================
Your own loss term
=============================

A loss term is an object: subclass :class:`~sklearn_hier.nn.LossTerm`, take
its options as constructor arguments, build what depends on the fit in
``setup`` and compute a batch's loss in ``compute``. Pass an instance in
``losses`` next to the built-in terms; its options are then nested parameters
(``criterion__CENTER__alpha``) that ``GridSearchCV`` searches like any other.

Here: the centre loss of Wen et al. (2016), which pulls each embedding towards
a learned centre of its leaf. It needs the fit's leaves and the embedding
width, which the estimator hands it when it binds a copy of the term to the
fit (``context.taxonomy``, ``context.embedding_dim``), so the term never
trains against another fit's leaves.
"""

# %%
# The term
# --------
# ``setup`` runs on the copy the estimator binds at fit: the centres are a
# parameter of the criterion, which skorch hands to the optimizer. Define terms
# in a module of your own (not a notebook cell) when you cross-validate with
# ``n_jobs > 1``: process workers import it to unpickle the term.
import matplotlib.pyplot as plt
import torch
from sklearn.model_selection import GridSearchCV

from sklearn_hier import HierarchicalEmbedder, MelTransformer, UnseenLeafKFold, hierarchy_scorers
from sklearn_hier.datasets import make_hierarchical_sounds
from sklearn_hier.nn import LossTerm


class CenterLoss(LossTerm):
    """``alpha`` times the mean squared distance of each embedding to its leaf's learned centre."""

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = alpha

    def setup(self, context):
        self.centres = torch.nn.Parameter(torch.zeros(context.taxonomy.n_leaves, context.embedding_dim))

    def compute(self, batch):
        offsets = batch.embeddings - self.centres[batch.targets.leaf]
        return self.alpha * offsets.pow(2).sum(dim=1).mean()


# %%
# Data
# ----
# Synthetic sounds whose timbre follows a 3 x 3 tree, as mel spectrograms.
waves, y = make_hierarchical_sounds(n_per_leaf=12, branching=(3, 3), sr=8000, duration=0.5, random_state=0)
X = MelTransformer(sr=8000, n_fft=256, hop_length=128, n_mels=32, device="cpu").fit_transform(waves)

# %%
# Training with it, and searching its option
# ------------------------------------------
# ``losses`` maps names to weights, term objects or ``(weight, term)``; the
# built-in names stay sugar for their default terms. The search sets
# ``criterion__CENTER__alpha`` on a copy of the term for each candidate.
embedder = HierarchicalEmbedder(
    losses={"PL": 1.0, "T": 1.0, "CENTER": CenterLoss()},
    embedding_dim=16,
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
    param_grid={"criterion__CENTER__alpha": [0.0, 0.1, 1.0]},
    scoring=hierarchy_scorers(k=3),
    refit="ndcg",
    cv=UnseenLeafKFold(n_splits=3, min_samples_leaf=8, test_size=0.5, random_state=0),
)
search.fit(X, y)
alphas = search.cv_results_["param_criterion__CENTER__alpha"].tolist()
for alpha, ndcg, mnr in zip(
    alphas, search.cv_results_["mean_test_ndcg"], -search.cv_results_["mean_test_neg_mean_normalized_rank"], strict=True
):
    print(f"alpha={alpha:<4}  NDCG {ndcg:.3f}  MNR {mnr:.3f}")
best = search.best_estimator_.criterion_.terms["CENTER"]
print(f"best alpha {best.alpha}; its centres: {tuple(best.centres.shape)} (leaves x embedding width)")

fig, ax = plt.subplots(figsize=(4.5, 3), layout="constrained")
ax.errorbar(
    [str(a) for a in alphas], search.cv_results_["mean_test_ndcg"], yerr=search.cv_results_["std_test_ndcg"], fmt="o"
)
ax.set_xlabel("criterion__CENTER__alpha")
ax.set_ylabel("NDCG (3 folds)")
ax.set_title("PL+T plus a centre loss")
plt.show()
