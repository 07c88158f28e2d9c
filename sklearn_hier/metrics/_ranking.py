"""Retrieval metrics on embeddings: mean normalised rank, hierarchical NDCG, precision@k.

Every clip queries all the others (never itself), ranked by similarity. The
label tree comes from the paths in ``y`` (:meth:`Taxonomy.from_y`). A clip may
instead carry a label set: several labels, on inner nodes too, with closures
taken in a tree of paths or in a DAG passed as ``taxonomy``; relevance between
two clips then comes from their closures, and with one leaf per clip in a tree
every score is what it is with paths. The work is
done by :mod:`sklearn_hier.metrics._retrieval`: PyTorch on the device of the
embeddings (numpy input runs on the CPU), in blocks of queries, so memory is
O(block x N). How tied similarities are ranked is documented there and in each
function's Notes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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
    SetRelevance,
    SetTables,
    leaf_tables,
    ndcg_gain,
    ranked_scores,
    set_tables,
)
from sklearn_hier.nn.distances import SIMILARITIES
from sklearn_hier.nn.hyperbolic import check_in_ball
from sklearn_hier.taxonomy import Taxonomy, is_multilabel, label_sets

__all__ = ["hierarchical_ndcg_score", "hierarchical_retrieval_scores", "mean_normalized_rank", "precision_at_k"]

RELEVANCES = ("lca_depth", "max", "sum")

# What the four metrics share: the constraints of their common parameters, and their docstrings' paragraphs.
_CONSTRAINTS = {
    "embeddings": ["array-like"],
    "y": ["array-like"],
    "metric": [StrOptions(set(SIMILARITIES))],
    "sep": [str],
    "taxonomy": [Taxonomy, None],
}
_DOCS = {
    "embeddings_y": """
        embeddings : array-like or Tensor of shape (n_samples, n_features)
            One embedding per clip. A tensor is scored on its device.
        y : array-like of shape (n_samples,) or (n_samples, depth), or sequence of sets
            Label paths, flat labels or one column per level (see
            :func:`~sklearn_hier.taxonomy.label_paths`), or one label set per
            clip: a ``set`` or ``frozenset`` of labels (a set always means a
            label set; a list stays a row of per-level names). A set's labels
            may sit on inner nodes; an empty set is refused.
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
    "taxonomy": """
        taxonomy : Taxonomy, default=None
            Where label sets take their closures, and against which their
            labels are checked (:func:`~sklearn_hier.taxonomy.label_sets`): a
            tree, or a DAG (:meth:`~sklearn_hier.taxonomy.Taxonomy.from_ontology`,
            :meth:`~sklearn_hier.taxonomy.Taxonomy.from_parents`) whose nodes
            may have several parents; the labels are its nodes. None: each
            label is a path, its closure its prefixes. Only with label sets.
    """,
    "closures": """
        A label set's closure is its labels and all their ancestors (every
        node above them, in a DAG), the root excluded. With one leaf per clip
        in a tree, a closure is the leaf's path and two closures share
        depth(LCA) nodes, so every definition below gives the score of paths
        (without ``taxonomy``, label sets of one leaf each are scored as those
        paths, bit for bit).
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


def check_labels(
    y: Any, n_samples: int, sep: str, device: torch.device, taxonomy: Any = None
) -> tuple[Taxonomy | SetTables, LeafTables | SetTables]:
    """The structure the labels form and the engine's tables, on ``device``.

    Paths give their tree and :class:`LeafTables`, and so do label sets of one
    leaf each when ``taxonomy`` is None (so their scores are the paths', bit
    for bit). Other label sets give :class:`SetTables`, twice: they hold the
    ``depth`` and ``informative_levels`` that the structure is asked for.
    """
    y = host_array(y, "y")
    if isinstance(y, set | frozenset):
        raise TypeError(f"y must hold one label set per sample, not be a single set; got {y!r}.")
    check_consistent_length(np.empty(n_samples), np.asarray(y, dtype=object))
    sets = _label_sets_of(y, sep, taxonomy)
    if sets is None:
        if taxonomy is not None:
            raise ValueError(
                "taxonomy gives the closures of label sets, but y holds no set; pass y as label sets "
                "(a one-label set per clip for single labels), or leave taxonomy=None."
            )
        tree = Taxonomy.from_y(y, sep=sep)
        return tree, leaf_tables(tree, y, device)
    if sets.single_paths is not None:
        tree = Taxonomy.from_y(sets.single_paths, sep=sep)
        return tree, leaf_tables(tree, sets.single_paths, device)
    tables = set_tables(sets.code, sets.closures, sets.specific, sets.node_depth, device)
    return tables, tables


@dataclass(frozen=True)
class _LabelSets:
    """Label sets as node indices: per clip a closure code; per code its nodes and most specific labels.

    ``node_depth`` is the size of each node's own closure; ``single_paths``
    holds each clip's one label when the labels are leaves of a tree of
    paths (None otherwise).
    """

    code: list[int]
    closures: list[list[int]]
    specific: list[list[int]]
    node_depth: list[int]
    single_paths: np.ndarray | None


def _label_sets_of(y: Any, sep: str, taxonomy: Taxonomy | None) -> _LabelSets | None:
    """The label sets of ``y`` as closures of node indices; None when ``y`` is single-label.

    ``y`` is read by the label-set contract (:func:`~sklearn_hier.taxonomy.label_sets`),
    against ``taxonomy`` when one is given (its node keys, e.g. an ontology's
    ids) or as paths joined by ``sep``.
    """
    if not is_multilabel(y):
        return None
    sets = label_sets(y, taxonomy=taxonomy) if taxonomy is not None else label_sets(y, sep=sep)
    return _closures(list(sets), sep, taxonomy)


def _ancestors(label: Any, sep: str, taxonomy: Any) -> tuple[Any, ...]:
    """Proper ancestors of a label, the root excluded: its proper prefixes when ``taxonomy`` is None."""
    if taxonomy is not None:
        return tuple(taxonomy.ancestors(label))
    names = label.split(sep)
    return tuple(sep.join(names[:d]) for d in range(1, len(names)))


def _closures(sets: list[frozenset], sep: str, taxonomy: Any) -> _LabelSets:
    """Index the nodes of the closures and number the distinct closures in order of first appearance."""
    column: dict[Any, int] = {}
    node_depth: list[int] = []

    def index(node: Any) -> int:
        if node not in column:
            column[node] = len(column)
            node_depth.append(len(set(_ancestors(node, sep, taxonomy))) + 1)
        return column[node]

    labels = dict.fromkeys(label for labels in sets for label in labels)
    own = {label: index(label) for label in labels}
    above = {label: frozenset(index(node) for node in _ancestors(label, sep, taxonomy)) for label in labels}
    codes: dict[frozenset, int] = {}
    closures: list[list[int]] = []
    specific: list[list[int]] = []
    code = []
    for labels_of in sets:
        ancestors = frozenset().union(*(above[label] for label in labels_of))
        closure = ancestors.union(own[label] for label in labels_of)
        if closure not in codes:
            codes[closure] = len(closures)
            closures.append(sorted(closure))
            specific.append(sorted(own[label] for label in labels_of if own[label] not in ancestors))
        code.append(codes[closure])
    single = _single_paths(sets, own, above) if taxonomy is None else None
    return _LabelSets(code, closures, specific, node_depth, single)


def _single_paths(sets: list[frozenset], own: dict[Any, int], above: dict[Any, frozenset]) -> np.ndarray | None:
    """Each clip's one path when the labels are the leaves of a tree of paths: one per clip, none above another."""
    if any(len(labels) != 1 for labels in sets):
        return None
    label_nodes = frozenset(own.values())
    if any(ancestors & label_nodes for ancestors in above.values()):
        return None
    return np.array([next(iter(labels)) for labels in sets], dtype=object)


