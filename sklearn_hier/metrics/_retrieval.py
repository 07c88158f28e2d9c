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

Label sets
----------
Clips may instead carry label sets (:class:`SetTables`): several labels each,
labels on inner nodes, closures taken in a DAG. A set's closure is its labels
and all their ancestors, the root excluded. Clips whose sets have one closure
are interchangeable, but with several labels a clip nearly always has a
closure of its own, so no table indexed by closure pairs (U x U) is built.
Instead each (query, clip) pair is coded by what the scores need of it, the
*pair key*: the size of the closures' overlap, the clip's closure size and
the number of most specific labels they share. Keys are few (a few hundred),
so they take the place of the leaf codes in the low 32 bits, and the
per-leaf sums become per-key sums, turned into scores by small per-query
lookups (:class:`SetPass`). A block's keys come from one
:func:`torch.nn.functional.embedding_bag` over a node x clip membership
matrix (node x closure when clips share closures): memory O(block x N +
nodes x N), and no U x U table is ever built.

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
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sklearn_hier.metrics._row_sorter import RowSorter, SortJob
from sklearn_hier.nn.distances import pairwise_similarity
from sklearn_hier.taxonomy import Taxonomy, lca_depth

__all__ = [
    "DEFAULT_SETTINGS",
    "BlockLabels",
    "EngineSettings",
    "LeafPass",
    "LeafTables",
    "RetrievalRequest",
    "SetGain",
    "SetPass",
    "SetRelevance",
    "SetTables",
    "expected_topk_sum",
    "label_pass",
    "leaf_tables",
    "ndcg_gain",
    "ranked_scores",
    "set_tables",
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
class SetTables:
    """What the engine knows about the label sets of N clips: U distinct closures over V nodes.

    A set's closure is its labels and every node above them (on any path, in a
    DAG), the root excluded. With one leaf per clip in a tree, a closure is the
    leaf's path, its size the leaf's depth, and the size of the overlap of two
    closures the depth of the leaves' lowest common ancestor.

    Attributes
    ----------
    code : Tensor of shape (N,)
        Closure code of each clip.
    closure : Tensor of shape (U, V), bool
        The nodes of each closure.
    specific : Tensor of shape (U, V), bool
        The most specific labels of each closure: its labels that are no
        ancestor of another of its labels (a leaf, for one leaf per clip).
    size : Tensor of shape (U,)
        Nodes per closure.
    depth : int
        The largest closure (the depth of the tree, for one leaf per clip).
    informative_levels : tuple of int
        Node depths held by more than one node, a node's depth being the size
        of its own closure (its depth, in a tree).
    """

    code: torch.Tensor
    closure: torch.Tensor
    specific: torch.Tensor
    size: torch.Tensor
    depth: int
    informative_levels: tuple[int, ...]


@dataclass(frozen=True)
class SetGain:
    """NDCG gains of label sets, made per block of queries (a U x U table would be O(N^2)).

    The gains of :func:`ndcg_gain` with the overlap of two closures in place of
    depth(LCA): up and down are what each closure has beyond the overlap.

    Attributes
    ----------
    relevance : {"lca_depth", "max", "sum"}
        Which gain.
    scale : float
        What the gain divides by: the largest closure (``"lca_depth"``,
        ``"max"``), or the largest symmetric difference of two closures
        (``"sum"``; 0 gives every pair the gain 1).
    """

    relevance: str
    scale: float

    def rows(self, query_size: torch.Tensor, overlap: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
        """(c, K) float64 gains: pairs of ``overlap`` and clip closure ``size`` (K,), queries of ``query_size`` (c,).

        Examples
        --------
        >>> import torch
        >>> gain = SetGain("sum", 4.0)
        >>> gain.rows(torch.tensor([2]), torch.tensor([2, 1, 0]), torch.tensor([2, 2, 2])).tolist()
        [[1.0, 0.5, 0.0]]
        """
        lca = overlap.to(torch.float64)[None, :]
        up = query_size[:, None] - lca
        down = size[None, :] - lca
        # The operations of ndcg_gain, in its order, so that one leaf per clip gives its very numbers.
        if self.relevance == "lca_depth":
            return (lca / self.scale).expand_as(up)
        if self.relevance == "max":
            return 1.0 - torch.maximum(up, down) / self.scale
        distance = up + down
        return 1.0 - distance / self.scale if self.scale > 0 else torch.ones_like(distance)


@dataclass(frozen=True)
class SetRelevance:
    """Precision@k relevance of label sets.

    ``level=-1``: the two clips share one of their most specific labels (one
    leaf per clip: the same leaf). A depth ``d``: their closures share at
    least ``d`` nodes (one leaf per clip: the same node at depth ``d``).
    """

    level: int

    def of(self, overlap: torch.Tensor, shared: torch.Tensor) -> torch.Tensor:
        """Relevance of pairs whose closures share ``overlap`` nodes and ``shared`` most specific labels."""
        return shared > 0 if self.level == -1 else overlap >= self.level


@dataclass(frozen=True)
class RetrievalRequest:
    """Which scores one pass computes; a field left at its default is not computed.

    Attributes
    ----------
    mnr_levels : tuple of int
        Depths averaged by the mean normalised rank.
    gain : Tensor of shape (L, L), SetGain or None
        NDCG gain of a clip of leaf ``b`` for a query of leaf ``a`` (label
        sets: a :class:`SetGain`).
    ndcg_k : int or None
        NDCG cut-off.
    relevant : Tensor of shape (L, L), SetRelevance or None
        Precision@k relevance of leaf ``b`` to a query of leaf ``a`` (label
        sets: a :class:`SetRelevance`).
    precision_k : int
        Precision cut-off.
    adaptive : bool
        Use ``min(k, number of relevant clips)`` as the cut-off and skip queries
        with no relevant clip.
    """

    mnr_levels: tuple[int, ...] = ()
    gain: torch.Tensor | SetGain | None = None
    ndcg_k: int | None = None
    relevant: torch.Tensor | SetRelevance | None = None
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


def set_tables(
    code: Sequence[int],
    closures: Sequence[Sequence[int]],
    specific: Sequence[Sequence[int]],
    node_depth: Sequence[int],
    device: torch.device,
) -> SetTables:
    """Tables of label sets given as node indices.

    Parameters
    ----------
    code : sequence of int, length N
        Closure code of each clip.
    closures, specific : sequence of sequence of int, length U
        Per closure code, its nodes and its most specific labels.
    node_depth : sequence of int, length V
        The size of each node's own closure.
    device : torch.device

    Examples
    --------
    >>> import torch
    >>> # nodes 0 "a", 1 "a/x", 2 "b"; clips {"a/x"}, {"a/x", "b"}, {"a/x"}
    >>> t = set_tables([0, 1, 0], [[0, 1], [0, 1, 2]], [[1], [1, 2]], [1, 2, 1], torch.device("cpu"))
    >>> t.size.tolist(), t.depth, t.informative_levels
    ([2, 3], 3, (1,))
    """
    closure = _multi_hot(closures, len(node_depth), device)
    size = closure.sum(dim=1)
    depths, nodes = torch.unique(torch.as_tensor(list(node_depth), dtype=torch.int64), return_counts=True)
    return SetTables(
        code=torch.as_tensor(list(code), dtype=torch.int64, device=device),
        closure=closure,
        specific=_multi_hot(specific, len(node_depth), device),
        size=size,
        depth=int(size.max()),
        informative_levels=tuple(int(d) for d, count in zip(depths, nodes, strict=True) if count > 1),
    )


def _multi_hot(members: Sequence[Sequence[int]], width: int, device: torch.device) -> torch.Tensor:
    rows = torch.repeat_interleave(torch.arange(len(members)), torch.tensor([len(m) for m in members]))
    hot = torch.zeros(len(members), width, dtype=torch.bool)
    hot[rows, torch.tensor([i for m in members for i in m], dtype=torch.int64)] = True
    return hot.to(device)


def ndcg_gain(tables: LeafTables | SetTables, relevance: str) -> torch.Tensor | SetGain:
    """(L, L) float64 gains of the three relevance definitions (a :class:`SetGain` for label sets).

    ``"lca_depth"``: depth(LCA) / depth of the tree. ``"max"``: 1 - max(up, down)
    / height. ``"sum"``: 1 - (up + down) / diameter, where up and down count the
    edges from each leaf to the LCA and the diameter is the longest leaf-to-leaf
    path of the tree (a one-leaf tree gives every pair the gain 1). For label
    sets, depth(LCA) is the overlap of the two closures, up and down what each
    closure has beyond it, the height the largest closure and the diameter the
    largest symmetric difference of two closures.

    Examples
    --------
    >>> import torch
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b"])
    >>> t = leaf_tables(tax, tax.leaves, torch.device("cpu"))
    >>> [round(g, 3) for g in ndcg_gain(t, "sum")[0].tolist()]
    [1.0, 0.333, 0.0]
    """
    if isinstance(tables, SetTables):
        return SetGain(relevance, float(set_diameter(tables) if relevance == "sum" else tables.depth))
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


def set_diameter(tables: SetTables, block_pairs: int = DEFAULT_SETTINGS.block_pairs) -> int:
    """The largest symmetric difference of two closures, a U x U maximum taken in blocks.

    Closures are visited largest first, and the search stops once no closure
    left can beat the best pair found: ``|C(a)| + |C(b)|`` bounds a pair, so
    when the largest closures have a disjoint partner one block suffices.

    Examples
    --------
    >>> import torch
    >>> # nodes 0 "a", 1 "a/x", 2 "b": {"a/x"} and {"b"} differ by 3 nodes
    >>> set_diameter(set_tables([0, 1], [[0, 1], [2]], [[1], [2]], [1, 2, 1], torch.device("cpu")))
    3
    """
    keys = _PairKeys(tables, overlap=True, size=False, shared=False, per_clip=False)
    size = tables.size
    order = size.argsort(descending=True)
    largest, best = int(size[order[0]]), 0
    for rows in blocks(len(order), block_pairs, keys.width):
        query = order[rows]
        if int(size[query[0]]) + largest <= best:
            break
        distance = size[query][:, None] + size[None, :] - 2 * keys.raw(query).to(torch.int64)
        best = max(best, int(distance.max()))
    return best


# ----------------------------------------------------------------- pair keys
class _PairKeys:
    """(query, clip) pairs of label sets coded as small integers, computed a block at a time.

    A pair's key is ``(shared * n_overlap + overlap) * n_size + size``:
    ``shared`` counts the most specific labels the two sets share,
    ``overlap`` the nodes their closures share, ``size`` indexes the clip's
    closure size among the distinct sizes; a part a request does not need is
    left out (its ``n_*`` is 1). The key is linear in indicator vectors, so one
    ``embedding_bag`` per block sums, for each query, the membership rows of
    its closure's nodes (weighted ``n_size``), of its specific labels
    (weighted ``n_overlap * n_size``) and a row of the clips' size indices.
    The sums are small integers, exact in float16 up to 2048 (float32 above).

    The membership matrix has a column per closure, or per clip (``per_clip``,
    the default when closures are more than half the clips): then a block's
    keys need no gather from closures to clips.
    """

    def __init__(
        self, tables: SetTables, *, overlap: bool, size: bool, shared: bool, per_clip: bool | None = None
    ) -> None:
        self.tables = tables
        self.sizes, size_index = torch.unique(tables.size, return_inverse=True)
        self.n_overlap = tables.depth + 1 if overlap else 1
        self.n_size = len(self.sizes) if size else 1
        self.n_shared = int(tables.specific.sum(dim=1).max()) + 1 if shared else 1
        self.width = self.n_shared * self.n_overlap * self.n_size
        if self.width > 2**24:
            raise ValueError(f"Label sets too large for the ranking engine: {self.width} pair keys (at most 2**24).")
        parts = [(tables.closure, self.n_size)] if overlap else []
        if shared:
            parts.append((tables.specific, self.n_overlap * self.n_size))
        dtype = torch.float16 if self.width <= 2048 else torch.float32
        self.weight, self.bags = _bag_weights(parts, size_index if size else None, dtype)
        self.per_clip = 2 * len(tables.size) > len(tables.code) if per_clip is None else per_clip
        if self.per_clip:
            self.weight = self.weight.index_select(1, tables.code)

    def raw(self, query: torch.Tensor) -> torch.Tensor:
        """(c, columns) keys, as exact floats, of queries of closure codes ``query``."""
        return F.embedding_bag(self.bags[query], self.weight, mode="sum")

    def of_clips(self, rows: slice) -> torch.Tensor:
        """(c, N) keys, as exact floats, of the clips ``rows`` against every clip."""
        keys = self.raw(self.tables.code[rows])
        return keys if self.per_clip else keys.index_select(1, self.tables.code)

    def parts(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(overlap, clip closure size, shared specific labels) of each key, each of shape (K,).

        A part the keys leave out reads 0 (the size: the smallest closure).
        """
        key = torch.arange(self.width, device=self.weight.device)
        overlap = torch.div(key, self.n_size, rounding_mode="floor") % self.n_overlap
        return (
            overlap,
            self.sizes[key % self.n_size],
            torch.div(key, self.n_size * self.n_overlap, rounding_mode="floor"),
        )


def _bag_weights(
    parts: list[tuple[torch.Tensor, int]], size_index: torch.Tensor | None, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (rows, U) weight and (U, members) bags of ``embedding_bag`` for weighted membership ``parts``.

    Each part is a (U, V) membership and its weight; ``size_index`` adds a row
    every bag holds. The last row is zeros: the bags' padding.
    """
    n_rows = sum(hot.shape[1] for hot, _ in parts) + (size_index is not None)
    weights, bags, offset = [], [], 0
    for hot, scale in parts:
        weights.append(hot.T.to(dtype) * scale)
        bags.append(_bag_indices(hot, offset, pad=n_rows))
        offset += hot.shape[1]
    n_columns, device = len(parts[0][0]) if parts else len(size_index), (parts[0][0] if parts else size_index).device
    if size_index is not None:
        weights.append(size_index[None, :].to(dtype))
        bags.append(torch.full((n_columns, 1), offset, dtype=torch.int64, device=device))
    weights.append(torch.zeros(1, n_columns, dtype=dtype, device=device))
    return torch.cat(weights), torch.cat(bags, dim=1)


def _bag_indices(hot: torch.Tensor, offset: int, pad: int) -> torch.Tensor:
    """(U, max members) indices ``offset + column`` of each row's True entries, padded with ``pad``."""
    row, column = hot.nonzero(as_tuple=True)
    count = hot.sum(dim=1)
    start = count.cumsum(0) - count
    bags = torch.full((len(hot), int(count.max())), pad, dtype=torch.int64, device=hot.device)
    bags[row, torch.arange(len(row), device=hot.device) - start[row]] = column + offset
    return bags


# --------------------------------------------------------------- label passes
@dataclass(frozen=True)
class BlockLabels:
    """What scoring a block of c queries needs from the labels, over the K codes of the low 32 bits.

    ``partner`` (levels, c or 1, K), float64: a code is a partner at each MNR
    level; ``partners`` (c, levels): how many other clips are. ``gain`` (c, K)
    and ``ideal`` (c,): NDCG gains and ideal DCG. ``relevant`` (c, K), bool,
    and ``n_relevant`` (c,): precision. A field the request does not need is
    None.
    """

    partner: torch.Tensor | None = None
    partners: torch.Tensor | None = None
    gain: torch.Tensor | None = None
    ideal: torch.Tensor | None = None
    relevant: torch.Tensor | None = None
    n_relevant: torch.Tensor | None = None


class LeafPass:
    """One pass with one leaf per clip: the low 32 bits carry leaf codes, and per-leaf constants are made once.

    Attributes
    ----------
    width : int
        Number of codes (leaves).
    cumdisc : Tensor
        Prefix sums of the DCG discount.
    n_others : int
        N - 1.
    """

    def __init__(self, tables: LeafTables, request: RetrievalRequest, n: int) -> None:
        self.tables, self.request = tables, request
        self.per_leaf = _PerLeaf.build(tables, request, n)
        self.width, self.cumdisc, self.n_others = len(tables.counts), self.per_leaf.cumdisc, n - 1

    def codes(self, rows: slice) -> torch.Tensor:
        """The leaf codes packed with the similarities of the queries ``rows``."""
        return self.tables.leaf

    def block(self, rows: slice, ranked: _RankedBlock) -> BlockLabels:
        """What scoring the queries ``rows`` needs: rows of the precomputed per-leaf tables."""
        query_leaf, request, per_leaf = self.tables.leaf[rows], self.request, self.per_leaf
        labels = {}
        if request.mnr_levels:
            partner = self.tables.lca[query_leaf][None] >= per_leaf.levels[:, None, None]
            labels.update(partner=partner.to(torch.float64), partners=per_leaf.partners[query_leaf])
        if request.gain is not None:
            labels.update(gain=request.gain[query_leaf], ideal=per_leaf.ideal[query_leaf])
        if request.relevant is not None:
            labels.update(relevant=request.relevant[query_leaf], n_relevant=per_leaf.n_relevant[query_leaf])
        return BlockLabels(**labels)

    def hits(self, rows: slice) -> tuple[torch.Tensor, torch.Tensor]:
        """(c, N) relevance of every clip to the queries ``rows``, and their numbers of relevant other clips."""
        query_leaf = self.tables.leaf[rows]
        return self.request.relevant[query_leaf].index_select(1, self.tables.leaf), self.per_leaf.n_relevant[query_leaf]

    def pair_gains(self, rows: slice) -> torch.Tensor:
        """(c, N) NDCG gain of every clip for the queries ``rows``."""
        return self.request.gain[self.tables.leaf[rows]].index_select(1, self.tables.leaf)

    def gain_multiplicity(self, block_pairs: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Distinct gains (ascending) and how many (query, clip) pairs have each, on the CPU."""
        counts = self.tables.counts.to(torch.float64).cpu()
        pairs = torch.outer(counts, counts) - torch.diag(counts)  # a clip is never paired with itself
        values, inverse = torch.unique(self.request.gain.cpu().flatten(), return_inverse=True)
        return values, torch.zeros_like(values).scatter_add_(0, inverse, pairs.flatten())


class SetPass:
    """One pass with label sets: the low 32 bits carry pair keys, and per-query lookups are made per block.

    Whatever a score needs of a pair is a function of its key and of the
    query's closure size, so the lookups over keys are (c, K) and a block's
    counts of other clips per key take the place of the counts per leaf.
    """

    def __init__(self, tables: SetTables, request: RetrievalRequest, n: int) -> None:
        relevant, gain = request.relevant, request.gain
        self.keys = _PairKeys(
            tables,
            overlap=bool(request.mnr_levels) or gain is not None or (relevant is not None and relevant.level != -1),
            size=gain is not None and gain.relevance != "lca_depth",
            shared=relevant is not None and relevant.level == -1,
        )
        self.tables, self.request = tables, request
        self.width, self.n_others = self.keys.width, n - 1
        device = tables.code.device
        self.cumdisc = _cumulative_discount(n - 1, request.ndcg_k, device)
        self.overlap, self.size, shared = self.keys.parts()
        levels = torch.as_tensor(request.mnr_levels, dtype=torch.int64, device=device)
        self.partner = (self.overlap[None, None, :] >= levels[:, None, None]).to(torch.float64)
        self.relevant = relevant.of(self.overlap, shared) if relevant is not None else None
        self.threshold = _threshold(self.relevant) if relevant is not None else None

    def codes(self, rows: slice) -> torch.Tensor:
        """(c, N) pair keys of the queries ``rows``, packed with their similarities."""
        return self.keys.of_clips(rows)

    def block(self, rows: slice, ranked: _RankedBlock) -> BlockLabels:
        """What scoring the queries ``rows`` needs: lookups over keys, and counts of the keys in ``ranked``."""
        # ranked.leaf holds the keys of the N - 1 other clips of each row
        return self._labels(rows, _key_counts(ranked.leaf, self.width))

    def hits(self, rows: slice) -> tuple[torch.Tensor, torch.Tensor]:
        """(c, N) relevance of every clip to the queries ``rows``, and their numbers of relevant other clips.

        The numbers are only counted for ``adaptive`` precision (zeros otherwise, which no cut-off reads).
        """
        keys = self.codes(rows)
        hit = keys >= self.threshold if self.threshold is not None else self.relevant[keys.to(torch.int64)]
        if not self.request.adaptive:
            return hit, torch.zeros(len(hit), dtype=torch.int64, device=hit.device)
        row = torch.arange(len(hit), device=hit.device)
        own = hit[row, row + rows.start]
        return hit, hit.sum(dim=1) - own.to(torch.int64)

    def pair_gains(self, rows: slice) -> torch.Tensor:
        """(c, N) NDCG gain of every clip for the queries ``rows``."""
        return self._gain_rows(rows).gather(1, self.codes(rows).to(torch.int64))

    def gain_multiplicity(self, block_pairs: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Distinct gains (ascending) and how many (query, clip) pairs have each, on the CPU."""
        sizes, query_size = torch.unique(self.tables.size[self.tables.code], return_inverse=True)
        pairs = torch.zeros(len(sizes), self.width, dtype=torch.int64, device=sizes.device)
        n = len(self.tables.code)
        for rows in blocks(n, block_pairs, self.width):
            keys = self.codes(rows).to(torch.int64)
            pairs.index_add_(0, query_size[rows], _other_counts(keys, rows, self.width))
        gains = self.request.gain.rows(sizes, self.overlap, self.size)
        values, inverse = torch.unique(gains.cpu().flatten(), return_inverse=True)
        return values, torch.zeros_like(values).scatter_add_(0, inverse, pairs.cpu().flatten().to(torch.float64))

    def _gain_rows(self, rows: slice) -> torch.Tensor:
        return self.request.gain.rows(self.tables.size[self.tables.code[rows]], self.overlap, self.size)

    def _labels(self, rows: slice, others: torch.Tensor) -> BlockLabels:
        labels = {}
        if self.request.mnr_levels:
            labels.update(partner=self.partner, partners=(self.partner * others[None]).sum(dim=2).T)
        if self.request.gain is not None:
            gain = self._gain_rows(rows)
            labels.update(gain=gain, ideal=_ideal_dcg(gain, others, self.cumdisc))
        if self.relevant is not None:
            relevant = self.relevant.expand_as(others)
            labels.update(relevant=relevant, n_relevant=(relevant * others).sum(dim=1))
        return BlockLabels(**labels)


def _threshold(relevant: torch.Tensor) -> float | None:
    """The first relevant key when relevance is ``key >= it`` (as when keys hold only what relevance reads)."""
    first = int(relevant.to(torch.int8).argmax())
    keys = torch.arange(len(relevant), device=relevant.device)
    return float(first) if bool(relevant[first]) and bool((relevant == (keys >= first)).all()) else None


def _key_counts(keys: torch.Tensor, width: int) -> torch.Tensor:
    """(c, width) int64: how many entries of each row of ``keys`` hold each key."""
    # Counted in float64 (exact to 2**53), which a CPU scatter-adds about twice as fast as int64; a row of
    # ones (not a single one) expanded keeps the source's last stride 1, which scatter_add is faster with.
    counts = torch.zeros(len(keys), width, dtype=torch.float64, device=keys.device)
    ones = torch.ones(keys.shape[1], dtype=torch.float64, device=keys.device)
    counts.scatter_add_(1, keys, ones.expand_as(keys))
    return counts.to(torch.int64)


def _other_counts(keys: torch.Tensor, rows: slice, width: int) -> torch.Tensor:
    """(c, width) int64: per query row, the clips other than the query with each key."""
    counts = _key_counts(keys, width)
    row = torch.arange(len(keys), device=keys.device)
    counts[row, keys[row, row + rows.start]] -= 1
    return counts


def label_pass(tables: LeafTables | SetTables, request: RetrievalRequest, n: int) -> LeafPass | SetPass:
    """The labels' side of one pass over N clips: codes to pack and lookups to score them."""
    if isinstance(tables, SetTables):
        return SetPass(tables, request, n)
    return LeafPass(tables, request, n)


def ranked_scores(
    embeddings: torch.Tensor,
    tables: LeafTables | SetTables,
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
    labels = label_pass(tables, request, n)
    if not request.needs_ranking:
        for rows in blocks(n, settings.block_pairs, labels.width):
            sims = block_similarity(prepared, rows, kernel)
            out["precision"][rows] = _precision_topk(sims, *labels.hits(rows), request)
        return out
    with RowSorter(device, settings.cpu_sort, settings.n_sorters) as sorter:
        pending: tuple[slice, SortJob] | None = None
        for rows in blocks(n, settings.block_pairs, labels.width):
            keys = descending_keys(block_similarity(prepared, rows, kernel))
            job = sorter.submit(_pack(keys, labels.codes(rows)))
            if pending is not None:
                _score_block(*pending, labels, request, out)
            pending = (rows, job)
        if pending is not None:
            _score_block(*pending, labels, request, out)
    return out


def _score_block(
    rows: slice,
    job: SortJob,
    labels: LeafPass | SetPass,
    request: RetrievalRequest,
    out: dict[str, torch.Tensor],
) -> None:
    ranked = _rank_block(job.result(), labels.width, labels.cumdisc, bool(request.mnr_levels), request.gain is not None)
    block = labels.block(rows, ranked)
    if request.mnr_levels:
        out["mnr"][rows] = _mnr(ranked, block, labels.n_others)
    if request.gain is not None:
        out["ndcg"][rows] = _ndcg(ranked, block)
    if request.relevant is not None:
        out["precision"][rows] = _precision_ranked(ranked, block, request)


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


def blocks(n: int, block_pairs: int, width: int = 0) -> list[slice]:
    """Consecutive query rows of about ``block_pairs`` (query, clip) pairs each.

    A row's per-code buffers have ``width`` entries; where they outnumber the
    N clips, they bound the rows instead.
    """
    size = max(1, min(n, block_pairs // max(n, width)))
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
    """int64 words ``key * 2**32 + leaf``: sorting them sorts by key and carries the leaf along.

    ``leaf`` is (N,), the same codes for every row (leaves), or (c, N) (pair keys, possibly as exact floats).
    """
    if sys.byteorder == "little":
        # An int64 is its two int32 halves, low half first: writing (leaf, key) into them makes the words in one
        # pass (faster than torch.stack), and converts pair keys that arrive as exact floats on the way.
        words = torch.empty((*keys.shape, 2), dtype=torch.int32, device=keys.device)
        words[..., 0] = leaf
        words[..., 1] = keys
        return words.view(torch.int64).squeeze(-1)
    return keys.to(torch.int64).bitwise_left_shift_(32).bitwise_or_(leaf.to(torch.int64))


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
            ideal = _ideal_dcg(request.gain, others, cumdisc)
        if request.relevant is not None:
            n_relevant = (request.relevant * others).sum(dim=1)
        return cls(cumdisc, levels, partners, ideal, n_relevant, n - 1)


def _ideal_dcg(gain: torch.Tensor, others: torch.Tensor, cumdisc: torch.Tensor) -> torch.Tensor:
    """Ideal DCG of each row of ``gain`` (r, K), with ``others`` (r, K) clips of each code."""
    # The ideal ranking lists the codes by decreasing gain, each code's clips together.
    order = gain.argsort(dim=1, descending=True)
    count = others.gather(1, order)
    end = count.cumsum(dim=1)
    return (gain.gather(1, order) * (cumdisc[end] - cumdisc[end - count])).sum(dim=1)


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

    ``leaf`` holds the codes of the ranked clips (leaves or pair keys).
    ``rank_sum`` and ``discount_sum`` are (c, K): summed over the clips of each
    code, the tie-averaged 0-based rank and discount (zeros when not asked
    for). ``ties`` is ``None`` when the block has no tie.
    """

    leaf: torch.Tensor
    rank_sum: torch.Tensor
    discount_sum: torch.Tensor
    ties: _TieGroups | None


def _rank_block(words: torch.Tensor, width: int, cumdisc: torch.Tensor, ranks: bool, discounts: bool) -> _RankedBlock:
    words = words[:, :-1]  # the query itself sorted last
    c, m = words.shape
    leaf = _low_halves(words)
    high = _high_halves(words)
    ties = _tie_groups(high[:, 1:] == high[:, :-1])
    zeros = torch.zeros(c, width, dtype=torch.float64, device=words.device)
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
def _mnr(ranked: _RankedBlock, block: BlockLabels, n_others: int) -> torch.Tensor:
    rank = (block.partner * ranked.rank_sum[None]).sum(dim=2).T
    count = block.partners
    has = count > 0
    level_score = torch.where(has, rank / count.clamp(min=1) / n_others, 0.0)
    used = has.sum(dim=1)
    return torch.where(used > 0, level_score.sum(dim=1) / used.clamp(min=1), math.nan)


def _ndcg(ranked: _RankedBlock, block: BlockLabels) -> torch.Tensor:
    dcg = (ranked.discount_sum * block.gain).sum(dim=1)
    ideal = block.ideal
    # A query with no relevant clip scores 0, as in sklearn.metrics.ndcg_score.
    return torch.where(ideal > 0, dcg / torch.where(ideal > 0, ideal, 1.0), 0.0)


def _cutoffs(n_relevant: torch.Tensor, request: RetrievalRequest) -> torch.Tensor:
    """(c,) precision cut-off of each query (0: skipped), from its number of relevant clips."""
    k = torch.full_like(n_relevant, request.precision_k)
    return torch.minimum(n_relevant, k) if request.adaptive else k


def _precision_ranked(ranked: _RankedBlock, block: BlockLabels, request: RetrievalRequest) -> torch.Tensor:
    relevant, k = block.relevant, _cutoffs(block.n_relevant, request)
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
    sims: torch.Tensor, hit: torch.Tensor, n_relevant: torch.Tensor, request: RetrievalRequest
) -> torch.Tensor:
    """Precision@k without a full sort: the k-th similarity is the cut-off; ``hit`` (c, N) says what is relevant."""
    k = _cutoffs(n_relevant, request)
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
