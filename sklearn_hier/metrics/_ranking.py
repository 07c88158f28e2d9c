"""Retrieval metrics on embeddings: mean normalised rank, hierarchical NDCG, precision@k.

Every clip queries all the others (never itself), ranked by similarity. The
label tree comes from the paths in ``y`` (:meth:`Taxonomy.from_y`). The work is
done by :mod:`sklearn_hier.metrics._retrieval`: PyTorch on the device of the
embeddings (numpy input runs on the CPU), in blocks of queries, so memory is
O(block x N). How tied similarities are ranked is documented there and in each
function's Notes.
"""

from __future__ import annotations

import math
from numbers import Integral
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_array, check_consistent_length
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from sklearn_hier._docstrings import fill_doc
from sklearn_hier._tensor_input import checked_tensor, has_negative_strides, host_array
from sklearn_hier.metrics._global_ndcg import global_ndcg
from sklearn_hier.metrics._retrieval import (
    LeafTables,
    RetrievalRequest,
    leaf_tables,
    ndcg_gain,
    ranked_scores,
)
from sklearn_hier.nn.distances import SIMILARITIES
from sklearn_hier.nn.hyperbolic import check_in_ball
from sklearn_hier.taxonomy import Taxonomy

__all__ = ["hierarchical_ndcg_score", "hierarchical_retrieval_scores", "mean_normalized_rank", "precision_at_k"]

RELEVANCES = ("lca_depth", "max", "sum")

# What the four metrics share: the constraints of their common parameters, and their docstrings' paragraphs.
_CONSTRAINTS = {
    "embeddings": ["array-like"],
    "y": ["array-like"],
    "metric": [StrOptions(set(SIMILARITIES))],
    "sep": [str],
}
_DOCS = {
    "embeddings_y": """
        embeddings : array-like or Tensor of shape (n_samples, n_features)
            One embedding per clip. A tensor is scored on its device.
        y : array-like of shape (n_samples,) or (n_samples, depth)
            Label paths, flat labels or one column per level (see
            :func:`~sklearn_hier.taxonomy.label_paths`).
    """,
    "metric": """
        metric : {"cosine", "dot", "euclidean", "poincare"}, default="cosine"
            Similarity that ranks the clips
            (:func:`~sklearn_hier.nn.distances.pairwise_similarity`).
            ``"poincare"`` ranks by the geodesic distance on the unit Poincaré
            ball (curvature -1; every row must lie inside it). For a ball of
            curvature ``-c``, pass ``sqrt(c) * embeddings``: the rescaled points lie
            on the unit ball, at distances ``sqrt(c)`` times the originals, so the
            ranking is the same.
    """,
    "sep": """
        sep : str, default="/"
            Separator of the label paths.
    """,
    "four_clips": """
        >>> # four clips on the unit circle, at 0, 10, 30 and 90 degrees
        >>> angles = np.radians([0, 10, 30, 90])
        >>> embeddings = np.c_[np.cos(angles), np.sin(angles)]
    """,
}


