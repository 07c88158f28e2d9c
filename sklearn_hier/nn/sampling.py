"""Triplets from the tree: the paper's offline sampler, online miners, and a batch sampler for mining.

A triplet ``(a, p, n)`` is valid when the lowest common ancestor (LCA) of
anchor and positive lies strictly deeper than the LCA of anchor and negative.
The samplers return numpy index arrays into the training set; the miner
returns index tensors into a batch, in the style of pytorch-metric-learning's
miners, so that the triplet loss stays generic.
"""

from __future__ import annotations

from collections.abc import Iterator
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch

from sklearn_hier.nn.distances import Cosine, Distance
from sklearn_hier.taxonomy import Taxonomy, lca_depth

__all__ = ["HierarchicalBatchSampler", "HierarchicalTripletMiner", "TreeTripletSampler"]

IndexTriplets = tuple[np.ndarray, np.ndarray, np.ndarray]


# ------------------------------------------------------------------ validation
def _check_taxonomy(taxonomy: Any) -> None:
    if not isinstance(taxonomy, Taxonomy):
        raise TypeError(f"taxonomy must be a Taxonomy; got {type(taxonomy).__name__}.")


def _check_leaf_codes(leaf_codes: Any, taxonomy: Taxonomy) -> np.ndarray:
    """A read-only int64 copy of ``leaf_codes`` after checking shape, type and range."""
    codes = np.asarray(leaf_codes)
    if codes.ndim != 1:
        raise ValueError(f"leaf_codes must be 1-D (one leaf code per clip); got shape {codes.shape}.")
    if codes.size and not np.issubdtype(codes.dtype, np.integer):
        raise TypeError(f"leaf_codes must hold integers (Taxonomy.encode(y)); got dtype {codes.dtype}.")
    codes = codes.astype(np.int64)  # a copy: the caller's array is never touched
    if codes.size and (codes.min() < 0 or codes.max() >= taxonomy.n_leaves):
        raise ValueError(
            f"leaf_codes must lie in [0, {taxonomy.n_leaves}) for a taxonomy of {taxonomy.n_leaves} leaves; "
            f"got values in [{codes.min()}, {codes.max()}]."
        )
    codes.setflags(write=False)
    return codes


def _make_rng(random_state: Any) -> np.random.Generator:
    """A numpy Generator from None, an int, a RandomState or a Generator."""
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, Integral) and not isinstance(random_state, bool) and random_state >= 0:
        return np.random.default_rng(int(random_state))
    raise ValueError(f"random_state must be None, an int >= 0, a RandomState or a Generator; got {random_state!r}.")


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}.")


# ----------------------------------------------------------------- node pools
class _NodePools:
    """The clips under every node, as slices of one index array.

    Node ``(d, c)`` (code ``c`` at depth ``d``) has id ``offset[d] + c``; its
    clips are ``order[start[id] : start[id] + size[id]]``.
    """

    def __init__(self, taxonomy: Taxonomy, leaf_codes: np.ndarray) -> None:
        level_sizes = [len(level) for level in taxonomy.levels]
        self.offset = np.concatenate([[0], np.cumsum(level_sizes)])[:-1]
        self.id = {key: self.offset[d] + i for d, level in enumerate(taxonomy.levels) for i, key in enumerate(level)}
        n_clips = len(leaf_codes)
        clip_levels = taxonomy.leaf_level_codes()[leaf_codes]
        orders = [np.arange(n_clips)]
        starts = [np.zeros(1, dtype=np.int64)]
        sizes = [np.array([n_clips])]
        for depth in range(1, taxonomy.depth + 1):
            column = clip_levels[:, depth - 1]
            counts = np.bincount(column[column >= 0], minlength=level_sizes[depth])
            first = depth * n_clips + np.count_nonzero(column < 0)  # clips whose path ended sort first
            orders.append(np.argsort(column, kind="stable"))
            starts.append(first + np.concatenate([[0], np.cumsum(counts)[:-1]]))
            sizes.append(counts)
        self.order = np.concatenate(orders)
        self.start = np.concatenate(starts).astype(np.int64)
        self.size = np.concatenate(sizes).astype(np.int64)


