"""
=============================
Your own backbone
=============================

``module=`` takes any :class:`torch.nn.Module` class (or instance) that maps a
batch of inputs to embeddings of shape ``(batch, width)``; ``module__*``
parameters reach its constructor. The estimator measures the width with a dry
run and sizes the heads and any loss term that asks for it from it.

Here: a small recurrent backbone that reads a mel spectrogram frame by frame
(a GRU over time, its last state projected to the embedding), next to the
paper's convolutional :class:`~sklearn_hier.nn.ConvModel`, both scored under
cross-validation that holds out whole leaves.
"""

# %%
# The backbone
# ------------
import matplotlib.pyplot as plt
from sklearn.model_selection import cross_validate
from torch import nn

from sklearn_hier import HierarchicalEmbedder, MelTransformer, UnseenLeafKFold, hierarchy_scorers
from sklearn_hier.datasets import make_hierarchical_sounds


class GRUBackbone(nn.Module):
    """Mel frames through a GRU; the last hidden state, projected, is the embedding."""

    def __init__(self, n_mels=32, hidden=32, embedding_dim=16):
        super().__init__()
        self.gru = nn.GRU(n_mels, hidden, batch_first=True)
        self.project = nn.Linear(hidden, embedding_dim)

    def forward(self, x):  # x: (batch, n_mels, n_frames)
        _, last = self.gru(x.transpose(1, 2))
        return self.project(last[-1])


# %%
# Data
# ----
waves, y = make_hierarchical_sounds(n_per_leaf=12, branching=(3, 3), sr=8000, duration=0.5, random_state=0)
X = MelTransformer(sr=8000, n_fft=256, hop_length=128, n_mels=32, device="cpu").fit_transform(waves)
print(f"mels: {X.shape}")

# %%
# Both backbones, same folds
# --------------------------
common = dict(losses="PL+T", max_epochs=6, lr=3e-3, device="cpu", random_state=0, verbose=0)
candidates = {
    "GRU (ours)": HierarchicalEmbedder(module=GRUBackbone, module__n_mels=32, module__embedding_dim=16, **common),
    "ConvModel": HierarchicalEmbedder(embedding_dim=16, module__channels=8, module__n_blocks=2, **common),
}
cv = UnseenLeafKFold(n_splits=3, min_samples_leaf=8, test_size=0.5, random_state=0)
results = {name: cross_validate(est, X, y, cv=cv, scoring=hierarchy_scorers(k=3)) for name, est in candidates.items()}
for name, result in results.items():
    print(
        f"{name:<11} NDCG {result['test_ndcg'].mean():.3f}  MNR {-result['test_neg_mean_normalized_rank'].mean():.3f}"
    )

fitted = candidates["GRU (ours)"].fit(X, y)
print(f"embedding width read from the backbone: {fitted.transform(X[:2]).shape[1]}")

fig, ax = plt.subplots(figsize=(4.5, 3), layout="constrained")
names = list(results)
ax.bar(names, [results[n]["test_ndcg"].mean() for n in names], yerr=[results[n]["test_ndcg"].std() for n in names])
ax.set_ylabel("NDCG (3 folds)")
ax.set_ylim(0, 1)
ax.set_title("Two backbones, PL+T")
plt.show()
