"""Plots in scikit-learn's ``*Display`` style.

Each class stores what was already computed in ``__init__``, draws in
``plot(ax=None, ...)`` and keeps ``ax_`` and ``figure_``; ``from_*`` class
methods compute and plot in one call. matplotlib is imported only when plotting,
and its backend is never changed: what shows the figures is the caller's choice.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from numbers import Integral
from typing import Any

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from sklearn_hier._docstrings import fill_doc
from sklearn_hier.nn.distances import SIMILARITIES, Distance, as_distance, distance_of, pairwise_similarity
from sklearn_hier.stats import finite_stat
from sklearn_hier.taxonomy import Taxonomy, is_multilabel, label_sets

__all__ = ["EmbeddingProjectionDisplay", "LevelSimilarityDisplay", "MetricComparisonDisplay", "metric_display_name"]


# Readable names of hierarchy_scorers' keys, as the results table heads its columns.
_METRIC_NAMES = {
    "mean_normalized_rank": "MNR",
    "ndcg": "NDCG",
    "f1_macro_mean": "F1",
    "f1_macro_leaf": "F1 leaf",
    "lsa_accuracy_aware": "Acc_aware",
    "lsa_accuracy_blind": "Acc_blind",
    "lwlrap": "lwlrap",
    "mean_average_precision": "mAP",
}


# What the embedding displays' from_embeddings and from_estimator methods share in their docstrings.
_DOCS = {
    "embeddings_y": """
        embeddings : array-like of shape (n, d)
        y : array-like of shape (n,)
            Label paths.
    """,
    "estimator_X_y": """
        estimator : fitted HierarchicalEmbedder or Pipeline ending in one
            Anything with ``transform`` that returns embeddings.
        X : array-like
            What ``estimator.transform`` takes (mels, or waveforms for a pipeline).
        y : array-like of shape (n,)
            Label paths of ``X``.
    """,
    "identity": """
        >>> from sklearn.preprocessing import FunctionTransformer
        >>> identity = FunctionTransformer()  # stands in for a fitted embedder: its embeddings are its input
    """,
}


def _axes(ax: Any, figsize: tuple[float, float], layout: str = "constrained") -> Any:
    """``ax``, or the axes of a new figure whose layout engine keeps every label inside it.

    Figures with a colour bar take the "tight" engine: a colour bar made under "constrained"
    forbids a later ``figure.tight_layout()``, which callers may still run.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout=layout)
    return ax


def metric_display_name(key: str) -> tuple[str, float]:
    """Readable name of a scorer key, and the sign that turns its value into the metric.

    scikit-learn scorers are "greater is better", so a metric where lower is
    better is scored negated (``neg_mean_normalized_rank``). The name says the
    metric as a results table shows it, with an arrow for its better direction.

    Parameters
    ----------
    key : str
        A key of :func:`~sklearn_hier.hierarchy_scorers`, with or without the
        ``test_`` prefix of ``cross_validate``.

    Returns
    -------
    name : str
        Such as ``"MNR unseen ↓"`` or ``"RP@5 ↑"``; an unknown key is kept.
    sign : float
        -1.0 for a ``neg_`` key (multiply the score by it), else 1.0.

    Examples
    --------
    >>> metric_display_name("neg_mean_normalized_rank_unseen")
    ('MNR unseen ↓', -1.0)
    >>> metric_display_name("test_precision_at_5")
    ('RP@5 ↑', 1.0)
    """
    key = key.removeprefix("test_")
    sign = -1.0 if key.startswith("neg_") else 1.0
    base = key.removeprefix("neg_")
    unseen = base.endswith("_unseen")
    base = base.removesuffix("_unseen")
    if base in _METRIC_NAMES:
        name = _METRIC_NAMES[base]
    elif base.startswith("precision_at_"):
        name = "RP@" + base.removeprefix("precision_at_")
    elif base.startswith("f1_macro_level"):
        name = "F1 level " + base.removeprefix("f1_macro_level")
    else:
        return key, sign
    arrow = "↓" if sign < 0 else "↑"
    return f"{name}{' unseen' if unseen else ''} {arrow}", sign


def _cv_rows(cv_results: Mapping[str, Any], label: str) -> list[dict]:
    """Long-format rows (config, fold, metric, value) of one ``cross_validate`` output."""
    rows = []
    for key, values in cv_results.items():
        if key.startswith("test_"):
            for fold, value in enumerate(np.ravel(values)):
                rows.append({"config": label, "fold": fold, "metric": key.removeprefix("test_"), "value": value})
    return rows


