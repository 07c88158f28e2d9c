"""Loss terms and a distance as a researcher writes them in a module of their own (not in the package).

The tests import this module by name, as a user's script imports theirs: process workers
(joblib's loky, Dask) unpickle the terms by importing it.
"""

import os

import torch
import torch.nn.functional as F

from sklearn_hier.nn import Distance, LossTerm
from sklearn_hier.taxonomy import lca_depth


class MarginRanking(LossTerm):
    """For each anchor, a clip sharing a deeper ancestor ranks above one sharing a shallower ancestor by ``margin``."""

    def __init__(self, margin=0.1):
        super().__init__()
        self.margin = margin

    def setup(self, context):
        self.fitted_in_pid = os.getpid()  # where the fit that bound this copy ran

    def compute(self, batch):
        sim = self.distance.similarity(batch.embeddings, batch.embeddings)
        lca = lca_depth(batch.targets.levels, batch.targets.levels)
        deeper = lca[:, :, None] > lca[:, None, :]
        if not bool(deeper.any()):
            return batch.embeddings.sum() * 0.0
        gaps = F.relu(self.margin - sim[:, :, None] + sim[:, None, :])
        return gaps[deeper].mean()


class CenterLoss(LossTerm):
    """Squared distance of each embedding to a learned centre of its leaf (Wen et al., 2016), times ``alpha``."""

    def __init__(self, alpha=0.01):
        super().__init__()
        self.alpha = alpha

    def setup(self, context):
        # Sized by the fit: one centre per training leaf, as wide as the embeddings.
        self.centres = torch.nn.Parameter(torch.zeros(context.taxonomy.n_leaves, context.embedding_dim))

    def compute(self, batch):
        return self.alpha * (batch.embeddings - self.centres[batch.targets.leaf]).pow(2).sum(dim=1).mean()


class Manhattan(Distance):
    """The negated L1 distance."""

    name = "manhattan"

    def similarity(self, a, b):
        return -torch.cdist(a, b, p=1)
