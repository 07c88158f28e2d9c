"""Per-level F1 and lowest-seen-ancestor accuracy of predicted label *sets*.

The multi-label counterparts of :func:`~sklearn_hier.metrics.level_f1_score`
and :func:`~sklearn_hier.metrics.lsa_accuracy`, for clips that carry several
labels, possibly on inner nodes, in a tree or a DAG. Both read a clip's labels
through their ancestor closure (the labels and every node above them on any
path, the root excluded): a predicted ``"Brass/Horn"`` says ``"Brass"`` too,
as a predicted leaf does in the single-label scores. The closures come from
the one reader of label sets that the hierarchical P/R/F of
:mod:`~sklearn_hier.metrics._tagging` uses.
"""

from __future__ import annotations

import math
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from sklearn_hier.metrics._tagging import closure_indicators
from sklearn_hier.taxonomy import Taxonomy, label_sets

__all__ = ["multilabel_level_f1_score", "multilabel_lsa_accuracy"]

ROOT = ""


def _class_f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Per class 2TP / (2TP + FP + FN); every class passed here was predicted or true, so the denominator is > 0."""
    return 2 * tp / (2 * tp + fp + fn)


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "taxonomy": [Taxonomy],
        "level": [Interval(Integral, 1, None, closed="left")],
        "labels": ["array-like", None],
        "average": [StrOptions({"macro", "micro", "weighted"})],
    },
    prefer_skip_nested_validation=True,
)
def multilabel_level_f1_score(
    y_true: Any, y_pred: Any, taxonomy: Taxonomy, *, level: int, labels: Any = None, average: str = "macro"
) -> float:
    """F1 of predicted label sets at one depth of the taxonomy, on the closures' nodes at that depth.

    Each clip's true and predicted sets are closed under their ancestors; the
    nodes of each closure at depth ``level`` are that clip's classes at that
    level, zero, one or several of them. Every node of the level is then a
    binary class (scikit-learn's multi-label F1 on the level's indicator
    matrix): ``F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c)`` over the clips.
    ``"macro"`` averages the classes that some kept clip has as true or
    predicted.

    Only clips with a true class at ``level`` are kept, as
    :func:`level_f1_score` keeps the samples whose path reaches the level. On
    a tree, with one label per clip and one predicted leaf (or node at or
    below ``level``), this is exactly :func:`level_f1_score`.

    Parameters
    ----------
    y_true, y_pred : sequence of label sets, or ndarray / Tensor of shape (n_samples, n_labels)
        Each clip's labels: a ``set`` or ``frozenset`` of node keys of
        ``taxonomy`` (a prediction may be empty), or one ``str`` for a single
        label; or an indicator matrix whose columns ``labels`` names (as
        :func:`multilabel_hierarchical_precision_recall_fscore` reads them).
    taxonomy : Taxonomy
        A tree or a DAG; its depths (on a DAG, the longest path from the root)
        define the levels.
    level : int
        Depth from 1 to ``taxonomy.depth``.
    labels : array-like of shape (n_labels,), default=None
        Node key of each column of an indicator ``y_true`` or ``y_pred``.
    average : {"macro", "micro", "weighted"}, default="macro"
        As in :func:`sklearn.metrics.f1_score` on the level's indicator matrix:
        the mean of the per-class F1, the F1 of the pooled counts, or the mean
        weighted by each class's number of true clips.

    Returns
    -------
    f1 : float
        NaN when no clip has a true class at ``level``.

    Raises
    ------
    ValueError
        If ``level`` is deeper than the taxonomy, or a label is not one of
        its nodes (naming it and its clip).

    See Also
    --------
    level_f1_score : The single-label score.
    multilabel_hierarchical_f1_score : Pools every level's closure nodes (micro) into one F1.

    Notes
    -----
    Summed over the levels, the per-class counts are those of the pooled
    hierarchical F1 (:func:`multilabel_hierarchical_f1_score`, micro): this
    score is its slice at one level, averaged over classes as the paper
    reports per-level scores.

    Where it departs from :func:`level_f1_score` on one-label sets: a
    predicted set with no node at ``level`` (the root, an empty set, or a
    leaf above the level) adds only misses here, while the single-label
    score counts such a prediction as one extra class, always wrong, whose F1
    of 0 enters the macro mean. Predictions of several nodes at the level
    have no single-label counterpart.

    Examples
    --------
    >>> from sklearn_hier.metrics import multilabel_level_f1_score
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> taxonomy = Taxonomy.from_paths(["a/x", "a/y", "b/z"])
    >>> y_true = [{"a/x", "b/z"}, {"a/y"}, {"b"}]
    >>> y_pred = [{"a/x"}, {"a/x", "a/y"}, {"b/z"}]
    >>> # level 1: a is true 2, predicted 2 (F1 1); b true 2, predicted 1 (2/3)
    >>> round(multilabel_level_f1_score(y_true, y_pred, taxonomy, level=1), 4)
    0.8333
    >>> # level 2 keeps clips 0 and 1 (clip 2's label stops at b): a/x 2/3, a/y 1, b/z 0
    >>> round(multilabel_level_f1_score(y_true, y_pred, taxonomy, level=2), 4)
    0.5556
    """
    if level > taxonomy.depth:
        raise ValueError(f"level must be a depth from 1 to {taxonomy.depth} (the taxonomy's); got {level}.")
    true, pred, nodes = closure_indicators(y_true, y_pred, taxonomy, labels)
    at_level = np.flatnonzero([taxonomy.node_depth(node) == level for node in nodes])
    true, pred = true[:, at_level], pred[:, at_level]
    kept = np.flatnonzero(np.asarray(true.sum(axis=1)) > 0)
    if len(kept) == 0:
        return math.nan
    true, pred = true[kept], pred[kept]
    tp = np.asarray(true.multiply(pred).sum(axis=0), dtype=np.float64).ravel()
    support = np.asarray(true.sum(axis=0), dtype=np.float64).ravel()
    predicted = np.asarray(pred.sum(axis=0), dtype=np.float64).ravel()
    fp, fn = predicted - tp, support - tp
    if average == "micro":
        return float(_class_f1(tp.sum(), fp.sum(), fn.sum()))
    present = (support + predicted) > 0  # the classes some kept clip has, as sklearn's union of labels
    scores = _class_f1(tp[present], fp[present], fn[present])
    if average == "weighted":
        return float(np.average(scores, weights=support[present]))
    return float(scores.mean())


def _lowest_seen(label: str, seen_taxonomy: Taxonomy, taxonomy: Taxonomy | None) -> tuple[str, ...]:
    """The lowest seen ancestors of an unseen ``label``: from the full taxonomy, or from its path on a tree."""
    if taxonomy is not None:
        return taxonomy.lowest_seen_ancestors(label, seen_taxonomy)
    if seen_taxonomy.sep is None:
        raise ValueError(
            f"Label {label!r} is not a node of seen_taxonomy, whose keys are identities: its ancestors are "
            "unknown there. Pass taxonomy=, the full taxonomy the label belongs to."
        )
    return (seen_taxonomy.lowest_seen_ancestor(label),)


def _given_away(seen_taxonomy: Taxonomy) -> set[str]:
    """Nodes in the closure of every seen leaf, the root included: any prediction of a seen leaf names them."""
    closures = [{leaf, *seen_taxonomy.ancestors(leaf)} for leaf in seen_taxonomy.leaves]
    return set.intersection(*closures) | {ROOT} if closures else {ROOT}


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "seen_taxonomy": [Taxonomy],
        "taxonomy": [Taxonomy, None],
    },
    prefer_skip_nested_validation=True,
)
def multilabel_lsa_accuracy(y_true: Any, y_pred: Any, seen_taxonomy: Taxonomy, *, taxonomy: Any = None) -> float:
    """Share of unseen labels whose lowest seen ancestors the predicted label set names.

    A model trained on ``seen_taxonomy`` cannot predict a label it never saw;
    the best it can say of it is its *lowest seen ancestors* (LSAs): on a
    tree, the longest prefix of its path that ``seen_taxonomy`` holds; on a
    DAG, one per path, those below no other seen ancestor
    (:meth:`Taxonomy.lowest_seen_ancestors`). Each (clip, unseen label) pair
    is one question, answered right when the closure of the clip's
    predicted set contains every LSA of that label. The score is the share
    of right answers over all pairs, so a clip with two unseen labels asks
    two questions.

    An LSA that any prediction of a seen leaf would name (the root, or a
    node above every seen leaf) tests nothing and is left out; a pair with no
    LSA left is left out, as :func:`lsa_accuracy` leaves out clips whose LSA
    sits at a level with a single node. The clip's seen labels are not asked
    about here: the F1 of the clips whose labels are all seen scores those.

    Parameters
    ----------
    y_true : sequence of label sets
        True labels (``set``, ``frozenset``, or one ``str`` per clip, any
        form :func:`~sklearn_hier.taxonomy.label_sets` reads), some of them
        not nodes of ``seen_taxonomy``.
    y_pred : sequence of label sets
        Predicted node keys of ``seen_taxonomy`` per clip, possibly empty
        (``predict_label_sets``'s output).
    seen_taxonomy : Taxonomy
        The taxonomy the model was trained on (``estimator.taxonomy_``).
    taxonomy : Taxonomy, default=None
        The full taxonomy, holding the unseen labels (e.g. the DAG given to
        the estimator). Needed when keys are identities; on a tree keyed by
        paths the LSA is read from the unseen label's path.

    Returns
    -------
    accuracy : float
        NaN when no pair is left.

    Raises
    ------
    ValueError
        If a predicted label is not a node of ``seen_taxonomy``, an unseen
        label is not a node of ``taxonomy``, or (without ``taxonomy``) an
        unseen label's ancestors cannot be read from ``seen_taxonomy``.

    See Also
    --------
    lsa_accuracy : The single-label score.
    multilabel_level_f1_score : The score of the clips whose labels are all seen.

    Notes
    -----
    Why containment in the closure: the single-label blind accuracy walks the
    predicted leaf up to the depth of the LSA and compares, which on a tree
    is exactly asking whether the LSA lies in the predicted leaf's closure.
    With one label per clip and one predicted seen leaf this score is
    therefore :func:`lsa_accuracy` of the leaf walked up, when every seen
    leaf lies at the LSA's depth or deeper (otherwise the single-label score
    leaves out an LSA alone on its level even where a shallower seen leaf
    could miss it, and this one keeps it). On a DAG, requiring *every* LSA
    asks the model to place the unseen label on all the paths it is known
    by: an unseen "Bark" under both "Dog" and "Wild animals" is recognised
    only by a set whose closure holds both.

    Like any recall, this rewards predicting more: a set naming every node
    scores 1. Read it beside the F1 of the seen clips, which penalises extra
    labels.

    Examples
    --------
    >>> from sklearn_hier.metrics import multilabel_lsa_accuracy
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> seen = Taxonomy.from_paths(["Brass/Horn/open", "Brass/Tuba/open", "Keys/Piano/open"])
    >>> # clip 0: the muted horn's LSA is Brass/Horn, named by the predicted open horn;
    >>> # its seen label Keys/Piano/open asks nothing. Clip 1: the organ's LSA is Keys, missed.
    >>> y_true = [{"Brass/Horn/muted", "Keys/Piano/open"}, {"Keys/Organ/open"}]
    >>> y_pred = [{"Brass/Horn/open"}, {"Brass/Tuba/open"}]
    >>> multilabel_lsa_accuracy(y_true, y_pred, seen)
    0.5
    >>> dag = Taxonomy.from_parents({"Bark": ["Dog", "Wild"], "Dog": ["Animal"], "Wild": ["Animal"], "Meow": ["Cat"]})
    >>> seen_dag = dag.restrict([{"Dog", "Wild", "Meow"}])
    >>> # the unseen Bark has two LSAs, Dog and Wild: naming one of them is not enough
    >>> multilabel_lsa_accuracy([{"Bark"}, {"Bark"}], [{"Dog"}, {"Dog", "Wild"}], seen_dag, taxonomy=dag)
    0.5
    """
    pred = label_sets(y_pred, taxonomy=seen_taxonomy, allow_empty=True)
    true = label_sets(y_true, sep=seen_taxonomy.sep) if taxonomy is None else label_sets(y_true, taxonomy=taxonomy)
    if len(true) != len(pred):
        raise ValueError(f"y_true has {len(true)} clips but y_pred has {len(pred)}.")
    given_away = _given_away(seen_taxonomy)
    targets: dict[str, set[str]] = {}  # per unseen label: its LSAs that test something
    answers = []
    for labels, predicted in zip(true, pred, strict=True):
        closure = {node for label in predicted for node in (label, *seen_taxonomy.ancestors(label))}
        for label in labels:
            if label in seen_taxonomy:
                continue
            if label not in targets:
                targets[label] = set(_lowest_seen(label, seen_taxonomy, taxonomy)) - given_away
            if targets[label]:
                answers.append(targets[label] <= closure)
    return float(np.mean(answers)) if answers else math.nan
