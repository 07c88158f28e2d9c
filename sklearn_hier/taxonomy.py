"""The label tree: nodes, levels, codes and lowest common ancestors.

A :class:`Taxonomy` is the one place that knows how labels are laid out in a tree.
Every other module (losses, samplers, metrics, the splitter, the estimator) asks it
for codes and LCA depths instead of walking paths itself.

Node identity is the full path from the root, joined with the separator: ``"open"``
under ``"Brass/Trumpet"`` is the node ``"Brass/Trumpet/open"``, a different node
from ``"Brass/Horn/open"``. The root is the empty string ``""`` and has depth 0.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
from anytree import Node, RenderTree

__all__ = ["Taxonomy", "label_paths", "lca_depth", "node_keys"]

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


def _flat_texts(values: list[Any], sep: str) -> dict[tuple[type, Any], str]:
    """The path text of each distinct 1-D label, after checking each and their types together."""
    distinct: dict[tuple[type, Any], int] = {}
    for row, value in enumerate(values):
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
    for name in text.split(sep):
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
    """An immutable label tree built on :mod:`anytree`.

    Leaves are ordered by path, which fixes the leaf codes; levels hold the
    nodes at each depth, ordered by path, which fixes the level codes. Leaves
    may sit at different depths (a ragged tree).

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
        Leaf paths in code order.
    nodes : tuple of str
        Every node, the root ``""`` first, then by depth and path.
    levels : tuple of tuple of str
        ``levels[d]`` holds the nodes at depth ``d`` (``levels[0] == ("",)``).
    depth : int
        Depth of the deepest leaf.

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
    """

    __slots__ = (
        "sep",
        "leaves",
        "nodes",
        "levels",
        "depth",
        "_index",
        "_leaf_index",
        "_leaf_by_name",
        "_parent",
        "_children",
        "_leaf_level_codes",
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
        self._build(sorted(keys, key=lambda k: (_depth(k, sep), _split(k, sep))), sep)

    # ------------------------------------------------------------------ build
    def _build(self, nodes: list[str], sep: str) -> None:
        set_ = object.__setattr__
        parent = {k: (k.rpartition(sep)[0] if sep in k else ROOT) for k in nodes if k != ROOT}
        children: dict[str, list[str]] = {k: [] for k in nodes}
        for key, par in parent.items():
            children[par].append(key)
        depth = max(_depth(k, sep) for k in nodes)
        levels = tuple(tuple(k for k in nodes if _depth(k, sep) == d) for d in range(depth + 1))
        leaves = tuple(sorted((k for k in nodes if not children[k] and k != ROOT), key=lambda k: _split(k, sep)))
        index = {k: i for level in levels for i, k in enumerate(level)}
        by_name: dict[str, list[str]] = {}
        for leaf in leaves:
            by_name.setdefault(leaf.rpartition(sep)[2], []).append(leaf)
        table = np.full((len(leaves), depth), -1, dtype=np.int64)
        for i, leaf in enumerate(leaves):
            names = _split(leaf, sep)
            for d in range(1, len(names) + 1):
                table[i, d - 1] = index[sep.join(names[:d])]
        table.setflags(write=False)
        set_(self, "sep", sep)
        set_(self, "nodes", tuple(nodes))
        set_(self, "levels", levels)
        set_(self, "leaves", leaves)
        set_(self, "depth", depth)
        set_(self, "_index", index)
        set_(self, "_leaf_index", {k: i for i, k in enumerate(leaves)})
        set_(self, "_leaf_by_name", {n: ls[0] for n, ls in by_name.items() if len(ls) == 1})
        set_(self, "_parent", parent)
        set_(self, "_children", {k: tuple(v) for k, v in children.items()})
        set_(self, "_leaf_level_codes", table)
        set_(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Taxonomy is immutable; cannot set {name!r}.")

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
        """Build from any accepted form of ``y`` (paths, levels or flat labels).

        Examples
        --------
        >>> Taxonomy.from_y([1, 2, 2]).leaves
        ('1', '2')
        """
        if np.asarray(y, dtype=object).ndim == 2:
            return cls.from_levels(y, sep=sep)
        return cls.from_paths(y, sep=sep)

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

        Nodes that are never a child hang from the root.

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
    def from_json(cls, text: str) -> Taxonomy:
        """Inverse of :meth:`to_json`.

        Examples
        --------
        >>> tax = Taxonomy.from_paths(["a/x", "b"])
        >>> Taxonomy.from_json(tax.to_json()) == tax
        True
        """
        data = json.loads(text)
        return cls.from_dict(data["tree"], sep=data.get("sep", "/"))

    # ----------------------------------------------------------------- export
    def to_dict(self) -> dict[str, Any]:
        """Nested dict of child names; a leaf maps to ``{}``."""

        def build(key: str) -> dict[str, Any]:
            return {self._name(c): build(c) for c in self._children[key]}

        return build(ROOT)

    def to_json(self) -> str:
        """JSON text holding the separator and :meth:`to_dict`."""
        return json.dumps({"sep": self.sep, "tree": self.to_dict()})

    def to_anytree(self) -> Node:
        """A fresh :class:`anytree.Node` tree (the root is named ``"root"``)."""
        made = {ROOT: Node("root", key=ROOT)}
        for key in self.nodes[1:]:
            made[key] = Node(self._name(key), parent=made[self._parent[key]], key=key)
        return made[ROOT]

    def render(self) -> str:
        """The tree drawn as text with :class:`anytree.RenderTree`.

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
        """Depth of ``node`` (the root has depth 0)."""
        self._check_node(node)
        return _depth(node, self.sep)

    def parent(self, node: str) -> str:
        """Parent key of ``node`` (``""`` for a top-level node)."""
        self._check_node(node)
        if node == ROOT:
            raise ValueError("The root has no parent.")
        return self._parent[node]

    def children(self, node: str) -> tuple[str, ...]:
        """Child keys of ``node``, ordered by path."""
        self._check_node(node)
        return self._children[node]

    def path(self, node: str) -> tuple[str, ...]:
        """Names from the top level down to ``node``.

        Examples
        --------
        >>> Taxonomy.from_paths(["a/x"]).path("a/x")
        ('a', 'x')
        """
        self._check_node(node)
        return _split(node, self.sep)

    def ancestors(self, node: str) -> tuple[str, ...]:
        """Keys of the proper ancestors of ``node``, top-most first, the root excluded.

        Examples
        --------
        >>> Taxonomy.from_paths(["a/x/1"]).ancestors("a/x/1")
        ('a', 'a/x')
        """
        names = self.path(node)
        return tuple(self.sep.join(names[:d]) for d in range(1, len(names)))

    def lca(self, a: str, b: str) -> str:
        """Key of the lowest common ancestor of two nodes (``""`` is the root)."""
        pa, pb = self.path(a), self.path(b)
        n = 0
        while n < min(len(pa), len(pb)) and pa[n] == pb[n]:
            n += 1
        return self.sep.join(pa[:n])

    def encode(self, y: Any) -> np.ndarray:
        """Leaf code (index into :attr:`leaves`) of each sample.

        ``y`` may hold full paths, 2-D level rows, or bare leaf names where
        the name is unique among the leaves.

        Raises
        ------
        ValueError
            Naming the first label that is not a leaf of this taxonomy, or a
            bare name that several leaves share ("ambiguous: give the full
            path").
        """
        paths = label_paths(y, self.sep)
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
        """(n, depth) codes: column ``d - 1`` indexes ``levels[d]``, -1 past a path's end."""
        return self._leaf_level_codes[self.encode(y)]

    def leaf_level_codes(self) -> np.ndarray:
        """Level codes of every leaf, in leaf order (read-only, shape (n_leaves, depth))."""
        return self._leaf_level_codes

    def node_level_codes(self, nodes: Any) -> np.ndarray:
        """(n, depth) level codes of any nodes, internal ones and the root included.

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
        keys = node_keys(nodes, self.sep)
        unique = {key: None for key in keys}
        table = np.full((len(unique), self.depth), -1, dtype=np.int64)
        for row, key in enumerate(unique):
            self._check_node(key)
            names = _split(key, self.sep)
            table[row, : len(names)] = [self._index[self.sep.join(names[: d + 1])] for d in range(len(names))]
        row_of = {key: row for row, key in enumerate(unique)}
        return table[np.fromiter((row_of[k] for k in keys), dtype=np.int64, count=len(keys))]

    def ancestor_at(self, y: Any, level: int) -> np.ndarray:
        """Node at depth ``level`` on each label's path; a shallower label is returned as is.

        Examples
        --------
        >>> Taxonomy.from_paths(["a/x/1", "b"]).ancestor_at(["a/x/1", "b"], level=2)
        array(['a/x', 'b'], dtype=object)
        """
        if not 1 <= level <= self.depth:
            raise ValueError(f"level must be in [1, {self.depth}] (the depths of this taxonomy); got {level!r}.")
        leaves = self.encode(y)
        codes = self._leaf_level_codes[leaves, level - 1]
        nodes = np.asarray(self.levels[level], dtype=object)
        return np.where(codes >= 0, nodes[np.maximum(codes, 0)], np.asarray(self.leaves, dtype=object)[leaves])

    def path_multi_hot(self, y: Any) -> np.ndarray:
        """(n, n_nodes - 1) float32 targets: 1 on each node of the path, the root excluded.

        Columns follow ``nodes[1:]``.
        """
        offsets = np.cumsum([0] + [len(level) for level in self.levels[1:]])[:-1]
        codes = self.level_codes(y)
        out = np.zeros((len(codes), self.n_nodes - 1), dtype=np.float32)
        rows, cols = np.nonzero(codes >= 0)
        out[rows, offsets[cols] + codes[rows, cols]] = 1.0
        return out

    def lca_depth_matrix(self, leaves_a: Any, leaves_b: Any) -> np.ndarray:
        """(n, m) depths of LCA(a_i, b_j) for two arrays of labels.

        Examples
        --------
        >>> tax = Taxonomy.from_paths(["a/x", "a/y", "b"])
        >>> tax.lca_depth_matrix(["a/x", "b"], ["a/x", "a/y", "b"])
        array([[2, 1, 0],
               [0, 0, 1]])
        """
        return lca_depth(self.level_codes(leaves_a), self.level_codes(leaves_b))

    def tree_distance_matrix(self, leaves_a: Any, leaves_b: Any) -> np.ndarray:
        """(n, m) number of edges between a_i and b_j through their LCA."""
        ca, cb = self.level_codes(leaves_a), self.level_codes(leaves_b)
        da, db = (ca >= 0).sum(1), (cb >= 0).sum(1)
        return da[:, None] + db[None, :] - 2 * lca_depth(ca, cb)

    def restrict(self, leaves: Iterable[str]) -> Taxonomy:
        """Sub-taxonomy holding ``leaves`` (paths or unique names) and their ancestors.

        Examples
        --------
        >>> Taxonomy.from_paths(["a/x", "a/y", "b"]).restrict(["a/x"]).leaves
        ('a/x',)
        """
        codes = self.encode(np.asarray(list(leaves), dtype=object))
        return Taxonomy(self.decode(codes), sep=self.sep)

    def lowest_seen_ancestor(self, path: Any) -> Any:
        """Longest prefix of ``path`` that this taxonomy contains.

        Accepts one path (returns a str) or an array of labels (returns an
        object array). Works for paths this taxonomy never saw, which is how
        an unseen leaf finds the node it should be recognised as.

        Examples
        --------
        >>> seen = Taxonomy.from_paths(["Brass/Horn/open"])
        >>> seen.lowest_seen_ancestor("Brass/Trumpet/open")
        'Brass'
        >>> seen.lowest_seen_ancestor("Keys/Piano")
        ''
        """
        if isinstance(path, str):
            return self._lsa(path)
        paths = label_paths(path, self.sep, leaves=False)
        lsa = {p: self._lsa(p) for p in set(paths)}
        return np.array([lsa[p] for p in paths], dtype=object)

    # ------------------------------------------------------------ protocols
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Taxonomy):
            return NotImplemented
        return self.sep == other.sep and self.nodes == other.nodes

    def __hash__(self) -> int:
        return hash((self.sep, self.nodes))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Taxonomy, (self.nodes[1:], self.sep))

    def __repr__(self) -> str:
        sizes = "/".join(str(len(level)) for level in self.levels[1:])
        return f"Taxonomy(n_leaves={self.n_leaves}, depth={self.depth}, nodes_per_level={sizes}, sep={self.sep!r})"

    # ---------------------------------------------------------------- private
    def _name(self, key: str) -> str:
        return key.rpartition(self.sep)[2]

    def _check_node(self, node: str) -> None:
        if node not in self._index:
            raise ValueError(f"Unknown node {node!r}; it is not in this taxonomy.")

    def _leaf_code(self, label: str, row: int) -> int:
        if label in self._leaf_index:
            return self._leaf_index[label]
        if label in self._leaf_by_name:
            return self._leaf_index[self._leaf_by_name[label]]
        if label in self._index:
            raise ValueError(f"Label {label!r} (sample {row}) is an internal node, not a leaf, of this taxonomy.")
        if self.sep not in label:
            # Looked for only on this error path: bare names are resolved by _leaf_by_name when unique.
            named = [leaf for leaf in self.leaves if self._name(leaf) == label]
            if len(named) > 1:
                shown = ", ".join(repr(leaf) for leaf in named[:5]) + (", ..." if len(named) > 5 else "")
                raise ValueError(
                    f"Label {label!r} (sample {row}) is ambiguous: give the full path. {len(named)} leaves of this "
                    f"taxonomy have that name: {shown}."
                )
        raise ValueError(f"Unknown label {label!r} (sample {row}): it is not a leaf of this taxonomy.")

    def _lsa(self, path: str) -> str:
        names = path.split(self.sep) if path else []
        for n in range(len(names), 0, -1):
            key = self.sep.join(names[:n])
            if key in self._index:
                return key
        return ROOT


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
