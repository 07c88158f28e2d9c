"""The training data as tensors: clips placed on the device once, the validation split, uploads.

The training and validation clips are put on the device once, as tensors
(or kept in page-locked host memory and uploaded per batch, for data that do
not fit); each batch is then gathered from them by an index tensor, so an
epoch runs no per-clip Python and copies nothing from the host but index
arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_random_state
from torch.utils.data import Dataset

from sklearn_hier._tensor_input import has_negative_strides

__all__ = ["LeafSplit", "TensorData", "home_device", "host_to_device", "leaf_stratified_split", "to_device_tensor"]


def home_device(X: np.ndarray | torch.Tensor) -> Any:
    """Where the training clips start from: a tensor's own device, the host for an array.

    Examples
    --------
    >>> home_device(np.zeros(2)), home_device(torch.zeros(2))
    ('cpu', device(type='cpu'))
    """
    return X.device if isinstance(X, torch.Tensor) else "cpu"


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
    strata : ndarray of int, optional
        The stratum of each code, when the codes are not what to stratify on
        (label sets: each set's rarest class,
        :func:`~sklearn_hier._validation.rarest_label_strata`).

    Examples
    --------
    >>> import numpy as np
    >>> data = TensorData.from_arrays(np.zeros((10, 1), np.float32), np.repeat([0, 1], 5), "cpu")
    >>> train, valid = LeafSplit(0.2, random_state=0)(data)
    >>> len(train), len(valid)
    (8, 2)
    """

    def __init__(self, valid_size: float, random_state: int, strata: np.ndarray | None = None) -> None:
        self.valid_size = valid_size
        self.random_state = random_state
        self.strata = strata

    def indices(self, leaf_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The training and validation indices of clips with these leaf codes."""
        groups = leaf_codes if self.strata is None else self.strata[leaf_codes]
        return leaf_stratified_split(groups, self.valid_size, self.random_state)

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
