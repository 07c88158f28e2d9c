"""The label hierarchy: nodes, levels, codes, closures and lowest common ancestors, and the label contracts.

A :class:`Taxonomy` is the one place that knows how labels are laid out. Every
other module (losses, samplers, metrics, the splitter, the estimator) asks it
for codes, closures and LCA depths instead of walking paths itself.

In a tree keyed by paths, node identity is the full path from the root, joined
with the separator: ``"open"`` under ``"Brass/Trumpet"`` is the node
``"Brass/Trumpet/open"``, a different node from ``"Brass/Horn/open"``. A
taxonomy read from an ontology (AudioSet's) is keyed by identities and may be a
DAG, where a node has several parents. The root is the empty string ``""`` and
has depth 0.

:func:`label_paths` is the input contract for one label per sample,
:func:`label_sets` the one for label sets (multi-label ``y``), and
:func:`is_multilabel` tells them apart by the form of ``y``.
"""

from __future__ import annotations

import json
import math
import os
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
from anytree import Node, RenderTree
from scipy import sparse

__all__ = ["Taxonomy", "indicator_matrix", "is_multilabel", "label_paths", "label_sets", "lca_depth", "node_keys"]

ROOT = ""


def label_paths(y: Any, sep: str = "/", *, leaves: bool = True) -> np.ndarray:
    """Return the label of each sample as a path string, after checking the label contract.

    This is the one conversion from every accepted form of ``y`` to node keys,
    and the one place where labels are checked: the Taxonomy constructors, the
    estimator, the metrics, the scorers, the splitter and the dataset loaders
    all go through it.

    Accepted labels:

    - ``str`` paths of non-empty names joined by ``sep``
      (``"Brass/Trumpet/open/ordinario"``); a name without ``sep`` is a flat
      label. Strings are normalised to Unicode NFC, so that the composed and
      decomposed spellings of a name are one label.
    - ``int`` or ``float`` flat labels, all of one type. A float label that
      equals an integer is written as that integer (``1.0`` is the label
      ``"1"``), so that a model fit on float labels scores the same labels
      given as ints.
    - A 2-D array, one column per level (hiclass convention), where ``None``,
      NaN or ``""`` ends a path early.

    Rejected, with an error naming the label and its sample: ``None``, NaN or
    infinity (1-D), ``bytes`` (decode them first), ``bool``, any other type, an
    empty label or an empty name (a doubled or trailing ``sep``), a name that is
    only whitespace or starts or ends with whitespace, ``str`` mixed with
    numbers or ints mixed with floats (``1`` and ``"1"`` would print alike),
    and, with ``leaves=True``, a label that is an ancestor of another label (it
    could not be a leaf). A single ``str`` where an array is expected raises
    ``TypeError``.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, depth)
        Label paths, flat labels, or one column per level.
    sep : str, default="/"
        Separator between levels.
    leaves : bool, default=True
        The labels are samples' leaves: none may be an ancestor of another.
        False for node keys that may sit at any depth (predictions at a level).

    Returns
    -------
    paths : ndarray of shape (n_samples,), dtype object
        One path string per sample.

    Raises
    ------
    TypeError
        If ``y`` is a single str or bytes, or a label has a rejected type or
        the labels mix types.
    ValueError
        If ``y`` is not 1-D or 2-D, a label is missing, empty, badly spaced or
        an ancestor of another label, or a 2-D row has a gap (an empty level
        followed by a non-empty one).

    Examples
    --------
    >>> label_paths([["Brass", "Trumpet"], ["Keys", ""]])
    array(['Brass/Trumpet', 'Keys'], dtype=object)
    >>> label_paths([3, 7])
    array(['3', '7'], dtype=object)
    >>> label_paths([1.0, 2.5])
    array(['1', '2.5'], dtype=object)
    >>> label_paths(["Brass", "Brass/Horn"])
    Traceback (most recent call last):
    ...
    ValueError: Label 'Brass' is an internal node, an ancestor of label 'Brass/Horn'...
    """
    if isinstance(y, str | bytes):
        raise TypeError(f"Labels must be an array-like of labels, not a single {type(y).__name__}; got {y!r}.")
    if not isinstance(sep, str) or not sep:
        raise ValueError(f"sep must be a non-empty string; got {sep!r}.")
    arr = np.asarray(y, dtype=object)
    if arr.ndim == 1:
        values = arr.tolist()
        texts = _str_texts(values, sep)
        if texts is not None:
            paths = np.array([texts[v] for v in values], dtype=object)
        else:
            typed = _flat_texts(values, sep)
            paths = np.array([typed[_key(v)] for v in values], dtype=object)
    elif arr.ndim == 2:
        paths = np.array([_join_row(row, i, sep) for i, row in enumerate(arr.tolist())], dtype=object)
    else:
        raise ValueError(f"y must be 1-D (label paths) or 2-D (one column per level); got shape {arr.shape}.")
    if leaves:
        _check_no_ancestor(paths, sep)
    return paths


def _key(value: Any) -> tuple[type, Any]:
    # 1 and 1.0 and True hash alike; keying on the type keeps them apart until the type check.
    return (type(value), value)


def _str_texts(values: list[Any], sep: str) -> dict[str, str] | None:
    """Fast path for the usual case, str labels that obey the contract: the text of each distinct label.

    None when a label is not a str or breaks the contract; :func:`_flat_texts` then finds and names it.
    """
    try:
        distinct = dict.fromkeys(values)
    except TypeError:  # unhashable labels
        return None
    if not all(isinstance(value, str) for value in distinct):
        return None  # numbers may compare equal across types (1 == 1.0 == True): keep them apart
    try:
        return {value: _label_text(value, -1, sep, where="") for value in distinct}
    except (TypeError, ValueError):
        return None


def _flat_texts(
    values: list[Any], sep: str | None, samples: Sequence[int] | None = None
) -> dict[tuple[type, Any], str]:
    """The path text of each distinct 1-D label, after checking each and their types together.

    ``samples`` gives the sample of each value where a sample holds several (label sets), for the errors.
    """
    distinct: dict[tuple[type, Any], int] = {}
    for i, value in enumerate(values):
        row = i if samples is None else samples[i]
        try:
            distinct.setdefault(_key(value), row)
        except TypeError:  # unhashable: a list or an array where a label belongs
            _kind(value, row)
    kinds: dict[str, Any] = {}
    text = {}
    for key, row in distinct.items():
        value = key[1]
        kinds.setdefault(_kind(value, row), value)
        text[key] = _label_text(value, row, sep, where=f"(sample {row})")
    if len(kinds) > 1:
        examples = " and ".join(f"{kind} {value!r}" for kind, value in kinds.items())
        raise TypeError(
            f"Labels must all be of one type (str paths, or int, or float flat labels); y mixes {examples}."
        )
    return text


def _kind(value: Any, row: int) -> str:
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"Label {value!r} (sample {row}) is a bool; use str or int labels.")
    if isinstance(value, str):
        return "str"
    if isinstance(value, Integral):
        return "int"
    if isinstance(value, Real):
        return "float"
    if value is None:
        raise ValueError(f"Label None (sample {row}) is missing; every sample needs a label.")
    if isinstance(value, bytes | bytearray):
        raise TypeError(f"Label {value!r} (sample {row}) is bytes; decode the labels to str first.")
    raise TypeError(f"Label {value!r} (sample {row}) is a {type(value).__name__}; expected a str, int or float label.")


def _label_text(value: Any, row: int, sep: str, where: str) -> str:
    """The checked, NFC-normalised text of one label (1-D) or one level name (2-D)."""
    kind = _kind(value, row)
    if kind == "float":
        if not math.isfinite(value):
            raise ValueError(f"Label {value!r} is not a finite number {where}; every sample needs a label.")
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if kind == "int":
        return str(int(value))
    text = unicodedata.normalize("NFC", str(value))
    if text == "":
        raise ValueError(f"Label '' is empty {where}; every sample needs a label.")
    # sep=None: the label is an identity (an ontology id such as "/m/0dgw9r"), one name with no levels.
    for name in [text] if sep is None else text.split(sep):
        _check_spacing(name, text, sep, where)
    return text


def _check_spacing(name: str, label: str, sep: str, where: str) -> None:
    if name == "":
        raise ValueError(f"Label {label!r} has an empty name {where}; check for a doubled or trailing {sep!r}.")
    if name.strip() == "":
        raise ValueError(f"Label {label!r} has a name made only of whitespace {where}.")
    if name != name.strip():
        raise ValueError(f"Label {label!r} has a name {name!r} with leading or trailing whitespace {where}.")


def _check_no_ancestor(paths: np.ndarray, sep: str) -> None:
    distinct = set(paths.tolist())
    for path in distinct:
        start = path.find(sep)
        while start != -1:
            if path[:start] in distinct:
                raise ValueError(
                    f"Label {path[:start]!r} is an internal node, an ancestor of label {path!r}: a sample's label "
                    "must be a leaf, so give that sample its full path."
                )
            start = path.find(sep, start + 1)


# --------------------------------------------------------------- label sets
def is_multilabel(y: Any) -> bool:
    """Whether ``y`` holds label sets (multi-label) rather than one label per sample.

    Decided by the form of ``y`` alone, never by its values, with the rule of
    :func:`label_sets`: ``y`` is multi-label when it is

    - a sequence in which at least one sample is a ``set`` or ``frozenset``,
    - a 3-D array (hiclass's multi-label form: samples x labels x levels),
    - a 2-D array of bools, or a scipy sparse matrix (an indicator matrix).

    Everything else, lists and tuples of names included, keeps its
    single-label meaning (:func:`label_paths`): a 2-D array of ints or
    strings is one column per level. Entry points call this to route ``y``.

    Parameters
    ----------
    y : array-like or sparse matrix
        Labels in any form :func:`label_paths` or :func:`label_sets` accepts.

    Returns
    -------
    multilabel : bool

    Examples
    --------
    >>> import numpy as np
    >>> is_multilabel([{"a/x", "b"}, {"b"}])  # sets are label sets
    True
    >>> is_multilabel([{"a/x"}, "b"])  # a str beside a set is a one-label set
    True
    >>> is_multilabel(["a/x", "b"])  # one path per sample
    False
    >>> is_multilabel([["a", "x"], ["b", ""]])  # lists are per-level rows, as ever
    False
    >>> is_multilabel(np.array([[True, False], [True, True]]))  # a bool indicator matrix
    True
    >>> is_multilabel(np.array([[0, 1], [1, 1]]))  # ints: per-level columns
    False
    """
    return _form(y) != "single"


