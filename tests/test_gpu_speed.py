"""The speed settings of HierarchicalEmbedder (issue 15): precision, compile, channels_last, streamed data.

Each is resolved per device ("auto") and must not change what is learnt beyond
float tolerance: the CPU tests compare against the eager, float32, resident
fit. Compiled fits use the ``aot_eager`` backend (the same graph capture and
autograd, without code generation, which would take a minute on the CPU). The
CUDA tests skip only where CUDA is absent.
"""

import pickle

import numpy as np
import pytest
import torch
from _blobs import FAST, tree_blobs
from sklearn.pipeline import Pipeline
from skorch.callbacks import Callback

from sklearn_hier import HierarchicalEmbedder, _net, _plan
from sklearn_hier._batches import TripletBatches
from sklearn_hier._data import TensorData
from sklearn_hier._device import fits_on_device
from sklearn_hier._net import COMPILE_REUSED_ACROSS_FITS, _cudnn_benchmark
from sklearn_hier.audio import MelTransformer
from sklearn_hier.nn import MLP, ConvModel, TreeTripletSampler
from sklearn_hier.taxonomy import Taxonomy

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
EAGER = dict(FAST, max_epochs=3, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def blobs():
    return tree_blobs(n_per_leaf=6)


def _fit(X, y, **params):
    return HierarchicalEmbedder(losses="PL+T", **{**EAGER, **params}).fit(X, y)


def _all_triplets(y):
    """Tree triplets of all of ``y``: more than a training split holds, so one batch takes a whole epoch."""
    tax = Taxonomy.from_y(y)
    return TreeTripletSampler(tax, tax.encode(y)).n_triplets


# ------------------------------------------------------------ resolution of "auto"
def test_auto_resolves_to_the_plain_cpu_path(blobs):
    emb = _fit(*blobs, max_epochs=1)
    assert (emb.precision_, emb.compile_, emb.channels_last_, emb.data_on_device_) == ("float32", False, False, True)
    assert emb.net_.precision == "float32" and not emb.net_.compile


@pytest.mark.parametrize(
    ("backbone", "triplets", "expected"),
    [
        (ConvModel(n_mels=16, channels=4), "tree", ("bfloat16", True, True)),
        (MLP(4), "tree", ("bfloat16", True, False)),
        (ConvModel(n_mels=16, channels=4), "batch_hard", ("bfloat16", False, True)),
    ],
)
def test_auto_on_cuda_is_bf16_compiled_channels_last(backbone, triplets, expected, monkeypatch):
    monkeypatch.setattr(_net, "COMPILE_REUSED_ACROSS_FITS", True)
    emb = HierarchicalEmbedder(triplets=triplets, data_on_device=True)
    speed = _speed(emb, backbone, 10**12)
    assert (speed["precision"], speed["compile"], speed["channels_last"]) == expected
    assert speed["data_on_device"] is True


def test_auto_does_not_compile_where_torch_compiles_again_for_every_fit(monkeypatch):
    monkeypatch.setattr(_net, "COMPILE_REUSED_ACROSS_FITS", False)  # torch 2.4
    emb = HierarchicalEmbedder(data_on_device=True)  # "auto" would ask the (absent) GPU for its free memory
    speed = _speed(emb, ConvModel(n_mels=16, channels=4), 1)
    assert speed["compile"] is False and speed["precision"] == "bfloat16" and speed["channels_last"] is True


def test_explicit_settings_win_over_auto():
    emb = HierarchicalEmbedder(precision="float32", compile=False, channels_last=False, data_on_device=False)
    speed = _speed(emb, ConvModel(n_mels=16, channels=4), 1)
    assert speed == {"precision": "float32", "compile": False, "channels_last": False, "data_on_device": False}


def _speed(emb, backbone, data_bytes):
    has_conv = any(p.ndim == 4 for p in backbone.parameters())
    return _plan._speed_settings(emb.get_params(), torch.device("cuda"), has_conv, data_bytes)


def test_anything_fits_on_the_cpu():
    assert fits_on_device(10**15, torch.device("cpu"))


# ------------------------------------------------------------ same results as eager
def test_compiled_fit_gives_the_eager_embeddings(blobs):
    X, y = blobs
    # One batch per epoch (a short one, kept): eager and compiled runs see the same batches.
    params = dict(valid_size=0.2, triplets_per_batch=_all_triplets(y))
    reference = _fit(X, y, **params).transform(X)
    compiled = _fit(X, y, compile=True, compile__backend="aot_eager", **params)
    assert compiled.compile_ and compiled.net_.compiled_embed_ is None  # let go of after training
    np.testing.assert_allclose(compiled.transform(X), reference, atol=1e-5)


def test_compiled_fit_drops_the_short_last_batch(blobs):
    X, y = blobs
    # 20 tree triplets per epoch in batches of 6: three of 18 clips and a short one of 6.
    eager = _fit(X, y, valid_size=None, triplets_per_batch=6)
    compiled = _fit(X, y, valid_size=None, triplets_per_batch=6, compile=True, compile__backend="aot_eager")
    sizes = [row["train_batch_size"] for row in eager.history[-1, "batches"]]
    assert sizes[-1] < 18, "the data must leave a short last batch for this test"
    compiled_sizes = [row["train_batch_size"] for row in compiled.history[-1, "batches"]]
    assert compiled_sizes == sizes[:-1] == [18] * (len(sizes) - 1)


def test_folds_with_other_leaves_reuse_the_compiled_embedding(blobs):
    """The heads' widths change with each fold's leaves; the compiled part must not (torch stops compiling after 8)."""
    X, y = blobs
    leaves = np.unique(y)
    graphs = []

    def counting_backend(graph_module, example_inputs):
        graphs.append(graph_module)
        return graph_module.forward

    torch.compiler.reset()  # graphs that other tests left would let a fit run without compiling anything
    counts = []
    for n_dropped in range(4):
        keep = ~np.isin(y, leaves[:n_dropped])
        _fit(X[keep], y[keep], max_epochs=2, compile=True, compile__backend=counting_backend)
        counts.append(len(graphs))
    assert counts[0] > 0, "the first fit must compile its embedding"
    # torch 2.4 compiles again for each new module, whatever its shapes: why compile="auto" is off there.
    expected = counts[:1] * 4 if COMPILE_REUSED_ACROSS_FITS else [counts[0] * k for k in (1, 2, 3, 4)]
    assert counts == expected, f"graphs compiled after each fit: {counts}"


def test_drop_last_keeps_an_epoch_smaller_than_one_batch():
    tax = Taxonomy.from_paths(["a", "b"])
    data = TensorData.from_arrays(np.zeros((6, 1), np.float32), np.repeat([0, 1], 3), "cpu")
    batches = TripletBatches(data, tax, triplets_per_batch=100, drop_last=True)
    assert len(list(batches)) == 1 and batches.clips_per_epoch == 3 * batches.sampler.n_triplets


def test_channels_last_fit_gives_the_eager_embeddings():
    X, y = tree_blobs(n_per_leaf=4, shape=(16, 16))
    params = dict(module__channels=4, module__n_blocks=2, embedding_dim=8, valid_size=None, max_epochs=2)
    params.update(triplets_per_batch=8, lr=1e-2, device="cpu", random_state=0, verbose=0)
    reference = HierarchicalEmbedder(**params).fit(X, y).transform(X)
    fast = HierarchicalEmbedder(channels_last=True, **params).fit(X, y)
    conv = fast.module_.backbone.blocks[4]  # the second convolution: 4 input channels, so the layouts differ
    assert fast.channels_last_ and conv.weight.is_contiguous(memory_format=torch.channels_last)
    # Convolutions sum in another order in NHWC; Adam's first steps (about lr each, whatever the gradient's size)
    # magnify such rounding, so the fits agree to a fraction of the embeddings' scale.
    Z = fast.transform(X)
    np.testing.assert_allclose(Z, reference, atol=1e-2 * np.abs(reference).max())
    # The same weights in either layout give the same embeddings.
    fast.module_.to(memory_format=torch.contiguous_format)
    assert not conv.weight.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_allclose(fast.transform(X), Z, atol=1e-5)


def test_streamed_data_give_the_resident_embeddings(blobs):
    X, y = blobs
    resident = _fit(X, y)
    streamed = _fit(X, y, data_on_device=False)
    assert not streamed.data_on_device_
    np.testing.assert_array_equal(streamed.transform(X), resident.transform(X))
    np.testing.assert_array_equal(streamed.history[:, "valid_loss"], resident.history[:, "valid_loss"])


def test_streamed_take_matches_the_resident_gather():
    data = TensorData.from_arrays(np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10) % 3, "cpu")
    streamed = data.streamed_to("cpu")
    index = torch.tensor([7, 2, 2, 9])
    for got, expected in zip(streamed.take(index), data.take(index), strict=True):
        torch.testing.assert_close(got, expected)
    for got, expected in zip(streamed.take(slice(3, 6)), data.take(slice(3, 6)), strict=True):
        torch.testing.assert_close(got, expected)
    assert streamed.device == torch.device("cpu") and streamed.target is not None


