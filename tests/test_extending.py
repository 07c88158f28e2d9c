"""A researcher's own loss terms and distance, defined outside the package, through the whole estimator API.

Each is passed as an object: it trains, its options are nested parameters (grid-searchable),
it pickles with the estimator and runs in process workers (joblib's loky and Dask).
"""

import os
import pickle

import joblib
import numpy as np
import pytest
import torch
from _blobs import FAST, LEAVES, tree_blobs
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from skorch.callbacks import Callback
from user_terms import CenterLoss, Manhattan, MarginRanking

from sklearn_hier import HierarchicalEmbedder
from sklearn_hier.metrics import hierarchy_scorers
from sklearn_hier.nn import HierarchicalCrossEntropy, LeafCrossEntropy, TripletMarginLoss
from sklearn_hier.taxonomy import Taxonomy


@pytest.fixture(scope="module")
def data():
    return tree_blobs(n_per_leaf=6)


def _embedder(**params):
    return HierarchicalEmbedder(max_epochs=2, random_state=0, device="cpu", **{**FAST, **params})


def _scoring():
    return {k: v for k, v in hierarchy_scorers(k=2).items() if k in ("ndcg", "neg_mean_normalized_rank")}


def test_a_user_term_trains_and_its_options_are_nested_parameters(data):
    X, y = data
    emb = _embedder(losses={"PL": 1.0, "MR": MarginRanking(margin=0.2)}, criterion__MR__margin=0.05).fit(X, y)
    term = emb.criterion_.terms["MR"]
    assert isinstance(term, MarginRanking) and term.margin == 0.05 and term.distance is emb.distance_
    assert emb.get_params()["losses"]["MR"].margin == 0.2  # the object passed in is never changed
    assert np.isfinite(emb.history_[:, "train_loss"]).all()
    with pytest.raises(ValueError, match=r"MarginRanking has no option 'gap'; its options are: margin"):
        _embedder(losses={"MR": MarginRanking()}, criterion__MR__gap=1).fit(X, y)


def test_a_user_term_option_is_grid_searched_as_criterion_name_option(data):
    X, y = data
    grid = {"criterion__MR__margin": [0.0, 0.3]}
    emb = _embedder(losses={"PL": 1.0, "MR": MarginRanking()})
    search = GridSearchCV(emb, grid, cv=KFold(2, shuffle=True, random_state=0), scoring=_scoring(), refit="ndcg")
    search.fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_ndcg"]).all()
    assert search.cv_results_["param_criterion__MR__margin"].tolist() == [0.0, 0.3]
    assert search.best_estimator_.criterion_.terms["MR"].margin == search.best_params_["criterion__MR__margin"]
    # The two margins train two different models: the option reached the term.
    assert search.cv_results_["split0_test_ndcg"][0] != search.cv_results_["split0_test_ndcg"][1]


def test_user_terms_run_in_process_workers_under_cross_validate(data):
    X, y = data
    emb = _embedder(losses={"PL": 1.0, "MR": (0.5, MarginRanking(margin=0.2)), "CENTER": CenterLoss(alpha=0.1)})
    cv = KFold(2, shuffle=True, random_state=0)
    with joblib.parallel_config(backend="loky"):
        many = cross_validate(emb, X, y, cv=cv, scoring=_scoring(), n_jobs=2, return_estimator=True)
    one = cross_validate(emb, X, y, cv=cv, scoring=_scoring(), n_jobs=1)
    for fitted in many["estimator"]:
        assert fitted.criterion_.terms["MR"].fitted_in_pid != os.getpid()  # each fold was fit in a worker process
        assert fitted.criterion_.terms["CENTER"].centres.shape == (len(LEAVES), FAST["embedding_dim"])
    assert np.isfinite(many["test_ndcg"]).all() and np.isfinite(many["test_neg_mean_normalized_rank"]).all()
    np.testing.assert_allclose(many["test_ndcg"], one["test_ndcg"], rtol=1e-6)


def test_user_terms_run_on_dask_workers(data):
    distributed = pytest.importorskip("distributed")  # the optional extra sklearn-hier[distributed]
    X, y = data
    emb = _embedder(losses={"PL": 1.0, "MR": MarginRanking(margin=0.2)}, metric=Manhattan())
    cv = KFold(2, shuffle=True, random_state=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' own, so that both runs compute the same last digits
    try:
        with (
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c,
            distributed.Client(c),
            joblib.parallel_config(backend="dask"),
        ):
            many = cross_validate(emb, X, y, cv=cv, scoring=_scoring(), n_jobs=-1, return_estimator=True)
        one = cross_validate(emb, X, y, cv=cv, scoring=_scoring(), n_jobs=1)
    finally:
        torch.set_num_threads(threads)
    assert all(fitted.criterion_.terms["MR"].fitted_in_pid != os.getpid() for fitted in many["estimator"])
    assert all(isinstance(fitted.distance_, Manhattan) for fitted in many["estimator"])
    assert np.isfinite(many["test_ndcg"]).all()  # the scorers ranked by the fitted Manhattan distance
    np.testing.assert_array_equal(many["test_ndcg"], one["test_ndcg"])


def test_an_estimator_with_user_terms_and_distance_pickles_and_reloads(data, tmp_path):
    X, y = data
    emb = _embedder(losses={"PL": 1.0, "CENTER": CenterLoss(alpha=0.1)}, metric=Manhattan()).fit(X, y)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(emb))
    copy = pickle.loads(path.read_bytes())
    np.testing.assert_array_equal(copy.transform(X), emb.transform(X))
    torch.testing.assert_close(copy.criterion_.terms["CENTER"].centres, emb.criterion_.terms["CENTER"].centres)
    assert copy.distance_ == Manhattan() and copy.metric_ == "manhattan"


