"""
=================================================
Loss terms and miners in a plain PyTorch loop
=================================================

:mod:`sklearn_hier.nn` is plain PyTorch and knows nothing of scikit-learn or
skorch: its backbones, heads, loss terms, triplet sampler and miners drop into
a training loop of your own. This example trains a small MLP on mel features
with the paper's hybrid loss ``PL+T``, the triplets mined online in each batch,
then shows the offline tree-triplet sampler that
:class:`~sklearn_hier.HierarchicalEmbedder` uses by default.
"""

# %%
# Data and the tree
# -----------------
# One feature vector per clip (the mel spectrogram averaged over time) keeps
# the network an MLP. :class:`~sklearn_hier.Taxonomy` reads the tree off the
# label paths; :class:`~sklearn_hier.nn.Targets` holds every target a loss term
# may need (leaf codes, level codes, multi-hot node targets).
import matplotlib.pyplot as plt
import numpy as np
import torch

from sklearn_hier import MelTransformer, Taxonomy
from sklearn_hier.datasets import make_hierarchical_sounds
from sklearn_hier.metrics import mean_normalized_rank
from sklearn_hier.nn import (
    MLP,
    HierarchicalHeads,
    HierarchicalLoss,
    HierarchicalTripletMiner,
    TreeTripletSampler,
    TripletMarginLoss,
)

torch.manual_seed(0)
waves, y = make_hierarchical_sounds(n_per_leaf=20, branching=(3, 3), sr=8000, duration=0.5, random_state=0)
mels = MelTransformer(sr=8000, n_fft=256, hop_length=128, n_mels=32, device="cpu").fit_transform(waves)
features = torch.as_tensor(mels.mean(axis=2))
features = (features - features.mean(0)) / features.std(0)
taxonomy = Taxonomy.from_paths(y)
level_codes = torch.as_tensor(taxonomy.level_codes(y))  # (n, depth): what the miner compares
print(f"{len(y)} clips, {taxonomy.n_leaves} leaves, features {tuple(features.shape)}")

# %%
# Model, loss and miner
# ---------------------
# :class:`~sklearn_hier.nn.HierarchicalHeads` puts a leaf head, one head per
# level and a node head on the embedding; :class:`~sklearn_hier.nn.HierarchicalLoss`
# binds the terms of a spec to the taxonomy and sums them (per-level
# cross-entropy plus a triplet margin loss of margin 0.3; its
# :meth:`~sklearn_hier.nn.HierarchicalLoss.targets` gathers each batch's
# targets from tables it owns). :class:`~sklearn_hier.nn.HierarchicalTripletMiner`
# picks, in each batch, triplets whose anchor and positive share a deeper
# ancestor than anchor and negative, keeping the hardest negative per anchor.
backbone = MLP(features.shape[1], hidden=(64,), embedding_dim=16)
heads = HierarchicalHeads(taxonomy, embedding_dim=16)
criterion = HierarchicalLoss({"PL": 1.0, "T": TripletMarginLoss(margin=0.3)}, taxonomy)
miner = HierarchicalTripletMiner("batch_hard", margin=criterion.terms["T"].margin, distance=criterion.distance)
codes = torch.as_tensor(taxonomy.encode(y))
optimizer = torch.optim.Adam([*backbone.parameters(), *heads.parameters()], lr=3e-3)

# %%
# The loop
# --------
# The loss returns the weighted total and each term, for logging.
history = {"PL": [], "T": []}
for _ in range(30):  # epochs
    for batch in torch.randperm(len(y)).split(32):
        z = backbone(features[batch])
        triplets = miner(z, level_codes[batch])
        total, parts = criterion(z, heads(z), criterion.targets(codes[batch]), triplets)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    for name in history:
        history[name].append(parts[name].item())

with torch.no_grad():
    Z = backbone(features).numpy()
random_mnr = mean_normalized_rank(np.random.default_rng(0).normal(size=Z.shape), y)
print(f"MNR of the training clips: {mean_normalized_rank(Z, y):.3f} (random embeddings: {random_mnr:.3f})")

fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
for name, values in history.items():
    ax.plot(values, label=name)
ax.set_xlabel("epoch")
ax.set_ylabel("loss term, last batch")
ax.set_title("PL+T in a plain PyTorch loop")
ax.legend()

# %%
# Offline tree triplets
# ---------------------
# :class:`~sklearn_hier.nn.TreeTripletSampler` is the paper's sampler: for
# every node with two or more children it draws an anchor and a positive under
# one child and a negative under another, over the whole training set, afresh
# at every call. Its triplets index the rows of the training set; a term such
# as :class:`~sklearn_hier.nn.TripletMarginLoss`, bound to the taxonomy, takes
# them as they are.
sampler = TreeTripletSampler(taxonomy, taxonomy.encode(y), random_state=0)
anchor, positive, negative = sampler.sample()
print(f"{sampler.n_triplets} tree triplets per epoch")
term = TripletMarginLoss(margin=0.3).bind(taxonomy)
index = tuple(torch.as_tensor(i) for i in (anchor, positive, negative))
with torch.no_grad():
    print(f"triplet loss of the trained embedding on them: {float(term(torch.as_tensor(Z), None, None, index)):.3f}")
plt.show()