def _search_rows(cv_results: Mapping[str, Any], labels: Sequence[str] | None) -> list[dict]:
    """Long-format rows of a search's ``cv_results_``: one config per candidate, one fold per split."""
    n_candidates = len(cv_results["params"])
    if labels is None:
        labels = [", ".join(f"{k}={v}" for k, v in params.items()) for params in cv_results["params"]]
    if len(labels) != n_candidates:
        raise ValueError(f"labels has {len(labels)} entries; cv_results has {n_candidates} candidates.")
    pattern = re.compile(r"split(\d+)_test_(.+)")
    rows = []
    for key, values in cv_results.items():
        match = pattern.fullmatch(key)
        if match:
            fold, metric = int(match[1]), match[2]
            rows += [
                {"config": labels[i], "fold": fold, "metric": metric, "value": values[i]} for i in range(n_candidates)
            ]
    return rows


def _prefixes(y: Any, level: Any, sep: str, name: str = "level") -> np.ndarray:
    """Ancestor of each label at ``level`` (the label itself where it is shallower).

    ``level`` must be a depth of ``y``'s tree, from 1 to its deepest label's depth; ``name``
    is the caller's parameter, for the error message.
    """
    taxonomy = Taxonomy.from_y(y, sep=sep)
    if isinstance(level, bool) or not isinstance(level, Integral) or not 1 <= level <= taxonomy.depth:
        raise ValueError(f"{name} must be a depth of y's tree, an integer from 1 to {taxonomy.depth}; got {level!r}.")
    return taxonomy.ancestor_at(y, int(level))


def _memberships(y: Any, level: Any, sep: str) -> tuple[np.ndarray, torch.Tensor]:
    """The nodes at ``level`` and an (n, n_nodes) 0/1 matrix: which of them each clip belongs to.

    A clip with one label belongs to its label's node at ``level``; a clip with a label set
    to the node of each of its labels (a mixture of a violin and a trumpet counts for both).

    Examples
    --------
    >>> nodes, members = _memberships([{"a/x", "b/y"}, {"a/z"}], 1, "/")
    >>> nodes.tolist(), members.tolist()
    (['a', 'b'], [[1.0, 1.0], [1.0, 0.0]])
    """
    if not is_multilabel(y):
        nodes, codes = np.unique(_prefixes(y, level, sep), return_inverse=True)
        members = torch.zeros(len(codes), len(nodes))
        members[torch.arange(len(codes)), torch.as_tensor(codes)] = 1.0
        return nodes, members
    sets = label_sets(y, sep=sep)
    flat = [label for labels in sets for label in sorted(labels)]
    nodes, codes = np.unique(_prefixes(flat, level, sep), return_inverse=True)
    members = torch.zeros(len(sets), len(nodes))
    rows = np.repeat(np.arange(len(sets)), [len(labels) for labels in sets])
    members[torch.as_tensor(rows), torch.as_tensor(codes)] = 1.0
    return nodes, members


def _embed(estimator: Any, X: Any) -> np.ndarray:
    """Embeddings of ``X`` by a fitted estimator (its ``transform``), as a float64 array."""
    if not callable(getattr(estimator, "transform", None)):
        name = type(estimator).__name__
        raise TypeError(f"estimator must have a transform method that returns embeddings; got {name}.")
    embeddings = estimator.transform(X)
    if hasattr(embeddings, "detach"):
        embeddings = embeddings.detach().cpu().numpy()
    return np.asarray(embeddings, dtype=np.float64)


def _bounds(key: str) -> tuple[float, float] | None:
    """The range of a metric's values as drawn, or None where it is not known to be bounded.

    Every hierarchy metric (MNR, NDCG, RP@k, F1, the LSA accuracies) lies in [0, 1].

    Examples
    --------
    >>> _bounds("neg_mean_normalized_rank_unseen"), _bounds("fit_time")
    ((0.0, 1.0), None)
    """
    base = key.removeprefix("test_").removeprefix("neg_").removesuffix("_unseen")
    known = base in _METRIC_NAMES or base.startswith(("precision_at_", "f1_macro_level"))
    return (0.0, 1.0) if known else None


def _error_bars(heights: np.ndarray, errors: np.ndarray, metrics: Sequence[str]) -> np.ndarray:
    """(2, n) lower and upper error bar lengths: ± ``errors``, cut at the bounds of bounded metrics.

    A metric bounded by 1 (NDCG, accuracy) never gets a bar above 1, nor one below 0.

    Examples
    --------
    >>> _error_bars(np.array([0.95, 0.5]), np.array([0.1, 0.1]), ["ndcg", "fit_time"]).round(2)
    array([[0.1 , 0.1 ],
           [0.05, 0.1 ]])
    """
    errors = np.nan_to_num(np.asarray(errors, dtype=float))
    lower, upper = errors.copy(), errors.copy()
    for i, metric in enumerate(metrics):
        bounds = _bounds(metric)
        if bounds is not None and np.isfinite(heights[i]):
            lower[i] = max(0.0, min(errors[i], heights[i] - bounds[0]))
            upper[i] = max(0.0, min(errors[i], bounds[1] - heights[i]))
    return np.vstack([lower, upper])


