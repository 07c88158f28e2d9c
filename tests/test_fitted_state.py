"""What fit decides is frozen in fitted attributes: set_params changes nothing until the next fit.

Also: an interrupted fit propagates the interruption and leaves nothing fitted.
"""

import re

import numpy as np
import pytest
import torch
from _blobs import FAST, tree_blobs
from skorch.callbacks import Callback

from sklearn_hier.embedder import HierarchicalEmbedder
from sklearn_hier.nn import MLP
from sklearn_hier.taxonomy import Taxonomy

# A value other than the fitted one for every parameter (a new parameter must be added here).
OTHER_VALUES = {
    "module": MLP,
    "losses": "L+B",
    "taxonomy": Taxonomy.from_paths(["a/i/1", "a/i/2", "a/j/1", "a/j/2", "b/k/1", "b/k/2", "b/l/1", "b/l/2", "c"]),
    "sep": "|",
    "embedding_dim": 3,
    "triplets": "batch_hard",
    "triplets_per_batch": 2,
    "metric": "dot",
    "geometry": "euclidean",
    "class_weight": "balanced",
    "leaf_source": "level_product",
    "threshold": 0.9,
    "max_epochs": 1,
    "lr": 0.5,
    "weight_decay": 0.1,
    "optimizer": torch.optim.SGD,
    "callbacks": "disable",
    "valid_size": None,
    "batch_size": 1,
    "device": "auto",
    "precision": "bfloat16",
    "compile": True,
    "channels_last": True,
    "data_on_device": False,
    "warm_start": True,
    "random_state": 7,
    "verbose": 1,
    "module__hidden": (5,),
    "criterion__PL__reduction": "mean",
    "criterion__T__margin": 0.9,
    "optimizer__betas": (0.5, 0.5),
    "callbacks__print_log": None,
    "compile__mode": "max-autotune",
    "geometry__c": 0.5,
}


@pytest.fixture(scope="module")
def data():
    return tree_blobs(n_per_leaf=6)


@pytest.fixture(scope="module")
def reference(data):
    X, y = data
    params = {**FAST, "criterion__PL__reduction": "sum", "criterion__T__margin": 0.3, "optimizer__betas": (0.9, 0.999)}
    params.update(callbacks__print_log=None, compile__mode="default")
    # On the ball, so that the geometry's own parameters are frozen too.
    params.update(geometry="poincare", geometry__c=1.0)
    emb = HierarchicalEmbedder(losses="PL+T", max_epochs=2, device="cpu", random_state=0, **params).fit(X, y)
    return emb, _answers(emb, X)


def _answers(emb, X):
    return {
        "transform": emb.transform(X),
        "predict": emb.predict(X),
        "predict_proba": emb.predict_proba(X),
        "predict_level": emb.predict_level(X, level=2),
        "leaf_source_": emb.leaf_source_,
        "level_heads_trained_": emb.level_heads_trained_,
        "loss_spec_": emb.loss_spec_.weights,
        "margin": emb.criterion_.terms["T"].margin,
        "device_": emb.device_,
        "speed": (emb.precision_, emb.compile_, emb.channels_last_, emb.data_on_device_),
        "geometry_": emb.geometry_,
        "metric_": emb.metric_,
        "distance_": repr(emb.distance_),
        "curvature_": emb.curvature_,
    }


def test_every_parameter_has_another_value_listed(reference):
    emb, _ = reference
    assert set(emb.get_params()) <= set(OTHER_VALUES)


@pytest.mark.parametrize("name", sorted(OTHER_VALUES))
def test_set_params_after_fit_changes_nothing_until_refit(reference, data, name):
    emb, before = reference
    X, _ = data
    original = emb.get_params()[name]
    emb.set_params(**{name: OTHER_VALUES[name]})
    try:
        after = _answers(emb, X)
    finally:
        emb.set_params(**{name: original})
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value, err_msg=f"{key} changed after set_params({name}=...)")


