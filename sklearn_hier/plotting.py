"""Plots in scikit-learn's ``*Display`` style.

Each class stores what was already computed in ``__init__``, draws in
``plot(ax=None, ...)`` and keeps ``ax_`` and ``figure_``; ``from_*`` class
methods compute and plot in one call. matplotlib is imported only when plotting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sklearn_hier.taxonomy import Taxonomy

__all__ = ["EmbeddingProjectionDisplay", "LevelSimilarityDisplay", "MetricComparisonDisplay"]


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _finite_stat(stat: Any, values: Sequence[float]) -> float:
    """``stat`` over the finite values; NaN (without a warning) when there are none."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    return float(stat(finite)) if finite.size else float("nan")


def _prefixes(y: Any, level: int, sep: str) -> np.ndarray:
    """Ancestor of each label at ``level`` (the label itself where it is shallower)."""
    taxonomy = Taxonomy.from_y(y, sep=sep)
    return taxonomy.ancestor_at(y, min(level, taxonomy.depth))


class MetricComparisonDisplay:
    """Grouped bars of metric means with standard deviations, one group per metric.

    Parameters
    ----------
    means : dict of str to dict of str to float
        ``means[config][metric]``.
    stds : dict of str to dict of str to float
        Same layout, the error bars.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> rows = [{"config": "PL", "fold": f, "metric": "ndcg", "value": v} for f, v in enumerate([0.8, 0.9])]
    >>> disp = MetricComparisonDisplay.from_results(rows)
    >>> round(disp.means["PL"]["ndcg"], 3)
    0.85
    """

    def __init__(self, means: Mapping[str, Mapping[str, float]], stds: Mapping[str, Mapping[str, float]]) -> None:
        self.means = means
        self.stds = stds

    @classmethod
    def from_results(
        cls, rows: Sequence[Mapping[str, Any]], *, metrics: Sequence[str] | None = None, ax: Any = None
    ) -> MetricComparisonDisplay:
        """Aggregate long-format rows (config, fold, metric, value) over folds and plot."""
        values: dict[str, dict[str, list[float]]] = {}
        for row in rows:
            if metrics is None or row["metric"] in metrics:
                values.setdefault(row["config"], {}).setdefault(row["metric"], []).append(float(row["value"]))
        means = {c: {m: _finite_stat(np.mean, v) for m, v in ms.items()} for c, ms in values.items()}
        stds = {c: {m: _finite_stat(np.std, v) for m, v in ms.items()} for c, ms in values.items()}
        return cls(means, stds).plot(ax=ax)

    def plot(self, ax: Any = None) -> MetricComparisonDisplay:
        """Draw the bars; returns ``self``."""
        ax = _axes(ax, (10, 4))
        configs = list(self.means)
        metrics = list(dict.fromkeys(m for c in configs for m in self.means[c]))
        width = 0.8 / max(len(configs), 1)
        x = np.arange(len(metrics))
        for i, config in enumerate(configs):
            heights = [self.means[config].get(m, np.nan) for m in metrics]
            errors = [self.stds[config].get(m, np.nan) for m in metrics]
            ax.bar(x + i * width, heights, width, yerr=errors, capsize=2, label=config)
        ax.set_xticks(x + width * (len(configs) - 1) / 2, metrics, rotation=30, ha="right")
        ax.set_ylabel("mean over folds (error bar: std)")
        ax.legend(fontsize="small", ncols=min(len(configs), 6))
        self.ax_, self.figure_ = ax, ax.figure
        return self


