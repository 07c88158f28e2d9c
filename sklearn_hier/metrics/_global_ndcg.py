"""NDCG of one global list of every (query, clip) pair, as torchmetrics 1.4 computed it on 2-D input.

Labels enter through the engine's label pass (:func:`~sklearn_hier.metrics._retrieval.label_pass`):
one leaf per clip or label sets alike.
"""

from __future__ import annotations

import numpy as np
import torch

from sklearn_hier.metrics._retrieval import (
    DEFAULT_SETTINGS,
    EngineSettings,
    LeafPass,
    LeafTables,
    RetrievalRequest,
    SetGain,
    SetPass,
    SetTables,
    block_similarity,
    blocks,
    descending_keys,
    label_pass,
    prepared_embeddings,
    tie_bounds,
)

__all__ = ["global_ndcg"]


def global_ndcg(
    embeddings: torch.Tensor,
    tables: LeafTables | SetTables,
    gain: torch.Tensor | SetGain,
    k: int | None,
    metric: str,
    settings: EngineSettings = DEFAULT_SETTINGS,
) -> float:
    """NDCG of the single list of all N (N - 1) (query, clip) pairs.

    This is what ``torchmetrics`` 1.4 computed when given a 2-D input (it
    flattens it). Pairs are gathered in batches of similarity ranges, found
    from a histogram of the (order-preserving) similarity keys, so that memory
    stays bounded; each batch is sorted on its own and placed at its offset in
    the global ranking. A tie group never spans two batches (tied pairs share a
    key), so ties are averaged exactly.
    """
    n = len(embeddings)
    device = embeddings.device
    prepared, kernel = prepared_embeddings(embeddings, metric)
    n_pairs = n * (n - 1)
    limit = n_pairs if k is None else min(k, n_pairs)
    labels = label_pass(tables, RetrievalRequest(gain=gain), n)
    ideal = _global_ideal_dcg(*labels.gain_multiplicity(settings.block_pairs), limit)
    if ideal == 0:
        return 0.0
    if n_pairs <= settings.global_batch_pairs:
        batches = [(0, 2**16 - 1, 0)]
    else:
        batches = _key_batches(_key_histogram(prepared, kernel, settings.block_pairs), settings.global_batch_pairs)
    dcg = 0.0
    for low_bin, high_bin, offset in batches:
        if offset >= limit:
            break
        keys, gains = _gather_pairs(prepared, kernel, labels, (low_bin, high_bin), settings.block_pairs)
        dcg += _batch_dcg(keys, gains, offset, limit, device)
    return dcg / ideal


def _global_ideal_dcg(values: torch.Tensor, multiplicity: torch.Tensor, limit: int) -> float:
    """DCG of the pairs sorted by decreasing gain, from the distinct gains (ascending) and their numbers of pairs."""
    values, multiplicity = values.flip(0), multiplicity.flip(0).to(torch.int64)
    bounds = torch.cat([multiplicity.new_zeros(1), multiplicity.cumsum(0)]).numpy()
    prefix = _discount_prefix(bounds, limit)
    return float((values.numpy() * np.diff(prefix)).sum())


def _discount_prefix(points: np.ndarray, limit: int) -> np.ndarray:
    """Sum of 1 / log2(rank + 2) over ranks below each point (ranks from ``limit`` on count 0)."""
    capped = np.minimum(points, limit)
    out = np.empty(len(points), dtype=np.float64)
    done, total = 0, 0.0
    for i in np.argsort(capped, kind="stable"):
        while done < capped[i]:
            stop = min(int(capped[i]), done + 2**22)
            total += float((1.0 / np.log2(np.arange(done, stop, dtype=np.float64) + 2.0)).sum())
            done = stop
        out[i] = total
    return out


def _pair_keys(prepared: torch.Tensor, rows: slice, kernel: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Descending keys of a block's pairs and the mask of the pairs that are not (q, q)."""
    keys = descending_keys(block_similarity(prepared, rows, kernel))
    mask = torch.ones_like(keys, dtype=torch.bool)
    index = torch.arange(rows.start, rows.stop, device=keys.device)
    mask[index - rows.start, index] = False
    return keys, mask


def _key_bins(keys: torch.Tensor) -> torch.Tensor:
    return torch.bitwise_right_shift(keys, 16).to(torch.int64) + 2**15


def _key_histogram(prepared: torch.Tensor, kernel: str, block_pairs: int) -> torch.Tensor:
    hist = torch.zeros(2**16, dtype=torch.int64, device=prepared.device)
    for rows in blocks(len(prepared), block_pairs):
        keys, mask = _pair_keys(prepared, rows, kernel)
        hist += torch.bincount(_key_bins(keys[mask]), minlength=2**16)
    return hist


def _key_batches(hist: torch.Tensor, budget: int) -> list[tuple[int, int, int]]:
    """(first bin, last bin, pairs before the first bin) of consecutive bins holding about ``budget`` pairs."""
    before = (hist.cumsum(0) - hist).cpu()
    group = torch.div(before, budget, rounding_mode="floor")
    batches = []
    for g in torch.unique(group[hist.cpu() > 0]).tolist():
        bins = torch.nonzero((group == g) & (hist.cpu() > 0)).flatten()
        low, high = int(bins[0]), int(bins[-1])
        batches.append((low, high, int(before[low])))
    return batches


def _gather_pairs(
    prepared: torch.Tensor,
    kernel: str,
    labels: LeafPass | SetPass,
    bins_range: tuple[int, int],
    block_pairs: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    low_bin, high_bin = bins_range
    keys_out, gains_out = [], []
    for rows in blocks(len(prepared), block_pairs):
        keys, mask = _pair_keys(prepared, rows, kernel)
        bins = _key_bins(keys)
        mask &= (bins >= low_bin) & (bins <= high_bin)
        pair_gain = labels.pair_gains(rows)
        keys_out.append(keys[mask])
        gains_out.append(pair_gain[mask])
    return torch.cat(keys_out), torch.cat(gains_out)


def _batch_dcg(keys: torch.Tensor, gains: torch.Tensor, offset: int, limit: int, device: torch.device) -> float:
    keys, order = keys.sort()
    gains = gains[order]
    rank = offset + torch.arange(len(keys), dtype=torch.float64, device=device)
    discount = torch.where(rank < limit, 1.0 / torch.log2(rank + 2.0), 0.0)
    cumdisc = torch.cat([discount.new_zeros(1), discount.cumsum(0)])
    first, end = tie_bounds((keys[1:] == keys[:-1])[None, :])
    mean_discount = (cumdisc[end[0]] - cumdisc[first[0]]) / (end[0] - first[0])
    return float((gains * mean_discount).sum())