def _form(y: Any, classes: Any = None) -> str:
    """Which form ``y`` takes: "indicator", "levels" (3-D), "sets" or "single" (:func:`label_paths`)."""
    if sparse.issparse(y):
        return "indicator"
    if isinstance(y, str | bytes):
        return "single"
    try:
        arr = y if isinstance(y, np.ndarray) else np.asarray(y, dtype=object)
    except ValueError:  # ragged nesting numpy cannot hold: left to label_paths to name
        return "single"
    if arr.ndim == 3:
        return "levels"
    if arr.ndim == 2:
        # Bools were never labels (label_paths refuses them), so a bool matrix can only be an indicator.
        if arr.dtype == bool or (arr.dtype == object and arr.size and all(_is_bool(v) for v in arr.flat)):
            return "indicator"
        return "indicator" if classes is not None else "single"
    if arr.ndim == 1 and arr.dtype == object and any(isinstance(v, set | frozenset) for v in arr.tolist()):
        return "sets"
    return "single"


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def label_sets(
    y: Any, *, taxonomy: Taxonomy | None = None, classes: Any = None, sep: str | None = "/", allow_empty: bool = False
) -> tuple[frozenset[str], ...]:
    """Return the labels of each sample as a frozenset of node keys, after checking the label-set contract.

    This is the multi-label counterpart of :func:`label_paths`: the one
    conversion from every accepted form of multi-label ``y`` to node keys, and
    the one place where label sets are checked. Single-label ``y`` is accepted
    too and read as one-label sets.

    Accepted forms, told apart by their container, never by their values
    (:func:`is_multilabel` applies the same rule):

    - **A sequence of label sets**: each sample is a ``set`` or ``frozenset``
      of labels (paths such as ``"Brass/Horn"`` or, with ``sep=None`` or an
      ontology taxonomy, identities such as ``"/m/0dgw9r"``); a single label
      (a ``str`` or a number) beside them is a one-label set. A ``list`` or
      ``tuple`` sample in such a sequence is refused: a list of names is a
      per-level row (2-D ``y``), so write that path as one string.
    - **A 3-D array** (hiclass): ``y[i, j]`` is the ``j``-th label of sample
      ``i``, one column per level, where ``""``, ``None`` or NaN ends a path
      early and a row with every level empty is padding.
    - **An indicator matrix** (scikit-learn's multi-label convention): a 2-D
      array of bools or of 0/1 ints, or a scipy sparse matrix, with one
      column per class. ``classes`` names the columns; without it the columns
      are ``taxonomy.nodes[1:]`` (every node but the root, in node order, the
      columns of :meth:`Taxonomy.closure_multi_hot`). A 2-D array of ints is
      read as an indicator only when ``classes`` is given: otherwise it keeps
      its single-label meaning, one column per level.
    - **Single-label y** (anything else): whatever :func:`label_paths`
      accepts, each label becoming a one-label set.

    Every label is checked as :func:`label_paths` checks one (NFC
    normalisation, no empty or badly spaced name, no ``None``, NaN, ``bytes``
    or ``bool``, one type throughout). Then:

    - **Inner nodes** are labels like any other: a label need not be a leaf.
    - **A label beside its own ancestor** (``{"a", "a/x"}``) is kept as given:
      it adds nothing to the closure (:meth:`Taxonomy.closure`), which is what
      hierarchy-aware losses and metrics use.
    - **Two labels of one sample naming the same node** are refused: a
      repeated path in the 3-D form, two spellings that NFC merges, or a leaf
      name beside its path.
    - **An empty set** (or a 3-D sample of padding only, or an all-zero
      indicator row) is refused unless ``allow_empty=True``: every training or
      test sample needs a label; predictions may have none.
    - **With a taxonomy**, each label must name a node: its key (a path, or
      an identity for an ontology), or, in a tree keyed by paths, a leaf name
      that no other leaf shares. An unknown or ambiguous label is refused,
      naming the label and its sample.

    Parameters
    ----------
    y : sequence of sets, array-like of shape (n_samples, n_labels, depth), \
indicator matrix of shape (n_samples, n_classes), or single-label y
        The labels, in one of the forms above.
    taxonomy : Taxonomy, default=None
        Resolve and check every label against this taxonomy; its ``sep`` is
        used. Required to read an indicator matrix without ``classes``.
    classes : array-like of shape (n_classes,), default=None
        The class of each indicator column (labels, resolved like ``y``'s),
        for instance an estimator's ``classes_``. Makes a 2-D array of 0/1
        ints an indicator matrix.
    sep : str or None, default="/"
        Separator between levels when no taxonomy is given; None reads labels
        as identities with no levels (ontology ids). With a taxonomy, leave it
        as is or give the taxonomy's own.
    allow_empty : bool, default=False
        Accept samples with no label (predictions, not ground truth).

    Returns
    -------
    sets : tuple of frozenset of str, length n_samples
        The node keys of each sample's labels.

    Raises
    ------
    TypeError
        If ``y`` is a single str, a sample or a label has a rejected type, or
        an indicator matrix holds floats (threshold the scores first).
    ValueError
        Naming the sample (and label): an empty set, a repeated node, an
        unknown or ambiguous label, an indicator value other than 0 and 1, or
        columns that do not match ``classes``.

    See Also
    --------
    label_paths : The single-label contract.
    is_multilabel : The form rule, for routing ``y``.
    indicator_matrix : The inverse: label sets to an indicator matrix.

    Examples
    --------
    >>> import numpy as np
    >>> # label sets; a str is a one-label set; each sample comes back as a frozenset
    >>> label_sets([{"Brass/Horn"}, "Keys"])
    (frozenset({'Brass/Horn'}), frozenset({'Keys'}))
    >>> [sorted(s) for s in label_sets([{"Brass/Horn", "Keys"}, "Keys"])]  # sorted for printing
    [['Brass/Horn', 'Keys'], ['Keys']]
    >>> # hiclass's 3-D form: rows of levels, padded with ""
    >>> [sorted(s) for s in label_sets([[["Brass", "Horn"], ["Keys", ""]], [["Keys", ""], ["", ""]]])]
    [['Brass/Horn', 'Keys'], ['Keys']]
    >>> # an indicator matrix, its columns named by classes
    >>> [sorted(s) for s in label_sets(np.array([[1, 0, 1], [0, 0, 1]]), classes=["a", "b", "c"])]
    [['a', 'c'], ['c']]
    >>> # with a taxonomy: a unique leaf name resolves to its path
    >>> tax = Taxonomy.from_paths(["Brass/Horn", "Keys"])
    >>> [sorted(s) for s in label_sets([{"Horn", "Keys"}], taxonomy=tax)]
    [['Brass/Horn', 'Keys']]
    >>> label_sets([{"Brass/Tuba"}], taxonomy=tax)
    Traceback (most recent call last):
    ...
    ValueError: Unknown label 'Brass/Tuba' (sample 0): it is not a node of this taxonomy.
    """
    if isinstance(y, str | bytes):
        raise TypeError(f"Labels must be an array-like of labels, not a single {type(y).__name__}; got {y!r}.")
    sep = _label_sep(taxonomy, sep)
    y = list(y) if isinstance(y, Iterator) else y  # a generator is read once
    form = _form(y, classes)
    if form == "indicator":
        samples = _indicator_samples(y, _columns(classes, taxonomy, sep))
    else:
        samples = {"levels": _level_samples, "sets": _set_samples, "single": _single_samples}[form](y, sep)
        if taxonomy is not None:
            samples = _resolved(samples, taxonomy)
    return tuple(_label_set(labels, row, allow_empty) for row, labels in enumerate(samples))


def _label_sep(taxonomy: Taxonomy | None, sep: str | None) -> str | None:
    if taxonomy is None:
        if sep is not None and (not isinstance(sep, str) or not sep):
            raise ValueError(f"sep must be a non-empty string or None; got {sep!r}.")
        return sep
    # "/" is the default, so it stands for "unset"; any other value must agree with the taxonomy.
    if sep != "/" and sep != taxonomy.sep:
        raise ValueError(f"sep={sep!r} differs from the taxonomy's sep={taxonomy.sep!r}; leave sep unset.")
    return taxonomy.sep


def _single_samples(y: Any, sep: str | None) -> list[list[str]]:
    return [[label] for label in _single_texts(y, sep)]


def _single_texts(y: Any, sep: str | None) -> list[str]:
    """The checked text of each label of 1-D (or, with a separator, 2-D per-level) single-label ``y``."""
    if sep is not None:
        return label_paths(y, sep, leaves=False).tolist()
    if isinstance(y, str | bytes):
        raise TypeError(f"Labels must be an array-like of labels, not a single {type(y).__name__}; got {y!r}.")
    arr = np.asarray(y, dtype=object)
    if arr.ndim != 1:
        raise ValueError(
            f"Labels that are identities (sep=None, an ontology taxonomy) must be 1-D; got shape {arr.shape}: "
            "per-level columns need labels that are paths."
        )
    values = arr.tolist()
    texts = _flat_texts(values, None)
    return [texts[_key(v)] for v in values]


def _set_samples(y: Any, sep: str | None) -> list[list[str]]:
    """The checked label texts of each sample of a sequence of label sets."""
    values: list[Any] = []
    rows: list[int] = []
    sizes = []
    for row, item in enumerate(np.asarray(y, dtype=object).tolist()):
        members = _members(item, row)
        values += members
        rows += [row] * len(members)
        sizes.append(len(members))
    texts = _flat_texts(values, sep, rows)
    flat = iter(texts[_key(v)] for v in values)
    return [[next(flat) for _ in range(size)] for size in sizes]


def _members(item: Any, row: int) -> list[Any]:
    if isinstance(item, set | frozenset):
        # Sorted so that the same y reports the same first error under any string hash seed.
        return sorted(item, key=lambda v: (type(v).__name__, repr(v)))
    if isinstance(item, list | tuple | np.ndarray | Mapping):
        raise TypeError(
            f"Sample {row} is a {type(item).__name__} ({item!r}) in a sequence of label sets: give each sample's "
            "labels as a set or frozenset (a list of names is one path, level by level: write it as one string)."
        )
    return [item]  # one label: its type is checked with the others