class EmbeddingProjectionDisplay:
    """2-D projection of embeddings, coloured by one level and marked by the next.

    Parameters
    ----------
    points : ndarray of shape (n, 2)
    colour_labels : ndarray of shape (n,)
        Node at the colour level for each point.
    marker_labels : ndarray of shape (n,) or None
        Node at the marker level for each point.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> rng = np.random.default_rng(0)
    >>> y = ["a/x", "a/y", "b/z", "b/w"] * 5
    >>> disp = EmbeddingProjectionDisplay.from_embeddings(rng.normal(size=(20, 8)), y)
    >>> disp.points.shape
    (20, 2)
    """

    def __init__(self, points: np.ndarray, colour_labels: np.ndarray, marker_labels: np.ndarray | None = None) -> None:
        self.points = points
        self.colour_labels = colour_labels
        self.marker_labels = marker_labels

    @classmethod
    def from_embeddings(
        cls,
        embeddings: Any,
        y: Any,
        *,
        colour_level: int = 1,
        marker_level: int | None = 2,
        method: str = "pca",
        sep: str = "/",
        random_state: int | None = 0,
        ax: Any = None,
    ) -> EmbeddingProjectionDisplay:
        """Project with PCA or t-SNE (scikit-learn) and plot."""
        from sklearn.decomposition import PCA
        from sklearn.manifold import TSNE

        Z = np.asarray(embeddings, dtype=np.float64)
        if method == "pca":
            points = PCA(n_components=2, random_state=random_state).fit_transform(Z)
        elif method == "tsne":
            points = TSNE(n_components=2, init="pca", random_state=random_state).fit_transform(Z)
        else:
            raise ValueError(f"method must be 'pca' or 'tsne'; got {method!r}.")
        colours = _prefixes(y, colour_level, sep)
        markers = None if marker_level is None else _prefixes(y, marker_level, sep)
        return cls(points, colours, markers).plot(ax=ax)

    def plot(self, ax: Any = None, max_markers: int = 10) -> EmbeddingProjectionDisplay:
        """Draw the scatter; nodes beyond ``max_markers`` per colour reuse markers."""
        ax = _axes(ax, (7, 6))
        shapes = "o^sDvP*Xh<"
        cmap = __import__("matplotlib").colormaps["tab20"]
        for i, group in enumerate(np.unique(self.colour_labels)):
            in_group = self.colour_labels == group
            subgroups = [None] if self.marker_labels is None else np.unique(self.marker_labels[in_group])
            for j, sub in enumerate(subgroups):
                mask = in_group if sub is None else in_group & (self.marker_labels == sub)
                label = group if j == 0 else None
                ax.scatter(*self.points[mask].T, s=12, color=cmap(i % 20), marker=shapes[j % max_markers], label=label)
        ax.set_xlabel("component 1")
        ax.set_ylabel("component 2")
        ax.legend(fontsize="small", markerscale=1.5, loc="best")
        self.ax_, self.figure_ = ax, ax.figure
        return self


class LevelSimilarityDisplay:
    """Heatmap of the mean similarity between the clips of each pair of nodes at one level.

    A good hierarchical embedding shows a bright diagonal and brighter blocks
    for siblings.

    Parameters
    ----------
    similarity : ndarray of shape (n_nodes, n_nodes)
    node_labels : list of str

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> Z = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> disp = LevelSimilarityDisplay.from_embeddings(Z, ["a/x", "a/y", "b/z"], level=1)
    >>> disp.similarity.round(2)
    array([[1.  , 0.06],
           [0.06, 1.  ]])
    """

    def __init__(self, similarity: np.ndarray, node_labels: Sequence[str]) -> None:
        self.similarity = similarity
        self.node_labels = node_labels

    @classmethod
    def from_embeddings(
        cls, embeddings: Any, y: Any, *, level: int = 1, metric: str = "cosine", sep: str = "/", ax: Any = None
    ) -> LevelSimilarityDisplay:
        """Average the pairwise similarity over node pairs at ``level`` and plot."""
        import torch

        from sklearn_hier.nn.distances import pairwise_similarity

        Z = torch.as_tensor(np.asarray(embeddings, dtype=np.float32))
        nodes, codes = np.unique(_prefixes(y, level, sep), return_inverse=True)
        onehot = torch.zeros(len(codes), len(nodes))
        onehot[torch.arange(len(codes)), torch.as_tensor(codes)] = 1.0
        centroid_sims = onehot.T @ pairwise_similarity(Z, Z, metric) @ onehot
        counts = onehot.sum(0)
        similarity = (centroid_sims / counts[:, None] / counts[None, :]).double().numpy()
        return cls(similarity, list(nodes)).plot(ax=ax)

    def plot(self, ax: Any = None, cmap: str = "viridis") -> LevelSimilarityDisplay:
        """Draw the heatmap with a colour bar."""
        side = max(6.0, 0.28 * len(self.node_labels) + 3)  # room for one readable label per row
        ax = _axes(ax, (side + 1, side))
        image = ax.imshow(self.similarity, cmap=cmap)
        ticks = np.arange(len(self.node_labels))
        ax.set_xticks(ticks, self.node_labels, rotation=90, fontsize="small")
        ax.set_yticks(ticks, self.node_labels, fontsize="small")
        ax.figure.colorbar(image, ax=ax, label="mean similarity")
        self.ax_, self.figure_, self.im_ = ax, ax.figure, image
        return self