def _text_width_in(labels: Sequence[Any], points: float) -> float:
    """A generous estimate, in inches, of the widest of ``labels`` set in a font of ``points`` points."""
    longest = max((len(str(label)) for label in labels), default=0)
    return longest * points * 0.62 / 72


class MetricComparisonDisplay:
    """Grouped bars of metric means with standard deviations, one group per metric.

    Metrics are named and signed as a results table shows them (see
    :func:`metric_display_name`): a ``neg_`` scorer such as
    ``neg_mean_normalized_rank`` is drawn positive, as "MNR ↓". A metric a
    configuration has no value for (NaN, such as ``Acc_aware`` without
    per-level heads) is marked "n/a" where its bar would be.

    Parameters
    ----------
    means : dict of str to dict of str to float
        ``means[config][metric]``, metrics as scorer keys.
    stds : dict of str to dict of str to float
        Same layout, the error bars.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    sklearn_hier.hierarchy_scorers : The scorers whose output this plots.

    Examples
    --------
    >>> rows = [{"config": "PL", "fold": f, "metric": "ndcg", "value": v} for f, v in enumerate([0.8, 0.9])]
    >>> disp = MetricComparisonDisplay.from_results(rows)
    >>> round(disp.means["PL"]["ndcg"], 3)
    0.85
    >>> disp.ax_.get_xticklabels()[0].get_text()
    'NDCG ↑'
    """

    _layout = "constrained"

    def __init__(self, means: Mapping[str, Mapping[str, float]], stds: Mapping[str, Mapping[str, float]]) -> None:
        self.means = means
        self.stds = stds

    @classmethod
    def from_results(
        cls,
        rows: Sequence[Mapping[str, Any]],
        *,
        metrics: Sequence[str] | None = None,
        ax: Any = None,
        title: str | None = "Hierarchy metrics by configuration",
    ) -> MetricComparisonDisplay:
        """Aggregate long-format rows (config, fold, metric, value) over folds and plot.

        Parameters
        ----------
        rows : sequence of dict
            Each with keys ``config``, ``fold``, ``metric`` (a scorer key) and ``value``.
        metrics : sequence of str or None, default=None
            Scorer keys to plot, in this order; None plots every metric of ``rows``.
        ax, title
            As in :meth:`plot`.

        Returns
        -------
        display : MetricComparisonDisplay
        """
        return cls._from_rows(rows, metrics).plot(ax=ax, title=title)

    @classmethod
    def _from_rows(cls, rows: Sequence[Mapping[str, Any]], metrics: Sequence[str] | None) -> MetricComparisonDisplay:
        """The display of ``rows``' means and stds over folds, not yet drawn."""
        values: dict[str, dict[str, list[float]]] = {}
        for row in rows:
            if metrics is None or row["metric"] in metrics:
                values.setdefault(row["config"], {}).setdefault(row["metric"], []).append(float(row["value"]))
        if not values:
            raise ValueError(f"No rows to plot for metrics={metrics!r}.")
        if metrics is not None:  # keep the caller's order
            values = {c: {m: ms[m] for m in metrics if m in ms} for c, ms in values.items()}
        means = {c: {m: finite_stat(np.mean, v) for m, v in ms.items()} for c, ms in values.items()}
        stds = {c: {m: finite_stat(np.std, v) for m, v in ms.items()} for c, ms in values.items()}
        return cls(means, stds)

    @classmethod
    def from_cv_results(
        cls,
        cv_results: Mapping[str, Any],
        *,
        metrics: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
        ax: Any = None,
        title: str | None = "Hierarchy metrics by configuration",
    ) -> MetricComparisonDisplay:
        """Plot ``cross_validate`` output, several of them, or a search's ``cv_results_``.

        Parameters
        ----------
        cv_results : dict
            One of: the dict ``cross_validate`` returns (one configuration);
            a dict of configuration name to such dicts; or the ``cv_results_``
            of ``GridSearchCV`` / ``RandomizedSearchCV`` (one configuration
            per candidate, one fold per ``split<i>_test_<metric>``).
        metrics : sequence of str or None, default=None
            Scorer keys (without ``test_``) to plot; None plots all.
        labels : sequence of str or None, default=None
            Names of a search's candidates; None writes out their parameters.
            For a single ``cross_validate`` output, ``labels[0]`` names it.
        ax, title
            As in :meth:`plot`.

        Returns
        -------
        display : MetricComparisonDisplay

        Examples
        --------
        >>> cv = {"fit_time": [1.0, 1.0], "test_neg_mean_normalized_rank": [-0.2, -0.3]}
        >>> disp = MetricComparisonDisplay.from_cv_results({"PL": cv, "L": cv})
        >>> round(disp.means["PL"]["neg_mean_normalized_rank"], 3)  # drawn as MNR = 0.25
        -0.25
        """
        if "params" in cv_results:
            rows = _search_rows(cv_results, labels)
        elif any(key.startswith("test_") for key in cv_results):
            rows = _cv_rows(cv_results, labels[0] if labels else "model")
        elif all(isinstance(cv, Mapping) for cv in cv_results.values()):
            rows = [row for name, cv in cv_results.items() for row in _cv_rows(cv, name)]
        else:
            rows = []
        if not rows:
            raise ValueError(
                "cv_results holds no test scores: expected keys 'test_<metric>' (cross_validate), "
                "a dict of such outputs, or 'split<i>_test_<metric>' (a search's cv_results_); "
                f"got keys {list(cv_results)[:5]}."
            )
        return cls.from_results(rows, metrics=metrics, ax=ax, title=title)

    def _metrics(self) -> list[str]:
        return list(dict.fromkeys(m for c in self.means for m in self.means[c]))

    def _figsize(self) -> tuple[float, float]:
        """Room for the bars and, on the right, the legend of configuration names."""
        legend = _text_width_in([*self.means, "configuration"], 9) + 0.6
        return (max(6.0, 1.1 * len(self._metrics()) + 1.5 + legend), 4.5)

    def plot(
        self, ax: Any = None, *, title: str | None = "Hierarchy metrics by configuration"
    ) -> MetricComparisonDisplay:
        """Draw the bars, the legend outside them on the right; returns ``self``.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Axes to draw on; None makes a new figure.
        title : str or None, default="Hierarchy metrics by configuration"
            Title of the axes.

        Returns
        -------
        self : MetricComparisonDisplay
        """
        configs = list(self.means)
        metrics = self._metrics()
        ax = _axes(ax, self._figsize())
        width = 0.8 / max(len(configs), 1)
        x = np.arange(len(metrics))
        names, signs = zip(*(metric_display_name(m) for m in metrics), strict=True) if metrics else ((), ())
        for i, config in enumerate(configs):
            heights = np.array([s * self.means[config].get(m, np.nan) for m, s in zip(metrics, signs, strict=True)])
            errors = np.array([self.stds[config].get(m, np.nan) for m in metrics])
            positions = x + i * width
            # A std drawn past a metric's bound (NDCG + std > 1) would show values no fold can have.
            ax.bar(positions, heights, width, yerr=_error_bars(heights, errors, metrics), capsize=2, label=config)
            for position in positions[np.isnan(heights)]:
                ax.text(position, 0.01, "n/a", rotation=90, ha="center", va="bottom", fontsize="x-small", color="0.35")
        ax.set_xticks(x + width * (len(configs) - 1) / 2, names, rotation=30, ha="right")
        ax.set_ylabel("mean over folds (error bar: std)")
        bounded = metrics and all(_bounds(m) == (0.0, 1.0) for m in metrics)
        ax.set_ylim(bottom=0, top=1.0 if bounded else None)
        ax.legend(title="configuration", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
        if title:
            ax.set_title(title)
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _qualitative_colours(n: int) -> list:
    """``n`` colours of distinct hue: tab10, then tab20's lighter shades only once those run out."""
    import matplotlib

    if n <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(n)]
    tab20 = matplotlib.colormaps["tab20"]
    # tab20 pairs a dark and a light shade of each hue; all dark ones first keeps neighbours apart.
    order = list(range(0, 20, 2)) + list(range(1, 20, 2))
    return [tab20(order[i % 20]) for i in range(n)]


