"""skorch's public API on a fitted HierarchicalEmbedder: the net it owns (``net_``) is a plain skorch net."""

import numpy as np
import pytest
import torch
from _blobs import FAST, tree_blobs
from sklearn.base import clone
from skorch.callbacks import Callback, Checkpoint, LoadInitState, ProgressBar

from sklearn_hier._net import EmbeddingNet
from sklearn_hier.embedder import HierarchicalEmbedder


@pytest.fixture(scope="module")
def data():
    return tree_blobs(n_per_leaf=6)


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return HierarchicalEmbedder(losses="PL+T", max_epochs=3, random_state=0, **FAST).fit(X, y)


def test_the_net_is_a_skorch_net_initialised_by_skorch(fitted):
    net = fitted.net_
    assert isinstance(net, EmbeddingNet) and net.initialized_
    assert net.module_ is fitted.module_ and net.criterion_ is fitted.criterion_ and net.history is fitted.history_


def test_forward_and_forward_iter_give_the_embeddings_and_heads(fitted, data):
    X, _ = data
    z, outputs = fitted.net_.forward(X[:10])
    np.testing.assert_array_equal(z.numpy(), fitted.transform(X[:10]))
    assert outputs.leaf.shape == (10, 8) and sorted(outputs.levels) == [1, 2, 3]
    parts = list(fitted.net_.forward_iter(X[:10]))
    assert len(parts) == 1 and torch.equal(parts[0][0], z)


def test_skorch_predict_proba_returns_the_first_output(fitted, data):
    X, _ = data
    np.testing.assert_array_equal(fitted.net_.predict_proba(X[:5]), fitted.transform(X[:5]))


def test_get_dataset_wraps_arrays_as_skorch_does(fitted, data):
    X, y = data
    dataset = fitted.net_.get_dataset(X, np.zeros(len(X)))
    assert len(dataset) == len(X) and np.array_equal(dataset[3][0], X[3])


def test_set_params_of_skorch_on_the_net(fitted):
    # skorch 1.4 itself refuses iterator_* parameters on an initialised net (any NeuralNet), so they
    # are set on an unfitted copy, as on a plain skorch net.
    net = clone(fitted.net_).set_params(iterator_train__shuffle=True, train_split=None)
    assert net.iterator_train__shuffle is True and net.train_split is None
    assert clone(fitted.net_).set_params(train_split=None).train_split is None


def test_the_estimator_names_its_equivalents_of_skorch_parameters(data):
    X, y = data
    with pytest.raises(ValueError, match=r"iterator_train__shuffle.*triplets.*net_\.set_params"):
        HierarchicalEmbedder().set_params(iterator_train__shuffle=True)
    with pytest.raises(ValueError, match="train_split"):
        HierarchicalEmbedder().set_params(train_split=None)
    emb = HierarchicalEmbedder(valid_size=None, max_epochs=2, **FAST).fit(X, y)  # skorch's train_split=None
    assert emb.net_.train_split is None and "valid_loss" not in emb.history_[-1]


def test_save_params_and_load_params_restore_the_weights(fitted, data, tmp_path):
    X, y = data
    fitted.net_.save_params(f_params=tmp_path / "params.pt", f_optimizer=tmp_path / "opt.pt")
    other = HierarchicalEmbedder(losses="PL+T", max_epochs=1, random_state=1, **FAST).fit(X, y)
    assert not np.array_equal(other.transform(X), fitted.transform(X))
    other.net_.load_params(f_params=tmp_path / "params.pt", f_optimizer=tmp_path / "opt.pt")
    np.testing.assert_array_equal(other.transform(X), fitted.transform(X))


def test_checkpoint_and_load_init_state_callbacks(data, tmp_path):
    X, y = data
    checkpoint = Checkpoint(dirname=str(tmp_path), monitor="valid_loss_best")
    params = dict(losses="PL", random_state=0, **FAST)
    first = HierarchicalEmbedder(max_epochs=3, callbacks=[("checkpoint", checkpoint)], **params).fit(X, y)
    assert (tmp_path / "params.pt").exists() and any(first.history_[:, "event_cp"])
    resumed = HierarchicalEmbedder(max_epochs=1, callbacks=[("load", LoadInitState(checkpoint))], **params)
    resumed.fit(X, y)  # starts from the checkpoint (weights and history), then trains one epoch
    assert len(resumed.history_) == len(first.history_) + 1
    fresh = HierarchicalEmbedder(max_epochs=1, **params).fit(X, y)
    assert resumed.history_[-1, "train_loss"] < fresh.history_[-1, "train_loss"]


def test_partial_fit_and_warm_start_continue_the_same_net(fitted, data):
    X, y = data
    emb = HierarchicalEmbedder(losses="PL", max_epochs=2, random_state=0, **FAST).fit(X, y)
    net = emb.net_
    assert len(emb.partial_fit(X, y).history_) == 4 and emb.net_ is net
    emb.set_params(warm_start=True).fit(X, y)
    assert len(emb.history_) == 6 and emb.net_ is net


class _Count(Callback):
    def initialize(self):
        self.batches_ = 0
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        self.batches_ += training


def test_a_user_callback_sees_every_training_batch(data):
    X, y = data
    counter = _Count()
    emb = HierarchicalEmbedder(max_epochs=2, callbacks=[("count", counter)], random_state=0, **FAST).fit(X, y)
    assert counter.batches_ == sum(emb.history_[:, "train_batch_count"]) > 0


class _Totals(ProgressBar):
    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)
        self.totals_ = [*getattr(self, "totals_", []), self.pbar_.total]


@pytest.mark.parametrize("triplets", ["tree", "batch_hard"])
def test_progress_bar_total_is_the_number_of_batches(data, triplets):
    X, y = data
    progress = _Totals()
    emb = HierarchicalEmbedder(max_epochs=2, triplets=triplets, callbacks=[("progress", progress)], **FAST).fit(X, y)
    batches = [epoch["train_batch_count"] + epoch["valid_batch_count"] for epoch in emb.history_]
    assert progress.totals_ == batches