def _level_samples(y: Any, sep: str | None) -> list[list[str]]:
    """The checked paths of each sample of hiclass's 3-D form, padding rows dropped."""
    if sep is None:
        raise ValueError("A 3-D y holds paths, one column per level; labels that are identities must be label sets.")
    samples = []
    for i, sample in enumerate(np.asarray(y, dtype=object).tolist()):
        rows = [row for row in sample if not all(_ends_path(v) for v in row)]
        samples.append([_join_row(row, i, sep) for row in rows])
    return samples


def _resolved(samples: list[list[str]], taxonomy: Taxonomy) -> list[list[str]]:
    """Each label replaced by the key of the node it names in ``taxonomy`` (each distinct label resolved once)."""
    key_of: dict[str, str] = {}
    out = []
    for row, labels in enumerate(samples):
        for label in labels:
            if label not in key_of:
                key_of[label] = taxonomy._node_key(label, f"(sample {row})")
        out.append([key_of[label] for label in labels])
    return out


def _label_set(labels: list[str], row: int, allow_empty: bool) -> frozenset[str]:
    keys = frozenset(labels)
    if not keys and not allow_empty:
        raise ValueError(f"Sample {row} has no label (an empty label set); every sample needs at least one label.")
    if len(keys) < len(labels):
        twice = next(key for key in labels if labels.count(key) > 1)
        raise ValueError(
            f"Sample {row} names the node {twice!r} twice; a sample's labels are a set, each naming a different node."
        )
    return keys


def _columns(classes: Any, taxonomy: Taxonomy | None, sep: str | None) -> list[str]:
    """The node key of each indicator column: ``classes`` checked (and resolved), else ``taxonomy.nodes[1:]``."""
    if classes is None:
        if taxonomy is None:
            raise ValueError(
                "y is an indicator matrix (2-D bools or a sparse matrix, one column per class): pass classes= to "
                "name its columns, or taxonomy= (its columns are then taxonomy.nodes[1:])."
            )
        return list(taxonomy.nodes[1:])
    if isinstance(classes, str | bytes):
        raise TypeError(f"classes must be an array-like of labels, not a single {type(classes).__name__}.")
    keys = _single_texts(_as_list(classes), sep)
    if taxonomy is not None:
        keys = [taxonomy._node_key(key, f"(column {j} of classes)") for j, key in enumerate(keys)]
    if len(set(keys)) < len(keys):
        twice = next(key for key in keys if keys.count(key) > 1)
        raise ValueError(f"classes must name distinct nodes; {twice!r} is named twice.")
    return keys


def _indicator_samples(y: Any, columns: list[str]) -> list[list[str]]:
    """The column keys set in each row of an indicator matrix, after checking its shape and values."""
    if sparse.issparse(y):
        matrix = sparse.csr_matrix(y, copy=True)  # a copy: eliminate_zeros works in place
        _check_indicator(matrix.data, matrix.shape, len(columns), lambda k: _sparse_cell(matrix, k))
        matrix.eliminate_zeros()
        hits = [matrix.indices[start:end] for start, end in zip(matrix.indptr[:-1], matrix.indptr[1:], strict=True)]
    else:
        arr = np.asarray(y)
        if arr.dtype == object:
            arr = np.asarray(arr.tolist())  # Python bools or ints in an object array: their own dtype
        _check_indicator(arr, arr.shape, len(columns), lambda k: np.unravel_index(k, arr.shape))
        hits = [np.flatnonzero(row) for row in arr]
    names = np.asarray(columns, dtype=object)
    return [names[cols].tolist() for cols in hits]


def _sparse_cell(matrix: Any, k: int) -> tuple[int, int]:
    return int(np.searchsorted(matrix.indptr, k, side="right") - 1), int(matrix.indices[k])


def _check_indicator(values: np.ndarray, shape: tuple[int, ...], n_columns: int, cell: Any) -> None:
    if len(shape) != 2 or shape[1] != n_columns:
        raise ValueError(
            f"y is an indicator matrix of shape {shape}, but its columns are named by {n_columns} classes; "
            "expected shape (n_samples, n_classes)."
        )
    if values.dtype.kind == "b":
        return
    if values.dtype.kind == "f":
        raise TypeError(
            "y is an indicator matrix of floats; it must hold 0 and 1 as ints or bools. Threshold scores first "
            "(y_score >= 0.5) or cast exact 0/1 values with astype(int)."
        )
    if values.dtype.kind not in "iu":
        raise TypeError(f"y is an indicator matrix of dtype {values.dtype}; it must hold 0 and 1 as ints or bools.")
    bad = np.flatnonzero((values != 0) & (values != 1))
    if len(bad):
        row, col = cell(int(bad[0]))
        raise ValueError(
            f"An indicator matrix holds only 0 and 1; y[{row}, {col}] is {values.flat[bad[0]].item()!r} (sample {row})."
        )


def indicator_matrix(
    y: Any, *, classes: Any = None, taxonomy: Taxonomy | None = None, sep: str | None = "/"
) -> np.ndarray:
    """Return label sets as an indicator matrix: one row per sample, one bool column per class.

    The inverse of reading an indicator with :func:`label_sets`:
    ``label_sets(indicator_matrix(y, classes=c), classes=c)`` gives back the
    label sets of ``y``. This is scikit-learn's multi-label convention (as
    :class:`~sklearn.preprocessing.MultiLabelBinarizer` writes it) with the
    column order fixed by the caller, for instance an estimator's
    ``classes_``, so that predictions and ground truth line up.

    Parameters
    ----------
    y : label sets or any form :func:`label_sets` accepts
        Empty sets are allowed (a row of zeros).
    classes : array-like of shape (n_classes,), default=None
        The class of each column. Default: ``taxonomy.nodes[1:]``.
    taxonomy : Taxonomy, default=None
        Resolve and check the labels and ``classes`` against this taxonomy.
    sep : str or None, default="/"
        As in :func:`label_sets`.

    Returns
    -------
    indicator : ndarray of shape (n_samples, n_classes), dtype bool
        Bools rather than 0/1 ints, because a 2-D array of bools can only be
        an indicator matrix, whereas 2-D ints are per-level columns unless
        their ``classes`` are named. scikit-learn's multi-label metrics
        accept either.

    Raises
    ------
    ValueError
        If a label is not one of ``classes`` (naming the label and its
        sample), or neither ``classes`` nor ``taxonomy`` is given.

    Examples
    --------
    >>> indicator_matrix([{"a", "c"}, set()], classes=["a", "b", "c"])
    array([[ True, False,  True],
           [False, False, False]])
    >>> tax = Taxonomy.from_paths(["a/x", "b"])
    >>> tax.nodes[1:]  # the default columns
    ('a', 'b', 'a/x')
    >>> indicator_matrix([{"a/x"}, {"b"}], taxonomy=tax).astype(int)
    array([[0, 0, 1],
           [0, 1, 0]])
    """
    if classes is None and taxonomy is None:
        raise ValueError("indicator_matrix needs its columns: pass classes=, or taxonomy= for taxonomy.nodes[1:].")
    sep = _label_sep(taxonomy, sep)
    sets = label_sets(y, taxonomy=taxonomy, sep=sep, allow_empty=True)
    columns = _columns(classes, taxonomy, sep)
    column_of = {key: j for j, key in enumerate(columns)}
    out = np.zeros((len(sets), len(columns)), dtype=bool)
    for row, labels in enumerate(sets):
        for label in labels:
            if label not in column_of:
                raise ValueError(f"Label {label!r} (sample {row}) is not one of the {len(columns)} classes.")
            out[row, column_of[label]] = True
    return out


def lca_depth(codes_a: Any, codes_b: Any) -> Any:
    """Depth of the lowest common ancestor of every pair of rows.

    Works on numpy arrays and on torch tensors alike (the metrics call it on
    the GPU), in O(n x m) memory: one pass per level, never an n x m x depth
    array.

    Parameters
    ----------
    codes_a : array of shape (n, depth)
        Level codes (:meth:`Taxonomy.level_codes`), -1 where a path ended.
    codes_b : array of shape (m, depth)
        Level codes from the same taxonomy.

    Returns
    -------
    depths : array of shape (n, m)
        ``depths[i, j]`` is the depth of LCA(a_i, b_j); 0 means only the root
        is shared.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[0, 0], [0, 1]])
    >>> lca_depth(a, np.array([[0, 1], [1, 2]]))
    array([[1, 0],
           [2, 0]])
    """
    shared = None
    depth = 0
    for level in range(codes_a.shape[1]):
        a = codes_a[:, level : level + 1]
        same = (a == codes_b[:, level]) & (a >= 0)
        shared = same if shared is None else shared & same
        depth = depth + shared  # bool adds as 0/1, for numpy and torch alike
    return depth


def _ends_path(value: Any) -> bool:
    """Whether a cell of a 2-D row ends the path: ``None``, ``""`` or NaN."""
    return value is None or (isinstance(value, str) and value == "") or (isinstance(value, float) and math.isnan(value))


def _join_row(row: Sequence[Any], index: int, sep: str) -> str:
    ended = [_ends_path(v) for v in row]
    n_filled = len(row)
    while n_filled and ended[n_filled - 1]:
        n_filled -= 1
    if any(ended[:n_filled]):
        raise ValueError(f"Row {index} of y has a gap: an empty level followed by a non-empty one: {list(row)!r}.")
    names = [_label_text(v, index, sep, where=f"(row {index}, level {d + 1})") for d, v in enumerate(row[:n_filled])]
    for name in names:
        if sep in name:
            raise ValueError(f"Label {name!r} (row {index}) contains the separator {sep!r}.")
    if not names:
        raise ValueError(f"Row {index} of y is empty; every sample needs a label.")
    return sep.join(names)


