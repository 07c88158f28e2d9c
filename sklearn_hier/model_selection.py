"""Cross-validation that hides whole leaves (or, for label sets, whole labels): the paper's unseen-class protocol."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_parameter_constraints

from sklearn_hier.taxonomy import Taxonomy, label_sets

__all__ = ["UnseenLabelKFold", "UnseenLeafKFold"]


class UnseenLeafKFold(BaseCrossValidator):
    """K-fold over leaves: each fold hides some leaves entirely and holds out a share of the others.

    Like :class:`~sklearn.model_selection.GroupKFold` with the groups being
    the leaves of ``y``. The leaves with at least ``min_samples_leaf`` clips
    (the *eligible* leaves) are shuffled and dealt into ``n_splits`` chunks.
    Fold ``k`` puts in its test set:

    - every clip of the leaves of chunk ``k`` (unseen in training),
    - every clip of the leaves with fewer than ``min_samples_leaf`` clips
      (unseen in every fold),
    - ``ceil(test_size * n)`` of the ``n`` clips of each other eligible leaf (at
      most ``n - 1``, so that the leaf keeps a training clip): the test set of
      seen leaves.

    All remaining clips are the training set. Every eligible leaf is unseen in
    exactly one fold. Scored with :func:`~sklearn_hier.metrics.hierarchy_scorers`,
    the test clips of seen leaves and the clips of unseen leaves are told apart
    by the fitted estimator's ``taxonomy_``.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    min_samples_leaf : int, default=10
        Leaves with fewer clips are never trained on.
    test_size : float, default=0.1
        Share of each seen leaf's clips held out for testing, in [0, 1).
    shuffle : bool, default=True
        Shuffle the leaves before dealing them into folds and draw the held-out
        clips at random. False deals the leaves in path order and holds out the
        last clips of each leaf, in sample order.
    random_state : int, RandomState instance or None, default=0
        Seeds the shuffling when ``shuffle`` is True. The default, a fixed
        seed, gives the same folds at every call of :meth:`split` and in every
        process, as scikit-learn's splitters do by default, so that two
        models scored with ``cv=UnseenLeafKFold()`` are compared on the same
        folds. None draws new folds at each call (numpy's global generator).
        Ignored when ``shuffle`` is False; setting it to anything other than
        None or 0 then is an error.

    See Also
    --------
    sklearn.model_selection.GroupKFold : The same idea with explicit groups.

    Notes
    -----
    Why a fixed seed rather than ``shuffle=False`` by default: unshuffled
    dealing hides leaves in path order, so a fold's unseen leaves tend to be
    siblings (a whole family at once), and it holds out each seen leaf's last
    clips, which in a rendered dataset are its highest notes. Shuffling with a
    fixed seed keeps folds both representative and repeatable.

    Parameters are validated when :meth:`split` or :meth:`get_n_splits` is
    called. ``groups`` is ignored: the leaves come from ``y``. The paper's
    protocol is ``UnseenLeafKFold(5, min_samples_leaf=10, test_size=0.1)``
    (its 10 % validation share of seen leaves stays in our training set).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hier.model_selection import UnseenLeafKFold
    >>> y = np.repeat(np.array(["a/x", "a/y", "b/z", "b/w"], dtype=object), 4)
    >>> cv = UnseenLeafKFold(n_splits=2, min_samples_leaf=3, test_size=0.25, random_state=0)
    >>> # each fold hides two leaves (8 clips) and holds out 1 of the 4 clips of the others
    >>> for train, test in cv.split(np.zeros((16, 1)), y):
    ...     print(sorted(set(y[test]) - set(y[train])), len(train), len(test))
    ['b/w', 'b/z'] 6 10
    ['a/x', 'a/y'] 6 10
    """

    _parameter_constraints: dict = {
        "n_splits": [Interval(Integral, 2, None, closed="left")],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left")],
        "test_size": [Interval(Real, 0, 1, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_splits: int = 5,
        *,
        min_samples_leaf: int = 10,
        test_size: float = 0.1,
        shuffle: bool = True,
        random_state: Any = 0,
    ) -> None:
        self.n_splits = n_splits
        self.min_samples_leaf = min_samples_leaf
        self.test_size = test_size
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Number of folds.

        Examples
        --------
        >>> UnseenLeafKFold(3).get_n_splits()
        3
        """
        self._validate_params()
        return self.n_splits

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Generate train and test indices for each fold.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training data (only its length is used).
        y : array-like of shape (n_samples,) or (n_samples, depth)
            Label paths; required, they define the leaves.
        groups : None
            Ignored.

        Yields
        ------
        train, test : ndarray of int
            Sorted indices of the fold's training and test clips.

        Raises
        ------
        ValueError
            If ``y`` is missing, or there are fewer eligible leaves than folds.
        """
        self._validate_params()
        name = type(self).__name__
        if y is None:
            raise ValueError(f"{name} needs y: the leaves of the label paths are what it splits.")
        if groups is not None:
            warnings.warn(f"{name} ignores groups; the leaves of y are its groups.", UserWarning, stacklevel=2)
        return super().split(X, y, groups)

    def _validate_params(self) -> None:
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__,
        )
        # 0 is the default: UnseenLeafKFold(shuffle=False) must work without naming random_state.
        if not self.shuffle and self.random_state is not None and not _is_default_seed(self.random_state):
            raise ValueError(
                f"Setting random_state={self.random_state!r} has no effect since shuffle is False; leave it as None."
            )

    def _iter_test_indices(self, X: Any = None, y: Any = None, groups: Any = None) -> Iterator[np.ndarray]:
        leaf = Taxonomy.from_y(y).encode(y)
        counts = np.bincount(leaf)
        eligible = np.flatnonzero(counts >= self.min_samples_leaf)
        if len(eligible) < self.n_splits:
            raise ValueError(
                f"n_splits={self.n_splits} cannot exceed the number of eligible leaves={len(eligible)} "
                f"(leaves with at least min_samples_leaf={self.min_samples_leaf} clips)."
            )
        rng = check_random_state(self.random_state) if self.shuffle else None
        clips_of = np.split(np.argsort(leaf, kind="stable"), np.cumsum(counts)[:-1])
        chunks = np.array_split(rng.permutation(eligible) if rng is not None else eligible, self.n_splits)
        always_unseen = [clips_of[i] for i in np.flatnonzero(counts < self.min_samples_leaf)]
        for chunk in chunks:
            hidden = set(chunk.tolist())
            held_out = [self._held_out(clips_of[i], rng) for i in eligible if i not in hidden]
            yield np.sort(np.concatenate([*always_unseen, *(clips_of[i] for i in chunk), *held_out]))

    def _held_out(self, clips: np.ndarray, rng: np.random.RandomState | None) -> np.ndarray:
        # The tolerance keeps float error (0.1 * 30 = 3.0000000000000004) from adding a clip.
        n_test = min(math.ceil(self.test_size * len(clips) - 1e-9), len(clips) - 1)
        if rng is None:
            return clips[len(clips) - n_test :]
        return rng.choice(clips, size=n_test, replace=False)


def _is_default_seed(random_state: Any) -> bool:
    return isinstance(random_state, Integral) and not isinstance(random_state, bool) and random_state == 0


class UnseenLabelKFold(UnseenLeafKFold):
    """K-fold over the labels of multi-label ``y``: each fold hides some labels and holds out clips of the others.

    The multi-label sibling of :class:`UnseenLeafKFold`, for ``y`` given as
    label sets (:func:`~sklearn_hier.taxonomy.label_sets`), on trees and on
    DAG ontologies. The labels it hides are the *leaf labels* of ``y``: the
    labels with no other label of ``y`` below them (an inner label such as
    ``"Dog"`` stays seen as long as a clip of ``"Bark"`` is trained on, since
    every label brings its ancestors). The leaf labels with at least
    ``min_samples_leaf`` clips (the *eligible* labels) are shuffled and dealt
    into ``n_splits`` chunks. Fold ``k`` puts in its test set:

    - every clip carrying a label of chunk ``k`` (held out: unseen in
      training), whatever other labels it carries,
    - every clip carrying a leaf label with fewer than ``min_samples_leaf``
      clips (unseen in every fold),
    - for each other eligible label, in label order, clips of it drawn until
      ``ceil(test_size * n)`` of its ``n`` clips that carry no held-out label
      are in the test set, keeping at least one in training: the test set of
      seen labels. Should these draws take the last training clip of another
      label, one of its drawn clips goes back to training.

    All remaining clips are the training set, so no training clip carries a
    held-out label, and every eligible label is held out in exactly one fold.
    A seen label may still lose every training clip in a fold when each of
    its clips also carries a held-out label. Scored on the fold, a held-out
    label is recognised at its lowest seen ancestors in the DAG,
    ``taxonomy.lowest_seen_ancestors(label, fitted.taxonomy_)``.

    With one label per clip on a tree, the folds are exactly those of
    :class:`UnseenLeafKFold` with the same parameters.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    min_samples_leaf : int, default=10
        Leaf labels carried by fewer clips are never trained on.
    test_size : float, default=0.1
        Share of each seen label's clips in the test set, in [0, 1).
    shuffle : bool, default=True
        Shuffle the labels before dealing them into folds and draw the
        held-out clips at random. False deals the labels in order and holds
        out the last clips of each label, in sample order.
    random_state : int, RandomState instance or None, default=0
        As in :class:`UnseenLeafKFold`: a fixed seed by default, so that every
        call of :meth:`split` gives the same folds.
    taxonomy : Taxonomy, default=None
        The taxonomy the labels of ``y`` name, such as an ontology read with
        :meth:`Taxonomy.from_ontology <sklearn_hier.taxonomy.Taxonomy.from_ontology>`
        (required when labels are identities like ``"/m/0bt9lr"``). None reads
        the labels as paths and builds the taxonomy from ``y``.

    See Also
    --------
    UnseenLeafKFold : The single-label splitter.
    sklearn_hier.taxonomy.Taxonomy.lowest_seen_ancestors : Where a held-out label is recognised.

    Notes
    -----
    ``y`` takes any form :func:`~sklearn_hier.taxonomy.label_sets` accepts,
    single-label ``y`` included (one-label sets; unlike
    :class:`UnseenLeafKFold`, a label may then be an ancestor of another).
    A clip whose labels are all inner labels is never hidden and never held
    out. ``groups`` is ignored.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hier.model_selection import UnseenLabelKFold
    >>> y = [{"a/x", "b/z"}, {"a/x"}, {"a/y"}, {"a/y", "b/z"}, {"b/w"}, {"b/w", "a/x"}, {"b/z"}, {"a/y"}]
    >>> cv = UnseenLabelKFold(n_splits=2, min_samples_leaf=2, test_size=0.0, random_state=0)
    >>> # each fold hides two labels: every clip carrying one is a test clip (clip 5 carries b/w and a/x)
    >>> for train, test in cv.split(np.zeros((8, 1)), y):
    ...     seen = set().union(*(y[i] for i in train))
    ...     print(sorted({"a/x", "a/y", "b/w", "b/z"} - seen), train, test)
    ['b/w', 'b/z'] [1 2 7] [0 3 4 5 6]
    ['a/x', 'a/y'] [4 6] [0 1 2 3 5 7]
    """

    _parameter_constraints: dict = {**UnseenLeafKFold._parameter_constraints, "taxonomy": [Taxonomy, None]}

    def __init__(
        self,
        n_splits: int = 5,
        *,
        min_samples_leaf: int = 10,
        test_size: float = 0.1,
        shuffle: bool = True,
        random_state: Any = 0,
        taxonomy: Taxonomy | None = None,
    ) -> None:
        super().__init__(
            n_splits, min_samples_leaf=min_samples_leaf, test_size=test_size, shuffle=shuffle, random_state=random_state
        )
        self.taxonomy = taxonomy

    def _iter_test_indices(self, X: Any = None, y: Any = None, groups: Any = None) -> Iterator[np.ndarray]:
        sets = label_sets(y, taxonomy=self.taxonomy)
        clips_of = self._clips_of_leaf_labels(sets)
        counts = np.array([len(clips) for clips in clips_of], dtype=np.int64)
        eligible = np.flatnonzero(counts >= self.min_samples_leaf)
        if len(eligible) < self.n_splits:
            raise ValueError(
                f"n_splits={self.n_splits} cannot exceed the number of eligible labels={len(eligible)} "
                f"(leaf labels of y with at least min_samples_leaf={self.min_samples_leaf} clips)."
            )
        rng = check_random_state(self.random_state) if self.shuffle else None
        chunks = np.array_split(rng.permutation(eligible) if rng is not None else eligible, self.n_splits)
        rare = np.flatnonzero(counts < self.min_samples_leaf)
        for chunk in chunks:
            test = np.zeros(len(sets), dtype=bool)
            for i in (*rare, *chunk):
                test[clips_of[i]] = True
            forced = test.copy()
            hidden = set(chunk.tolist())
            seen = [i for i in eligible if i not in hidden]
            for i in seen:
                self._hold_out(clips_of[i], test, forced, rng)
            for i in seen:  # a draw for one label may have taken another's last training clip
                if test[clips_of[i]].all() and not forced[clips_of[i]].all():
                    test[clips_of[i][~forced[clips_of[i]]][0]] = False
            yield np.flatnonzero(test)

    def _clips_of_leaf_labels(self, sets: tuple[frozenset[str], ...]) -> list[np.ndarray]:
        """The clips carrying each leaf label of ``y`` (in the taxonomy's leaf order), each in sample order."""
        if self.taxonomy is None:
            taxonomy = Taxonomy.from_label_sets(sets) if sets else Taxonomy([])
        else:
            taxonomy = self.taxonomy.restrict(list(sets))
        # The leaves of the taxonomy of y's labels are exactly the labels with no other label below them.
        code = {leaf: i for i, leaf in enumerate(taxonomy.leaves)}
        clips: list[list[int]] = [[] for _ in code]
        for clip, labels in enumerate(sets):
            for label in labels:
                if label in code:
                    clips[code[label]].append(clip)
        return [np.asarray(c, dtype=np.int64) for c in clips]

    def _hold_out(
        self, clips: np.ndarray, test: np.ndarray, forced: np.ndarray, rng: np.random.RandomState | None
    ) -> None:
        """Put clips of one seen label in the test set until its share is reached, keeping one for training.

        The share is of the label's clips that carry no held-out label: those
        are test clips anyway (unseen ones), and counting them would leave
        polyphonic data, where most clips carry some held-out label, with no
        seen test clip at all.
        """
        candidates = clips[~forced[clips]]
        free = candidates[~test[candidates]]
        if len(free) == 0:
            return
        # As UnseenLeafKFold's _held_out when no clip of the label is in the test set yet (one label per clip).
        wanted = math.ceil(self.test_size * len(candidates) - 1e-9) - (len(candidates) - len(free))
        test[self._held_out_of(free, max(min(wanted, len(free) - 1), 0), rng)] = True

    @staticmethod
    def _held_out_of(clips: np.ndarray, n_test: int, rng: np.random.RandomState | None) -> np.ndarray:
        if rng is None:
            return clips[len(clips) - n_test :]
        return rng.choice(clips, size=n_test, replace=False)