# ------------------------------------------------------------ the loop
def test_epoch_losses_are_recorded_per_batch_as_skorch_does(blobs):
    emb = _fit(*blobs, max_epochs=2)
    for epoch in emb.history:
        batches = [row for row in epoch["batches"] if "train_batch_size" in row]
        losses = np.array([row["train_loss"] for row in batches])
        sizes = np.array([row["train_batch_size"] for row in batches])
        assert len(batches) == epoch["train_batch_count"] and np.isfinite(losses).all()
        assert epoch["train_loss"] == pytest.approx(np.average(losses, weights=sizes))


def test_cudnn_benchmark_is_restored_even_on_error():
    before = torch.backends.cudnn.benchmark
    with pytest.raises(RuntimeError), _cudnn_benchmark(True):
        assert torch.backends.cudnn.benchmark
        raise RuntimeError("boom")
    assert torch.backends.cudnn.benchmark == before


# ------------------------------------------------------------ tensor input
def test_tensor_X_fits_as_the_array_does(blobs):
    X, y = blobs
    tensor = torch.from_numpy(X.copy())
    emb = _fit(tensor, y)
    np.testing.assert_array_equal(emb.transform(tensor), _fit(X, y).transform(X))
    np.testing.assert_array_equal(emb.transform(X), emb.transform(tensor))
    torch.testing.assert_close(tensor, torch.from_numpy(X))  # untouched


