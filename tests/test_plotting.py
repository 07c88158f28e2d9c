"""Tests of sklearn_hier.plotting: what each Display draws, says and accepts."""

import warnings

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from _figures import clipped_texts as _clipped_texts

from sklearn_hier.plotting import (
    EmbeddingProjectionDisplay,
    LevelSimilarityDisplay,
    MetricComparisonDisplay,
    metric_display_name,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _cv(mnr, aware):
    return {
        "fit_time": np.array([1.0, 1.0]),
        "test_neg_mean_normalized_rank": -np.asarray(mnr),
        "test_lsa_accuracy_aware": np.asarray(aware),
    }


def _bars(ax):
    return [p for p in ax.patches if p.get_width() > 0]


def _inside_figure(artist, figure):
    figure.canvas.draw()
    box = artist.get_window_extent(figure.canvas.get_renderer())
    width, height = figure.canvas.get_width_height()
    return box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and box.y1 <= height + 1


def _drawn_inside_figure(disp):
    """Everything the axes draw (tick labels, titles, legends) lies inside the figure."""
    disp.figure_.canvas.draw()
    box = disp.ax_.get_tightbbox(disp.figure_.canvas.get_renderer())
    width, height = disp.figure_.canvas.get_width_height()
    return box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and box.y1 <= height + 1


@pytest.mark.parametrize(
    ("key", "name", "sign"),
    [
        ("neg_mean_normalized_rank", "MNR ↓", -1.0),
        ("test_neg_mean_normalized_rank_unseen", "MNR unseen ↓", -1.0),
        ("ndcg_unseen", "NDCG unseen ↑", 1.0),
        ("precision_at_10", "RP@10 ↑", 1.0),
        ("f1_macro_level2", "F1 level 2 ↑", 1.0),
        ("lsa_accuracy_blind", "Acc_blind ↑", 1.0),
        ("accuracy", "accuracy", 1.0),
    ],
)
def test_metric_display_name(key, name, sign):
    assert metric_display_name(key) == (name, sign)


def test_mnr_is_drawn_positive_with_readable_names_and_a_title():
    disp = MetricComparisonDisplay.from_cv_results({"PL": _cv([0.2, 0.3], [0.5, 0.7])})
    heights = sorted(bar.get_height() for bar in _bars(disp.ax_))
    np.testing.assert_allclose(heights, [0.25, 0.6])
    assert [t.get_text() for t in disp.ax_.get_xticklabels()] == ["MNR ↓", "Acc_aware ↑"]
    assert disp.ax_.get_title() == "Hierarchy metrics by configuration"


def test_missing_values_are_marked_n_a():
    cv = {"PL": _cv([0.2, 0.3], [0.5, 0.7]), "L": _cv([0.3, 0.4], [np.nan, np.nan])}
    disp = MetricComparisonDisplay.from_cv_results(cv)
    assert [t.get_text() for t in disp.ax_.texts] == ["n/a"]
    assert disp.means["L"]["lsa_accuracy_aware"] != disp.means["L"]["lsa_accuracy_aware"]  # NaN


def test_legend_is_outside_the_bars_and_nothing_is_clipped():
    cv = {name: _cv([0.2, 0.3], [0.5, 0.7]) for name in ["L", "L+T", "PL", "PL+T", "PL+B", "PL+B+T"]}
    disp = MetricComparisonDisplay.from_cv_results(cv)
    disp.figure_.canvas.draw()
    renderer = disp.figure_.canvas.get_renderer()
    legend = disp.ax_.get_legend().get_window_extent(renderer)
    assert legend.x0 >= disp.ax_.get_window_extent(renderer).x1
    assert _inside_figure(disp.ax_.get_legend(), disp.figure_)
    for label in disp.ax_.get_xticklabels():
        assert _inside_figure(label, disp.figure_)


def test_from_cv_results_reads_a_search():
    cv_results = {
        "params": [{"losses": "PL"}, {"losses": "PL+T"}],
        "split0_test_ndcg": np.array([0.8, 0.7]),
        "split1_test_ndcg": np.array([0.6, 0.9]),
        "mean_test_ndcg": np.array([0.7, 0.8]),
    }
    disp = MetricComparisonDisplay.from_cv_results(cv_results)
    assert disp.means == {"losses=PL": {"ndcg": pytest.approx(0.7)}, "losses=PL+T": {"ndcg": pytest.approx(0.8)}}
    named = MetricComparisonDisplay.from_cv_results(cv_results, labels=["a", "b"])
    assert list(named.means) == ["a", "b"]


def test_from_cv_results_reads_one_cross_validate_output():
    cv = _cv([0.2, 0.4], [0.5, 0.5])
    disp = MetricComparisonDisplay.from_cv_results(cv, labels=["mine"], metrics=["lsa_accuracy_aware"])
    assert disp.means == {"mine": {"lsa_accuracy_aware": pytest.approx(0.5)}}
    assert list(MetricComparisonDisplay.from_cv_results(cv).means) == ["model"]


@pytest.mark.parametrize(
    ("cv_results", "kwargs", "match"),
    [
        ({"fit_time": [1.0]}, {}, "holds no test scores"),
        ({"params": [{"a": 1}], "split0_test_x": [1.0]}, {"labels": ["a", "b"]}, "labels has 2 entries"),
        ({"test_ndcg": [1.0]}, {"metrics": ["mnr"]}, "No rows to plot"),
    ],
)
def test_from_cv_results_errors(cv_results, kwargs, match):
    with pytest.raises(ValueError, match=match):
        MetricComparisonDisplay.from_cv_results(cv_results, **kwargs)


def _paths():
    families = {"Brass": ["Trumpet", "Horn"], "Strings": ["Violin", "Cello", "Viola"], "Winds": ["Flute"]}
    return np.array([f"{fam}/{ins}/ord" for fam, ins_list in families.items() for ins in ins_list for _ in range(6)])


def test_projection_colours_are_distinct_hues_with_a_legend_per_level():
    y = _paths()
    Z = np.random.default_rng(0).normal(size=(len(y), 8))
    disp = EmbeddingProjectionDisplay.from_embeddings(Z, y)
    colour_legend, marker_legend = disp.ax_.artists[0], disp.ax_.get_legend()
    assert colour_legend.get_title().get_text() == "level 1 (colour)"
    assert [t.get_text() for t in colour_legend.get_texts()] == ["Brass", "Strings", "Winds"]
    assert marker_legend.get_title().get_text() == "level 2 (marker)"
    assert sorted(t.get_text() for t in marker_legend.get_texts()) == [
        "Cello",
        "Flute",
        "Horn",
        "Trumpet",
        "Viola",
        "Violin",
    ]
    hues = [mcolors.rgb_to_hsv(mcolors.to_rgb(h.get_color()))[0] for h in colour_legend.legend_handles]
    assert min(abs(a - b) for i, a in enumerate(hues) for b in hues[i + 1 :]) > 0.05
    assert disp.ax_.get_xlabel().startswith("PC 1 (") and "% of variance" in disp.ax_.get_xlabel()
    assert "PCA" in disp.ax_.get_title()
    for legend in (colour_legend, marker_legend):
        assert _inside_figure(legend, disp.figure_)


def test_many_families_keep_distinct_colours():
    y = np.array([f"f{i}/x" for i in range(14) for _ in range(3)])
    disp = EmbeddingProjectionDisplay.from_embeddings(
        np.random.default_rng(0).normal(size=(len(y), 4)), y, marker_level=None
    )
    colours = [mcolors.to_hex(h.get_color()) for h in disp.ax_.get_legend().legend_handles]
    assert len(set(colours)) == 14


def test_tsne_axes_say_tsne():
    y = _paths()
    disp = EmbeddingProjectionDisplay.from_embeddings(
        np.random.default_rng(0).normal(size=(len(y), 8)), y, method="tsne"
    )
    assert disp.ax_.get_xlabel() == "t-SNE 1"
    with pytest.raises(ValueError, match="method must be 'pca' or 'tsne'"):
        EmbeddingProjectionDisplay.from_embeddings(np.zeros((4, 2)), ["a/b"] * 4, method="umap")


def test_similarity_says_which_level_and_similarity_and_keeps_labels_inside():
    y = _paths()
    Z = np.random.default_rng(0).normal(size=(len(y), 8))
    disp = LevelSimilarityDisplay.from_embeddings(Z, y, level=2, metric="dot")
    # wrapped to the heatmap's width where it is wider
    assert " ".join(disp.ax_.get_title().split()) == "Mean dot similarity between the clips of each level-2 node"
    assert [t.get_text() for t in disp.ax_.get_yticklabels()][0] == "Brass/Horn"
    for label in disp.ax_.get_xticklabels() + disp.ax_.get_yticklabels():
        assert _inside_figure(label, disp.figure_)


def test_similarity_of_label_sets_counts_a_clip_in_every_node_it_carries():
    Z = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    y = np.empty(3, dtype=object)
    y[:] = [frozenset({"a/x"}), frozenset({"b/y"}), frozenset({"a/z", "b/y"})]
    disp = LevelSimilarityDisplay.from_embeddings(Z, y, level=1)
    cosine = Z @ Z.T  # unit rows
    # a: clips 0 and 2; b: clips 1 and 2. Each mean runs over every pair of their clips, the mixture in both.
    expected_ab = cosine[np.ix_([0, 2], [1, 2])].mean()
    assert disp.node_labels == ["a", "b"] and disp.similarity[0, 1] == pytest.approx(expected_ab)
    assert disp.similarity[0, 0] == pytest.approx(cosine[np.ix_([0, 2], [0, 2])].mean())


def test_displays_draw_on_a_given_axes():
    _, ax = plt.subplots()
    disp = MetricComparisonDisplay({"PL": {"ndcg": 0.8}}, {"PL": {"ndcg": 0.1}}).plot(ax=ax, title=None)
    assert disp.ax_ is ax and ax.get_title() == ""


def test_figures_stay_whole_after_tight_layout():
    # What a caller such as the comparison's plot writer may still do to a finished figure.
    y = _paths()
    Z = np.random.default_rng(0).normal(size=(len(y), 8))
    cv = {name: _cv([0.2, 0.3], [0.5, 0.7]) for name in ["L", "PL+T"]}
    displays = [
        MetricComparisonDisplay.from_cv_results(cv),
        EmbeddingProjectionDisplay.from_embeddings(Z, y),
        LevelSimilarityDisplay.from_embeddings(Z, y, level=2),
    ]
    for disp in displays:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "The figure layout has changed to tight"
            disp.figure_.tight_layout()
        assert _drawn_inside_figure(disp)


# --- No text is clipped: every drawn text artist lies inside the figure that is saved. ---


def _instruments():
    """The quick soundfont run's tree shape, with General MIDI's long names."""
    families = {
        "Guitar": ["Acoustic Guitar (nylon)", "Acoustic Guitar (steel)"],
        "Brass": ["Trumpet", "French Horn"],
        "Organ": ["Drawbar Organ", "Church Organ"],
        "Piano": ["Acoustic Grand Piano", "Bright Acoustic Piano"],
        "Chromatic Percussion": ["Celesta", "Vibraphone"],
        "Reed": ["Soprano Sax", "Alto Sax"],
    }
    techniques = ("ordinario", "staccato", "tremolo", "vibrato")
    y = np.array([f"{f}/{i}/{t}" for f, ins in families.items() for i in ins for t in techniques for _ in range(3)])
    return np.random.default_rng(0).normal(size=(len(y), 16)), y


def _on_a_figure(display, **plot_params):
    """``display`` drawn as the comparison writes it: on a pyplot-free Figure of the display's own size."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=display._figsize(), layout=display._layout)
    display.plot(ax=figure.add_subplot(), **plot_params)
    if hasattr(display, "_fit_figure"):
        display._fit_figure()
    return figure


def _projection(Z, y, colour_level, marker_level):
    """The projection from_embeddings makes with these levels and its defaults, not yet drawn."""
    return EmbeddingProjectionDisplay._from_embeddings(Z, y, colour_level, marker_level, "pca", "/", 0)


def _similarity(Z, y, level):
    """The cosine similarity map from_embeddings makes at ``level``, not yet drawn."""
    return LevelSimilarityDisplay._from_embeddings(Z, y, level, "cosine", 1.0, "/")


LONG_TITLE = "PL+B+T:triplets=batch_hard,geometry=poincare, fold 0 test clips\nA second line of the title"


@pytest.mark.parametrize("own_figure", [True, False], ids=["plot(ax=None)", "Figure object"])
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda Z, y: _projection(Z, y, 1, "auto"), id="projection levels 1, 2"),
        pytest.param(lambda Z, y: _projection(Z, y, 2, 3), id="projection levels 2, 3"),
        pytest.param(lambda Z, y: _projection(Z, y, 2, None), id="projection level 2"),
        pytest.param(lambda Z, y: _similarity(Z, y, 2), id="similarity level 2"),
        pytest.param(lambda Z, y: _similarity(Z, y, 1), id="similarity level 1"),
        pytest.param(
            lambda Z, y: MetricComparisonDisplay._from_rows(
                [
                    {"config": c, "fold": f, "metric": m, "value": 0.5 + 0.1 * f}
                    for c in ("PL+B+T:triplets=batch_hard,geometry=poincare", "L", "PL+T")
                    for f in range(3)
                    for m in ("neg_mean_normalized_rank", "ndcg", "precision_at_5", "lsa_accuracy_blind")
                ],
                None,
            ),
            id="metric bars",
        ),
    ],
)
def test_no_text_is_clipped_with_long_names_and_a_two_line_title(make, own_figure):
    display = make(*_instruments())
    if own_figure:
        display.plot(title=LONG_TITLE)
        figure = display.figure_
    else:
        figure = _on_a_figure(display, title=LONG_TITLE)
    assert _clipped_texts(figure) == []


@pytest.mark.parametrize("own_figure", [True, False])
def test_a_large_similarity_map_is_whole_at_its_first_draw(own_figure):
    # 32 instruments with long names, as the soundfont comparison draws them: the tight layout needs a
    # second pass for the inset colour bar's label and the longest tick label, so the first savefig
    # (the only one a saved PNG sees) is what this checks.
    families = ["Chromatic Percussion", "Brass", "Guitar", "Organ", "Piano", "Pipe", "Reed", "Strings"]
    y = np.array([f"{f}/{f} Instrument number {i} (long name)/x" for f in families for i in range(4)] * 3)
    Z = np.random.default_rng(0).normal(size=(len(y), 8))
    display = _similarity(Z, y, 2)
    if own_figure:
        display.plot()
    else:
        from matplotlib.figure import Figure

        display.plot(ax=Figure(figsize=display._figsize(), layout=display._layout).add_subplot())
    assert _clipped_texts(display.figure_) == []


def test_the_similarity_title_stays_clear_of_the_colour_bar():
    Z, y = _instruments()
    disp = LevelSimilarityDisplay.from_embeddings(Z, y, level=1, title=LONG_TITLE.replace("\n", " ") * 2)
    disp.figure_.canvas.draw()
    renderer = disp.figure_.canvas.get_renderer()
    title = disp.ax_.title.get_window_extent(renderer)
    colour_bar = disp.colorbar_.ax.get_tightbbox(renderer)
    assert not title.overlaps(colour_bar)
    assert title.x1 <= disp.figure_.bbox.x1 and "\n" in disp.ax_.get_title()  # wrapped, not cut


def test_the_two_projection_legends_do_not_overlap():
    disp = EmbeddingProjectionDisplay.from_embeddings(*_instruments(), colour_level=2, marker_level=3)
    disp.figure_.canvas.draw()
    renderer = disp.figure_.canvas.get_renderer()
    colour, marker = disp.ax_.artists[0].get_window_extent(renderer), disp.ax_.get_legend().get_window_extent(renderer)
    assert colour.y0 > marker.y1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda Z, y: LevelSimilarityDisplay.from_embeddings(Z, y, level=99), r"level must be .* from 1 to 3; got 99"),
        (lambda Z, y: LevelSimilarityDisplay.from_embeddings(Z, y, level=0), r"level must be .* from 1 to 3; got 0"),
        (
            lambda Z, y: EmbeddingProjectionDisplay.from_embeddings(Z, y, colour_level=5),
            r"colour_level must be .* from 1 to 3; got 5",
        ),
        (
            lambda Z, y: EmbeddingProjectionDisplay.from_embeddings(Z, y, marker_level=0),
            r"marker_level must be .* from 1 to 3; got 0",
        ),
        (
            lambda Z, y: EmbeddingProjectionDisplay.from_embeddings(Z, y, colour_level=1.5),
            r"colour_level must be .* integer",
        ),
        (lambda Z, y: LevelSimilarityDisplay.from_embeddings(Z, y, metric="manhattan"), "metric must be one of"),
    ],
)
def test_levels_are_checked_on_both_sides(call, message):
    with pytest.raises(ValueError, match=message):
        call(*_instruments())


def test_error_bars_stay_within_the_bounds_of_bounded_metrics():
    rows = [
        {"config": "PL", "fold": f, "metric": m, "value": v}
        for f, v in enumerate([1.0, 0.9, 0.5])
        for m in ("ndcg", "lsa_accuracy_blind")
    ]
    disp = MetricComparisonDisplay.from_results(rows)
    (bars,) = [c for c in disp.ax_.containers if hasattr(c, "errorbar")]
    (errorbar,) = bars.errorbar.lines[2]
    tops = [segment[:, 1].max() for segment in errorbar.get_segments()]
    assert max(tops) == pytest.approx(1.0)  # mean 0.8 + std 0.216 would reach 1.016
    assert disp.ax_.get_ylim() == (0.0, 1.0)


def test_similarity_colour_scale_is_shared_and_settable():
    Z, y = _instruments()
    cosine = LevelSimilarityDisplay.from_embeddings(Z, y, level=2)
    assert cosine.im_.get_clim() == (cosine.similarity.min(), cosine.similarity.max())  # the data's range
    dot = LevelSimilarityDisplay.from_embeddings(Z, y, level=2, metric="dot", vmin=-5, vmax=5)
    assert dot.im_.get_clim() == (-5.0, 5.0)
    shifted = LevelSimilarityDisplay.from_embeddings(Z + 1.0, y, level=2)
    vmin, vmax = LevelSimilarityDisplay.shared_limits([cosine, shifted])
    assert vmin == min(cosine.similarity.min(), shifted.similarity.min())
    assert vmax == max(cosine.similarity.max(), shifted.similarity.max())


class _Ball:
    """A fitted embedder on the Poincaré ball, as far as the similarity display reads it."""

    metric_ = "poincare"
    curvature_ = 2.0

    def transform(self, X):
        return np.asarray(X) * 0.1


def test_similarity_from_estimator_uses_the_metric_the_model_is_scored_with():
    from sklearn_hier.nn.distances import pairwise_similarity

    Z, y = _instruments()
    disp = LevelSimilarityDisplay.from_estimator(_Ball(), Z, y, level=1)
    assert disp.metric == "poincare" and "geodesic" in disp.colorbar_.ax.get_ylabel()
    first = torch.as_tensor(Z[y.astype(str) < "C"] * 0.1, dtype=torch.float32)  # the Brass clips, level-1 node 0
    sims = pairwise_similarity(first, first, "poincare", c=2.0)
    assert disp.similarity[0, 0] == pytest.approx(float(sims.mean()), rel=1e-5)
    assert LevelSimilarityDisplay.from_estimator(_Ball(), Z, y, metric="cosine").metric == "cosine"


def test_projection_from_estimator_embeds_first():
    Z, y = _instruments()
    disp = EmbeddingProjectionDisplay.from_estimator(_Ball(), Z, y)
    reference = EmbeddingProjectionDisplay.from_embeddings(Z * 0.1, y)
    np.testing.assert_allclose(disp.points, reference.points)
    with pytest.raises(TypeError, match="transform"):
        EmbeddingProjectionDisplay.from_estimator(object(), Z, y)


def test_flat_labels_get_one_level_of_colours_and_no_markers_by_default():
    y = np.array(["dog", "cat", "bird"] * 5)
    disp = EmbeddingProjectionDisplay.from_embeddings(np.random.default_rng(0).normal(size=(15, 4)), y)
    assert disp.marker_labels is None and disp.ax_.get_legend().get_title().get_text() == "level 1 (colour)"
    with pytest.raises(ValueError, match="marker_level must be .* from 1 to 1; got 2"):
        EmbeddingProjectionDisplay.from_embeddings(np.zeros((15, 4)), y, marker_level=2)
    assert LevelSimilarityDisplay.from_embeddings(np.eye(15, 4), y).similarity.shape == (3, 3)