@fill_doc(**_DOCS)
class EmbeddingProjectionDisplay:
    """2-D projection of embeddings, coloured by one level and marked by the next.

    Colours are distinct hues, one per node of the colour level (say, the
    instrument family); within a colour, marker shapes tell the nodes of the
    marker level apart (the instruments of that family). Two legends, outside
    the data, say which is which.

    Parameters
    ----------
    points : ndarray of shape (n, 2)
    colour_labels : ndarray of shape (n,)
        Node at the colour level for each point.
    marker_labels : ndarray of shape (n,) or None, default=None
        Node at the marker level for each point.
    method : {"pca", "tsne"}, default="pca"
        How ``points`` were made, for the axis labels.
    explained_variance_ratio : sequence of float or None, default=None
        Share of the variance on each PCA axis, written on the axis labels.
    colour_level, marker_level : int or None, default=1 and 2
        Tree levels of the labels, for the legend titles.
    sep : str, default="/"
        Path separator; the marker legend names each node by its last part.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = ["a/x", "a/y", "b/z", "b/w"] * 5
    >>> disp = EmbeddingProjectionDisplay.from_embeddings(rng.normal(size=(20, 8)), y)
    >>> disp.points.shape
    (20, 2)
    >>> disp.ax_.get_xlabel()[:4]
    'PC 1'
    """

    _layout = "constrained"

    def __init__(
        self,
        points: np.ndarray,
        colour_labels: np.ndarray,
        marker_labels: np.ndarray | None = None,
        *,
        method: str = "pca",
        explained_variance_ratio: Sequence[float] | None = None,
        colour_level: int | None = 1,
        marker_level: int | None = 2,
        sep: str = "/",
    ) -> None:
        self.points = points
        self.colour_labels = colour_labels
        self.marker_labels = marker_labels
        self.method = method
        self.explained_variance_ratio = explained_variance_ratio
        self.colour_level = colour_level
        self.marker_level = marker_level
        self.sep = sep

    @classmethod
    def from_embeddings(
        cls,
        embeddings: Any,
        y: Any,
        *,
        colour_level: int = 1,
        marker_level: int | str | None = "auto",
        method: str = "pca",
        sep: str = "/",
        random_state: int | None = 0,
        ax: Any = None,
        title: str | None = None,
    ) -> EmbeddingProjectionDisplay:
        """Project with PCA or t-SNE (scikit-learn) and plot.

        Parameters
        ----------
        %(embeddings_y)s
        colour_level : int, default=1
            Tree level whose nodes get one colour each.
        marker_level : int, "auto" or None, default="auto"
            Tree level whose nodes get one marker shape each within a colour,
            from 1 to the depth of ``y``'s tree; None draws circles only;
            ``"auto"`` is the level below ``colour_level`` where the tree has
            one (level 2 for the default colours), else circles only.
        method : {"pca", "tsne"}, default="pca"
        sep : str, default="/"
        random_state : int or None, default=0
        ax, title
            As in :meth:`plot`.

        Returns
        -------
        display : EmbeddingProjectionDisplay
        """
        display = cls._from_embeddings(embeddings, y, colour_level, marker_level, method, sep, random_state)
        return display.plot(ax=ax, title=title)

    @classmethod
    def _from_embeddings(
        cls,
        embeddings: Any,
        y: Any,
        colour_level: int,
        marker_level: int | str | None,
        method: str,
        sep: str,
        random_state: int | None,
    ) -> EmbeddingProjectionDisplay:
        """The projection of ``embeddings``, not yet drawn (as :meth:`from_embeddings` takes)."""
        # The levels are checked before the projection, which can take a while (t-SNE).
        colours = _prefixes(y, colour_level, sep, "colour_level")
        if isinstance(marker_level, str) and marker_level == "auto":
            below = colour_level + 1
            marker_level = below if below <= Taxonomy.from_y(y, sep=sep).depth else None
        markers = None if marker_level is None else _prefixes(y, marker_level, sep, "marker_level")
        if method not in ("pca", "tsne"):
            raise ValueError(f"method must be 'pca' or 'tsne'; got {method!r}.")
        Z = np.asarray(embeddings, dtype=np.float64)
        ratio = None
        if method == "pca":
            pca = PCA(n_components=2, random_state=random_state)
            points = pca.fit_transform(Z)
            ratio = pca.explained_variance_ratio_.tolist()
        else:
            points = TSNE(n_components=2, init="pca", random_state=random_state).fit_transform(Z)
        return cls(
            points,
            colours,
            markers,
            method=method,
            explained_variance_ratio=ratio,
            colour_level=colour_level,
            marker_level=marker_level,
            sep=sep,
        )

    @classmethod
    def from_estimator(cls, estimator: Any, X: Any, y: Any, **kwargs: Any) -> EmbeddingProjectionDisplay:
        """Embed ``X`` with a fitted estimator (``transform``), project and plot.

        Parameters
        ----------
        %(estimator_X_y)s
        **kwargs
            Keyword arguments of :meth:`from_embeddings`: ``colour_level``,
            ``marker_level``, ``method``, ``sep``, ``random_state``, ``ax``, ``title``.

        Returns
        -------
        display : EmbeddingProjectionDisplay

        Examples
        --------
        %(identity)s
        >>> y = ["a/x", "a/y", "b/z", "b/w"] * 5
        >>> X = np.random.default_rng(0).normal(size=(20, 8))
        >>> disp = EmbeddingProjectionDisplay.from_estimator(identity, X, y, colour_level=1)
        >>> disp.points.shape
        (20, 2)
        """
        return cls.from_embeddings(_embed(estimator, X), y, **kwargs)

    def _figsize(self) -> tuple[float, float]:
        """6.5 inches of data, and on the right room for the wider of the two legends."""
        colour = _text_width_in([*np.unique(self.colour_labels), "level 10 (colour)"], 9)
        marker = 0.0
        if self.marker_labels is not None:
            names = [str(m).rsplit(self.sep, 1)[-1] for m in np.unique(self.marker_labels)]
            columns = 2 if len(names) > 16 else 1
            marker = columns * _text_width_in([*names, "level 10 (marker)"], 7) + 0.4 * (columns - 1)
        return (6.5 + max(colour, marker) + 0.6, 6.5)

    def _fit_figure(self) -> None:
        """Grow the figure, when this display made it, so that both legends fit (see :func:`_make_room`)."""
        if len(self._legends) == 2:
            _make_room(self.figure_, *self._legends)

    def _axis_labels(self) -> tuple[str, str]:
        if self.method == "tsne":
            return "t-SNE 1", "t-SNE 2"
        if self.explained_variance_ratio is None:
            return "PC 1", "PC 2"
        return tuple(
            f"PC {i + 1} ({100 * r:.0f} % of variance)" for i, r in enumerate(self.explained_variance_ratio[:2])
        )

    def plot(self, ax: Any = None, *, max_markers: int = 10, title: str | None = None) -> EmbeddingProjectionDisplay:
        """Draw the scatter and its two legends; returns ``self``.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
        max_markers : int, default=10
            Marker shapes per colour; nodes beyond it reuse shapes.
        title : str or None, default=None
            None writes which projection and which levels.

        Returns
        -------
        self : EmbeddingProjectionDisplay
        """
        from matplotlib.lines import Line2D

        own_figure = ax is None
        ax = _axes(ax, self._figsize())
        self._legends = ()
        shapes = "o^sDvP*Xh<"[:max_markers]
        groups = np.unique(self.colour_labels)
        colour_handles, marker_handles = [], []
        for colour, group in zip(_qualitative_colours(len(groups)), groups, strict=True):
            in_group = self.colour_labels == group
            subgroups = [None] if self.marker_labels is None else np.unique(self.marker_labels[in_group])
            for j, sub in enumerate(subgroups):
                mask = in_group if sub is None else in_group & (self.marker_labels == sub)
                shape = shapes[j % len(shapes)]
                ax.scatter(*self.points[mask].T, s=14, color=colour, marker=shape, alpha=0.8, linewidths=0)
                if sub is not None:
                    name = str(sub).rsplit(self.sep, 1)[-1]
                    marker_handles.append(Line2D([], [], ls="", marker=shape, color=colour, label=name))
            colour_handles.append(Line2D([], [], ls="", marker="o", color=colour, label=str(group)))
        x_label, y_label = self._axis_labels()
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        level = f"level {self.colour_level}" if self.colour_level is not None else "colour"
        first = ax.legend(
            handles=colour_handles,
            title=f"{level} (colour)",
            fontsize="small",
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
        )
        if marker_handles:
            from matplotlib.transforms import offset_copy

            ax.add_artist(first)
            marker_level = f"level {self.marker_level}" if self.marker_level is not None else "marker"
            # Stacked under the colour legend, a fixed number of points below it, so the two never overlap.
            below = first.get_window_extent().height * 72 / ax.figure.dpi + 8
            second = ax.legend(
                handles=marker_handles,
                title=f"{marker_level} (marker)",
                fontsize="x-small",
                ncols=2 if len(marker_handles) > 16 else 1,
                loc="upper left",
                bbox_to_anchor=(1.01, 1.0),
                bbox_transform=offset_copy(ax.transAxes, fig=ax.figure, y=-below, units="points"),
            )
            self._legends = (first, second)
        if title is None:
            projection = "PCA" if self.method == "pca" else "t-SNE"
            title = f"Embeddings, {projection} to 2-D"
        if title:
            ax.set_title(title)
        self.ax_, self.figure_ = ax, ax.figure
        if own_figure:
            self._fit_figure()
        return self


