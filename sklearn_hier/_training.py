"""What :class:`~sklearn_hier.embedder.HierarchicalEmbedder` trains with: the network, the data, the batches.

The training and validation clips are put on the device once, as tensors; each
batch is then gathered from them by an index tensor, so an epoch runs no
per-clip Python and copies nothing from the host but index arrays. A batch is
``(X_batch, (leaf_codes_batch, triplets))`` where ``triplets`` is a tuple of
three index tensors into the batch (offline sampling), a miner to call on the
batch's embeddings (online mining) or ``None`` (validation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_random_state
from torch import nn

from sklearn_hier.nn import HeadOutputs, HierarchicalBatchSampler, HierarchicalTripletMiner, TreeTripletSampler

__all__ = [
    "EmbeddingNetwork",
    "MinedBatches",
    "SequentialBatches",
    "TensorData",
    "TrainingData",
    "TripletBatches",
    "leaf_stratified_split",
]

Batch = tuple[torch.Tensor, tuple[torch.Tensor, Any]]


class EmbeddingNetwork(nn.Module):
    """A backbone followed by the hierarchical heads.

    Parameters
    ----------
    backbone : torch.nn.Module
        Maps a batch of inputs to embeddings of shape (B, embedding_dim).
    heads : torch.nn.Module
        :class:`~sklearn_hier.nn.HierarchicalHeads` reading those embeddings.
    embedding_dim : int
        Width of the embeddings.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hier.nn import MLP, HierarchicalHeads
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b"])
    >>> net = EmbeddingNetwork(MLP(3, hidden=(), embedding_dim=2), HierarchicalHeads(tax, 2), 2)
    >>> z, outputs = net(torch.zeros(4, 3))
    >>> z.shape, outputs.leaf.shape
    (torch.Size([4, 2]), torch.Size([4, 3]))
    """

    def __init__(self, backbone: nn.Module, heads: nn.Module, embedding_dim: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.heads = heads
        self.embedding_dim = embedding_dim

    def forward(self, x: torch.Tensor, **kwargs: Any) -> tuple[torch.Tensor, HeadOutputs]:
        """Embeddings and head logits of a batch."""
        z = self.backbone(x, **kwargs)
        return z, self.heads(z)


def output_width(backbone: nn.Module, sample_shape: tuple[int, ...]) -> int:
    """Width of ``backbone``'s output for inputs of ``sample_shape``, from a dry run on zeros.

    The backbone is run in eval mode (batch-norm statistics stay untouched) and
    left in the mode it was in.

    Examples
    --------
    >>> output_width(torch.nn.Linear(3, 5), (3,))
    5
    """
    was_training = backbone.training
    device = next(backbone.parameters(), torch.empty(0)).device
    backbone.eval()
    try:
        with torch.no_grad():
            z = backbone(torch.zeros((2, *sample_shape), device=device))
    finally:
        backbone.train(was_training)
    if not isinstance(z, torch.Tensor) or z.ndim != 2 or len(z) != 2:
        shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise ValueError(
            f"The module must map a batch of shape (B, *{sample_shape}) to embeddings of shape (B, D); "
            f"for B=2 it returned {shape}."
        )
    return int(z.shape[1])


@dataclass(frozen=True, eq=False)
class TensorData:
    """Clips resident on the device, and the seed of their batch order.

    Attributes
    ----------
    X : Tensor of shape (n, ...)
        Inputs, on the training device.
    codes : LongTensor of shape (n,)
        Leaf codes, on the same device.
    leaf_codes : ndarray of shape (n,)
        The same leaf codes on the host, for the samplers.
    seed : int
        Seeds the sampler that orders this data into batches.

    Examples
    --------
    >>> import numpy as np
    >>> data = TensorData.from_arrays(np.zeros((3, 2), np.float32), np.array([0, 1, 1]), "cpu", seed=0)
    >>> len(data), data.codes.dtype
    (3, torch.int64)
    """

    X: torch.Tensor
    codes: torch.Tensor
    leaf_codes: np.ndarray
    seed: int = 0

    @classmethod
    def from_arrays(cls, X: np.ndarray, leaf_codes: np.ndarray, device: Any, seed: int = 0) -> TensorData:
        """Copy ``X`` (float32) and ``leaf_codes`` to ``device`` once."""
        return cls(
            to_device_tensor(X, device), torch.as_tensor(leaf_codes, dtype=torch.long).to(device), leaf_codes, seed
        )

    def __len__(self) -> int:
        return len(self.leaf_codes)


@dataclass(frozen=True, eq=False)
class TrainingData:
    """The training clips and the held-out validation clips (``None`` when not validating)."""

    train: TensorData
    valid: TensorData | None


def to_device_tensor(X: np.ndarray, device: Any) -> torch.Tensor:
    """A tensor of ``X`` on ``device``, never writing to ``X``.

    A writable array is wrapped without a copy (the device transfer copies it
    where the device is not the CPU); a read-only one is copied, because torch
    cannot wrap it safely.

    Examples
    --------
    >>> import numpy as np
    >>> to_device_tensor(np.ones((2, 2), np.float32), "cpu").sum()
    tensor(4.)
    """
    tensor = torch.from_numpy(X) if X.flags.writeable else torch.tensor(X)
    return tensor.to(device)


def leaf_stratified_split(codes: np.ndarray, valid_size: float, random_state: Any = None) -> tuple[np.ndarray, ...]:
    """Hold out about ``valid_size`` of the clips of each leaf for validation.

    Every leaf keeps at least one training clip, so a leaf never vanishes from
    training (a random split would drop small leaves or leak). The number held
    out in all is ``round(valid_size * n)`` (at least 1) where the leaves have
    clips to spare; each leaf gives ``floor(valid_size * count)`` clips and the
    remainder goes to the leaves with the largest fractional parts.

    Parameters
    ----------
    codes : ndarray of int of shape (n,)
        Leaf code of each clip.
    valid_size : float in (0, 1)
        Fraction of the clips to hold out.
    random_state : int, RandomState or None, default=None

    Returns
    -------
    train, valid : ndarray of int64
        Sorted clip indices.

    Raises
    ------
    ValueError
        If no leaf has two clips, so nothing can be held out.

    Examples
    --------
    >>> import numpy as np
    >>> train, valid = leaf_stratified_split(np.repeat([0, 1], [10, 5]), 0.2, random_state=0)
    >>> len(train), len(valid), np.bincount(np.repeat([0, 1], [10, 5])[valid]).tolist()
    (12, 3, [2, 1])
    """
    rng = check_random_state(random_state)
    codes = np.asarray(codes, dtype=np.int64)
    counts = np.bincount(codes)
    room = np.maximum(counts - 1, 0)
    if room.sum() == 0:
        raise ValueError(
            f"valid_size={valid_size} cannot hold out a validation clip: every one of the {len(counts)} leaves "
            "has a single clip. Set valid_size=None to train without validation."
        )
    quota = np.minimum(valid_size * counts, room)
    n_valid = np.floor(quota).astype(np.int64)
    target = min(max(int(round(valid_size * len(codes))), 1), int(room.sum()))
    missing = target - int(n_valid.sum())
    tie_break = rng.random_sample(len(counts))
    while missing > 0:  # a few rounds at most: each adds one clip to every leaf it picks
        spare = np.flatnonzero(room > n_valid)
        # Largest fractional part first; random among ties.
        picked = spare[np.lexsort((tie_break[spare], -(quota - n_valid)[spare]))][:missing]
        n_valid[picked] += 1
        missing -= len(picked)
    shuffled = rng.permutation(len(codes))
    by_leaf = shuffled[np.argsort(codes[shuffled], kind="stable")]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(codes)) - starts[codes[by_leaf]]
    held_out = rank < n_valid[codes[by_leaf]]
    return np.sort(by_leaf[~held_out]), np.sort(by_leaf[held_out])


def _offline_triplets(k: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    first = torch.arange(k, device=device)
    return first, first + k, first + 2 * k


class TripletBatches:
    """Training batches of the paper: ``k`` tree triplets as ``3k`` clips, ``[anchors, positives, negatives]``.

    Every pass draws a fresh epoch of triplets from a
    :class:`~sklearn_hier.nn.TreeTripletSampler`. When the tree allows no
    triplet at all, the epoch falls back to shuffled batches of ``3k`` clips
    with no triplet (the triplet term then contributes 0).

    Parameters
    ----------
    data : TensorData
    taxonomy : Taxonomy
    triplets_per_batch : int
    on_epoch : callable, optional
        Called at the start of each pass with the per-leaf clip counts of the
        epoch (class weights).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a", "b"])
    >>> data = TensorData.from_arrays(np.arange(8, dtype=np.float32)[:, None], np.repeat([0, 1], 4), "cpu")
    >>> X, (codes, (a, p, n)) = next(iter(TripletBatches(data, tax, triplets_per_batch=2)))
    >>> X.shape, bool((codes[a] == codes[p]).all() and (codes[a] != codes[n]).all())
    (torch.Size([6, 1]), True)
    """

    def __init__(
        self,
        data: TensorData,
        taxonomy: Any,
        triplets_per_batch: int,
        on_epoch: Callable[[np.ndarray], None] | None = None,
    ) -> None:
        self.data = data
        self.k = triplets_per_batch
        self.on_epoch = on_epoch
        self.sampler = TreeTripletSampler(taxonomy, data.leaf_codes, random_state=data.seed)
        self.n_leaves = taxonomy.n_leaves
        self._rng = np.random.default_rng(data.seed)

    def __iter__(self) -> Iterator[Batch]:
        if self.sampler.n_triplets == 0:
            yield from self._plain_batches()
            return
        triplets = self.sampler.sample()
        if self.on_epoch is not None:
            self.on_epoch(self.sampler.leaf_counts(triplets))
        device = self.data.codes.device
        table = torch.from_numpy(np.stack(triplets, axis=1)).to(device)  # (m, 3), one copy per epoch
        full = _offline_triplets(self.k, device)
        for first in range(0, len(table), self.k):
            rows = table[first : first + self.k]
            index = rows.T.reshape(-1)  # anchors, then positives, then negatives
            batch_triplets = full if len(rows) == self.k else _offline_triplets(len(rows), device)
            yield self.data.X[index], (self.data.codes[index], batch_triplets)

    def _plain_batches(self) -> Iterator[Batch]:
        n = len(self.data)
        if self.on_epoch is not None:
            self.on_epoch(np.bincount(self.data.leaf_codes, minlength=self.n_leaves))
        device = self.data.codes.device
        order = torch.from_numpy(self._rng.permutation(n)).to(device)
        none = tuple(torch.empty(0, dtype=torch.long, device=device) for _ in range(3))
        for index in order.split(3 * self.k):
            yield self.data.X[index], (self.data.codes[index], none)


class MinedBatches:
    """Training batches for online mining: clips of nearby leaves, triplets mined from their embeddings.

    Batches come from a :class:`~sklearn_hier.nn.HierarchicalBatchSampler`
    (``m_per_leaf`` clips of each of several sibling leaves) and hold about
    ``3 * triplets_per_batch`` clips, rounded to a multiple of ``m_per_leaf``.
    The second item of each batch's target is the miner, which the loss calls
    on the batch's embeddings.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hier.nn import HierarchicalTripletMiner
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a", "b", "c"])
    >>> data = TensorData.from_arrays(np.zeros((24, 1), np.float32), np.repeat([0, 1, 2], 8), "cpu")
    >>> batches = MinedBatches(data, tax, 4, HierarchicalTripletMiner("batch_hard"))
    >>> X, (codes, miner) = next(iter(batches))
    >>> X.shape, callable(miner)
    (torch.Size([12, 1]), True)
    """

    def __init__(
        self,
        data: TensorData,
        taxonomy: Any,
        triplets_per_batch: int,
        miner: HierarchicalTripletMiner,
        on_epoch: Callable[[np.ndarray], None] | None = None,
        m_per_leaf: int = 4,
    ) -> None:
        self.data = data
        self.miner = miner
        self.on_epoch = on_epoch
        batch_size = m_per_leaf * max(1, round(3 * triplets_per_batch / m_per_leaf))
        self.sampler = HierarchicalBatchSampler(
            taxonomy, data.leaf_codes, batch_size=batch_size, m_per_leaf=m_per_leaf, random_state=data.seed
        )
        self.n_leaves = taxonomy.n_leaves

    def __iter__(self) -> Iterator[Batch]:
        batches = list(self.sampler)
        flat = np.concatenate(batches)
        if self.on_epoch is not None:
            self.on_epoch(np.bincount(self.data.leaf_codes[flat], minlength=self.n_leaves))
        indices = torch.from_numpy(flat).to(self.data.codes.device)  # one copy per epoch
        for index in indices.split([len(b) for b in batches]):
            yield self.data.X[index], (self.data.codes[index], self.miner)


class SequentialBatches:
    """Consecutive batches of ``batch_size`` clips, with no triplets (validation).

    Examples
    --------
    >>> import numpy as np
    >>> data = TensorData.from_arrays(np.zeros((5, 2), np.float32), np.zeros(5, np.int64), "cpu")
    >>> [len(X) for X, _ in SequentialBatches(data, 2)]
    [2, 2, 1]
    """

    def __init__(self, data: TensorData, batch_size: int) -> None:
        self.data = data
        self.batch_size = batch_size

    def __iter__(self) -> Iterator[Batch]:
        for first in range(0, len(self.data), self.batch_size):
            rows = slice(first, first + self.batch_size)
            yield self.data.X[rows], (self.data.codes[rows], None)

    def __len__(self) -> int:
        return -(-len(self.data) // self.batch_size)