def _depth_meaning(structure: Taxonomy | SetTables) -> str:
    return "the largest closure of y's label sets" if isinstance(structure, SetTables) else "the depth of y's tree"


def mnr_levels(levels: Any, structure: Taxonomy | SetTables) -> tuple[int, ...]:
    """Depths for MNR: ``structure.informative_levels`` by default, else checked against its depth."""
    if levels is None:
        return structure.informative_levels
    chosen = tuple(int(level) for level in np.atleast_1d(np.asarray(levels)))
    if not chosen:
        raise ValueError("levels is empty; pass at least one depth, or None for every informative level.")
    for level in chosen:
        if not 1 <= level <= structure.depth:
            raise ValueError(
                f"levels must hold depths from 1 to {structure.depth} ({_depth_meaning(structure)}); got {level}."
            )
    return chosen


def check_level(level: int, structure: Taxonomy | SetTables) -> int:
    """``level`` as a depth of ``structure`` (-1, the leaf, is kept as -1)."""
    if level != -1 and not 1 <= level <= structure.depth:
        raise ValueError(
            f"level must be -1 (the leaf) or a depth from 1 to {structure.depth} "
            f"({_depth_meaning(structure)}); got {level}."
        )
    return level


def relevance_table(tables: LeafTables | SetTables, level: int) -> torch.Tensor | SetRelevance:
    """(L, L) bool: leaf ``b`` is relevant to a query of leaf ``a`` (same leaf, or same node at ``level``).

    For label sets, a :class:`SetRelevance`: a shared most specific label, or
    closures sharing at least ``level`` nodes.
    """
    if isinstance(tables, SetTables):
        return SetRelevance(level)
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
    embeddings: Any, y: Any, *, metric: str = "cosine", levels: Any = None, sep: str = "/", taxonomy: Any = None
) -> float:
    """Mean normalised rank of same-label clips, averaged over tree levels (lower is better).

    For a query ``q`` and a level ``l``, the partners of ``q`` are the other
    clips that share its node at depth ``l`` (label sets: whose closures share
    at least ``l`` nodes with ``q``'s). Their 0-based ranks in ``q``'s
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
        more than one node (:attr:`Taxonomy.informative_levels`); for label
        sets, the node depths held by more than one node, a node's depth
        being the size of its own closure (its depth, in a tree).
    %(sep)s
    %(taxonomy)s

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

    %(closures)s

    A partner at level ``l`` shares at least ``l`` closure nodes with the
    query: a count of shared hierarchy, like the NDCG gain, rather than a node
    at depth ``l``, which a DAG does not define (a node may sit at several
    depths). With several labels, sharing two top-level nodes therefore meets
    level 2.

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
    >>> # label sets: clip 1 carries two labels; clip 3 ({"b/z"}) now shares two
    >>> # nodes with clip 1, its second nearest: 1/3 at levels 1 and 2
    >>> y_sets = [{"a/x"}, {"a/x", "b/z"}, {"a/y"}, {"b/z"}]
    >>> # the four clips score 1/12, 1/3, 1/6 and 1/3
    >>> round(mean_normalized_rank(embeddings, y_sets), 4)
    0.2292
    """
    tensor = check_embeddings(embeddings, metric)
    structure, tables = check_labels(y, len(tensor), sep, tensor.device, taxonomy)
    chosen = mnr_levels(levels, structure)
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
    taxonomy: Any = None,
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

        For label sets, depth(LCA) is the number of nodes the two closures
        share, up and down what each closure has beyond them, the depth and
        height the largest closure in y, and the diameter the largest
        symmetric difference of two closures in y.
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
    %(taxonomy)s

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

    %(closures)s

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
    >>> # label sets: gains are closure overlaps over the largest closure (clip 1's 4 nodes);
    >>> # each clip's nearest is its best but for clip 3, whose nearest (clip 2) shares nothing
    >>> y_sets = [{"a/x"}, {"a/x", "b/z"}, {"a/y"}, {"b/z"}]
    >>> hierarchical_ndcg_score(embeddings, y_sets, k=1)
    0.75
    """
    tensor = check_embeddings(embeddings, metric)
    _, tables = check_labels(y, len(tensor), sep, tensor.device, taxonomy)
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
    taxonomy: Any = None,
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
        above ``d`` has no relevant clip). For label sets: -1, a shared most
        specific label; ``d``, closures sharing at least ``d`` nodes.
    adaptive : bool, default=False
        False: a query with no relevant clip scores 0, and when ``k`` exceeds
        N - 1 the missing ranks count as misses (the denominator stays ``k``,
        as in torchmetrics). True: each query uses ``min(k, number of relevant
        clips)`` and queries with no relevant clip are left out of the mean,
        as the paper's reference code does.
    %(metric)s
    %(sep)s
    %(taxonomy)s

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

    %(closures)s

    With ``level=-1``, a clip is relevant when the two label sets share one of
    their most specific labels (the labels of a set that are no ancestor of
    another of its labels), so ``{"Music", "Guitar"}`` counts as
    ``{"Guitar"}``. Identical label sets would leave almost every query
    without a relevant clip once clips carry several labels; any shared
    label would make every clip under a common top-level class relevant
    where annotations list each label's ancestors, as FSD50K's do. All three
    mean the same leaf when each clip has one.

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
    >>> # label sets: clips 0 and 1 share "a/x" and are each other's nearest;
    >>> # no other clip carries clip 2's "a/y", and clip 3's nearest is clip 2
    >>> y_sets = [{"a/x"}, {"a/x", "b/z"}, {"a/y"}, {"b/z"}]
    >>> precision_at_k(embeddings, y_sets, k=1)
    0.5
    """
    tensor = check_embeddings(embeddings, metric)
    structure, tables = check_labels(y, len(tensor), sep, tensor.device, taxonomy)
    relevant = relevance_table(tables, check_level(level, structure))
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
    taxonomy: Any = None,
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
        Cut-off of the precision (relevant: same leaf; for label sets, a
        shared most specific label).
    levels : int, array-like of int or None, default=None
        Depths of the MNR (None: the informative levels of y's tree).
    relevance : {"lca_depth", "max", "sum"}, default="lca_depth"
        Gain of the NDCG.
    %(metric)s
    %(sep)s
    %(taxonomy)s

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
    structure, tables = check_labels(y, len(tensor), sep, tensor.device, taxonomy)
    chosen = mnr_levels(levels, structure)
    request = RetrievalRequest(
        mnr_levels=chosen, gain=ndcg_gain(tables, relevance), relevant=relevance_table(tables, -1), precision_k=k
    )
    scores = ranked_scores(tensor, tables, request, metric)
    return {
        "mean_normalized_rank": mean_of_kept(scores["mnr"]) if chosen else math.nan,
        "ndcg": mean_of_kept(scores["ndcg"]),
        "precision_at_k": mean_of_kept(scores["precision"]),
    }
