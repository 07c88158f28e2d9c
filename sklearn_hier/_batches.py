"""The batches the net trains and infers on, handed to skorch as its ``iterator_train`` and ``iterator_valid``.

Data flows one way: a batch is ``(X_batch, (leaf_codes_batch, triplets))``
where ``triplets`` is a tuple of three index tensors into the batch (offline
sampling) or ``None`` (online mining, where the net's miner picks them, and
validation). Nothing here writes into the loss or the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from sklearn_hier._data import TensorData, host_to_device
from sklearn_hier.nn import HierarchicalBatchSampler, TreeTripletSampler

__all__ = [
    "EpochView",
    "MinedBatches",
    "SequentialBatches",
    "ShuffledBatches",
    "TripletBatches",
    "clips_per_batch",
    "epoch_batches",
    "sequential_batches",
]

Batch = tuple[torch.Tensor, tuple[torch.Tensor, Any]]


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
        return _to_mine(self.data, flat, [len(b) for b in batches]), np.bincount(
            self.data.leaf_codes[flat], minlength=self.n_leaves
        )


class ShuffledBatches(_EpochBatches):
    """Training batches on label sets: every clip once per pass, shuffled, with no triplets (the net mines them).

    Label sets have no leaf to group clips by (most sets of polyphonic clips
    are unique), and a random batch of them already holds pairs that share
    more or less of the hierarchy, which is what the miner needs.

    Parameters
    ----------
    data : TensorData
        Clips with label-set codes.
    n_codes : int
        Number of distinct label sets (the length of the counts).
    batch_size : int

    Examples
    --------
    >>> import numpy as np
    >>> data = TensorData.from_arrays(np.zeros((10, 1), np.float32), np.array([0, 1] * 5), "cpu")
    >>> [len(X) for X, (codes, triplets) in ShuffledBatches(data, 2, batch_size=4)]
    [4, 4, 2]
    """

    def __init__(self, data: TensorData, n_codes: int, batch_size: int) -> None:
        self.data = data
        self.n_leaves = n_codes
        self.batch_size = batch_size
        self._rng = np.random.default_rng(data.seed)

    def __len__(self) -> int:
        return -(-len(self.data) // self.batch_size)

    @property
    def clips_per_epoch(self) -> int:
        """Every clip once."""
        return len(self.data)

    def _draw(self) -> tuple[Iterator[Batch], np.ndarray]:
        order = self._rng.permutation(len(self.data))
        counts = np.bincount(self.data.leaf_codes[order], minlength=self.n_leaves)
        return _to_mine(self.data, order, self.batch_size), counts


def _to_mine(data: TensorData, flat: np.ndarray, sizes: int | list[int]) -> Iterator[Batch]:
    """Batches of the clips ``flat`` in runs of ``sizes`` (one size: the last run shorter), with no triplets.

    The net's miner picks the triplets.
    """
    indices = host_to_device(flat, data.X.device)  # one copy per epoch
    for index in indices.split(sizes):
        X, codes = data.take(index)
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


def epoch_batches(dataset: Any, **kwargs: Any) -> Any:
    """skorch's ``iterator_train``: an :class:`EpochView`'s batches, a ``DataLoader`` for any other dataset.

    skorch calls it once per epoch with its ``iterator_train__*`` options;
    the batch size of an epoch view is its own (:func:`clips_per_batch`).
    """
    if isinstance(dataset, EpochView):
        return dataset.batches
    return DataLoader(dataset, **kwargs)


def sequential_batches(dataset: Any, batch_size: int, **kwargs: Any) -> Any:
    """skorch's ``iterator_valid``: :class:`SequentialBatches` of clips, a ``DataLoader`` for any other dataset."""
    if isinstance(dataset, TensorData):
        return SequentialBatches(dataset, batch_size)
    return DataLoader(dataset, batch_size=batch_size, **kwargs)