def _triplet_plan(taxonomy: Taxonomy, pools: _NodePools) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node ids ``(anchor node, positive node, negative node)`` of each triplet of one epoch.

    The reference rule: for every node P with at least two children holding
    clips, for every ordered pair (pos, neg) of distinct such children: if pos
    has fewer than two children holding clips, anchor and positive are two
    different clips of pos; otherwise one triplet per ordered pair of its
    children (both orders, as the paper's code's ``itertools.permutations``),
    anchor from the first and positive from the second. The negative is a
    clip of neg.
    """
    plans: list[np.ndarray] = []
    for parent in taxonomy.nodes:
        kids = _children_with_clips(taxonomy, parent, pools)
        if len(kids) < 2:
            continue
        kid_ids = np.array([pools.id[kid] for kid in kids], dtype=np.int64)
        for i, pos in enumerate(kids):
            pairs = _anchor_positive_nodes(taxonomy, pos, pools)
            negatives = np.delete(kid_ids, i)
            plans.append(np.column_stack([np.repeat(pairs, len(negatives), axis=0), np.tile(negatives, len(pairs))]))
    plan = np.concatenate(plans) if plans else np.empty((0, 3), dtype=np.int64)
    return plan[:, 0], plan[:, 1], plan[:, 2]


def _children_with_clips(taxonomy: Taxonomy, node: str, pools: _NodePools) -> list[str]:
    return [kid for kid in taxonomy.children(node) if pools.size[pools.id[kid]] > 0]


def _anchor_positive_nodes(taxonomy: Taxonomy, pos: str, pools: _NodePools) -> np.ndarray:
    """(m, 2) node ids that anchor and positive are drawn from, below ``pos``; equal ids mean "two clips of"."""
    kids = np.array([pools.id[kid] for kid in _children_with_clips(taxonomy, pos, pools)], dtype=np.int64)
    if len(kids) >= 2:
        # Both orders of every pair, in itertools.permutations' order: the anchor is drawn from each child in turn.
        first, second = np.nonzero(~np.eye(len(kids), dtype=bool))
        return np.column_stack([kids[first], kids[second]])
    pos_id = pools.id[pos]
    if pools.size[pos_id] >= 2:
        return np.array([[pos_id, pos_id]], dtype=np.int64)
    return np.empty((0, 2), dtype=np.int64)


# ------------------------------------------------------------ offline sampler
class TreeTripletSampler:
    """The paper's offline triplet sampler: one epoch of tree triplets per call.

    Which nodes each triplet draws from is fixed by the tree (the reference
    rule below); which clips it draws is random and redrawn at every
    :meth:`sample` call, in vectorised numpy. Rule: for every node P with at
    least two children holding clips, for every ordered pair (pos, neg) of
    distinct children: if pos has fewer than two children holding clips, the
    anchor and the positive are two different clips under pos; otherwise, for
    every ordered pair of distinct children of pos (both orders, as the
    paper's code's ``itertools.permutations``), the anchor comes from the
    first and the positive from the second. The negative is a clip under neg. So
    depth(LCA(a, p)) > depth(P) = depth(LCA(a, n)) and a != p. Clips are
    drawn uniformly among the clips under a node.

    Parameters
    ----------
    taxonomy : Taxonomy
        The label tree; nodes without clips are ignored.
    leaf_codes : array-like of int of shape (n_clips,)
        Leaf code of each training clip (:meth:`Taxonomy.encode`).
    random_state : int, RandomState, Generator or None, default=None
        Seeds the draws; a fixed seed repeats the sequence of epochs.

    Attributes
    ----------
    n_triplets : int
        Number of triplets in each epoch.

    Examples
    --------
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b/z"])
    >>> sampler = TreeTripletSampler(tax, tax.encode(["a/x", "a/x", "a/y", "b/z", "b/z"]), random_state=0)
    >>> # root: (pos a, neg b) -> x|y and y|x vs b; (pos b, neg a) -> two clips of b vs a.
    >>> # a: (pos x, neg y) -> two clips of x vs y; (pos y, neg x) needs two clips of y: none.
    >>> sampler.n_triplets
    4
    >>> a, p, n = sampler.sample()
    >>> codes = tax.leaf_level_codes()[sampler.leaf_codes]
    >>> lca = lca_depth(codes, codes)
    >>> bool((lca[a, p] > lca[a, n]).all() and (a != p).all())
    True
    """

    def __init__(self, taxonomy: Taxonomy, leaf_codes: Any, random_state: Any = None) -> None:
        _check_taxonomy(taxonomy)
        self.taxonomy = taxonomy
        self.leaf_codes = _check_leaf_codes(leaf_codes, taxonomy)
        self.random_state = random_state
        self._rng = _make_rng(random_state)
        pools = _NodePools(taxonomy, self.leaf_codes)
        node_a, node_p, node_n = _triplet_plan(taxonomy, pools)
        self._order = pools.order
        self._same = node_a == node_p
        self._starts = (pools.start[node_a], pools.start[node_p], pools.start[node_n])
        self._sizes = (pools.size[node_a], pools.size[node_p] - self._same, pools.size[node_n])

    @property
    def n_triplets(self) -> int:
        """Number of triplets in each epoch."""
        return len(self._same)

    def sample(self) -> IndexTriplets:
        """Draw one epoch of triplets, shuffled.

        Returns
        -------
        anchors, positives, negatives : ndarray of int64 of shape (n_triplets,)
            Indices into ``leaf_codes``.
        """
        rng = self._rng
        offset_a, offset_p, offset_n = (rng.integers(0, size) for size in self._sizes)
        # Two clips of one node: draw the positive among the others by skipping the anchor's slot.
        offset_p = offset_p + (self._same & (offset_p >= offset_a))
        start_a, start_p, start_n = self._starts
        shuffle = rng.permutation(self.n_triplets)
        return tuple(
            self._order[start + offset][shuffle]
            for start, offset in ((start_a, offset_a), (start_p, offset_p), (start_n, offset_n))
        )

    def leaf_counts(self, triplets: IndexTriplets) -> np.ndarray:
        """How often each leaf occurs among the clips of ``triplets`` (for class weights).

        Parameters
        ----------
        triplets : tuple of three int arrays
            As returned by :meth:`sample`.

        Returns
        -------
        counts : ndarray of int64 of shape (taxonomy.n_leaves,)

        Examples
        --------
        >>> from sklearn_hier.taxonomy import Taxonomy
        >>> tax = Taxonomy.from_paths(["a", "b"])
        >>> sampler = TreeTripletSampler(tax, [0, 0, 1, 1], random_state=0)
        >>> sampler.leaf_counts(sampler.sample())  # (a, a, b) and (b, b, a)
        array([3, 3])
        """
        clips = np.concatenate([np.asarray(t, dtype=np.int64) for t in triplets])
        return np.bincount(self.leaf_codes[clips], minlength=self.taxonomy.n_leaves)


# ---------------------------------------------------------------- online miner
class HierarchicalTripletMiner:
    """Pick triplets inside a batch from the embeddings and the tree (online mining).

    A triplet ``(a, p, n)`` is valid when ``p != a`` and the LCA of ``a`` and
    ``p`` lies deeper than that of ``a`` and ``n``. With ``s`` the similarity
    and ``gap = s(a, p) - s(a, n)`` (the triplet loss is
    ``max(0, margin - gap)``), the strategies follow pytorch-metric-learning's
    ``TripletMarginMiner`` and Hermans et al. (2017):

    - ``"all"``: every valid triplet with ``gap <= margin`` (those the triplet
      loss can learn from);
    - ``"semi_hard"``: every valid triplet with ``0 < gap <= margin``;
    - ``"batch_hard"``: for each anchor, the one valid triplet with the
      smallest ``gap`` (on a flat tree: the farthest positive and the closest
      negative).

    Parameters
    ----------
    strategy : {"all", "batch_hard", "semi_hard"}, default="all"
    margin : float, default=0.3
        Margin of the triplet loss the triplets are mined for.
    distance : Distance or None, default=None
        Its similarity ``s`` (:class:`~sklearn_hier.nn.distances.Cosine` when
        None). The estimator's net builds its miner from the criterion's
        triplet term: that term's margin and the fit's distance.

    Examples
    --------
    >>> import torch
    >>> miner = HierarchicalTripletMiner("batch_hard")
    >>> z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
    >>> codes = torch.tensor([[0, 0], [0, 0], [1, 1]])  # clips 0 and 1 share a leaf
    >>> miner(z, codes)
    (tensor([0, 1]), tensor([1, 0]), tensor([2, 2]))
    """

    STRATEGIES = ("all", "batch_hard", "semi_hard")

    def __init__(self, strategy: str = "all", margin: float = 0.3, distance: Distance | None = None) -> None:
        if strategy not in self.STRATEGIES:
            raise ValueError(f"strategy must be one of {self.STRATEGIES}; got {strategy!r}.")
        if isinstance(margin, bool) or not isinstance(margin, Real) or not 0 <= margin < np.inf:
            raise ValueError(f"margin must be a finite number >= 0; got {margin!r}.")
        if distance is not None and not isinstance(distance, Distance):
            raise TypeError(f"distance must be a Distance (e.g. Cosine()); got {distance!r}.")
        self.strategy = strategy
        self.margin = float(margin)
        self.distance = Cosine() if distance is None else distance

    def __call__(self, embeddings: torch.Tensor, level_codes: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Mine one batch.

        Parameters
        ----------
        embeddings : Tensor of shape (B, D)
        level_codes : LongTensor of shape (B, depth)
            :meth:`Taxonomy.level_codes` of the batch's clips (``Targets.levels``).

        Returns
        -------
        anchors, positives, negatives : LongTensor of shape (k,)
            Indices into the batch, on the embeddings' device.
        """
        if embeddings.ndim != 2 or level_codes.ndim != 2 or len(embeddings) != len(level_codes):
            raise ValueError(
                "embeddings (B, D) and level_codes (B, depth) must be 2-D with one row per clip; got shapes "
                f"{tuple(embeddings.shape)} and {tuple(level_codes.shape)}."
            )
        return self.mine(embeddings, lca_depth(level_codes, level_codes), level_codes.shape[1])

    def mine(self, embeddings: torch.Tensor, shared: torch.Tensor, max_shared: int) -> tuple[torch.Tensor, ...]:
        """Mine one batch from how much of the hierarchy each pair of clips shares.

        A triplet is valid when ``shared[a, p] > shared[a, n]`` and ``p != a``.
        :meth:`__call__` passes the depths of the lowest common ancestors; on
        label sets, the sizes of the intersections of the ancestor closures
        (:meth:`~sklearn_hier.nn.targets.Targets.shared`), for which the depth
        of the LCA is the one-leaf case.

        Parameters
        ----------
        embeddings : Tensor of shape (B, D)
        shared : LongTensor of shape (B, B)
            Non-negative; symmetric.
        max_shared : int
            An upper bound of ``shared`` (the tree's depth; the largest closure).

        Returns
        -------
        anchors, positives, negatives : LongTensor of shape (k,)

        Examples
        --------
        >>> import torch
        >>> z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]])
        >>> shared = torch.tensor([[3, 2, 0], [2, 3, 1], [0, 1, 2]])  # clip 0 shares 2 nodes with 1, none with 2
        >>> HierarchicalTripletMiner("batch_hard").mine(z, shared, 3)
        (tensor([0, 1, 2]), tensor([1, 0, 1]), tensor([2, 2, 0]))
        """
        if embeddings.ndim != 2 or shared.shape != (len(embeddings), len(embeddings)):
            raise ValueError(
                "embeddings (B, D) and shared (B, B) must have one row per clip; got shapes "
                f"{tuple(embeddings.shape)} and {tuple(shared.shape)}."
            )
        with torch.no_grad():
            embeddings = embeddings.detach()
            sim = self.distance.similarity(embeddings, embeddings)
            shared = shared.to(sim.device)
            if self.strategy == "batch_hard":
                return _batch_hard(sim, shared, max_shared)
            return _with_gap_below_margin(sim, shared, self.margin, strict_positive=self.strategy == "semi_hard")