class Taxonomy:
    """An immutable label hierarchy: a tree keyed by paths, or a DAG keyed by identities.

    Two kinds of taxonomy share this class and its operations:

    - **A tree keyed by paths**, built by the constructor and every ``from_*``
      method but :meth:`from_ontology` and :meth:`from_parents`. A node's key
      is its path from the root joined with ``sep``, so ``"open"`` under
      ``"Brass/Horn"`` and under ``"Brass/Trumpet"`` are two nodes.
    - **A graph keyed by identities**, built by :meth:`from_ontology` (the
      AudioSet ontology format) and :meth:`from_parents`. A node's key is an
      identity, such as the AudioSet machine id ``"/m/0dgw9r"`` or a name, and
      ``sep`` is None: keys are never split. A node may have several parents
      (a directed acyclic graph, DAG); one with none hangs from the root. Its
      name and restrictions are attributes (:meth:`name_of`,
      :meth:`restrictions_of`).

    The root is ``""``. The *ancestors* of a node are every node above it on
    any path from the root, the root excluded. Its *depth* is the length of
    the longest path from the root to it: on a tree, its one path, so that
    every number of a tree is what it has always been; on a DAG, every parent
    lies at a smaller depth than its child. ``levels[d]`` holds the nodes at
    depth ``d``. Nodes are ordered by depth, then by path (trees) or key
    (identities), which fixes the level codes and the columns of
    :meth:`closure_multi_hot`; leaves, the nodes with no child, are ordered
    by path or key, which fixes the leaf codes.

    Operations that follow one path per label need a tree and raise a
    ``ValueError`` naming a node with several parents on a DAG: :meth:`path`,
    :meth:`lca`, :meth:`level_codes`, :meth:`leaf_level_codes`,
    :meth:`node_level_codes`, :meth:`ancestor_at`, :meth:`path_multi_hot`,
    :meth:`lca_depth_matrix`, :meth:`tree_distance_matrix` and
    :meth:`parent` of a node with several parents. Their DAG counterparts are
    :meth:`parents`, :meth:`ancestors`, :meth:`closure`,
    :meth:`closure_multi_hot` and :meth:`lowest_seen_ancestors`, with one
    definition for trees and DAGs. :meth:`lowest_seen_ancestor` and
    :meth:`to_dict` read keys as paths, so they need a tree keyed by paths.

    Parameters
    ----------
    paths : iterable of str
        Node paths; every prefix of a path is added as an ancestor. Prefer the
        ``from_*`` constructors.
    sep : str, default="/"
        Separator between the names in a path.

    Attributes
    ----------
    leaves : tuple of str
        Leaf keys in code order.
    nodes : tuple of str
        Every node, the root ``""`` first, then by depth and path (or key).
    levels : tuple of tuple of str
        ``levels[d]`` holds the nodes at depth ``d`` (``levels[0] == ("",)``).
    depth : int
        Depth of the deepest node.
    sep : str or None
        Separator between the names in a path; None when keys are identities.
    is_tree : bool
        Whether every node has one parent: True for every taxonomy keyed by
        paths, and for an ontology with no shared child.

    Examples
    --------
    >>> tax = Taxonomy.from_paths(["Brass/Trumpet/open", "Brass/Horn/open", "Keys/Piano"])
    >>> tax.leaves
    ('Brass/Horn/open', 'Brass/Trumpet/open', 'Keys/Piano')
    >>> tax.depth
    3
    >>> tax.lca("Brass/Horn/open", "Brass/Trumpet/open")
    'Brass'
    >>> tax.level_codes(["Keys/Piano", "Brass/Trumpet/open"])
    array([[ 1,  2, -1],
           [ 0,  1,  1]])

    A DAG: barking is both a dog sound and a wild-animal sound.

    >>> dag = Taxonomy.from_parents({"Bark": ["Dog", "Wild animals"], "Dog": ["Domestic animals"]})
    >>> dag.is_tree, dag.sep
    (False, None)
    >>> dag.levels
    (('',), ('Domestic animals', 'Wild animals'), ('Dog',), ('Bark',))
    >>> dag.ancestors("Bark")
    ('Domestic animals', 'Wild animals', 'Dog')
    """

    __slots__ = (
        "sep",
        "leaves",
        "nodes",
        "levels",
        "depth",
        "is_tree",
        "_index",
        "_position",
        "_leaf_index",
        "_leaf_by_name",
        "_parents",
        "_children",
        "_ancestors",
        "_depth_of",
        "_names",
        "_restrictions",
        "_leaf_level_codes",
        "_signature",
        "_frozen",
    )

    def __init__(self, paths: Iterable[str], sep: str = "/") -> None:
        if not isinstance(sep, str) or not sep:
            raise ValueError(f"sep must be a non-empty string; got {sep!r}.")
        keys = {ROOT}
        # Nodes, not samples: an internal node may be listed beside its descendants.
        for path in dict.fromkeys(node_keys(paths, sep).tolist()):
            names = _split(path, sep)
            keys.update(sep.join(names[: i + 1]) for i in range(len(names)))
        nodes = sorted(keys, key=lambda k: (_depth(k, sep), _split(k, sep)))
        parents = {k: ((k.rpartition(sep)[0] if sep in k else ROOT),) for k in nodes if k != ROOT}
        self._build(nodes, parents, sep)

    # ------------------------------------------------------------------ build
    def _build(
        self,
        nodes: list[str],
        parents: Mapping[str, tuple[str, ...]],
        sep: str | None,
        names: Mapping[str, str] | None = None,
        restrictions: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        """Set every attribute from ``nodes`` (root first, ordered by depth) and each node's parents in node order."""
        set_ = object.__setattr__
        position = {k: i for i, k in enumerate(nodes)}
        children: dict[str, list[str]] = {k: [] for k in nodes}
        depth_of = {ROOT: 0}
        ancestors: dict[str, tuple[str, ...]] = {ROOT: ()}
        for key in nodes[1:]:  # a parent comes before its children: nodes are ordered by depth
            for par in parents[key]:
                children[par].append(key)
            depth_of[key] = 1 + max(depth_of[par] for par in parents[key])
            ancestors[key] = _ancestors_of(parents[key], ancestors, position)
        depth = max(depth_of.values())
        levels = tuple(tuple(k for k in nodes if depth_of[k] == d) for d in range(depth + 1))
        order = (lambda k: _split(k, sep)) if sep is not None else None
        leaves = tuple(sorted((k for k in nodes if not children[k] and k != ROOT), key=order))
        index = {k: i for level in levels for i, k in enumerate(level)}
        is_tree = all(len(parents[k]) == 1 for k in nodes[1:])
        set_(self, "sep", sep)
        set_(self, "nodes", tuple(nodes))
        set_(self, "levels", levels)
        set_(self, "leaves", leaves)
        set_(self, "depth", depth)
        set_(self, "is_tree", is_tree)
        set_(self, "_index", index)
        set_(self, "_position", position)
        set_(self, "_leaf_index", {k: i for i, k in enumerate(leaves)})
        set_(self, "_leaf_by_name", _unique_leaf_names(leaves, sep))
        set_(self, "_parents", dict(parents))
        set_(self, "_children", {k: tuple(v) for k, v in children.items()})
        set_(self, "_ancestors", ancestors)
        set_(self, "_depth_of", depth_of)
        set_(self, "_names", names)
        set_(self, "_restrictions", restrictions)
        set_(self, "_leaf_level_codes", _level_table(leaves, ancestors, index, depth) if is_tree else None)
        set_(self, "_signature", _signature(nodes, parents, sep, names, restrictions))
        set_(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Taxonomy is immutable; cannot set {name!r}.")

    @classmethod
    def _from_graph(
        cls,
        parents: Mapping[str, list[str]],
        names: Mapping[str, str] | None = None,
        restrictions: Mapping[str, tuple[str, ...]] | None = None,
    ) -> Taxonomy:
        """A taxonomy keyed by identities from each node's checked parents; one named only as a parent is top-level."""
        everyone = {**{p: [] for ps in parents.values() for p in ps}, **parents}
        depth_of = _longest_depths(everyone)
        nodes = [ROOT, *sorted(everyone, key=lambda k: (depth_of[k], k))]
        position = {k: i for i, k in enumerate(nodes)}
        edges = {k: tuple(sorted(ps, key=position.__getitem__)) or (ROOT,) for k, ps in everyone.items()}
        named = {k: (names or {}).get(k, k) for k in everyone}
        restricted = {k: tuple((restrictions or {}).get(k, ())) for k in everyone}
        taxonomy = cls.__new__(cls)
        taxonomy._build(nodes, edges, None, named, restricted)
        return taxonomy

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_paths(cls, paths: Iterable[str], sep: str = "/") -> Taxonomy:
        """Build from label paths such as ``"Brass/Trumpet/open/ordinario"``.

        Examples
        --------
        >>> Taxonomy.from_paths(["a/x", "a/y", "b"]).leaves
        ('a/x', 'a/y', 'b')
        """
        # Distinct paths only: the constructor checks them again as node keys.
        return cls(list(dict.fromkeys(label_paths(_as_list(paths), sep).tolist())), sep=sep)

    @classmethod
    def from_levels(cls, levels: Any, sep: str = "/") -> Taxonomy:
        """Build from a (n_samples, depth) array, one column per level.

        An empty string or ``None`` ends a path early (a ragged tree).

        Examples
        --------
        >>> Taxonomy.from_levels([["a", "x"], ["b", ""]]).leaves
        ('a/x', 'b')
        """
        arr = np.asarray(levels, dtype=object)
        if arr.ndim != 2:
            raise ValueError(f"from_levels expects a 2-D array (n_samples, depth); got shape {arr.shape}.")
        return cls(list(dict.fromkeys(label_paths(arr, sep).tolist())), sep=sep)

    @classmethod
    def from_y(cls, y: Any, sep: str = "/") -> Taxonomy:
        """Build from any accepted form of ``y``: paths, levels or flat labels, or label sets.

        Multi-label ``y`` (:func:`is_multilabel`) goes to :meth:`from_label_sets`;
        everything else is read as it always was.

        Examples
        --------
        >>> Taxonomy.from_y([1, 2, 2]).leaves
        ('1', '2')
        >>> Taxonomy.from_y([{"a/x", "b"}, {"a/y"}]).leaves
        ('a/x', 'a/y', 'b')
        """
        if is_multilabel(y):
            return cls.from_label_sets(y, sep=sep)
        if np.asarray(y, dtype=object).ndim == 2:
            return cls.from_levels(y, sep=sep)
        return cls.from_paths(y, sep=sep)

    @classmethod
    def from_label_sets(cls, y: Any, sep: str | None = "/", *, classes: Any = None) -> Taxonomy:
        """Build from multi-label ``y``: the nodes its labels name and their ancestors.

        ``y`` takes any form :func:`label_sets` accepts (label sets of paths,
        hiclass's 3-D array, an indicator matrix with ``classes``). Labels may
        be inner nodes: a label with no label below it is a leaf. On
        single-label data (one path per set) the taxonomy equals
        :meth:`from_y`'s. With ``sep=None`` the labels are identities with no
        levels, and each hangs from the root.

        Parameters
        ----------
        y : label sets, 3-D array or indicator matrix
            Multi-label ``y``; empty sets are refused.
        sep : str or None, default="/"
            Separator between levels; None for identities.
        classes : array-like, default=None
            Names the columns of an indicator matrix.

        Returns
        -------
        taxonomy : Taxonomy

        Examples
        --------
        >>> tax = Taxonomy.from_label_sets([{"Brass/Horn", "Keys"}, {"Brass"}, {"Keys/Piano"}])
        >>> tax.nodes
        ('', 'Brass', 'Keys', 'Brass/Horn', 'Keys/Piano')
        >>> tax == Taxonomy.from_y(["Brass/Horn", "Keys/Piano"])
        True
        """
        sets = label_sets(y, classes=classes, sep=sep)
        labels = list(dict.fromkeys(label for labels in sets for label in sorted(labels)))
        if sep is None:
            return cls._from_graph({label: [] for label in labels})
        return cls(labels, sep=sep)

    @classmethod
    def from_dict(cls, tree: Mapping[str, Any], sep: str = "/") -> Taxonomy:
        """Build from a nested dict; a leaf maps to ``None``, ``{}`` or sits in a list.

        Examples
        --------
        >>> Taxonomy.from_dict({"Brass": {"Horn": None, "Tuba": None}, "Keys": ["Piano"]}).leaves
        ('Brass/Horn', 'Brass/Tuba', 'Keys/Piano')
        """
        paths: list[str] = []
        _walk_dict(tree, (), sep, paths)
        return cls(paths, sep=sep)

    @classmethod
    def from_edges(cls, edges: Iterable[tuple[str, str]], sep: str = "/") -> Taxonomy:
        """Build from (parent, child) name pairs; names must be unique in the tree.

        Nodes that are never a child hang from the root. For a child with
        several parents, use :meth:`from_parents`.

        Examples
        --------
        >>> Taxonomy.from_edges([("Brass", "Horn"), ("Brass", "Tuba"), ("Keys", "Piano")]).leaves
        ('Brass/Horn', 'Brass/Tuba', 'Keys/Piano')
        """
        parent_of: dict[str, str] = {}
        names: dict[str, None] = {}
        for par, child in edges:
            for name in (par, child):
                _check_name(name, sep)
                names[name] = None
            if parent_of.get(child, par) != par:
                raise ValueError(f"Node {child!r} has two different parents: {parent_of[child]!r} and {par!r}.")
            parent_of[child] = par
        paths = [sep.join(_chain(name, parent_of)) for name in names]
        return cls(paths, sep=sep)

    @classmethod
    def from_parents(cls, parents: Mapping[str, Iterable[str]]) -> Taxonomy:
        """Build a taxonomy keyed by identities from the parents of each node; a node may have several.

        A node with no parent, or named only as a parent, hangs from the
        root. Keys are identities (``sep`` is None): a ``"/"`` in one is
        part of it. Names default to the keys, restrictions to none.

        Parameters
        ----------
        parents : mapping of str to iterable of str
            The parents of each node.

        Returns
        -------
        taxonomy : Taxonomy

        Raises
        ------
        ValueError
            If the parents form a cycle (naming it), a node lists a parent
            twice or names the root ``""``, or a key is empty or badly spaced.
        TypeError
            If a key is not a str or a node's parents are a single str.

        Examples
        --------
        >>> diamond = Taxonomy.from_parents({"b": ["a"], "c": ["a"], "d": ["b", "c"]})
        >>> diamond.parents("d"), diamond.ancestors("d"), diamond.node_depth("d")
        (('b', 'c'), ('a', 'b', 'c'), 3)
        >>> Taxonomy.from_parents({"a": ["b"], "b": ["a"]})
        Traceback (most recent call last):
        ...
        ValueError: The taxonomy would have a cycle: 'a' -> 'b' -> 'a' (each a parent of the next)...
        """
        if not isinstance(parents, Mapping):
            raise TypeError(f"parents must be a mapping of each node to its parents; got {type(parents).__name__}.")
        checked: dict[str, list[str]] = {}
        for node, above in parents.items():
            key = _identity(node, "a node of parents")
            if isinstance(above, str | bytes) or not isinstance(above, Iterable):
                raise TypeError(f"The parents of {key!r} must be a list of keys; got {above!r}.")
            checked[key] = _parent_list([_identity(p, f"a parent of {key!r}") for p in above], key)
        return cls._from_graph(checked)

    @classmethod
    def from_ontology(cls, source: str | os.PathLike[str] | Sequence[Mapping[str, Any]]) -> Taxonomy:
        """Build from the AudioSet ontology format: the file ``ontology.json`` or its parsed list.

        The format is a JSON list of objects, one per class, each with an
        ``"id"`` (a machine id such as ``"/m/0dgw9r"``), a ``"name"``, the
        ``"child_ids"`` of its children and optionally ``"restrictions"``
        (``["abstract"]``, ``["blacklist"]``). A class may be the child of
        several others (a DAG); one that is no one's child hangs from the
        root. Keys are the ids; names and restrictions are kept as node
        attributes (:meth:`name_of`, :meth:`restrictions_of`); other fields
        (descriptions, examples) are not read. Nothing is downloaded.

        Parameters
        ----------
        source : str, path-like or list of dict
            Path of a JSON file in this format, or the list already parsed.

        Returns
        -------
        taxonomy : Taxonomy
            Keyed by ids, ``sep`` None.

        Raises
        ------
        ValueError
            Naming the entry (its index and id): a malformed entry (not an
            object, no string ``id`` or ``name``, ``child_ids`` or
            ``restrictions`` not a list of strings, a child listed twice), a
            duplicate id, an unknown child id, or a cycle.
        TypeError
            If ``source`` is neither a path nor a list.

        Examples
        --------
        >>> ontology = [
        ...     {"id": "/m/0jbk", "name": "Animal", "child_ids": ["/m/068hy", "/m/01280g"]},
        ...     {"id": "/m/068hy", "name": "Domestic animals, pets", "child_ids": ["/m/0bt9lr"]},
        ...     {"id": "/m/01280g", "name": "Wild animals", "child_ids": ["/m/0bt9lr"]},
        ...     {"id": "/m/0bt9lr", "name": "Dog", "child_ids": [], "restrictions": []},
        ... ]
        >>> tax = Taxonomy.from_ontology(ontology)
        >>> tax.parents("/m/0bt9lr")
        ('/m/01280g', '/m/068hy')
        >>> tax.name_of("/m/0bt9lr"), tax.is_tree
        ('Dog', False)
        """
        entries = _ontology_entries(source)
        ids: dict[str, int] = {}
        names: dict[str, str] = {}
        restrictions: dict[str, tuple[str, ...]] = {}
        children: dict[str, list[str]] = {}
        for i, entry in enumerate(entries):
            key, name, child_ids, restricted = _ontology_entry(entry, i)
            if key in ids:
                raise ValueError(f"Ontology entries {ids[key]} and {i} share the id {key!r}; ids must be unique.")
            ids[key], names[key], restrictions[key], children[key] = i, name, restricted, child_ids
        parents: dict[str, list[str]] = {key: [] for key in ids}
        for key, child_ids in children.items():
            for child in child_ids:
                if child not in ids:
                    raise ValueError(
                        f"Ontology entry {ids[key]} (id {key!r}, {names[key]!r}) lists an unknown child id {child!r}: "
                        "no entry has that id."
                    )
                parents[child].append(key)
        return cls._from_graph(parents, names, restrictions)

    @classmethod
    def from_json(cls, text: str) -> Taxonomy:
        """Inverse of :meth:`to_json`, for trees and DAGs.

        Examples
        --------
        >>> tax = Taxonomy.from_paths(["a/x", "b"])
        >>> Taxonomy.from_json(tax.to_json()) == tax
        True
        """
        data = json.loads(text)
        if isinstance(data, dict) and "ontology" in data:
            return cls.from_ontology(data["ontology"])
        return cls.from_dict(data["tree"], sep=data.get("sep", "/"))

    # ----------------------------------------------------------------- export
    def to_dict(self) -> dict[str, Any]:
        """Nested dict of child names; a leaf maps to ``{}``. Needs a tree keyed by paths (see :meth:`to_json`)."""
        if self.sep is None:
            raise ValueError("to_dict writes a tree of names, but this taxonomy's keys are identities; use to_json.")

        def build(key: str) -> dict[str, Any]:
            return {self._name(c): build(c) for c in self._children[key]}

        return build(ROOT)

    def to_json(self) -> str:
        """JSON text: the separator and :meth:`to_dict` for a tree keyed by paths, else the ontology format.

        A taxonomy keyed by identities is written as ``{"ontology": [...]}``,
        one AudioSet-style entry per node (``id``, ``name``, ``child_ids``,
        ``restrictions``), in node order.

        Examples
        --------
        >>> Taxonomy.from_paths(["a/x"]).to_json()
        '{"sep": "/", "tree": {"a": {"x": {}}}}'
        >>> Taxonomy.from_parents({"x": ["a"]}).to_json()
        '{"ontology": [{"id": "a", "name": "a", "child_ids": ["x"], "restrictions": []}, {"id": "x", ...}]}'
        """
        if self.sep is None:
            return json.dumps({"ontology": self._entries()})
        return json.dumps({"sep": self.sep, "tree": self.to_dict()})

    def to_anytree(self) -> Node:
        """A fresh :class:`anytree.Node` tree (the root is named ``"root"``).

        On a DAG, a node with several parents appears under each of them
        (the DAG unfolded into a tree); every copy carries the node's ``key``.
        """
        root = Node("root", key=ROOT)

        def grow(key: str, node: Node) -> None:
            for child in self._children[key]:
                grow(child, Node(self._name(child), parent=node, key=child))

        grow(ROOT, root)
        return root

    def render(self) -> str:
        """The taxonomy drawn as text with :class:`anytree.RenderTree` (a DAG unfolded, see :meth:`to_anytree`).

        Examples
        --------
        >>> print(Taxonomy.from_paths(["a/x", "b"]).render())
        root
        ├── a
        │   └── x
        └── b
        """
        return "\n".join(f"{pre}{node.name}" for pre, _, node in RenderTree(self.to_anytree()))

    # ---------------------------------------------------------------- queries
    @property
    def n_leaves(self) -> int:
        """Number of leaves."""
        return len(self.leaves)

    @property
    def n_nodes(self) -> int:
        """Number of nodes, the root included."""
        return len(self.nodes)

    @property
    def informative_levels(self) -> tuple[int, ...]:
        """Depths (>= 1) holding more than one node: the levels a per-level head or MNR uses."""
        return tuple(d for d in range(1, self.depth + 1) if len(self.levels[d]) > 1)

    def __contains__(self, node: object) -> bool:
        return isinstance(node, str) and node in self._index

    def node_depth(self, node: str) -> int:
        """Depth of ``node``: the length of the longest path from the root (the root has depth 0)."""
        self._check_node(node)
        return self._depth_of[node]

    def name_of(self, node: str) -> str:
        """The name of ``node``: its last path name, or an ontology's ``name`` (the key itself by default).

        Examples
        --------
        >>> Taxonomy.from_paths(["Brass/Horn"]).name_of("Brass/Horn")
        'Horn'
        """
        self._check_node(node)
        return self._name(node)

    def restrictions_of(self, node: str) -> tuple[str, ...]:
        """The ontology restrictions of ``node`` (such as ``("abstract",)``); ``()`` for a tree keyed by paths.

        Examples
        --------
        >>> tax = Taxonomy.from_ontology([{"id": "/m/x", "name": "X", "child_ids": [], "restrictions": ["abstract"]}])
        >>> tax.restrictions_of("/m/x")
        ('abstract',)
        """
        self._check_node(node)
        return () if self._restrictions is None or node == ROOT else self._restrictions[node]

    def parent(self, node: str) -> str:
        """Parent key of ``node`` (``""`` for a top-level node); see :meth:`parents` for a node with several."""
        self._check_node(node)
        if node == ROOT:
            raise ValueError("The root has no parent.")
        above = self._parents[node]
        if len(above) > 1:
            raise ValueError(f"Node {node!r} has {len(above)} parents {above}; use parents({node!r}).")
        return above[0]

    def parents(self, node: str) -> tuple[str, ...]:
        """Keys of the parents of ``node`` in node order; ``("",)`` for a top-level node.

        Examples
        --------
        >>> Taxonomy.from_parents({"x": ["b", "a"]}).parents("x")
        ('a', 'b')
        >>> Taxonomy.from_paths(["a/x"]).parents("a")
        ('',)
        """
        self._check_node(node)
        if node == ROOT:
            raise ValueError("The root has no parent.")
        return self._parents[node]

    def children(self, node: str) -> tuple[str, ...]:
        """Child keys of ``node``, in node order (by path on a tree)."""
        self._check_node(node)
        return self._children[node]

    def path(self, node: str) -> tuple[str, ...]:
        """Names from the top level down to ``node``; needs a tree.

        Examples
        --------
        >>> Taxonomy.from_paths(["a/x"]).path("a/x")
        ('a', 'x')
        """
        self._check_node(node)
        self._check_tree("path")
        if self.sep is not None:
            return _split(node, self.sep)
        return tuple(self._name(k) for k in self._chain(node))

    def ancestors(self, node: str) -> tuple[str, ...]:
        """Keys of every node above ``node`` on any path from the root, the root excluded, in node order.

        On a tree, the path's nodes top-most first. The order is the node
        order (by depth, then path or key), so it is the same at every call.

        Examples
        --------
        >>> Taxonomy.from_paths(["a/x/1"]).ancestors("a/x/1")
        ('a', 'a/x')
        >>> Taxonomy.from_parents({"b": ["a"], "c": ["a"], "d": ["b", "c"]}).ancestors("d")
        ('a', 'b', 'c')
        """
        self._check_node(node)
        return self._ancestors[node]

    def closure(self, labels: Iterable[str]) -> frozenset[str]:
        """The labels and all their ancestors, the root excluded: the union of their closures.

        Parameters
        ----------
        labels : iterable of str
            One label set: node keys, or, on a tree keyed by paths, unique
            leaf names (checked as :func:`label_sets` checks a sample).

        Returns
        -------
        closure : frozenset of str

        Examples
        --------
        >>> dag = Taxonomy.from_parents({"b": ["a"], "c": ["a"], "d": ["b", "c"], "e": []})
        >>> sorted(dag.closure({"d", "e"}))
        ['a', 'b', 'c', 'd', 'e']
        """
        if isinstance(labels, str | bytes):
            raise TypeError(f"closure takes a set of labels, not a single {type(labels).__name__}: {{{labels!r}}}.")
        (keys,) = label_sets([frozenset(labels)], taxonomy=self, allow_empty=True)
        return frozenset(self._closed(keys))

    def closure_multi_hot(self, y: Any) -> np.ndarray:
        """(n, n_nodes - 1) float32 targets: 1 on every node of each sample's closure.

        Columns follow ``nodes[1:]``, which lists ``levels[1]``, then
        ``levels[2]``, and so on, so a level's columns are contiguous. For a
        single leaf on a tree this is exactly :meth:`path_multi_hot`.

        Parameters
        ----------
        y : label sets or any form :func:`label_sets` accepts
            Resolved against this taxonomy; an empty set gives a row of zeros.

        Returns
        -------
        targets : ndarray of shape (n_samples, n_nodes - 1), dtype float32

        Examples
        --------
        >>> dag = Taxonomy.from_parents({"b": ["a"], "c": ["a"], "d": ["b", "c"]})
        >>> dag.nodes[1:]
        ('a', 'b', 'c', 'd')
        >>> dag.closure_multi_hot([{"d"}, {"b", "c"}, "a"])
        array([[1., 1., 1., 1.],
               [1., 1., 1., 0.],
               [1., 0., 0., 0.]], dtype=float32)
        """
        sets = label_sets(y, taxonomy=self, allow_empty=True)
        columns: dict[str, list[int]] = {}
        rows, cols = [], []
        for row, labels in enumerate(sets):
            hit: set[int] = set()
            for label in labels:
                if label not in columns:
                    columns[label] = [self._position[k] - 1 for k in (*self._ancestors[label], label)]
                hit.update(columns[label])
            rows += [row] * len(hit)
            cols += hit
        out = np.zeros((len(sets), self.n_nodes - 1), dtype=np.float32)
        out[np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)] = 1.0
        return out

    def lca(self, a: str, b: str) -> str:
        """Key of the lowest common ancestor of two nodes (``""`` is the root); needs a tree."""
        self._check_node(a)
        self._check_node(b)
        self._check_tree("lca")
        common = ROOT
        for x, z in zip(self._chain(a), self._chain(b), strict=False):
            if x != z:
                break
            common = x
        return common

    def encode(self, y: Any) -> np.ndarray:
        """Leaf code (index into :attr:`leaves`) of each sample.

        ``y`` may hold full paths, 2-D level rows, or bare leaf names where
        the name is unique among the leaves; on a taxonomy keyed by
        identities, 1-D leaf keys.

        Raises
        ------
        ValueError
            Naming the first label that is not a leaf of this taxonomy, or a
            bare name that several leaves share ("ambiguous: give the full
            path").
        """
        paths = self._single_labels(y)
        index = self._leaf_index
        try:
            return np.fromiter((index[p] for p in paths), dtype=np.int64, count=len(paths))
        except KeyError:
            pass
        codes = np.empty(len(paths), dtype=np.int64)
        for i, p in enumerate(paths):
            codes[i] = self._leaf_code(p, i)
        return codes

    def decode(self, codes: Any) -> np.ndarray:
        """Leaf paths of leaf codes (inverse of :meth:`encode`)."""
        return np.asarray(self.leaves, dtype=object)[np.asarray(codes, dtype=np.int64)]

    def level_codes(self, y: Any) -> np.ndarray:
        """(n, depth) codes: column ``d - 1`` indexes ``levels[d]``, -1 past a path's end; needs a tree."""
        return self._table("level_codes")[self.encode(y)]

    def leaf_level_codes(self) -> np.ndarray:
        """Level codes of every leaf, in leaf order (read-only, shape (n_leaves, depth)); needs a tree."""
        return self._table("leaf_level_codes")

    def node_level_codes(self, nodes: Any) -> np.ndarray:
        """(n, depth) level codes of any nodes, internal ones and the root included; needs a tree.

        Like :meth:`level_codes`, but a row may stop above the leaves, so that
        :func:`lca_depth` also compares predictions made at a coarser level.

        Raises
        ------
        ValueError
            Naming the first node that is not in this taxonomy.

        Examples
        --------
        >>> Taxonomy.from_paths(["a/x", "b"]).node_level_codes(["a", "a/x", ""])
        array([[ 0, -1],
               [ 0,  0],
               [-1, -1]])
        """
        self._check_tree("node_level_codes")
        keys = node_keys(nodes, self.sep) if self.sep is not None else _identity_nodes(nodes)
        unique = {key: None for key in keys}
        table = np.full((len(unique), self.depth), -1, dtype=np.int64)
        for row, key in enumerate(unique):
            self._check_node(key)
            chain = self._chain(key)
            table[row, : len(chain)] = [self._index[k] for k in chain]
        row_of = {key: row for row, key in enumerate(unique)}
        return table[np.fromiter((row_of[k] for k in keys), dtype=np.int64, count=len(keys))]

    def ancestor_at(self, y: Any, level: int) -> np.ndarray:
        """Node at depth ``level`` on each label's path; a shallower label is returned as is. Needs a tree.

        Examples
        --------
        >>> Taxonomy.from_paths(["a/x/1", "b"]).ancestor_at(["a/x/1", "b"], level=2)
        array(['a/x', 'b'], dtype=object)
        """
        table = self._table("ancestor_at")
        if not 1 <= level <= self.depth:
            raise ValueError(f"level must be in [1, {self.depth}] (the depths of this taxonomy); got {level!r}.")
        leaves = self.encode(y)
        codes = table[leaves, level - 1]
        nodes = np.asarray(self.levels[level], dtype=object)
        return np.where(codes >= 0, nodes[np.maximum(codes, 0)], np.asarray(self.leaves, dtype=object)[leaves])

    def path_multi_hot(self, y: Any) -> np.ndarray:
        """(n, n_nodes - 1) float32 targets: 1 on each node of the path, the root excluded. Needs a tree.

        Columns follow ``nodes[1:]``. :meth:`closure_multi_hot` is the same
        for label sets, on trees and DAGs.
        """
        offsets = np.cumsum([0] + [len(level) for level in self.levels[1:]])[:-1]
        codes = self.level_codes(y)
        out = np.zeros((len(codes), self.n_nodes - 1), dtype=np.float32)
        rows, cols = np.nonzero(codes >= 0)
        out[rows, offsets[cols] + codes[rows, cols]] = 1.0
        return out

    def lca_depth_matrix(self, leaves_a: Any, leaves_b: Any) -> np.ndarray:
        """(n, m) depths of LCA(a_i, b_j) for two arrays of labels; needs a tree.

        Examples
        --------
        >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b"])
        >>> tax.lca_depth_matrix(["a/x", "b"], ["a/x", "a/y", "b"])
        array([[2, 1, 0],
               [0, 0, 1]])
        """
        return lca_depth(self.level_codes(leaves_a), self.level_codes(leaves_b))

    def tree_distance_matrix(self, leaves_a: Any, leaves_b: Any) -> np.ndarray:
        """(n, m) number of edges between a_i and b_j through their LCA; needs a tree."""
        ca, cb = self.level_codes(leaves_a), self.level_codes(leaves_b)
        da, db = (ca >= 0).sum(1), (cb >= 0).sum(1)
        return da[:, None] + db[None, :] - 2 * lca_depth(ca, cb)

    def restrict(self, labels: Any) -> Taxonomy:
        """Sub-taxonomy of the seen labels and their ancestors (on a DAG, the sub-DAG with every parent kept).

        ``labels`` is either single-label, read as :meth:`encode` reads it
        (leaf paths or unique leaf names; leaf keys on a taxonomy keyed by
        identities), or label sets (:func:`is_multilabel`), whose labels may
        be any nodes. To keep a given set of nodes, pass it as one label set:
        ``restrict([nodes])``.

        Examples
        --------
        >>> Taxonomy.from_paths(["a/x", "a/y", "b"]).restrict(["a/x"]).leaves
        ('a/x',)
        >>> dag = Taxonomy.from_parents({"b": ["a"], "c": ["a"], "d": ["b", "c"]})
        >>> dag.restrict([{"c"}]).nodes
        ('', 'a', 'c')
        """
        labels = _as_list(labels)
        if is_multilabel(labels):
            seen = set().union(*label_sets(labels, taxonomy=self, allow_empty=True))
        else:
            seen = set(self.decode(self.encode(np.asarray(list(labels), dtype=object))).tolist())
            if self.sep is not None:
                return Taxonomy(sorted(seen), sep=self.sep)
        keep = self._closed(seen)
        if self.sep is not None:
            return Taxonomy(sorted(keep), sep=self.sep)
        return Taxonomy._from_graph(
            {k: [p for p in self._parents[k] if p != ROOT] for k in keep},
            self._names,
            self._restrictions,
        )

    def lowest_seen_ancestor(self, path: Any) -> Any:
        """Longest prefix of ``path`` that this taxonomy contains; needs a tree keyed by paths.

        Accepts one path (returns a str) or an array of labels (returns an
        object array). Works for paths this taxonomy never saw, which is how
        an unseen leaf finds the node it should be recognised as. On a
        taxonomy keyed by identities, an unseen key says nothing of its
        ancestors: ask the full taxonomy with :meth:`lowest_seen_ancestors`.

        Examples
        --------
        >>> seen = Taxonomy.from_paths(["Brass/Horn/open"])
        >>> seen.lowest_seen_ancestor("Brass/Trumpet/open")
        'Brass'
        >>> seen.lowest_seen_ancestor("Keys/Piano")
        ''
        """
        if self.sep is None:
            raise ValueError(
                "lowest_seen_ancestor reads the prefixes of a path, but this taxonomy's keys are identities; "
                "call full_taxonomy.lowest_seen_ancestors(label, seen) instead."
            )
        if isinstance(path, str):
            return self._lsa(path)
        paths = label_paths(path, self.sep, leaves=False)
        lsa = {p: self._lsa(p) for p in set(paths)}
        return np.array([lsa[p] for p in paths], dtype=object)

    def lowest_seen_ancestors(self, label: str, seen: Taxonomy | Iterable[str]) -> tuple[str, ...]:
        """The seen ancestors of ``label`` that lie below no other seen ancestor: where an unseen label is recognised.

        Asked of the full taxonomy, for a label absent from training. The
        seen nodes are ``seen``'s nodes (a fitted ``taxonomy_``) or the
        closure of ``seen``'s labels. If ``label`` itself is seen, the answer
        is ``(label,)``; if none of its ancestors is, ``("",)`` (only the
        root is shared). On a tree there is one answer, :meth:`lowest_seen_ancestor`'s;
        on a DAG there may be one per path.

        Parameters
        ----------
        label : str
            One label naming a node of this taxonomy (as :func:`label_sets` reads one).
        seen : Taxonomy or iterable of str
            The training taxonomy, or the seen labels (nodes of this taxonomy).

        Returns
        -------
        ancestors : tuple of str
            In node order.

        Examples
        --------
        >>> dag = Taxonomy.from_parents({"b": ["a"], "c": ["a"], "d": ["b", "c"]})
        >>> dag.lowest_seen_ancestors("d", seen={"b", "c"})  # both paths keep a seen node
        ('b', 'c')
        >>> dag.lowest_seen_ancestors("d", seen={"b"})  # a, above c, lies above b too
        ('b',)
        >>> tree = Taxonomy.from_paths(["Brass/Horn", "Brass/Tuba"])
        >>> tree.lowest_seen_ancestors("Brass/Tuba", seen=tree.restrict(["Brass/Horn"]))
        ('Brass',)
        """
        if isinstance(label, set | frozenset | list | tuple | np.ndarray):
            raise TypeError(f"label must be one label, not a {type(label).__name__}; got {label!r}.")
        ((key,),) = label_sets([label], taxonomy=self)
        if isinstance(seen, Taxonomy):
            closed = set(seen.nodes[1:])
        else:
            if isinstance(seen, str | bytes):
                raise TypeError(f"seen must be a Taxonomy or a set of labels, not a single str: {{{seen!r}}}.")
            closed = self._closed(label_sets([frozenset(seen)], taxonomy=self, allow_empty=True)[0])
        if key in closed:
            return (key,)
        candidates = [a for a in self._ancestors[key] if a in closed]
        lowest = tuple(a for a in candidates if not any(a in self._ancestors[b] for b in candidates))
        return lowest or (ROOT,)

    # ------------------------------------------------------------ protocols
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Taxonomy):
            return NotImplemented
        return self._signature == other._signature

    def __hash__(self) -> int:
        return hash(self._signature)

    def __reduce__(self) -> tuple[Any, ...]:
        if self.sep is None:
            return (Taxonomy.from_ontology, (self._entries(),))
        return (Taxonomy, (self.nodes[1:], self.sep))

    def __repr__(self) -> str:
        sizes = "/".join(str(len(level)) for level in self.levels[1:])
        head = f"Taxonomy(n_leaves={self.n_leaves}, depth={self.depth}, nodes_per_level={sizes}, sep={self.sep!r}"
        return head + (")" if self.sep is not None else f", is_tree={self.is_tree})")

    # ---------------------------------------------------------------- private
    def _name(self, key: str) -> str:
        if self._names is not None:
            return self._names.get(key, key)
        return key.rpartition(self.sep)[2]

    def _check_node(self, node: str) -> None:
        if node not in self._index:
            raise ValueError(f"Unknown node {node!r}; it is not in this taxonomy.")

    def _check_tree(self, operation: str) -> None:
        if not self.is_tree:
            shared = next(k for k in self.nodes[1:] if len(self._parents[k]) > 1)
            raise ValueError(
                f"{operation} needs a tree, but this taxonomy is a DAG: node {shared!r} has "
                f"{len(self._parents[shared])} parents {self._parents[shared]}. On a DAG use ancestors, closure, "
                "closure_multi_hot and lowest_seen_ancestors."
            )

    def _table(self, operation: str) -> np.ndarray:
        self._check_tree(operation)
        return self._leaf_level_codes

    def _chain(self, node: str) -> tuple[str, ...]:
        """The nodes from the top level down to ``node`` (a tree's path); ``()`` for the root."""
        return () if node == ROOT else (*self._ancestors[node], node)

    def _closed(self, keys: Iterable[str]) -> set[str]:
        return {a for key in keys for a in (*self._ancestors[key], key)}

    def _entries(self) -> list[dict[str, Any]]:
        """The ontology-format entry of every node (a taxonomy keyed by identities)."""
        return [
            {
                "id": key,
                "name": self._name(key),
                "child_ids": list(self._children[key]),
                "restrictions": list(self.restrictions_of(key)),
            }
            for key in self.nodes[1:]
        ]

    def _single_labels(self, y: Any) -> np.ndarray:
        """One label per sample, checked by the single-label contract (paths, or identities when sep is None)."""
        if self.sep is None:
            return np.asarray(_single_texts(y, None), dtype=object)
        return label_paths(y, self.sep)

    def _node_key(self, label: str, where: str) -> str:
        """The key of the node ``label`` names: its key, or a leaf name no other leaf shares (paths only)."""
        if label in self._index and label != ROOT:
            return label
        if label in self._leaf_by_name:
            return self._leaf_by_name[label]
        self._check_ambiguous(label, where)
        raise ValueError(f"Unknown label {label!r} {where}: it is not a node of this taxonomy.")

    def _check_ambiguous(self, label: str, where: str) -> None:
        if self.sep is None or self.sep in label:
            return
        # Looked for only on this error path: bare names are resolved by _leaf_by_name when unique.
        named = [leaf for leaf in self.leaves if self._name(leaf) == label]
        if len(named) > 1:
            shown = ", ".join(repr(leaf) for leaf in named[:5]) + (", ..." if len(named) > 5 else "")
            raise ValueError(
                f"Label {label!r} {where} is ambiguous: give the full path. {len(named)} leaves of this "
                f"taxonomy have that name: {shown}."
            )

    def _leaf_code(self, label: str, row: int) -> int:
        if label in self._leaf_index:
            return self._leaf_index[label]
        if label in self._leaf_by_name:
            return self._leaf_index[self._leaf_by_name[label]]
        if label in self._index:
            raise ValueError(f"Label {label!r} (sample {row}) is an internal node, not a leaf, of this taxonomy.")
        self._check_ambiguous(label, f"(sample {row})")
        raise ValueError(f"Unknown label {label!r} (sample {row}): it is not a leaf of this taxonomy.")

    def _lsa(self, path: str) -> str:
        names = path.split(self.sep) if path else []
        for n in range(len(names), 0, -1):
            key = self.sep.join(names[:n])
            if key in self._index:
                return key
        return ROOT