def _make_room(figure: Any, colour: Any, marker: Any) -> None:
    """Grow a projection's own figure so that both legends fit in it, stacked on the right.

    The layout engine makes room for the axes' legend (``marker``) only; the colour legend,
    an extra artist, gets the width it needs beyond the marker legend's, kept free by the
    engine's ``rect``, and the figure grows taller when the two legends are.
    """
    first, second = colour.get_window_extent(), marker.get_window_extent()
    extra_in = max(0.0, first.width - second.width) / figure.dpi
    tall_in = (first.height + second.height) / figure.dpi + 1.0
    width, height = figure.get_size_inches()
    figure.set_size_inches(width + extra_in, max(height, tall_in))
    engine = figure.get_layout_engine()
    if extra_in and engine is not None and "rect" in engine.get():
        engine.set(rect=(0.0, 0.0, 1.0 - (extra_in + 0.1) / (width + extra_in), 1.0))


# What the colour bar says each metric's "similarity" is (larger is closer for all of them).
_SIMILARITY_NAMES = {
    "cosine": "cosine similarity",
    "dot": "dot product",
    "euclidean": "similarity (negated Euclidean distance)",
    "poincare": "similarity (negated Poincaré geodesic distance)",
}


@fill_doc(**_DOCS)
class LevelSimilarityDisplay:
    """Heatmap of the mean similarity between the clips of each pair of nodes at one level.

    A good hierarchical embedding shows a bright diagonal and brighter blocks
    for siblings. ``y`` may hold label sets (one ``frozenset`` of paths per
    clip): a clip then belongs to the node of each of its labels, and counts
    in the mean of every pair of nodes it belongs to.

    Parameters
    ----------
    similarity : ndarray of shape (n_nodes, n_nodes)
    node_labels : list of str
    level : int or None, default=None
        Tree level of the nodes, for the title.
    metric : str, default="cosine"
        Similarity that was averaged, for the title and the colour bar.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    im_ : matplotlib AxesImage
    colorbar_ : matplotlib Colorbar

    Examples
    --------
    >>> Z = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> disp = LevelSimilarityDisplay.from_embeddings(Z, ["a/x", "a/y", "b/z"], level=1)
    >>> disp.similarity.round(2)
    array([[1.  , 0.06],
           [0.06, 1.  ]])
    >>> print(disp.ax_.get_title())  # broken into lines no wider than the heatmap
    Mean cosine similarity between the clips of
    each level-1 node
    >>> other = LevelSimilarityDisplay.from_embeddings(Z[::-1], ["a/x", "a/y", "b/z"], level=1)
    >>> vmin, vmax = LevelSimilarityDisplay.shared_limits([disp, other])
    >>> _ = disp.plot(vmin=vmin, vmax=vmax), other.plot(vmin=vmin, vmax=vmax)  # one colour scale for both
    >>> disp.im_.get_clim() == other.im_.get_clim()
    True
    """

    _layout = "tight"

    def __init__(
        self, similarity: np.ndarray, node_labels: Sequence[str], *, level: int | None = None, metric: str = "cosine"
    ) -> None:
        self.similarity = similarity
        self.node_labels = node_labels
        self.level = level
        self.metric = metric

    @classmethod
    def from_embeddings(
        cls,
        embeddings: Any,
        y: Any,
        *,
        level: int = 1,
        metric: str | Distance = "cosine",
        curvature: float = 1.0,
        sep: str = "/",
        ax: Any = None,
        title: str | None = None,
        vmin: float | None = None,
        vmax: float | None = None,
    ) -> LevelSimilarityDisplay:
        """Average the pairwise similarity over node pairs at ``level`` and plot.

        Parameters
        ----------
        %(embeddings_y)s
        level : int, default=1
            Tree level whose nodes are the rows and columns, from 1 to the
            depth of ``y``'s tree.
        metric : {"cosine", "dot", "euclidean", "poincare"} or Distance, default="cosine"
            Pairwise similarity (``euclidean`` is the negated distance,
            ``poincare`` the negated geodesic distance on the ball of
            curvature ``-curvature``; a :class:`~sklearn_hier.nn.Distance`
            object its own). Use the metric the model is scored with;
            :meth:`from_estimator` does so by itself.
        curvature : float, default=1.0
            Curvature magnitude of the ball, for ``metric="poincare"`` only.
        sep : str, default="/"
        ax, title, vmin, vmax
            As in :meth:`plot`.

        Returns
        -------
        display : LevelSimilarityDisplay
        """
        display = cls._from_embeddings(embeddings, y, level, metric, curvature, sep)
        return display.plot(ax=ax, title=title, vmin=vmin, vmax=vmax)

    @classmethod
    def _from_embeddings(
        cls, embeddings: Any, y: Any, level: int, metric: str | Distance, curvature: float, sep: str
    ) -> LevelSimilarityDisplay:
        """The mean similarities between the nodes at ``level``, not yet drawn (as :meth:`from_embeddings` takes)."""
        if not isinstance(metric, Distance) and metric not in SIMILARITIES:
            raise ValueError(f"metric must be one of {SIMILARITIES} or a Distance; got {metric!r}.")
        Z = torch.as_tensor(np.asarray(embeddings, dtype=np.float32))
        nodes, members = _memberships(y, level, sep)
        centroid_sims = members.T @ pairwise_similarity(Z, Z, metric, c=curvature) @ members
        counts = members.sum(0)
        similarity = (centroid_sims / counts[:, None] / counts[None, :]).double().numpy()
        return cls(similarity, list(nodes), level=level, metric=as_distance(metric).name)

    @classmethod
    def from_estimator(
        cls, estimator: Any, X: Any, y: Any, *, metric: str = "auto", **kwargs: Any
    ) -> LevelSimilarityDisplay:
        """Embed ``X`` with a fitted estimator and plot, by default in the metric it is scored with.

        Parameters
        ----------
        %(estimator_X_y)s
        metric : {"auto", "cosine", "dot", "euclidean", "poincare"} or Distance, default="auto"
            ``"auto"`` takes the final step's ``distance_`` (geodesic distance
            on the ball for ``geometry="poincare"``, at its curvature), as
            :func:`~sklearn_hier.hierarchy_scorers` does; ``"cosine"`` for an
            estimator without one.
        **kwargs
            Keyword arguments of :meth:`from_embeddings` but ``curvature``
            (the estimator's): ``level``, ``sep``, ``ax``, ``title``, ``vmin``, ``vmax``.

        Returns
        -------
        display : LevelSimilarityDisplay

        Examples
        --------
        %(identity)s
        >>> Z = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
        >>> disp = LevelSimilarityDisplay.from_estimator(identity, Z, ["a/x", "a/y", "b/z"], level=1)
        >>> disp.metric, disp.similarity.shape
        ('cosine', (2, 2))
        """
        final = estimator[-1] if hasattr(estimator, "steps") else estimator
        distance = distance_of(final, metric)
        # The ball's distance is drawn at its curvature as a number (the value the scorers use).
        curvature = getattr(distance, "curvature_value", 1.0)
        name = "poincare" if hasattr(distance, "curvature_value") else distance.as_metric()
        return cls.from_embeddings(_embed(estimator, X), y, metric=name, curvature=curvature, **kwargs)

    @staticmethod
    def shared_limits(displays: Sequence[LevelSimilarityDisplay]) -> tuple[float, float]:
        """``(vmin, vmax)`` that cover every one of ``displays``: one colour scale for plots that are compared.

        Parameters
        ----------
        displays : sequence of LevelSimilarityDisplay

        Returns
        -------
        vmin, vmax : float
            The smallest and largest mean similarity of all of them.
        """
        values = np.concatenate([np.ravel(d.similarity) for d in displays])
        return float(np.min(values)), float(np.max(values))

    def _default_title(self) -> str:
        nodes = f"level-{self.level} node" if self.level is not None else "node"
        return f"Mean {self.metric} similarity between the clips of each {nodes}"

    def _figsize(self) -> tuple[float, float]:
        """A square of cells with room for one readable label per row, plus the labels and the colour bar."""
        cells = max(4.0, 0.28 * len(self.node_labels) + 1.5)
        labels = _text_width_in(self.node_labels, 9) + 0.5
        return (cells + labels + 1.6, cells + labels + 0.9)

    def plot(
        self,
        ax: Any = None,
        *,
        title: str | None = None,
        vmin: float | None = None,
        vmax: float | None = None,
        cmap: str = "viridis",
    ) -> LevelSimilarityDisplay:
        """Draw the heatmap with a colour bar; returns ``self``.

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
        title : str or None, default=None
            None says which similarity and which level. A title wider than
            the heatmap is wrapped, so that it never runs over the colour bar.
        vmin, vmax : float or None, default=None
            Ends of the colour scale; None is the data's own range, which
            shows one model's structure best. Plots that are compared (two
            configurations, two folds) need one scale: give them the same
            values, such as ``vmin=-1, vmax=1`` for cosine similarity (see
            :meth:`shared_limits`).
        cmap : str, default="viridis"

        Returns
        -------
        self : LevelSimilarityDisplay
        """
        ax = _axes(ax, self._figsize(), layout="tight")
        image = ax.imshow(self.similarity, cmap=cmap, vmin=vmin, vmax=vmax)
        ticks = np.arange(len(self.node_labels))
        ax.set_xticks(ticks, self.node_labels, rotation=90, fontsize="small")
        ax.set_yticks(ticks, self.node_labels, fontsize="small")
        # The colour bar in the heatmap's own box: exactly as tall as the cells, so a title above
        # them never meets it (a colour bar beside the axes is taller than a square heatmap).
        cax = ax.inset_axes([1.04, 0.0, 0.05, 1.0])
        name = _SIMILARITY_NAMES.get(self.metric, f"{self.metric} similarity")
        colorbar = ax.figure.colorbar(image, cax=cax, label=f"mean {name}")
        if title is None:
            title = self._default_title()
        if title:
            # The pad clears the colour bar's top tick label, which stands half a line above the cells.
            ax.set_title(_wrapped(title, ax), pad=12)
        if ax.figure.get_layout_engine() is not None:
            # The tight layout makes room for the inset colour bar's label and long tick labels only on
            # its second pass (the first moves the axes, which moves them): run one now, so that the
            # first savefig is already whole.
            ax.figure.draw_without_rendering()
        self.ax_, self.figure_, self.im_, self.colorbar_ = ax, ax.figure, image, colorbar
        return self


def _wrapped(title: str, ax: Any) -> str:
    """``title`` with each line broken to fit the width of ``ax`` in the title's font."""
    import matplotlib

    points = matplotlib.font_manager.FontProperties(size=matplotlib.rcParams["axes.titlesize"]).get_size_in_points()
    width_in = ax.get_position().width * ax.figure.get_figwidth()
    chars = max(20, int(width_in * 72 / (points * 0.55)))
    return "\n".join(textwrap.fill(line, chars) for line in title.split("\n"))
