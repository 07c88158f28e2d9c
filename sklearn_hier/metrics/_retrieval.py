"""The chunked engine behind MNR, NDCG and precision@k.

Every clip is ranked against every other clip, one block of queries at a time,
so memory stays O(block x N) and no N x N matrix is ever built. Labels enter as
one leaf code per clip plus small leaf x leaf tables (LCA depth, gain,
relevance): what a query needs from its ranking is summed per leaf, and the
tables turn those per-leaf sums into scores.

Ranking a block costs one sort per query row. Each row is sorted as int64
words packing the similarity (high 32 bits, made order-preserving) with the
clip's leaf code (low 32 bits), so the sorted words still say which leaf sits
at each rank, and no index array is needed. On the CPU, numpy sorts the rows
in place (several times faster than ``torch.sort``) in a background thread,
while PyTorch prepares the next block and scores the previous one; on other
devices ``torch.sort`` sorts the same words. The sorting lives in
:mod:`~sklearn_hier.metrics._row_sorter`, the single-list ("global") NDCG in
:mod:`~sklearn_hier.metrics._global_ndcg`; block sizes and the sorter are
:class:`EngineSettings` passed to each call.

Ties
----
Clips whose similarity to the query is exactly equal (in float32) are tied. A
tie counts as the average over every order of the tied clips: each tied clip
gets the mean of the ranks the group occupies (MNR) and the mean of their
discounts (DCG, as :func:`sklearn.metrics.ndcg_score` does), and a group that
straddles the top-k cut-off adds, for each member, the fraction of the group
that fits above it (precision@k). Scores therefore never depend on the order
of the samples, and equal the expected score under a random tie-break.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sklearn_hier.metrics._row_sorter import RowSorter, SortJob
from sklearn_hier.nn.distances import pairwise_similarity
from sklearn_hier.taxonomy import Taxonomy, lca_depth

__all__ = [
    "DEFAULT_SETTINGS",
    "EngineSettings",
    "LeafTables",
    "RetrievalRequest",
    "expected_topk_sum",
    "leaf_tables",
    "ndcg_gain",
    "ranked_scores",
]

_LOW32 = 0xFFFFFFFF


@dataclass(frozen=True)
class EngineSettings:
    """Tunables of the engine, passed to each call (never module globals).

    Attributes
    ----------
    block_pairs : int
        Query rows x clips per block: ~4M pairs keeps a block's buffers near 200 MB.
    global_batch_pairs : int
        Pairs gathered at once by the "global" NDCG before it sorts them.
    cpu_sort : {"numpy", "torch"}
        How CPU rows are sorted: numpy in place on background threads, or
        ``torch.sort`` as on other devices.
    n_sorters : int or None
        Background sorting threads on the CPU; None is half of PyTorch's
        thread count (none with a single thread).
    """

    block_pairs: int = 2**22
    global_batch_pairs: int = 2**23
    cpu_sort: str = "numpy"
    n_sorters: int | None = None


DEFAULT_SETTINGS = EngineSettings()


@dataclass(frozen=True)
class LeafTables:
    """What the engine knows about the labels of N clips with L distinct leaves.

    Attributes
    ----------
    leaf : Tensor of shape (N,)
        Leaf code of each clip.
    counts : Tensor of shape (L,)
        Clips per leaf.
    lca : Tensor of shape (L, L)
        Depth of the lowest common ancestor of two leaves.
    leaf_depth : Tensor of shape (L,)
        Depth of each leaf.
    depth : int
        Depth of the tree the labels form.
    """

    leaf: torch.Tensor
    counts: torch.Tensor
    lca: torch.Tensor
    leaf_depth: torch.Tensor
    depth: int


@dataclass(frozen=True)
class RetrievalRequest:
    """Which scores one pass computes; a field left at its default is not computed.

    Attributes
    ----------
    mnr_levels : tuple of int
        Depths averaged by the mean normalised rank.
    gain : Tensor of shape (L, L) or None
        NDCG gain of a clip of leaf ``b`` for a query of leaf ``a``.
    ndcg_k : int or None
        NDCG cut-off.
    relevant : Tensor of shape (L, L) or None
        Precision@k relevance of leaf ``b`` to a query of leaf ``a``.
    precision_k : int
        Precision cut-off.
    adaptive : bool
        Use ``min(k, number of relevant clips)`` as the cut-off and skip queries
        with no relevant clip.
    """

    mnr_levels: tuple[int, ...] = ()
    gain: torch.Tensor | None = None
    ndcg_k: int | None = None
    relevant: torch.Tensor | None = None
    precision_k: int = 5
    adaptive: bool = False

    @property
    def needs_ranking(self) -> bool:
        return bool(self.mnr_levels) or self.gain is not None


def leaf_tables(taxonomy: Taxonomy, y: object, device: torch.device) -> LeafTables:
    """Leaf codes of ``y`` and the LCA table of the leaves of ``taxonomy``.

    Examples
    --------
    >>> import torch
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b"])
    >>> t = leaf_tables(tax, ["b", "a/x", "a/x"], torch.device("cpu"))
    >>> t.leaf.tolist(), t.counts.tolist(), t.lca[0].tolist()
    ([2, 0, 0], [2, 0, 1], [2, 1, 0])
    """
    leaf = torch.as_tensor(taxonomy.encode(y), device=device)
    codes = taxonomy.leaf_level_codes()
    return LeafTables(
        leaf=leaf,
        counts=torch.bincount(leaf, minlength=taxonomy.n_leaves),
        lca=torch.as_tensor(lca_depth(codes, codes), device=device),
        leaf_depth=torch.as_tensor((codes >= 0).sum(axis=1), device=device),
        depth=taxonomy.depth,
    )


def ndcg_gain(tables: LeafTables, relevance: str) -> torch.Tensor:
    """(L, L) float64 gains of the three relevance definitions.

    ``"lca_depth"``: depth(LCA) / depth of the tree. ``"max"``: 1 - max(up, down)
    / height. ``"sum"``: 1 - (up + down) / diameter, where up and down count the
    edges from each leaf to the LCA and the diameter is the longest leaf-to-leaf
    path of the tree (a one-leaf tree gives every pair the gain 1).

    Examples
    --------
    >>> import torch
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b"])
    >>> t = leaf_tables(tax, tax.leaves, torch.device("cpu"))
    >>> [round(g, 3) for g in ndcg_gain(t, "sum")[0].tolist()]
    [1.0, 0.333, 0.0]
    """
    lca = tables.lca.to(torch.float64)
    up = tables.leaf_depth[:, None] - lca
    down = tables.leaf_depth[None, :] - lca
    if relevance == "lca_depth":
        return lca / tables.depth
    if relevance == "max":
        return 1.0 - torch.maximum(up, down) / tables.depth
    distance = up + down
    diameter = float(distance.max())
    return 1.0 - distance / diameter if diameter > 0 else torch.ones_like(distance)


def ranked_scores(
    embeddings: torch.Tensor,
    tables: LeafTables,
    request: RetrievalRequest,
    metric: str,
    settings: EngineSettings = DEFAULT_SETTINGS,
) -> dict[str, torch.Tensor]:
    """Per-query scores of one pass over the ranking of every clip.

    Returns
    -------
    scores : dict of str to Tensor of shape (N,), float64
        ``"mnr"``, ``"ndcg"`` and ``"precision"`` as requested; NaN marks a
        query that the score skips (no partner at any level for MNR, no
        relevant clip for adaptive precision).
    """
    n = len(embeddings)
    device = embeddings.device
    names = [name for name, on in _requested(request).items() if on]
    out = {name: torch.full((n,), math.nan, dtype=torch.float64, device=device) for name in names}
    prepared, kernel = prepared_embeddings(embeddings, metric)
    per_leaf = _PerLeaf.build(tables, request, n)
    if not request.needs_ranking:
        for rows in blocks(n, settings.block_pairs):
            sims = block_similarity(prepared, rows, kernel)
            out["precision"][rows] = _precision_topk(sims, tables.leaf[rows], tables, request, per_leaf)
        return out
    with RowSorter(device, settings.cpu_sort, settings.n_sorters) as sorter:
        pending: tuple[slice, SortJob] | None = None
        for rows in blocks(n, settings.block_pairs):
            keys = descending_keys(block_similarity(prepared, rows, kernel))
            job = sorter.submit(_pack(keys, tables.leaf))
            if pending is not None:
                _score_block(*pending, tables, request, per_leaf, out)
            pending = (rows, job)
        if pending is not None:
            _score_block(*pending, tables, request, per_leaf, out)
    return out


def _score_block(
    rows: slice,
    job: SortJob,
    tables: LeafTables,
    request: RetrievalRequest,
    per_leaf: _PerLeaf,
    out: dict[str, torch.Tensor],
) -> None:
    ranked = _rank_block(job.result(), tables, per_leaf.cumdisc, bool(request.mnr_levels), request.gain is not None)
    query_leaf = tables.leaf[rows]
    if request.mnr_levels:
        out["mnr"][rows] = _mnr(ranked, query_leaf, tables, per_leaf)
    if request.gain is not None:
        out["ndcg"][rows] = _ndcg(ranked, query_leaf, request.gain, per_leaf)
    if request.relevant is not None:
        out["precision"][rows] = _precision_ranked(ranked, query_leaf, request, per_leaf)


# ---------------------------------------------------------------- similarity
def _requested(request: RetrievalRequest) -> dict[str, bool]:
    return {
        "mnr": bool(request.mnr_levels),
        "ndcg": request.gain is not None,
        "precision": request.relevant is not None,
    }


def prepared_embeddings(embeddings: torch.Tensor, metric: str) -> tuple[torch.Tensor, str]:
    if metric == "cosine":
        # pairwise_similarity's cosine is F.normalize(a) @ F.normalize(b).T; normalising
        # once instead of once per block saves an N x d pass per block.
        return F.normalize(embeddings, dim=1), "dot"
    # |a . b| <= |a| |b| and |a - b| <= 2 max |a|: checking the norms once rules out
    # overflow in every block.
    if (2.0 * float(embeddings.norm(dim=1).max())) ** 2 >= torch.finfo(torch.float32).max:
        raise ValueError(f"Embedding norms are too large for float32 {metric!r} similarities; rescale them.")
    return embeddings, metric


def blocks(n: int, block_pairs: int) -> list[slice]:
    """Consecutive query rows of about ``block_pairs`` (query, clip) pairs each."""
    size = max(1, min(n, block_pairs // n))
    return [slice(start, min(n, start + size)) for start in range(0, n, size)]


def block_similarity(prepared: torch.Tensor, rows: slice, kernel: str) -> torch.Tensor:
    sims = pairwise_similarity(prepared[rows], prepared, kernel).to(torch.float32)
    index = torch.arange(rows.start, rows.stop, device=sims.device)
    # The query itself gets -inf: it sorts last and ties with nothing.
    sims[index - rows.start, index] = -math.inf
    return sims


def descending_keys(sims: torch.Tensor) -> torch.Tensor:
    """int32 keys, in place of ``sims``, whose ascending order is the descending order of ``sims``."""
    sims.add_(0.0)  # -0.0 becomes 0.0, so that equal similarities share one key
    bits = sims.view(torch.int32)
    # Flipping the 31 low bits of negative floats makes signed integer order follow float order.
    bits.bitwise_xor_(torch.bitwise_right_shift(bits, 31).bitwise_and_(0x7FFFFFFF))
    return bits.bitwise_not_()


def _cumulative_discount(m: int, k: int | None, device: torch.device) -> torch.Tensor:
    """(m + 1,) prefix sums of the DCG discount 1 / log2(rank + 2), zero from rank k on."""
    discount = 1.0 / torch.log2(torch.arange(m, dtype=torch.float64, device=device) + 2.0)
    if k is not None:
        discount[k:] = 0.0
    return torch.cat([discount.new_zeros(1), discount.cumsum(0)])


# ------------------------------------------------------------------- sorting
def _pack(keys: torch.Tensor, leaf: torch.Tensor) -> torch.Tensor:
    """int64 words ``key * 2**32 + leaf``: sorting them sorts by key and carries the leaf along."""
    if sys.byteorder == "little":
        # An int64 is its two int32 halves, low half first, so stacking (leaf, key) writes the words in one pass.
        low = leaf.to(torch.int32).expand_as(keys)
        return torch.stack((low, keys), dim=-1).view(torch.int64).squeeze(-1)
    return keys.to(torch.int64).bitwise_left_shift_(32).bitwise_or_(leaf)


def _high_halves(words: torch.Tensor) -> torch.Tensor:
    if sys.byteorder == "little":
        return words.view(torch.int32)[..., 1::2]
    return torch.bitwise_right_shift(words, 32)


def _low_halves(words: torch.Tensor) -> torch.Tensor:
    """The leaf codes of packed words, as int64 (what scatter indices must be)."""
    if sys.byteorder == "little":
        return words.view(torch.int32)[..., ::2].to(torch.int64)
    return words.bitwise_and(_LOW32)


# ------------------------------------------------------------------- ranking
@dataclass(frozen=True)
class _PerLeaf:
    """What a query's scores need that depends on its leaf only, computed once per pass.

    ``partners`` (L, n_levels): other clips sharing the node at each MNR level;
    ``ideal`` (L,): ideal DCG; ``n_relevant`` (L,): relevant clips for precision.
    """

    cumdisc: torch.Tensor
    levels: torch.Tensor
    partners: torch.Tensor | None
    ideal: torch.Tensor | None
    n_relevant: torch.Tensor | None
    n_others: int

    @classmethod
    def build(cls, tables: LeafTables, request: RetrievalRequest, n: int) -> _PerLeaf:
        device = tables.lca.device
        cumdisc = _cumulative_discount(n - 1, request.ndcg_k, device)
        levels = torch.as_tensor(request.mnr_levels, dtype=torch.int64, device=device)
        others = tables.counts[None, :] - torch.eye(len(tables.counts), dtype=torch.int64, device=device)
        partners = ideal = n_relevant = None
        if request.mnr_levels:
            counts = tables.counts.to(torch.float64)
            sharing = torch.stack([(tables.lca >= level).to(torch.float64) @ counts for level in levels.tolist()], 1)
            # A query is its own partner at every level its path reaches: take it out.
            partners = sharing - (tables.leaf_depth[:, None] >= levels[None, :]).to(torch.float64)
        if request.gain is not None:
            # The ideal ranking lists the leaves by decreasing gain, each leaf's clips together.
            order = request.gain.argsort(dim=1, descending=True)
            count = others.gather(1, order)
            end = count.cumsum(dim=1)
            ideal = (request.gain.gather(1, order) * (cumdisc[end] - cumdisc[end - count])).sum(dim=1)
        if request.relevant is not None:
            n_relevant = (request.relevant * others).sum(dim=1)
        return cls(cumdisc, levels, partners, ideal, n_relevant, n - 1)


@dataclass(frozen=True)
class _TieGroups:
    """Runs of tied positions: row, first position and one past the last, and their members."""

    row: torch.Tensor
    first: torch.Tensor
    end: torch.Tensor
    member_group: torch.Tensor
    member_position: torch.Tensor


@dataclass(frozen=True)
class _RankedBlock:
    """One block of rankings, the query itself dropped (M = N - 1 positions).

    ``rank_sum`` and ``discount_sum`` are (c, L): summed over the clips of each
    leaf, the tie-averaged 0-based rank and discount (zeros when not asked
    for). ``ties`` is ``None`` when the block has no tie.
    """

    leaf: torch.Tensor
    rank_sum: torch.Tensor
    discount_sum: torch.Tensor
    ties: _TieGroups | None


def _rank_block(
    words: torch.Tensor, tables: LeafTables, cumdisc: torch.Tensor, ranks: bool, discounts: bool
) -> _RankedBlock:
    words = words[:, :-1]  # the query itself sorted last
    c, m = words.shape
    leaf = _low_halves(words)
    high = _high_halves(words)
    ties = _tie_groups(high[:, 1:] == high[:, :-1])
    zeros = torch.zeros(c, len(tables.counts), dtype=torch.float64, device=words.device)
    rank_sum = discount_sum = zeros
    if ranks:
        position = torch.arange(m, dtype=torch.float64, device=words.device)
        rank_sum = zeros.scatter_add(1, leaf, position.expand(c, m))
    if discounts:
        discount = cumdisc[1:] - cumdisc[:-1]
        discount_sum = zeros.scatter_add(1, leaf, discount.expand(c, m))
    if ties is not None:
        # Tied positions are few: correct their rank and discount to the group means.
        group, where = ties.member_group, ties.member_position
        first, end = ties.first[group], ties.end[group]
        row = ties.row[group]
        index = (row, leaf[row, where])
        if ranks:
            rank_sum.index_put_(index, (first + end - 1).to(torch.float64) / 2.0 - where, accumulate=True)
        if discounts:
            mean_discount = (cumdisc[end] - cumdisc[first]) / (end - first)
            discount_sum.index_put_(index, mean_discount - (cumdisc[where + 1] - cumdisc[where]), accumulate=True)
    return _RankedBlock(leaf=leaf, rank_sum=rank_sum, discount_sum=discount_sum, ties=ties)


def _tie_groups(tied: torch.Tensor) -> _TieGroups | None:
    """Runs of ties from ``tied[:, p]``: position ``p + 1`` ties with position ``p``."""
    pairs = torch.nonzero(tied)
    if len(pairs) == 0:
        return None
    m = tied.shape[1] + 1
    # Row stride m (not m - 1) keeps the last pair of a row from touching the next row's first.
    flat = pairs[:, 0] * m + pairs[:, 1]
    starts = torch.ones_like(flat, dtype=torch.bool)
    starts[1:] = flat[1:] != flat[:-1] + 1
    stops = torch.ones_like(starts)
    stops[:-1] = starts[1:]
    first, last = flat[starts], flat[stops]
    size = last - first + 2
    group = torch.repeat_interleave(torch.arange(len(first), device=flat.device), size)
    offset = torch.arange(len(group), device=flat.device) - torch.repeat_interleave(size.cumsum(0) - size, size)
    return _TieGroups(
        row=first // m,
        first=first % m,
        end=first % m + size,
        member_group=group,
        member_position=(first % m)[group] + offset,
    )


def tie_bounds(tied: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """First position and one past the last of each position's tie group (dense).

    ``tied[:, p]`` says position ``p + 1`` ties with position ``p``.
    """
    c, m = tied.shape[0], tied.shape[1] + 1
    position = torch.arange(m, device=tied.device).expand(c, m)
    starts = torch.ones(c, m, dtype=torch.bool, device=tied.device)
    starts[:, 1:] = ~tied
    first = torch.where(starts, position, 0).cummax(dim=1).values
    stops = torch.ones(c, m, dtype=torch.bool, device=tied.device)
    stops[:, :-1] = ~tied
    last = torch.where(stops, position, m).flip(1).cummin(dim=1).values.flip(1)
    return first, last + 1


# -------------------------------------------------------------------- scores
def _mnr(ranked: _RankedBlock, query_leaf: torch.Tensor, tables: LeafTables, per_leaf: _PerLeaf) -> torch.Tensor:
    partner = (tables.lca[query_leaf][None] >= per_leaf.levels[:, None, None]).to(torch.float64)
    rank = (partner * ranked.rank_sum[None]).sum(dim=2).T
    count = per_leaf.partners[query_leaf]
    has = count > 0
    level_score = torch.where(has, rank / count.clamp(min=1) / per_leaf.n_others, 0.0)
    used = has.sum(dim=1)
    return torch.where(used > 0, level_score.sum(dim=1) / used.clamp(min=1), math.nan)


def _ndcg(ranked: _RankedBlock, query_leaf: torch.Tensor, gain: torch.Tensor, per_leaf: _PerLeaf) -> torch.Tensor:
    dcg = (ranked.discount_sum * gain[query_leaf]).sum(dim=1)
    ideal = per_leaf.ideal[query_leaf]
    # A query with no relevant clip scores 0, as in sklearn.metrics.ndcg_score.
    return torch.where(ideal > 0, dcg / torch.where(ideal > 0, ideal, 1.0), 0.0)


def _cutoffs(query_leaf: torch.Tensor, request: RetrievalRequest, per_leaf: _PerLeaf) -> torch.Tensor:
    """(c,) precision cut-off of each query (0: skipped)."""
    n_relevant = per_leaf.n_relevant[query_leaf]
    k = torch.full_like(n_relevant, request.precision_k)
    return torch.minimum(n_relevant, k) if request.adaptive else k


def _precision_ranked(
    ranked: _RankedBlock, query_leaf: torch.Tensor, request: RetrievalRequest, per_leaf: _PerLeaf
) -> torch.Tensor:
    relevant, k = request.relevant[query_leaf], _cutoffs(query_leaf, request, per_leaf)
    top = min(request.precision_k, ranked.leaf.shape[1])
    hit = relevant.gather(1, ranked.leaf[:, :top])
    hits = (hit & (torch.arange(top, device=k.device) < k[:, None])).sum(dim=1).to(torch.float64)
    ties = ranked.ties
    if ties is not None:
        # A tied group straddling the cut-off: each member counts with the share of the group that fits.
        group, where = ties.member_group, ties.member_position
        row, first = ties.row[group], ties.first[group]
        size = (ties.end - ties.first)[group]
        fits = (k[row] - first).clamp(min=0).minimum(size) / size.to(torch.float64)
        counted = (where < k[row]).to(torch.float64)
        hits.index_add_(0, row, relevant[row, ranked.leaf[row, where]] * (fits - counted))
    return torch.where(k > 0, hits / k.clamp(min=1), math.nan)


def _precision_topk(
    sims: torch.Tensor, query_leaf: torch.Tensor, tables: LeafTables, request: RetrievalRequest, per_leaf: _PerLeaf
) -> torch.Tensor:
    """Precision@k without a full sort: the k-th similarity is the cut-off."""
    k = _cutoffs(query_leaf, request, per_leaf)
    hit = request.relevant[query_leaf].index_select(1, tables.leaf)
    # The query itself (-inf) never reaches the cut-off of the N - 1 others.
    hits = expected_topk_sum(sims, hit, k.clamp(min=1, max=sims.shape[1] - 1))
    return torch.where(k > 0, hits / k.clamp(min=1), math.nan)


def expected_topk_sum(scores: torch.Tensor, gains: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Sum of ``gains`` over the ``k`` highest ``scores`` of each row, ties averaged.

    A group of tied scores straddling the cut-off adds its mean gain once per
    rank it has inside the top k: the expected sum under a random tie-break.

    Parameters
    ----------
    scores, gains : Tensor of shape (c, m)
    k : Tensor of shape (c,), values in [1, m]

    Examples
    --------
    >>> import torch
    >>> scores = torch.tensor([[3.0, 2.0, 2.0, 1.0]])
    >>> expected_topk_sum(scores, torch.tensor([[0.0, 1.0, 0.0, 1.0]]), torch.tensor([2]))
    tensor([0.5000], dtype=torch.float64)
    """
    cutoff = scores.topk(int(k.max()), dim=1).values.gather(1, k[:, None] - 1)
    above, tied = scores > cutoff, scores == cutoff
    # bool gains times a bool mask stay bool (an "and"), so no wider copy is made
    inside = (gains * above).sum(dim=1, dtype=torch.float64)
    boundary = (gains * tied).sum(dim=1, dtype=torch.float64)
    return inside + boundary * (k - above.sum(dim=1)) / tied.sum(dim=1)