def _ancestors_of(
    parents: tuple[str, ...], ancestors: Mapping[str, tuple[str, ...]], position: Mapping[str, int]
) -> tuple[str, ...]:
    """The ancestors of a node whose parents' ancestors are known, in node order."""
    if len(parents) == 1:  # a tree's path: the parent's, then the parent (shallower nodes come first)
        (par,) = parents
        return () if par == ROOT else (*ancestors[par], par)
    above = {a for par in parents if par != ROOT for a in (*ancestors[par], par)}
    return tuple(sorted(above, key=position.__getitem__))


def _signature(
    nodes: list[str],
    parents: Mapping[str, tuple[str, ...]],
    sep: str | None,
    names: Mapping[str, str] | None,
    restrictions: Mapping[str, tuple[str, ...]] | None,
) -> tuple[Any, ...]:
    """What equality and hashing compare: a tree's paths fix its edges and names; identities need them spelled out."""
    if sep is not None or names is None or restrictions is None:
        return (sep, tuple(nodes))
    rest = nodes[1:]
    attributes = tuple((names[k], restrictions[k]) for k in rest)
    return (None, tuple(nodes), tuple(parents[k] for k in rest), attributes)


def _unique_leaf_names(leaves: tuple[str, ...], sep: str | None) -> dict[str, str]:
    """Leaf name -> leaf, for the names one leaf alone has (trees keyed by paths; identities are never shortened)."""
    if sep is None:
        return {}
    by_name: dict[str, list[str]] = {}
    for leaf in leaves:
        by_name.setdefault(leaf.rpartition(sep)[2], []).append(leaf)
    return {n: ls[0] for n, ls in by_name.items() if len(ls) == 1}