def test_losses_is_parsed_once_into_loss_spec(data):
    X, y = data
    emb = HierarchicalEmbedder(losses="l + 0.5*T", max_epochs=1, **FAST).fit(X, y)
    assert emb.loss_spec_.weights == {"L": 1.0, "T": 0.5} and emb.leaf_source_ == "leaf"
    assert emb.loss_spec_.canonical == "L+0.5*T" and emb.criterion_.spec is emb.loss_spec_
    assert not emb.level_heads_trained_ and emb.device_ == torch.device("cpu")
    emb = HierarchicalEmbedder(losses="B+0*L", max_epochs=1, **FAST).fit(X, y)  # a zero weight trains nothing
    assert emb.leaf_source_ == "nodes"
    emb = HierarchicalEmbedder(losses="T", max_epochs=1, **FAST).fit(X, y)
    assert emb.leaf_source_ is None and emb.transform(X).shape == (len(X), 8)
    with pytest.raises(ValueError, match="trains no classification head"):
        emb.predict(X)


def test_leaf_source_is_resolved_at_fit_and_checked_against_the_trained_heads(data):
    X, y = data
    emb = HierarchicalEmbedder(losses="PL+T", max_epochs=1, random_state=0, **FAST).fit(X, y)
    assert emb.leaf_source_ == "deepest_level"  # the paper's route for models without L
    product = HierarchicalEmbedder(losses="PL+T", leaf_source="level_product", max_epochs=1, random_state=0, **FAST)
    product.fit(X, y)
    assert product.leaf_source_ == "level_product"
    # Same seed, same network: only the route from the level heads to the leaf differs.
    np.testing.assert_array_equal(product.transform(X), emb.transform(X))
    emb = HierarchicalEmbedder(losses="L+PL", max_epochs=1, **FAST).fit(X, y)
    assert emb.leaf_source_ == "leaf"
    for losses, route in [("PL+T", "leaf"), ("L+T", "deepest_level"), ("L+PL", "nodes")]:
        emb = HierarchicalEmbedder(losses=losses, leaf_source=route, max_epochs=1, **FAST)
        message = f"leaf_source='{route}' reads the .* head, which losses={re.escape(repr(losses))}"
        with pytest.raises(ValueError, match=message):
            emb.fit(X, y)
        assert not hasattr(emb, "net_")


def test_all_zero_loss_weights_are_refused_before_training(data):
    X, y = data
    emb = HierarchicalEmbedder(losses="0*PL", max_epochs=1, **FAST)
    with pytest.raises(ValueError, match=r"losses='0\*PL' gives every term weight 0"):
        emb.fit(X, y)
    assert not hasattr(emb, "net_") and not hasattr(emb, "taxonomy_")


def test_waveform_shaped_input_names_the_missing_mel_step():
    X = np.zeros((8, 4000), np.float32)
    y = ["a", "b"] * 4
    with pytest.raises(ValueError, match="look like raw waveforms.*MelTransformer"):
        HierarchicalEmbedder(max_epochs=1, verbose=0).fit(X, y)
    emb = HierarchicalEmbedder(module=MLP, module__n_features=4000, module__hidden=(), max_epochs=1, verbose=0)
    assert emb.fit(X, y).transform(X).shape == (8, 256)  # an explicit MLP takes them


class _InterruptAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_an_interrupted_fit_raises_and_leaves_nothing_fitted(data):
    X, y = data
    emb = HierarchicalEmbedder(max_epochs=5, callbacks=[("stop", _InterruptAt(2))], **FAST)
    with pytest.raises(KeyboardInterrupt):
        emb.fit(X, y)
    assert not hasattr(emb, "net_") and not hasattr(emb, "loss_spec_")
    with pytest.raises(Exception, match="not fitted"):
        emb.transform(X)


def test_an_interrupted_partial_fit_unfits_the_model(data):
    X, y = data
    emb = HierarchicalEmbedder(max_epochs=2, callbacks=[("stop", _InterruptAt(3))], **FAST).fit(X, y)
    with pytest.raises(KeyboardInterrupt):
        emb.partial_fit(X, y)
    assert not hasattr(emb, "net_") and not hasattr(emb, "taxonomy_")


def test_early_stopping_is_a_normal_end_not_an_interruption(data):
    X, y = data
    emb = HierarchicalEmbedder(losses="PL", max_epochs=100, callbacks__early_stopping__patience=1, lr=5.0, verbose=0)
    emb.set_params(embedding_dim=8, module__hidden=(16,), random_state=0)
    assert len(emb.fit(X, y).history_) < 100