@pytest.mark.parametrize(
    ("X", "error", "message"),
    [
        (torch.full((48, 4), float("nan")), ValueError, "contains NaN"),
        (torch.zeros(48), ValueError, "shape"),
        (torch.zeros((48, 4), dtype=torch.bool), TypeError, "bool values, which are not features"),
    ],
)
def test_bad_tensor_X_is_refused_before_training(blobs, X, error, message):
    with pytest.raises(error, match=message):
        _fit(X, blobs[1])


def test_tensor_of_another_width_is_refused_at_transform(blobs):
    emb = _fit(*blobs, max_epochs=1)
    with pytest.raises(ValueError, match="3 features"):
        emb.transform(torch.zeros(2, 3))


def test_mel_tensors_feed_the_embedder_in_a_pipeline():
    rng = np.random.default_rng(0)
    y = np.repeat(["a/x", "a/y", "b/z", "b/w"], 4)
    waveforms = (0.1 * rng.standard_normal((len(y), 4096))).astype(np.float32)
    mel = dict(n_fft=256, hop_length=128, n_mels=16, device="cpu", verbose=0)
    emb = dict(module__channels=4, module__n_blocks=2, embedding_dim=8, max_epochs=1, random_state=0, verbose=0)
    pipe = Pipeline([("mel", MelTransformer(output="torch", **mel)), ("emb", HierarchicalEmbedder(**emb))])
    Z = pipe.fit(waveforms, y).transform(waveforms)
    numpy_pipe = Pipeline([("mel", MelTransformer(**mel)), ("emb", HierarchicalEmbedder(**emb))])
    np.testing.assert_array_equal(Z, numpy_pipe.fit(waveforms, y).transform(waveforms))


def test_mel_batch_size_auto_depends_on_the_device():
    assert MelTransformer().batch_size_for("cpu") == 32
    assert MelTransformer().batch_size_for("cuda") == 256
    assert MelTransformer(batch_size=3).batch_size_for("cuda") == 3


# ------------------------------------------------------------ CUDA only
class SyncDebug(Callback):
    """Turns torch's synchronisation check to "error" inside each training step from the second epoch on.

    The first epoch is the warm-up: it compiles and creates the optimizer's
    state, once per fit. The step is the net's ``train_step`` (forward, loss,
    backward, clipping, optimizer); skorch's own epoch loop then reads the
    step's loss with ``.item()`` to record it in the history, outside the check.
    """

    def on_train_begin(self, net, **kwargs):
        step = type(net).train_step.__get__(net)

        def checked_step(batch, **fit_params):
            if len(net.history) > 1:
                torch.cuda.set_sync_debug_mode("error")
            try:
                return step(batch, **fit_params)
            finally:
                torch.cuda.set_sync_debug_mode(0)

        net.train_step = checked_step

    def on_train_end(self, net, **kwargs):
        vars(net).pop("train_step", None)