def _level_table(
    leaves: tuple[str, ...], ancestors: Mapping[str, tuple[str, ...]], index: Mapping[str, int], depth: int
) -> np.ndarray:
    """(n_leaves, depth) level codes of each leaf's path on a tree, -1 past its end (read-only)."""
    table = np.full((len(leaves), depth), -1, dtype=np.int64)
    for i, leaf in enumerate(leaves):
        chain = (*ancestors[leaf], leaf)
        table[i, : len(chain)] = [index[k] for k in chain]
    table.setflags(write=False)
    return table


def _longest_depths(parents: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Depth of every node (1 + its deepest parent's; top-level nodes 1), refusing a cycle by naming it."""
    depth: dict[str, int] = {}
    for start in sorted(parents):
        if start in depth:
            continue
        path, on_path = [start], {start: 0}
        stack = [iter(parents[start])]
        while stack:
            above = next(stack[-1], None)
            if above is None:
                node = path.pop()
                del on_path[node]
                stack.pop()
                depth[node] = 1 + max((depth[p] for p in parents[node]), default=0)
            elif above in on_path:
                cycle = [*path[on_path[above] :], above][::-1]
                raise ValueError(
                    f"The taxonomy would have a cycle: {' -> '.join(repr(k) for k in cycle)} (each a parent of the "
                    "next); a taxonomy must be acyclic."
                )
            elif above not in depth:
                on_path[above] = len(path)
                path.append(above)
                stack.append(iter(parents[above]))
    return depth


def _identity(value: Any, where: str) -> str:
    """A node key that is an identity: a non-empty str, NFC-normalised as labels are, with no outer whitespace."""
    if not isinstance(value, str):
        raise TypeError(f"Node keys must be str; got {type(value).__name__} {value!r} as {where}.")
    if value == ROOT:
        raise ValueError(
            f"'' (the root) appears as {where}: the root is implicit, and a node with no parent hangs from it."
        )
    return _label_text(value, -1, None, where=f"({where})")


def _parent_list(parents: list[str], node: str) -> list[str]:
    twice = next((p for p in parents if parents.count(p) > 1), None)
    if twice is not None:
        raise ValueError(f"Node {node!r} lists the parent {twice!r} twice.")
    return parents


def _identity_nodes(nodes: Any) -> np.ndarray:
    """Node keys that are identities, the root ``""`` allowed (predictions may stop there)."""
    if isinstance(nodes, str | bytes):
        raise TypeError(f"Nodes must be an array-like of node keys, not a single {type(nodes).__name__}.")
    arr = np.asarray(_as_list(nodes), dtype=object)
    keys = arr.copy()
    named = np.flatnonzero(arr != ROOT)
    keys[named] = _single_texts(arr[named], None)
    return keys


def _ontology_entries(source: Any) -> list[Any]:
    if isinstance(source, str | os.PathLike):
        with open(source, encoding="utf-8") as handle:
            source = json.load(handle)
    elif not isinstance(source, list | tuple):
        raise TypeError(
            f"source must be the path of an ontology JSON file or its parsed list; got {type(source).__name__}."
        )
    if not isinstance(source, list | tuple):
        raise ValueError(f"An ontology is a JSON list of objects, one per class; got a {type(source).__name__}.")
    return list(source)


def _ontology_entry(entry: Any, i: int) -> tuple[str, str, list[str], tuple[str, ...]]:
    """The id, name, child ids and restrictions of one ontology entry, checked."""
    if not isinstance(entry, Mapping):
        raise ValueError(
            f"Ontology entry {i} is a {type(entry).__name__}, not an object with 'id', 'name' and 'child_ids'."
        )
    key = entry.get("id")
    if not isinstance(key, str) or not key:
        raise ValueError(f"Ontology entry {i} has no 'id' (a non-empty string); got {key!r}.")
    key = _identity(key, f"the id of ontology entry {i}")
    what = f"Ontology entry {i} (id {key!r})"
    name = entry.get("name")
    if not isinstance(name, str):
        raise ValueError(f"{what} has no 'name' (a string); got {name!r}.")
    child_ids = _string_list(entry, "child_ids", what, required=True)
    twice = next((c for c in child_ids if child_ids.count(c) > 1), None)
    if twice is not None:
        raise ValueError(f"{what} lists the child id {twice!r} twice.")
    return key, name, child_ids, tuple(_string_list(entry, "restrictions", what, required=False))


def _string_list(entry: Mapping[str, Any], field: str, what: str, required: bool) -> list[str]:
    if field not in entry and not required:
        return []
    value = entry.get(field)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{what} has {field!r} {value!r}; expected a list of non-empty strings.")
    return [unicodedata.normalize("NFC", v) for v in value]


def _as_list(paths: Iterable[Any]) -> Any:
    """``paths`` as a list (generators included); a single str or bytes is left for label_paths to refuse."""
    return paths if isinstance(paths, str | bytes | np.ndarray) else list(paths)


def node_keys(nodes: Any, sep: str) -> np.ndarray:
    """Node keys checked as :func:`label_paths` checks labels, but where the root ``""`` and ancestors are allowed.

    For predictions, which may stop at any depth, the root included.

    Parameters
    ----------
    nodes : array-like of shape (n,)
        Node keys.
    sep : str
        Separator between levels.

    Returns
    -------
    keys : ndarray of shape (n,), dtype object

    Examples
    --------
    >>> node_keys(["a", "a/x", ""], "/")
    array(['a', 'a/x', ''], dtype=object)
    >>> node_keys([["a", "x"], [None, None]], "/")  # the root as a 2-D row: every level empty
    array(['a/x', ''], dtype=object)
    """
    arr = np.asarray(_as_list(nodes), dtype=object)
    if arr.ndim == 2 and not isinstance(nodes, str | bytes):
        # A row with every level empty is the root, written the 2-D way.
        root = np.array([all(_ends_path(v) for v in row) for row in arr.tolist()], dtype=bool)
        keys = np.full(len(arr), ROOT, dtype=object)
        keys[~root] = label_paths(arr[~root], sep, leaves=False) if (~root).any() else []
        return keys
    if isinstance(nodes, str | bytes) or arr.ndim != 1:
        return label_paths(nodes, sep, leaves=False)
    keys = arr.copy()
    named = np.flatnonzero(arr != ROOT)
    keys[named] = label_paths(arr[named], sep, leaves=False)
    return keys


def _split(path: str, sep: str) -> tuple[str, ...]:
    if path == ROOT:
        return ()
    if not isinstance(path, str):
        raise TypeError(f"A label path must be a str; got {type(path).__name__} {path!r}.")
    names = tuple(path.split(sep))
    if any(n == "" for n in names):
        raise ValueError(f"Label {path!r} has an empty name (check for a doubled or trailing {sep!r}).")
    return names


def _depth(key: str, sep: str) -> int:
    return 0 if key == ROOT else key.count(sep) + 1


def _check_name(name: Any, sep: str) -> None:
    if not isinstance(name, str) or name == "":
        raise ValueError(f"Node names must be non-empty strings; got {name!r}.")
    if sep in name:
        raise ValueError(f"Node name {name!r} contains the separator {sep!r}.")


def _walk_dict(tree: Any, prefix: tuple[str, ...], sep: str, out: list[str]) -> None:
    if tree is None:
        return
    if isinstance(tree, Mapping):
        items = tree.items()
    elif isinstance(tree, (list, tuple, set, frozenset)):
        items = ((name, None) for name in tree)
    else:
        raise ValueError(f"Under {sep.join(prefix) or 'the root'!r}: expected a dict, a list or None; got {tree!r}.")
    for name, sub in items:
        _check_name(name, sep)
        path = (*prefix, name)
        out.append(sep.join(path))
        _walk_dict(sub, path, sep, out)


def _chain(name: str, parent_of: Mapping[str, str]) -> list[str]:
    chain = [name]
    while chain[-1] in parent_of:
        chain.append(parent_of[chain[-1]])
        if len(chain) > len(parent_of) + 1:
            raise ValueError(f"The edges contain a cycle through {name!r}.")
    return chain[::-1]