def check_embeddings(embeddings: Any, metric: str = "dot") -> torch.Tensor:
    """Validate embeddings and return them as a float32 tensor on their device.

    For ``metric="cosine"``, each row is first scaled so that its largest
    absolute value lies in [0.5, 1) (by a power of two, in the input's own
    precision, so exactly): cosine similarity is unchanged, and
    neither float32 overflow (1e200 in float64) nor normalisation's epsilon
    (rows below 1e-12) can bend it, so the scores are the same at any finite
    scale. Otherwise a float32 tensor is returned as is (the metrics never
    write into it), and values beyond float32 raise; for ``metric="poincare"``
    so do rows outside the unit ball.
    """
    if isinstance(embeddings, torch.Tensor):
        # A CPU tensor is checked as the array it views: one contract, the same scores or the same error.
        embeddings = checked_tensor(embeddings, "embeddings")
        if embeddings.device.type == "cpu":
            embeddings = host_array(embeddings, "embeddings")
    if getattr(embeddings, "ndim", 2) != 2:
        raise ValueError(
            f"embeddings must be 2-D (n_samples, n_features), a 2D array; got shape {tuple(embeddings.shape)}."
        )
    if isinstance(embeddings, torch.Tensor):  # on another device: checked there, by the array's rules
        tensor = embeddings
        if tensor.dtype not in (torch.float32, torch.float64):
            tensor = tensor.to(torch.float32)  # as check_array casts any other dtype to the first of the list
        if not bool(torch.isfinite(tensor).all()):
            raise ValueError("embeddings contain NaN or infinity.")
    else:
        array = check_array(embeddings, dtype=[np.float32, np.float64], input_name="embeddings")
        tensor = torch.as_tensor(np.ascontiguousarray(array) if has_negative_strides(array) else array)
    if len(tensor) < 2:
        raise ValueError(f"Ranking needs at least 2 samples (a query and something to retrieve); got {len(tensor)}.")
    if metric == "cosine":
        # Scaled by the power of two nearest above the row's max-abs: exact in floating point, so
        # rows of ordinary scale give bit-identical similarities, and no row over- or underflows.
        exponent = torch.frexp(tensor.abs().amax(dim=1, keepdim=True)).exponent
        tensor = torch.ldexp(tensor, -exponent.to(tensor.dtype))
    tensor = tensor.to(torch.float32)
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(
            f"embeddings exceed the float32 range used for {metric!r} similarities; rescale them "
            "(or use metric='cosine', which does not depend on scale)."
        )
    if metric == "poincare":
        try:
            check_in_ball(tensor)
        except ValueError as error:
            raise ValueError(
                f"With metric='poincare', embeddings are points of the unit Poincaré ball (in float32); {error} "
                "For a ball of curvature -c, pass sqrt(c) * embeddings."
            ) from None
    return tensor


def check_labels(y: Any, n_samples: int, sep: str, device: torch.device) -> tuple[Taxonomy, LeafTables]:
    """The tree the labels form and the engine's leaf tables, on ``device``."""
    y = host_array(y, "y")
    check_consistent_length(np.empty(n_samples), np.asarray(y, dtype=object))
    taxonomy = Taxonomy.from_y(y, sep=sep)
    return taxonomy, leaf_tables(taxonomy, y, device)


def mnr_levels(levels: Any, taxonomy: Taxonomy) -> tuple[int, ...]:
    """Depths for MNR: ``taxonomy.informative_levels`` by default, else checked against its depth."""
    if levels is None:
        return taxonomy.informative_levels
    chosen = tuple(int(level) for level in np.atleast_1d(np.asarray(levels)))
    if not chosen:
        raise ValueError("levels is empty; pass at least one depth, or None for every informative level.")
    for level in chosen:
        if not 1 <= level <= taxonomy.depth:
            raise ValueError(
                f"levels must hold depths from 1 to {taxonomy.depth} (the depth of y's tree); got {level}."
            )
    return chosen


def check_level(level: int, taxonomy: Taxonomy) -> int:
    """``level`` as a depth of ``taxonomy`` (-1, the leaf, is kept as -1)."""
    if level != -1 and not 1 <= level <= taxonomy.depth:
        raise ValueError(f"level must be -1 (the leaf) or a depth from 1 to {taxonomy.depth}; got {level}.")
    return level


def relevance_table(tables: LeafTables, level: int) -> torch.Tensor:
    """(L, L) bool: leaf ``b`` is relevant to a query of leaf ``a`` (same leaf, or same node at ``level``)."""
    if level == -1:
        return torch.eye(len(tables.counts), dtype=torch.bool, device=tables.lca.device)
    return tables.lca >= level


def mean_of_kept(scores: torch.Tensor) -> float:
    """Mean over the queries a score did not skip (NaN when it skipped them all)."""
    kept = scores[~torch.isnan(scores)]
    return float(kept.mean()) if len(kept) else math.nan