def test_a_user_term_reads_the_fit_width_and_trains_its_own_parameters(data):
    X, y = data
    emb = _embedder(losses={"L": 1.0, "CENTER": CenterLoss(alpha=1.0)}, embedding_dim=5).fit(X, y)
    centres = emb.criterion_.terms["CENTER"].centres
    assert centres.shape == (len(LEAVES), 5)
    assert centres.detach().abs().sum() > 0  # skorch handed the criterion's parameters to the optimizer
    learnable = [p for _, p in emb.net_.get_all_learnable_params()]
    assert sum(p is centres for p in learnable) == 1


def test_a_term_bound_to_another_taxonomy_is_rebound_to_the_fits(data):
    X, y = data
    other = Taxonomy.from_paths(["z/1", "z/2", "w/1"])
    stale = HierarchicalCrossEntropy(alpha=0.0).bind(other)
    emb = _embedder(losses={"HXE": stale}).fit(X, y)
    term = emb.criterion_.terms["HXE"]
    assert term is not stale and term.taxonomy is emb.taxonomy_ and stale.taxonomy is other
    assert term.leaf_levels.shape == (len(LEAVES), 3)
    # alpha=0 is the leaf cross-entropy, computed against the fit's own leaf codes.
    reference = _embedder(losses="L").fit(X, y)
    np.testing.assert_array_equal(emb.transform(X), reference.transform(X))


def test_the_built_in_names_are_sugar_for_default_term_objects(data):
    X, y = data
    by_name = _embedder(losses="L+0.5*T").fit(X, y)
    by_object = _embedder(losses={"L": LeafCrossEntropy(), "T": (0.5, TripletMarginLoss())}).fit(X, y)
    np.testing.assert_array_equal(by_name.transform(X), by_object.transform(X))
    assert by_name.loss_spec_.canonical == by_object.loss_spec_.canonical == "L+0.5*T"


def test_the_online_miner_is_built_from_the_triplet_term(data):
    X, y = data
    emb = _embedder(losses="PL+T", triplets="semi_hard", criterion__T__margin=0.7, metric="euclidean").fit(X, y)
    assert emb.net_.miner_.margin == 0.7 and emb.net_.miner_.distance is emb.distance_
    with pytest.raises(ValueError, match=r"Invalid parameter 'margin': it is now criterion__T__margin"):
        HierarchicalEmbedder(margin=0.2).fit(X, y)


class _BatchLosses(Callback):
    def initialize(self):
        self.seen = []
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.seen.append(net.history[-1]["batches"][-1].get("train_loss"))


def test_on_batch_end_sees_the_batch_train_loss_in_the_history(data):
    X, y = data
    watcher = _BatchLosses()
    emb = _embedder(losses="PL+T", callbacks=[("watch", watcher)]).fit(X, y)
    recorded = [row["train_loss"] for epoch in emb.history_ for row in epoch["batches"] if "train_loss" in row]
    assert None not in watcher.seen and watcher.seen == recorded and len(recorded) > 2


def test_the_scorers_rank_by_the_fitted_user_distance(data):
    from sklearn.metrics import ndcg_score

    X, y = data
    emb = _embedder(losses={"PL": 1.0, "MR": MarginRanking()}, metric=Manhattan()).fit(X, y)
    Z = emb.transform(X).astype(np.float64)
    S = -np.abs(Z[:, None, :] - Z[None, :, :]).sum(axis=2)  # the negated L1 distance, written out
    depth = np.array([[len(os.path.commonprefix([a.split("/"), b.split("/")])) for b in y] for a in y])
    gains = depth / 3.0  # LCA depth over the tree's depth
    rows = [
        ndcg_score(gains[q, np.arange(len(y)) != q][None], S[q, np.arange(len(y)) != q][None]) for q in range(len(y))
    ]
    assert hierarchy_scorers(k=2)["ndcg"](emb, X, y) == pytest.approx(np.mean(rows), abs=1e-6)


def test_the_similarity_plot_draws_in_the_fitted_user_distance(data):
    from sklearn_hier.plotting import LevelSimilarityDisplay

    X, y = data
    emb = _embedder(losses="PL+T", metric=Manhattan()).fit(X, y)
    display = LevelSimilarityDisplay.from_estimator(emb, X, y, level=1)
    Z = torch.as_tensor(emb.transform(X))
    top = np.array([label.split("/")[0] for label in y])
    sims = -torch.cdist(Z, Z, p=1).numpy()
    expected = sims[np.ix_(top == "a", top == "b")].mean()
    assert display.metric == "manhattan" and display.similarity[0, 1] == pytest.approx(expected, rel=1e-5)