def _with_gap_below_margin(
    sim: torch.Tensor, lca: torch.Tensor, margin: float, strict_positive: bool
) -> tuple[torch.Tensor, ...]:
    """Every valid triplet with gap <= margin (and gap > 0 if ``strict_positive``), anchors in chunks."""
    n = len(sim)
    not_self = ~torch.eye(n, dtype=torch.bool, device=sim.device)
    chunk = max(1, 2**24 // max(n * n, 1))  # bounds memory at ~16M cells per step
    found = []
    for first in range(0, n, chunk):
        rows = slice(first, min(first + chunk, n))
        gap = sim[rows, :, None] - sim[rows, None, :]
        keep = (lca[rows, :, None] > lca[rows, None, :]) & not_self[rows, :, None] & (gap <= margin)
        if strict_positive:
            keep &= gap > 0
        a, p, neg = keep.nonzero(as_tuple=True)
        found.append((a + first, p, neg))
    return tuple(torch.cat(parts) for parts in zip(*found, strict=True)) if found else _no_triplets(sim.device)


def _batch_hard(sim: torch.Tensor, lca: torch.Tensor, depth: int) -> tuple[torch.Tensor, ...]:
    """Per anchor, the valid (p, n) of smallest gap, in O(B^2 x depth).

    For each anchor and each depth t, the closest clip whose LCA with the
    anchor lies at depth <= t is the hardest negative for every positive whose
    LCA lies at depth t + 1.
    """
    n = len(sim)
    if n == 0 or depth == 0:
        return _no_triplets(sim.device)
    closest = [sim.masked_fill(lca > t, -torch.inf).max(dim=1) for t in range(depth)]
    best_sim = torch.stack([c.values for c in closest], dim=1)  # (B, depth)
    best_idx = torch.stack([c.indices for c in closest], dim=1)
    level = (lca - 1).clamp_min(0)
    negative_sim = best_sim.gather(1, level)  # (B, B): hardest negative for anchor a and positive p
    usable = (lca >= 1) & ~torch.eye(n, dtype=torch.bool, device=sim.device) & torch.isfinite(negative_sim)
    gap = torch.where(usable, sim - negative_sim, torch.inf)
    smallest, positives = gap.min(dim=1)
    anchors = torch.isfinite(smallest).nonzero(as_tuple=True)[0]
    positives = positives[anchors]
    negatives = best_idx.gather(1, level)[anchors, positives]
    return anchors, positives, negatives


def _no_triplets(device: torch.device) -> tuple[torch.Tensor, ...]:
    return tuple(torch.empty(0, dtype=torch.long, device=device) for _ in range(3))


# --------------------------------------------------------------- batch sampler
class HierarchicalBatchSampler:
    """Batches for online mining: ``m_per_leaf`` clips of each of several nearby leaves.

    Each epoch lists the leaves in a random order that keeps every subtree
    together (siblings shuffled among themselves at every level, recursively),
    cuts that list into groups of ``batch_size // m_per_leaf`` consecutive
    leaves (mostly siblings and cousins, so positives exist at several levels),
    and takes ``m_per_leaf`` clips of each leaf: each leaf's clips in a fresh
    random order, cycled, so a clip repeats only when its leaf has fewer than
    ``m_per_leaf`` clips. Usable as a ``torch.utils.data.DataLoader``'s
    ``batch_sampler``.

    Parameters
    ----------
    taxonomy : Taxonomy
    leaf_codes : array-like of int of shape (n_clips,)
        Leaf code of each training clip; at least two leaves must hold clips.
    batch_size : int
        A multiple of ``m_per_leaf``. A batch holds
        ``min(batch_size // m_per_leaf, number of leaves with clips) * m_per_leaf`` clips.
    m_per_leaf : int, default=4
        Clips per leaf in a batch (>= 2, so every anchor has a same-leaf positive).
    random_state : int, RandomState, Generator or None, default=None

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b/z", "b/w"])
    >>> codes = np.repeat(np.arange(4), 5)
    >>> sampler = HierarchicalBatchSampler(tax, codes, batch_size=4, m_per_leaf=2, random_state=0)
    >>> len(sampler)
    5
    >>> batch = next(iter(sampler))
    >>> np.bincount(codes[batch], minlength=4).tolist() in ([2, 2, 0, 0], [0, 0, 2, 2])  # two sibling leaves
    True
    """

    def __init__(
        self, taxonomy: Taxonomy, leaf_codes: Any, batch_size: int, m_per_leaf: int = 4, random_state: Any = None
    ) -> None:
        _check_taxonomy(taxonomy)
        _check_int("m_per_leaf", m_per_leaf, 2)
        _check_int("batch_size", batch_size, m_per_leaf)
        if batch_size % m_per_leaf:
            raise ValueError(f"batch_size={batch_size} must be a multiple of m_per_leaf={m_per_leaf}.")
        self.taxonomy = taxonomy
        self.leaf_codes = _check_leaf_codes(leaf_codes, taxonomy)
        self.batch_size = batch_size
        self.m_per_leaf = m_per_leaf
        self.random_state = random_state
        self._rng = _make_rng(random_state)
        counts = np.bincount(self.leaf_codes, minlength=taxonomy.n_leaves)
        self._leaves = np.flatnonzero(counts)
        if len(self._leaves) < 2:
            n_found = len(self._leaves)
            raise ValueError(f"leaf_codes must hold clips of at least 2 leaves to form triplets; got {n_found}.")
        self._counts = counts
        self._starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self._leaves_per_batch = min(batch_size // m_per_leaf, len(self._leaves))

    def __len__(self) -> int:
        return max(1, len(self.leaf_codes) // self.batch_size)

    def __iter__(self) -> Iterator[np.ndarray]:
        rng = self._rng
        # Each leaf's clips in a fresh random order, laid out leaf after leaf.
        clips = np.lexsort((rng.random(len(self.leaf_codes)), self.leaf_codes))
        cursor = np.zeros(self.taxonomy.n_leaves, dtype=np.int64)
        steps = np.arange(self.m_per_leaf)
        for group in self._leaf_groups(len(self)):
            offsets = (cursor[group, None] + steps) % self._counts[group, None]
            cursor[group] += self.m_per_leaf
            yield clips[self._starts[group, None] + offsets].ravel()

    def _leaf_groups(self, n_groups: int) -> list[np.ndarray]:
        groups: list[np.ndarray] = []
        per_group = self._leaves_per_batch
        while len(groups) < n_groups:
            order = self._tree_order()
            for first in range(0, len(order), per_group):
                # The last group wraps round to the start of the same order, so no leaf appears twice in it.
                groups.append(order[(first + np.arange(per_group)) % len(order)])
        return groups[:n_groups]

    def _tree_order(self) -> np.ndarray:
        """The leaves holding clips, in a random order that keeps every subtree contiguous."""
        codes = self.taxonomy.leaf_level_codes()[self._leaves]
        keys = [
            np.where(codes[:, d] >= 0, self._rng.random(len(level))[codes[:, d]], -1.0)
            for d, level in enumerate(self.taxonomy.levels[1:])
        ]
        return self._leaves[np.lexsort(keys[::-1])]