@validate_params(
    {
        **_CONSTRAINTS,
        "levels": ["array-like", Interval(Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
@fill_doc(**_DOCS)
def mean_normalized_rank(
    embeddings: Any, y: Any, *, metric: str = "cosine", levels: Any = None, sep: str = "/"
) -> float:
    """Mean normalised rank of same-label clips, averaged over tree levels (lower is better).

    For a query ``q`` and a level ``l``, the partners of ``q`` are the other
    clips that share its node at depth ``l``. Their 0-based ranks in ``q``'s
    ranking of the N - 1 other clips are averaged and divided by N - 1. The
    query's score is the mean over the levels where it has a partner; the
    result is the mean over the queries that have a partner at some level.

    A perfect embedding does not score 0: partners fill ranks 0, 1, ... and
    their mean rank is (number of partners - 1) / 2.

    Parameters
    ----------
    %(embeddings_y)s
    %(metric)s
    levels : int, array-like of int or None, default=None
        Depths to average over. None takes the levels of y's tree that hold
        more than one node (:attr:`Taxonomy.informative_levels`).
    %(sep)s

    Returns
    -------
    mnr : float
        In [0, 1); NaN when no query has a partner at any level.

    See Also
    --------
    hierarchical_ndcg_score : Graded retrieval quality over the whole ranking.
    precision_at_k : Share of relevant clips among the k nearest.

    Notes
    -----
    Clips tied in similarity share the mean of the ranks they occupy, which is
    the expected rank under a random order of the tied clips. Similarities are
    computed in float32. The reference code's newest commit we could read
    (c52a451, 2024-09-04) writes ``same_label_ranks / num_samples - 1``,
    which by operator precedence is rank / N - 1 (always negative); the
    paper's definition, and ours, is rank / (N - 1). The two are related by
    ``reference = ours * (N - 1) / N - 1`` on one set of N clips, so they
    order models the same way.

    References
    ----------
    Hybrid Losses for Hierarchical Embedding Learning, arXiv:2501.12796 (2025).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hier.metrics import mean_normalized_rank
    %(four_clips)s
    >>> y = ["a/x", "a/x", "a/y", "b/z"]
    >>> # clip 0 ranks clips 1, 2, 3: partners in "a" sit at ranks 0 and 1, in
    >>> # "a/x" at rank 0, so it scores (0.5 / 3 + 0 / 3) / 2 = 1/12; clip 1 also
    >>> # scores 1/12, clip 2 (no partner in "a/y") 1/6, clip 3 has no partner
    >>> round(mean_normalized_rank(embeddings, y), 4)
    0.1111
    >>> # only the top level: (1/6 + 1/6 + 1/6) / 3
    >>> round(mean_normalized_rank(embeddings, y, levels=1), 4)
    0.1667
    """
    tensor = check_embeddings(embeddings, metric)
    taxonomy, tables = check_labels(y, len(tensor), sep, tensor.device)
    chosen = mnr_levels(levels, taxonomy)
    if not chosen:
        return math.nan
    scores = ranked_scores(tensor, tables, RetrievalRequest(mnr_levels=chosen), metric)
    return mean_of_kept(scores["mnr"])


@validate_params(
    {
        **_CONSTRAINTS,
        "relevance": [StrOptions(set(RELEVANCES))],
        "k": [Interval(Integral, 1, None, closed="left"), None],
        "average": [StrOptions({"query", "global"})],
    },
    prefer_skip_nested_validation=True,
)
@fill_doc(**_DOCS)
def hierarchical_ndcg_score(
    embeddings: Any,
    y: Any,
    *,
    relevance: str = "lca_depth",
    k: int | None = None,
    average: str = "query",
    metric: str = "cosine",
    sep: str = "/",
) -> float:
    """Normalised discounted cumulative gain with tree-graded relevance.

    Each clip queries all the others; clip ``j`` is worth a gain that grows
    with how much of the tree it shares with the query. DCG sums the gains
    down the ranking, each divided by log2(rank + 2); NDCG divides by the DCG
    of the ideal ranking.

    Parameters
    ----------
    %(embeddings_y)s
    relevance : {"lca_depth", "max", "sum"}, default="lca_depth"
        Gain of clip ``j`` for query ``q``, with up and down the edges from
        each leaf to their lowest common ancestor (LCA), in y's tree:

        - ``"lca_depth"``: depth(LCA) / depth of the tree (the paper's);
        - ``"max"``: 1 - max(up, down) / height of the tree;
        - ``"sum"``: 1 - (up + down) / diameter of the tree.
    k : int, default=None
        Only the top ``k`` ranks count (in the ranking and in the ideal one).
        None uses the whole ranking.
    average : {"query", "global"}, default="query"
        ``"query"``: the mean of the per-query NDCG. ``"global"``: one NDCG of
        the single list of all N (N - 1) (query, clip) pairs ranked together,
        which is what the paper's reference code computed (torchmetrics 1.4
        flattens a 2-D input); ``k`` then cuts that single list.
    %(metric)s
    %(sep)s

    Returns
    -------
    ndcg : float
        In [0, 1].

    See Also
    --------
    sklearn.metrics.ndcg_score : The same per-query score from dense arrays.
    mean_normalized_rank : Mean rank of same-label clips per level.

    Notes
    -----
    Clips tied in similarity are given the mean discount of the ranks they
    occupy (as :func:`sklearn.metrics.ndcg_score` does), so the score never
    depends on the order of the samples. A query whose every other clip has
    gain 0 scores 0 and counts in the mean, as in sklearn. Per query, the
    result equals ``sklearn.metrics.ndcg_score`` on that query's row of gains
    and similarities (the query itself left out). ``"global"`` gathers the
    pairs in bounded batches (one similarity pass per batch).

    References
    ----------
    Jarvelin, K., & Kekalainen, J. (2002). Cumulated gain-based evaluation of
    IR techniques. ACM TOIS 20(4), 422-446.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hier.metrics import hierarchical_ndcg_score
    %(four_clips)s
    >>> y = ["a/x", "a/y", "a/x", "b/z"]
    >>> # clip 0 ranks clip 1 (gain 1/2) above clip 2 (gain 1), then clip 3 (gain 0);
    >>> # clip 2 likewise ranks clip 1 above clip 0; clip 1 ranks perfectly (both
    >>> # its neighbours have gain 1/2); clip 3 shares nothing with anyone: it scores 0
    >>> ndcg_0 = (1 / 2 + 1 / np.log2(3)) / (1 + 1 / 2 / np.log2(3))
    >>> print(round(ndcg_0, 4), round((2 * ndcg_0 + 1 + 0) / 4, 4))
    0.8597 0.6799
    >>> round(hierarchical_ndcg_score(embeddings, y), 4)
    0.6799
    >>> # with k=1 only the top clip counts: 1/2, 1, 1/2 and 0 of the ideal
    >>> hierarchical_ndcg_score(embeddings, y, k=1)
    0.5
    """
    tensor = check_embeddings(embeddings, metric)
    _, tables = check_labels(y, len(tensor), sep, tensor.device)
    gain = ndcg_gain(tables, relevance)
    if average == "global":
        return global_ndcg(tensor, tables, gain, k, metric)
    scores = ranked_scores(tensor, tables, RetrievalRequest(gain=gain, ndcg_k=k), metric)
    return mean_of_kept(scores["ndcg"])


@validate_params(
    {
        **_CONSTRAINTS,
        "k": [Interval(Integral, 1, None, closed="left")],
        "level": [Interval(Integral, -1, None, closed="left")],
        "adaptive": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
@fill_doc(**_DOCS)
def precision_at_k(
    embeddings: Any,
    y: Any,
    *,
    k: int = 5,
    level: int = -1,
    adaptive: bool = False,
    metric: str = "cosine",
    sep: str = "/",
) -> float:
    """Retrieval precision at k: the share of relevant clips among each query's k nearest.

    Parameters
    ----------
    %(embeddings_y)s
    k : int, default=5
        Number of nearest clips looked at.
    level : int, default=-1
        What makes a clip relevant: -1, the same leaf (the paper's RP@5); a
        depth ``d``, the same node at depth ``d`` (a query whose path stops
        above ``d`` has no relevant clip).
    adaptive : bool, default=False
        False: a query with no relevant clip scores 0, and when ``k`` exceeds
        N - 1 the missing ranks count as misses (the denominator stays ``k``,
        as in torchmetrics). True: each query uses ``min(k, number of relevant
        clips)`` and queries with no relevant clip are left out of the mean,
        as the paper's reference code does.
    %(metric)s
    %(sep)s

    Returns
    -------
    precision : float
        In [0, 1]; NaN when ``adaptive`` leaves out every query.

    See Also
    --------
    mean_normalized_rank : Mean rank of same-label clips per level.

    Notes
    -----
    When clips tied in similarity straddle the k-th rank, each counts with the
    fraction of the tied group that fits in the top k: the expected precision
    under a random order of the tied clips. No full sort is made; the k-th
    similarity is found with ``torch.topk``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hier.metrics import precision_at_k
    %(four_clips)s
    >>> y = ["a/x", "a/x", "a/y", "b/z"]
    >>> # nearest clips: 0 -> 1, 1 -> 0, 2 -> 1, 3 -> 2; only clips 0 and 1 hit their leaf
    >>> precision_at_k(embeddings, y, k=1)
    0.5
    >>> # clips 2 and 3 have no leaf partner: adaptive leaves them out
    >>> precision_at_k(embeddings, y, k=1, adaptive=True)
    1.0
    >>> # at depth 1, clip 2's nearest (clip 1, in "a") is relevant too
    >>> precision_at_k(embeddings, y, k=1, level=1)
    0.75
    """
    tensor = check_embeddings(embeddings, metric)
    taxonomy, tables = check_labels(y, len(tensor), sep, tensor.device)
    relevant = relevance_table(tables, check_level(level, taxonomy))
    request = RetrievalRequest(relevant=relevant, precision_k=k, adaptive=adaptive)
    return mean_of_kept(ranked_scores(tensor, tables, request, metric)["precision"])


@validate_params(
    {
        **_CONSTRAINTS,
        "k": [Interval(Integral, 1, None, closed="left")],
        "levels": ["array-like", Interval(Integral, 1, None, closed="left"), None],
        "relevance": [StrOptions(set(RELEVANCES))],
    },
    prefer_skip_nested_validation=True,
)
@fill_doc(**_DOCS)
def hierarchical_retrieval_scores(
    embeddings: Any,
    y: Any,
    *,
    k: int = 5,
    levels: Any = None,
    relevance: str = "lca_depth",
    metric: str = "cosine",
    sep: str = "/",
) -> dict[str, float]:
    """MNR, NDCG and precision@k from a single ranking pass.

    Ranking every clip dominates the cost of each of the three metrics; this
    ranks once and returns all three, equal to
    ``mean_normalized_rank(embeddings, y, levels=levels)``,
    ``hierarchical_ndcg_score(embeddings, y, relevance=relevance)`` and
    ``precision_at_k(embeddings, y, k=k)`` (same ``metric`` and ``sep``).

    Parameters
    ----------
    %(embeddings_y)s
    k : int, default=5
        Cut-off of the precision (relevant: same leaf).
    levels : int, array-like of int or None, default=None
        Depths of the MNR (None: the informative levels of y's tree).
    relevance : {"lca_depth", "max", "sum"}, default="lca_depth"
        Gain of the NDCG.
    %(metric)s
    %(sep)s

    Returns
    -------
    scores : dict
        ``{"mean_normalized_rank": float, "ndcg": float, "precision_at_k": float}``.

    See Also
    --------
    mean_normalized_rank, hierarchical_ndcg_score, precision_at_k

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hier.metrics import hierarchical_retrieval_scores
    %(four_clips)s
    >>> scores = hierarchical_retrieval_scores(embeddings, ["a/x", "a/x", "a/y", "b/z"], k=1)
    >>> {name: round(value, 4) for name, value in scores.items()}
    {'mean_normalized_rank': 0.1111, 'ndcg': 0.75, 'precision_at_k': 0.5}
    """
    tensor = check_embeddings(embeddings, metric)
    taxonomy, tables = check_labels(y, len(tensor), sep, tensor.device)
    chosen = mnr_levels(levels, taxonomy)
    request = RetrievalRequest(
        mnr_levels=chosen, gain=ndcg_gain(tables, relevance), relevant=relevance_table(tables, -1), precision_k=k
    )
    scores = ranked_scores(tensor, tables, request, metric)
    return {
        "mean_normalized_rank": mean_of_kept(scores["mnr"]) if chosen else math.nan,
        "ndcg": mean_of_kept(scores["ndcg"]),
        "precision_at_k": mean_of_kept(scores["precision"]),
    }