@needs_cuda
@pytest.mark.parametrize("compile", [False, True])
def test_cuda_training_steps_never_wait_for_the_gpu(compile):
    X, y = tree_blobs(n_per_leaf=12, shape=(16, 16))
    params = dict(module__channels=8, module__n_blocks=2, embedding_dim=8, triplets_per_batch=8)
    try:
        emb = HierarchicalEmbedder(
            device="cuda", compile=compile, max_epochs=3, callbacks=[("sync_debug", SyncDebug())], **params
        ).fit(X, y)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert emb.precision_ == "bfloat16" and emb.channels_last_ and emb.compile_ == compile
    assert np.isfinite(emb.history[:, "train_loss"]).all()


@needs_cuda
def test_cuda_auto_fit_uses_fused_adam_and_restores_cudnn_benchmark(blobs):
    before = torch.backends.cudnn.benchmark
    emb = HierarchicalEmbedder(device="cuda", max_epochs=2, random_state=0, **FAST).fit(*blobs)
    assert emb.net_.optimizer_.param_groups[0]["fused"] is True
    assert (emb.precision_, emb.compile_, emb.data_on_device_) == ("bfloat16", True, True)
    assert torch.backends.cudnn.benchmark == before


@needs_cuda
def test_cuda_compiled_and_streamed_fits_agree_with_eager(blobs):
    X, y = blobs
    params = dict(FAST, device="cuda", precision="float32", valid_size=None, max_epochs=3)
    params["triplets_per_batch"] = _all_triplets(y)
    reference = HierarchicalEmbedder(compile=False, random_state=0, **params).fit(X, y).transform(X)
    for extra in ({"compile": True}, {"compile": False, "data_on_device": False}):
        Z = HierarchicalEmbedder(random_state=0, **params, **extra).fit(X, y).transform(X)
        # Fused kernels round differently and Adam's first steps magnify that (see the channels-last test).
        np.testing.assert_allclose(Z, reference, atol=1e-2 * np.abs(reference).max(), err_msg=str(extra))


@needs_cuda
def test_cuda_compiled_model_pickles_and_reloads(blobs):
    X, y = blobs
    emb = HierarchicalEmbedder(device="cuda", max_epochs=2, random_state=0, **FAST).fit(X, y)
    assert emb.compile_
    again = pickle.loads(pickle.dumps(emb))
    np.testing.assert_allclose(again.transform(X), emb.transform(X), atol=1e-6)
    assert not any(key.startswith("_orig_mod") for key in emb.module_.state_dict())


@needs_cuda
def test_cuda_mel_tensors_stay_on_the_gpu_into_the_embedder():
    rng = np.random.default_rng(0)
    y = np.repeat(["a/x", "a/y", "b/z", "b/w"], 8)
    waveforms = (0.1 * rng.standard_normal((len(y), 4096))).astype(np.float32)
    mels = MelTransformer(n_fft=256, hop_length=128, n_mels=16, device="cuda", output="torch", verbose=0)
    M = mels.fit_transform(waveforms)
    assert M.is_cuda
    emb = HierarchicalEmbedder(module__channels=4, module__n_blocks=2, embedding_dim=8, max_epochs=2, verbose=0)
    assert emb.fit(M, y).transform(M).shape == (len(y), 8)


@needs_cuda
@pytest.mark.parametrize(("triplets_per_batch", "mode"), [(32, "reduce-overhead"), (256, None)])
def test_small_cuda_training_batches_replay_as_cuda_graphs(blobs, monkeypatch, triplets_per_batch, mode):
    X, y = blobs
    modes, compile_ = [], torch.compile

    def spy(fn, **options):
        modes.append(options.get("mode"))
        return compile_(fn, **options)

    monkeypatch.setattr(torch, "compile", spy)
    params = {**FAST, "triplets_per_batch": triplets_per_batch}
    HierarchicalEmbedder(device="cuda", max_epochs=2, random_state=0, **params).fit(X, y)
    assert modes == [mode]


@needs_cuda
def test_cuda_label_set_training_steps_never_wait_for_the_gpu():
    # Label sets: closure and label targets gathered on the device, the sigmoid terms, shuffled batches.
    X, y = tree_blobs(n_per_leaf=12, shape=(16, 16))
    rng = np.random.default_rng(0)
    sets = [frozenset({label, str(y[j])}) for label, j in zip(y, rng.permutation(len(y)), strict=True)]
    params = dict(module__channels=8, module__n_blocks=2, embedding_dim=8, triplets_per_batch=8)
    try:
        emb = HierarchicalEmbedder(
            losses="L+PL+B",
            device="cuda",
            max_epochs=3,
            callbacks=[("sync_debug", SyncDebug())],
            **params,
        ).fit(X, sets)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert np.isfinite(emb.history[:, "train_loss"]).all()
    assert emb.predict(X).shape == (len(X), len(emb.classes_))
