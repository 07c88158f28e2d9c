"""What :class:`~sklearn_hier.embedder.HierarchicalEmbedder` trains with: the network, the data, the batches.

The training and validation clips are put on the device once, as tensors; each
batch is then gathered from them by an index tensor, so an epoch runs no
per-clip Python and copies nothing from the host but index arrays. Data flows
one way: a batch is ``(X_batch, (leaf_codes_batch, triplets))`` where
``triplets`` is a tuple of three index tensors into the batch (offline
sampling) or ``None`` (online mining, where the net's miner picks them, and
validation). Nothing here writes into the loss or the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_random_state
from torch import nn
from torch.utils.data import Dataset

from sklearn_hier._tensor_input import has_negative_strides
from sklearn_hier.nn import HeadOutputs, HierarchicalBatchSampler, TreeTripletSampler

__all__ = [
    "EmbeddingNetwork",
    "MinedBatches",
    "SequentialBatches",
    "EpochView",
    "TensorData",
    "TripletBatches",
    "host_to_device",
    "leaf_stratified_split",
]

Batch = tuple[torch.Tensor, tuple[torch.Tensor, Any]]


class EmbeddingNetwork(nn.Module):
    """A backbone, an embedding map, then the hierarchical heads.

    :meth:`embed` is the one path from inputs to embeddings (used by training
    and by ``transform``): ``embedding_map(backbone(x))``. The map is the
    identity by default; it is the place for a change of geometry (e.g. a
    projection onto a ball) that the triplet term then sees. The heads read
    the embeddings themselves, or, when the map has a ``logmap0`` method (a map
    onto a manifold such as :class:`~sklearn_hier.nn.PoincareEmbedding`),
    ``embedding_map.logmap0(z)``: the tangent vectors at the origin, a plain
    vector space where linear heads and softmax work as on Euclidean features.

    Parameters
    ----------
    backbone : torch.nn.Module
        Maps a batch of inputs to features of shape (B, embedding_dim).
    heads : torch.nn.Module
        :class:`~sklearn_hier.nn.HierarchicalHeads` reading the embeddings.
    embedding_dim : int
        Width of the embeddings.
    embedding_map : torch.nn.Module or None, default=None
        Applied to the backbone's output; ``None`` is the identity.

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

    def __init__(
        self, backbone: nn.Module, heads: nn.Module, embedding_dim: int, embedding_map: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.embedding_map = nn.Identity() if embedding_map is None else embedding_map
        self.heads = heads
        self.embedding_dim = embedding_dim

    def embed(self, x: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Embeddings of a batch, shape (B, embedding_dim)."""
        return self.embedding_map(self.backbone(x, **kwargs))

    def read_heads(self, z: torch.Tensor) -> HeadOutputs:
        """Head logits of a batch of embeddings ``z`` (read in the tangent space of a manifold map)."""
        to_tangent = getattr(self.embedding_map, "logmap0", None)
        return self.heads(z if to_tangent is None else to_tangent(z))

    def forward(self, x: torch.Tensor, **kwargs: Any) -> tuple[torch.Tensor, HeadOutputs]:
        """Embeddings and head logits of a batch."""
        z = self.embed(x, **kwargs)
        return z, self.read_heads(z)


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
class TensorData(Dataset):
    """Clips as tensors (on the host until :meth:`to` moves them), and the seed of their batch order.

    A :class:`torch.utils.data.Dataset`, so skorch takes it as it is
    (``get_dataset``); :meth:`subset` and :meth:`to` give the split parts on
    the training device.

    Attributes
    ----------
    X : Tensor of shape (n, ...)
        Inputs.
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
    target: torch.device | None = None

    @classmethod
    def from_arrays(cls, X: Any, leaf_codes: np.ndarray, device: Any, seed: int = 0) -> TensorData:
        """Copy ``X`` (float32; an array, or a tensor on any device) and ``leaf_codes`` to ``device`` once."""
        return cls(
            to_device_tensor(X, device), torch.as_tensor(leaf_codes, dtype=torch.long).to(device), leaf_codes, seed
        )

    @classmethod
    def unlabelled(cls, X: Any) -> TensorData:
        """Inputs to embed, kept where they are (an array on the host; a tensor on its device); codes are 0."""
        zeros = np.zeros(len(X), dtype=np.int64)
        if isinstance(X, torch.Tensor):
            return cls(X, torch.zeros(len(X), dtype=torch.long, device=X.device), zeros)
        return cls(to_device_tensor(X, "cpu"), torch.from_numpy(zeros), zeros)

    @property
    def device(self) -> torch.device:
        """Where batches of these clips are delivered: ``target`` when streamed, else where the clips are."""
        return self.X.device if self.target is None else self.target

    def take(self, index: torch.Tensor | slice) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and codes of the clips at ``index`` (a tensor on the clips' device, or a slice), on :attr:`device`.

        Resident clips are gathered where they are. Streamed clips are
        gathered on the host into page-locked memory and uploaded without
        waiting (the caching host allocator keeps a buffer until its copy is
        done), so the upload of a batch overlaps the work of the previous one.
        """
        if self.target is None:
            return self.X[index], self.codes[index]
        return _upload(self.X, index, self.target), _upload(self.codes, index, self.target)

    def __len__(self) -> int:
        return len(self.leaf_codes)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X[i], self.codes[i]

    def subset(self, indices: np.ndarray) -> TensorData:
        """The clips at ``indices`` (same device, same seed)."""
        rows = torch.as_tensor(indices, dtype=torch.long, device=self.X.device)
        return replace(self, X=self.X[rows], codes=self.codes[rows], leaf_codes=self.leaf_codes[indices])

    def to(self, device: Any) -> TensorData:
        """The same clips on ``device``."""
        return replace(self, X=self.X.to(device), codes=self.codes.to(device), target=None)

    def streamed_to(self, device: Any) -> TensorData:
        """The same clips kept in host memory (page-locked for a CUDA ``device``), each batch uploaded to ``device``.

        For training sets that do not fit on the device: :meth:`take` gives the
        same batches as the resident clips would, one upload per batch.

        Examples
        --------
        >>> import numpy as np
        >>> data = TensorData.from_arrays(np.arange(6, dtype=np.float32)[:, None], np.zeros(6, np.int64), "cpu")
        >>> X, codes = data.streamed_to("cpu").take(torch.tensor([4, 1]))
        >>> X.ravel().tolist()
        [4.0, 1.0]
        """
        device = torch.device(device)
        pin = device.type == "cuda"
        X, codes = self.X.cpu(), self.codes.cpu()
        return replace(self, X=X.pin_memory() if pin else X, codes=codes.pin_memory() if pin else codes, target=device)


class LeafSplit:
    """skorch ``train_split`` holding out ``valid_size`` of each leaf's clips (:func:`leaf_stratified_split`).

    Parameters
    ----------
    valid_size : float in (0, 1)
    random_state : int
        Seeds the split: the same seed gives the same split on every call.

    Examples
    --------
    >>> import numpy as np
    >>> data = TensorData.from_arrays(np.zeros((10, 1), np.float32), np.repeat([0, 1], 5), "cpu")
    >>> train, valid = LeafSplit(0.2, random_state=0)(data)
    >>> len(train), len(valid)
    (8, 2)
    """

    def __init__(self, valid_size: float, random_state: int) -> None:
        self.valid_size = valid_size
        self.random_state = random_state

    def indices(self, leaf_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The training and validation indices of clips with these leaf codes."""
        return leaf_stratified_split(leaf_codes, self.valid_size, self.random_state)

    def __call__(self, dataset: TensorData, y: Any = None, **fit_params: Any) -> tuple[TensorData, TensorData]:
        train, valid = self.indices(dataset.leaf_codes)
        return dataset.subset(train), dataset.subset(valid)


def to_device_tensor(X: Any, device: Any) -> torch.Tensor:
    """A tensor of ``X`` (an array, or a tensor on any device) on ``device``, never writing to ``X``.

    A writable array is wrapped without a copy (the device transfer copies it
    where the device is not the CPU); a read-only one is copied, because torch
    cannot wrap it safely, and so is a reversed view (``X[::-1]``), because
    torch has no negative strides. A tensor already on ``device`` is returned
    as it is.

    Examples
    --------
    >>> import numpy as np
    >>> to_device_tensor(np.ones((2, 2), np.float32), "cpu").sum()
    tensor(4.)
    """
    if isinstance(X, torch.Tensor):
        return X.to(device)
    if has_negative_strides(X):
        X = np.ascontiguousarray(X)
    tensor = torch.from_numpy(X) if X.flags.writeable else torch.tensor(X)
    return tensor.to(device)


def _upload(source: torch.Tensor, index: torch.Tensor | slice, device: torch.device) -> torch.Tensor:
    """Rows of a host tensor gathered into page-locked memory (for CUDA) and copied to ``device`` without waiting."""
    pin = device.type == "cuda"
    if isinstance(index, slice):
        return source[index].to(device, non_blocking=pin)  # a slice of page-locked memory is page-locked
    rows = torch.empty((len(index), *source.shape[1:]), dtype=source.dtype, pin_memory=pin)
    torch.index_select(source, 0, index, out=rows)
    return rows.to(device, non_blocking=pin)


def host_to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """``array`` on ``device``; to a GPU through page-locked memory, without waiting for the copy.

    A plain (pageable) upload makes the host wait for the GPU to drain its
    queue; the training batches' index tables go this way instead.

    Examples
    --------
    >>> host_to_device(np.arange(3), torch.device("cpu")).tolist()
    [0, 1, 2]
    """
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    if device.type != "cuda":
        return tensor.to(device)
    return tensor.pin_memory().to(device, non_blocking=True)


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


def clips_per_batch(triplets: str, triplets_per_batch: int, m_per_leaf: int = 4) -> int:
    """Clips in a training batch: ``3k`` for tree triplets, ``3k`` rounded to a multiple of ``m_per_leaf`` when mined.

    Examples
    --------
    >>> clips_per_batch("tree", 32), clips_per_batch("batch_hard", 32)
    (96, 96)
    """
    if triplets == "tree":
        return 3 * triplets_per_batch
    return m_per_leaf * max(1, round(3 * triplets_per_batch / m_per_leaf))


class EpochView(Dataset):
    """The training set as one epoch sees it: its length counts the clips a pass gathers.

    skorch sizes an epoch as ``len(dataset) / batch_size`` (e.g. its
    ``ProgressBar``); with ``iterator_train__batch_size`` set to
    :func:`clips_per_batch`, this length makes that the number of training
    batches. The net iterates ``batches``.
    """

    def __init__(self, batches: _EpochBatches) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return self.batches.clips_per_epoch

    def __getitem__(self, i: int) -> Any:
        raise TypeError("An EpochView is iterated by batches (net.get_iterator), not indexed.")


class _EpochBatches:
    """Training batches drawn afresh for each pass; :meth:`plan_epoch` draws the next pass ahead of it.

    Drawing ahead lets an epoch-begin callback read the pass's leaf counts
    (class weights) before the first batch; a pass not drawn ahead is drawn
    when iteration starts, so the draws follow one another the same way
    whether or not anything reads the counts.
    """

    n_leaves: int
    _planned: Any = None

    @property
    def clips_per_epoch(self) -> int:
        """Clips one pass gathers (a clip may count more than once), ``len(self) * clips_per_batch`` at most."""
        raise NotImplementedError

    def plan_epoch(self) -> np.ndarray:
        """Draw the next pass (once) and return how often each leaf occurs in it."""
        if self._planned is None:
            self._planned = self._draw()
        return self._planned[1]

    def __iter__(self) -> Iterator[Batch]:
        self.plan_epoch()
        batches, _ = self._planned
        self._planned = None
        return batches

    def _draw(self) -> tuple[Iterator[Batch], np.ndarray]:
        raise NotImplementedError


class TripletBatches(_EpochBatches):
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
    drop_last : bool, default=False
        Drop an epoch's last, short batch, so that every batch has the same
        shape (what a compiled network needs to reuse its graphs). An epoch
        with fewer clips than one batch keeps its one short batch.

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

    def __init__(self, data: TensorData, taxonomy: Any, triplets_per_batch: int, drop_last: bool = False) -> None:
        self.data = data
        self.k = triplets_per_batch
        self.drop_last = drop_last
        self.sampler = TreeTripletSampler(taxonomy, data.leaf_codes, random_state=data.seed)
        self.n_leaves = taxonomy.n_leaves
        self._rng = np.random.default_rng(data.seed)

    def __len__(self) -> int:
        return -(-self.clips_per_epoch // (3 * self.k))

    @property
    def clips_per_epoch(self) -> int:
        """``3 * n_triplets``, or every clip once when the tree allows no triplet (less a dropped short batch)."""
        return self._kept(3 * self.sampler.n_triplets or len(self.data), 3 * self.k)

    def _kept(self, n: int, per_batch: int) -> int:
        """How many of ``n`` items an epoch uses: all, or whole batches only when dropping the last short one."""
        return n - n % per_batch if self.drop_last and n >= per_batch else n

    def _draw(self) -> tuple[Iterator[Batch], np.ndarray]:
        if self.sampler.n_triplets == 0:
            order = self._rng.permutation(len(self.data))[: self._kept(len(self.data), 3 * self.k)]
            return self._plain_batches(order), np.bincount(self.data.leaf_codes[order], minlength=self.n_leaves)
        triplets = self.sampler.sample()
        kept = self._kept(len(triplets[0]), self.k)
        triplets = tuple(t[:kept] for t in triplets)
        return self._triplet_batches(triplets), self.sampler.leaf_counts(triplets)

    def _triplet_batches(self, triplets: tuple[np.ndarray, ...]) -> Iterator[Batch]:
        # The index table lives with the clips; the triplets' positions in a batch where the batch goes.
        table = host_to_device(np.stack(triplets, axis=1), self.data.X.device)  # (m, 3), one copy per epoch
        full = _offline_triplets(self.k, self.data.device)
        for first in range(0, len(table), self.k):
            rows = table[first : first + self.k]
            index = rows.T.reshape(-1)  # anchors, then positives, then negatives
            batch_triplets = full if len(rows) == self.k else _offline_triplets(len(rows), self.data.device)
            X, codes = self.data.take(index)
            yield X, (codes, batch_triplets)

    def _plain_batches(self, order: np.ndarray) -> Iterator[Batch]:
        none = tuple(torch.empty(0, dtype=torch.long, device=self.data.device) for _ in range(3))
        for index in host_to_device(order, self.data.X.device).split(3 * self.k):
            X, codes = self.data.take(index)
            yield X, (codes, none)


class MinedBatches(_EpochBatches):
    """Training batches for online mining: clips of nearby leaves, with no triplets (the net mines them).

    Batches come from a :class:`~sklearn_hier.nn.HierarchicalBatchSampler`
    (``m_per_leaf`` clips of each of several sibling leaves) and hold about
    ``3 * triplets_per_batch`` clips, rounded to a multiple of ``m_per_leaf``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a", "b", "c"])
    >>> data = TensorData.from_arrays(np.zeros((24, 1), np.float32), np.repeat([0, 1, 2], 8), "cpu")
    >>> X, (codes, triplets) = next(iter(MinedBatches(data, tax, 4)))
    >>> X.shape, triplets is None
    (torch.Size([12, 1]), True)
    """

    def __init__(self, data: TensorData, taxonomy: Any, triplets_per_batch: int, m_per_leaf: int = 4) -> None:
        self.data = data
        batch_size = clips_per_batch("mined", triplets_per_batch, m_per_leaf)
        self.sampler = HierarchicalBatchSampler(
            taxonomy, data.leaf_codes, batch_size=batch_size, m_per_leaf=m_per_leaf, random_state=data.seed
        )
        self.n_leaves = taxonomy.n_leaves

    def __len__(self) -> int:
        return len(self.sampler)

    @property
    def clips_per_epoch(self) -> int:
        """Batches times their nominal size (a batch holds fewer clips when the leaves are few)."""
        return len(self.sampler) * self.sampler.batch_size

    def _draw(self) -> tuple[Iterator[Batch], np.ndarray]:
        batches = list(self.sampler)
        flat = np.concatenate(batches)
        return self._batches(flat, [len(b) for b in batches]), np.bincount(
            self.data.leaf_codes[flat], minlength=self.n_leaves
        )

    def _batches(self, flat: np.ndarray, sizes: list[int]) -> Iterator[Batch]:
        indices = host_to_device(flat, self.data.X.device)  # one copy per epoch
        for index in indices.split(sizes):
            X, codes = self.data.take(index)
            yield X, (codes, None)


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
            X, codes = self.data.take(slice(first, first + self.batch_size))
            yield X, (codes, None)

    def __len__(self) -> int:
        return -(-len(self.data) // self.batch_size)
