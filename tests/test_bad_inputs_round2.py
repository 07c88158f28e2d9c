"""Second catalogue of bad and edge inputs (issue 25): tensors, the Poincaré ball, non-finite training,
statistics and label spellings.

As in ``test_bad_inputs.py``, each case names the exception type and a
fragment of its message, or the documented result, and checks that the
caller's data are left as they were.
"""

import copy
import unicodedata
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch
from _blobs import FAST, tree_blobs
from _compare_settings import TINY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sklearn_hier import HierarchicalEmbedder, Taxonomy
from sklearn_hier._net import NonFiniteTrainingError
from sklearn_hier.audio import AudioLoader, MelTransformer
from sklearn_hier.cli import main
from sklearn_hier.datasets import make_hierarchical_sounds
from sklearn_hier.experiments import CompareSettings, compare
from sklearn_hier.experiments._records import check_folder, pair_path
from sklearn_hier.experiments._runner import run_pairs
from sklearn_hier.experiments._settings import check_settings
from sklearn_hier.metrics import (
    hierarchical_ndcg_score,
    hierarchical_precision_recall_fscore,
    mean_normalized_rank,
    mistake_severity,
)
from sklearn_hier.stats import paired_comparison

X_BLOBS, Y_BLOBS = tree_blobs(n_per_leaf=4)
SMALL_MEL = dict(n_fft=64, hop_length=32, n_mels=8, sr=8000, device="cpu", verbose=0)


@pytest.fixture(scope="module")
def fitted():
    return HierarchicalEmbedder(max_epochs=2, random_state=0, **FAST).fit(X_BLOBS, Y_BLOBS)


def _outcome(call):
    """What ``call()`` gives: ("ok", value) or ("error", type, message)."""
    try:
        return ("ok", call())
    except (TypeError, ValueError) as error:
        return ("error", type(error), str(error))


def _assert_same_outcome(from_array, from_tensor):
    assert from_array[0] == from_tensor[0], (from_array, from_tensor)
    if from_array[0] == "ok":
        value = from_tensor[1].cpu().numpy() if isinstance(from_tensor[1], torch.Tensor) else from_tensor[1]
        np.testing.assert_array_equal(from_array[1], value)
    else:
        assert from_array[1:] == from_tensor[1:]


# ------------------------------------------------------------------ one contract for arrays and tensors
NUMPY_DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_]


def _tensor_twin(array, contiguous):
    """The same values as a tensor, contiguous or a view of every other column of a wider one."""
    if contiguous:
        return torch.from_numpy(array.copy())
    view = torch.from_numpy(np.repeat(array, 2, axis=-1))[..., ::2]
    assert not view.is_contiguous()
    return view


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    dtype=st.sampled_from(NUMPY_DTYPES),
    contiguous=st.booleans(),
    seed=st.integers(0, 2**16),
    n_clips=st.integers(1, 3),
    n_samples=st.integers(16, 200),
)
def test_mel_of_a_tensor_equals_the_mel_of_its_array(dtype, contiguous, seed, n_clips, n_samples):
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        waves = rng.integers(info.min, info.max, size=(n_clips, n_samples), endpoint=True).astype(dtype)
    else:
        waves = rng.uniform(-1, 1, size=(n_clips, n_samples)).astype(dtype)
    tensor = _tensor_twin(waves, contiguous)
    before, tensor_before = waves.copy(), tensor.clone()
    mel = MelTransformer(**SMALL_MEL)
    _assert_same_outcome(_outcome(lambda: mel.fit_transform(waves)), _outcome(lambda: mel.fit_transform(tensor)))
    np.testing.assert_array_equal(waves, before)
    assert torch.equal(tensor, tensor_before)


def test_int16_tensor_is_scaled_like_int16_array():
    # The case: 105.7 dB for the tensor against 15.4 dB for the same audio as an array.
    waves = (np.random.default_rng(0).uniform(-1, 1, size=(2, 400)) * 30000).astype(np.int16)
    mel = MelTransformer(**SMALL_MEL).fit(waves)
    from_tensor = mel.transform(torch.from_numpy(waves))
    np.testing.assert_array_equal(from_tensor, mel.transform(waves))
    np.testing.assert_allclose(from_tensor, mel.transform(waves / 32768.0), atol=1e-3)


def test_bfloat16_tensor_gives_the_mels_of_its_float32_values():
    waves = torch.rand(2, 300, dtype=torch.bfloat16) * 2 - 1
    mel = MelTransformer(**SMALL_MEL)
    np.testing.assert_array_equal(mel.fit_transform(waves), mel.fit_transform(waves.float().numpy()))


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        ("bool", TypeError, "dtype bool have no unambiguous scale"),
        ("meta", ValueError, "X is a meta tensor: it has a shape but no values"),
        ("sparse", ValueError, r"X is a sparse tensor .*pass X.to_dense\(\)"),
        ("complex", ValueError, "Complex data not supported"),
    ],
)
def test_mel_refuses_tensors_by_name(make, error, match):
    tensor = _bad_tensor(make, (2, 300))
    with pytest.raises(error, match=match):
        MelTransformer(**SMALL_MEL).fit_transform(tensor)


def _bad_tensor(make, shape):
    base = torch.rand(*shape) > 0.5
    return {
        "bool": base,
        "meta": torch.empty(*shape, device="meta"),
        "sparse": base.float().to_sparse(),
        "complex": torch.zeros(*shape, dtype=torch.complex64),
    }[make]


def test_mel_detaches_a_tensor_that_requires_grad():
    waves = torch.rand(2, 300, requires_grad=True)
    mel = MelTransformer(**SMALL_MEL, output="torch")
    first = mel.fit_transform(waves)
    assert not first.requires_grad
    torch.testing.assert_close(mel.transform(waves), first)
    assert waves.grad is None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dtype=st.sampled_from(NUMPY_DTYPES), contiguous=st.booleans(), rows=st.integers(1, 20))
def test_embeddings_of_a_tensor_equal_those_of_its_array(fitted, dtype, contiguous, rows):
    array = (X_BLOBS[:rows] * 10).astype(dtype)
    tensor = _tensor_twin(array, contiguous)
    before, tensor_before = array.copy(), tensor.clone()
    _assert_same_outcome(_outcome(lambda: fitted.transform(array)), _outcome(lambda: fitted.transform(tensor)))
    _assert_same_outcome(_outcome(lambda: fitted.predict(array)), _outcome(lambda: fitted.predict(tensor)))
    np.testing.assert_array_equal(array, before)
    assert torch.equal(tensor, tensor_before)


@pytest.mark.parametrize("dtype", [torch.int16, torch.uint8, torch.float64, torch.float16])
def test_fit_on_a_tensor_equals_fit_on_its_array(dtype):
    tensor = (torch.from_numpy(X_BLOBS) * 10).to(dtype)
    array, tensor_before = tensor.numpy().copy(), tensor.clone()
    on_array = HierarchicalEmbedder(max_epochs=2, random_state=0, **FAST).fit(array, Y_BLOBS)
    on_tensor = HierarchicalEmbedder(max_epochs=2, random_state=0, **FAST).fit(tensor, Y_BLOBS)
    np.testing.assert_array_equal(on_array.transform(array), on_tensor.transform(tensor))
    assert torch.equal(tensor, tensor_before)


def test_int16_tensor_is_accepted_as_int32_and_numpy_int16_are():
    # The case: "X must hold real numbers" for int16 while int32 and numpy int16 were accepted.
    tensor = (torch.from_numpy(X_BLOBS) * 10).to(torch.int16)
    emb = HierarchicalEmbedder(max_epochs=1, random_state=0, **FAST).fit(tensor, Y_BLOBS)
    assert emb.transform(tensor).shape == (len(tensor), FAST["embedding_dim"])


def test_fit_twice_on_a_tensor_that_requires_grad():
    # The case: "backward through the graph a second time" on the second fit.
    X = torch.from_numpy(X_BLOBS).requires_grad_()
    emb = HierarchicalEmbedder(max_epochs=1, random_state=0, **FAST)
    first = emb.fit(X, Y_BLOBS).transform(X)
    np.testing.assert_array_equal(emb.fit(X, Y_BLOBS).transform(X), first)
    assert X.grad is None


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        ("bool", TypeError, "X holds bool values, which are not features"),
        ("meta", ValueError, "X is a meta tensor"),
        ("sparse", ValueError, "X is a sparse tensor"),
        ("complex", ValueError, "Complex data not supported"),
    ],
)
def test_embedder_refuses_tensors_by_name(fitted, make, error, match):
    tensor = _bad_tensor(make, X_BLOBS.shape)
    with pytest.raises(error, match=match):
        HierarchicalEmbedder(max_epochs=1, **FAST).fit(tensor, Y_BLOBS)
    with pytest.raises(error, match=match):
        fitted.transform(tensor)


def test_embedder_refuses_a_bool_array_as_it_refuses_a_bool_tensor():
    with pytest.raises(TypeError, match="X holds bool values"):
        HierarchicalEmbedder(max_epochs=1, **FAST).fit(X_BLOBS > 0, Y_BLOBS)


def test_embedder_refuses_a_dataframe_with_a_bool_column():
    import pandas as pd  # a test dependency (pyproject.toml)

    frame = pd.DataFrame(X_BLOBS, columns=list("abcd")).assign(d=X_BLOBS[:, 3] > 0)
    with pytest.raises(TypeError, match="X holds bool values"):
        HierarchicalEmbedder(max_epochs=1, **FAST).fit(frame, Y_BLOBS)


def test_reversed_view_works_in_fit_predict_and_transform():
    # X[::-1] failed with torch's negative-stride error; it works as its copy does.
    view, labels = X_BLOBS[::-1], Y_BLOBS[::-1]
    assert view.strides[0] < 0
    on_view = HierarchicalEmbedder(max_epochs=2, random_state=0, **FAST).fit(view, labels)
    on_copy = HierarchicalEmbedder(max_epochs=2, random_state=0, **FAST).fit(view.copy(), labels)
    np.testing.assert_array_equal(on_view.transform(view), on_copy.transform(view.copy()))
    np.testing.assert_array_equal(on_view.predict(view), on_copy.predict(view.copy()))
    np.testing.assert_array_equal(view, X_BLOBS[::-1])


def test_reversed_view_works_in_the_metrics():
    Z = np.random.default_rng(0).normal(size=(len(Y_BLOBS), 3)).astype(np.float32)
    assert mean_normalized_rank(Z[::-1], Y_BLOBS[::-1]) == mean_normalized_rank(Z[::-1].copy(), Y_BLOBS[::-1])


@settings(max_examples=30, deadline=None)
@given(
    dtype=st.sampled_from([*NUMPY_DTYPES[:-1], np.bool_]),
    contiguous=st.booleans(),
    metric=st.sampled_from(["cosine", "dot", "euclidean"]),
    seed=st.integers(0, 2**16),
)
def test_metric_values_of_a_tensor_equal_those_of_its_array(dtype, contiguous, metric, seed):
    Z = (np.random.default_rng(seed).normal(size=(len(Y_BLOBS), 3)) * 5).astype(dtype)
    tensor = _tensor_twin(Z, contiguous)
    before, tensor_before = Z.copy(), tensor.clone()
    for score in (mean_normalized_rank, hierarchical_ndcg_score):
        _assert_same_outcome(
            _outcome(lambda score=score: score(Z, Y_BLOBS, metric=metric)),
            _outcome(lambda score=score: score(tensor, Y_BLOBS, metric=metric)),
        )
    np.testing.assert_array_equal(Z, before)
    assert torch.equal(tensor, tensor_before)


@pytest.mark.parametrize("make", ["meta", "sparse", "complex"])
def test_metrics_refuse_tensors_by_name(make):
    with pytest.raises(ValueError, match=f"embeddings is a {make}|Complex data not supported"):
        mean_normalized_rank(_bad_tensor(make, (len(Y_BLOBS), 3)), Y_BLOBS)


# ------------------------------------------------------------------ training never ends on a non-finite loss
def test_a_fit_whose_loss_becomes_nan_raises_naming_epoch_batch_and_cause():
    emb = HierarchicalEmbedder(max_epochs=3, random_state=0, **{**FAST, "lr": 1e30})
    X = X_BLOBS.copy()
    with pytest.raises(NonFiniteTrainingError, match=r"loss is nan at epoch 1, training batch \d+ of \d+.*lr=1e\+30"):
        emb.fit(X, Y_BLOBS)
    assert not hasattr(emb, "net_")  # nothing fitted is left behind
    np.testing.assert_array_equal(X, X_BLOBS)


def test_a_nan_loss_at_the_first_step_is_not_blamed_on_the_learning_rate():
    class NaNBackbone(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(4, 8)

        def forward(self, x):
            return self.linear(x) * torch.nan

    emb = HierarchicalEmbedder(NaNBackbone(), max_epochs=2, verbose=0, triplets_per_batch=8)
    with pytest.raises(NonFiniteTrainingError, match="very first step.*learning rate is not the cause"):
        emb.fit(X_BLOBS, Y_BLOBS)


def test_partial_fit_that_diverges_leaves_the_estimator_unfitted(fitted):
    emb = copy.deepcopy(fitted)
    emb.net_.set_params(lr=1e30)
    with pytest.raises(NonFiniteTrainingError, match="loss is nan"):
        emb.partial_fit(X_BLOBS, Y_BLOBS)
    assert not hasattr(emb, "net_")


def test_skorch_behaviour_is_one_parameter_away():
    emb = HierarchicalEmbedder(max_epochs=2, random_state=0, callbacks__finite_training=None, **{**FAST, "lr": 1e30})
    emb.fit(X_BLOBS, Y_BLOBS)  # skorch's behaviour: trains on and returns
    assert np.isnan(emb.history_[-1, "train_loss"])


def test_the_comparison_records_a_diverged_fit_as_failed_not_as_a_result(tmp_path):
    settings_ = CompareSettings(**{**TINY, "embedder_params": {**TINY["embedder_params"], "lr": 1e30}})
    with pytest.raises(
        RuntimeError, match=r"(?s)4 of 4 fits failed and are not recorded.*\nPL fold 0: The \w+ loss is nan at epoch 1"
    ):
        compare(settings_, out=tmp_path, verbose=0)
    assert list((tmp_path / "runs").glob("*.json")) == []


class _HalfFailingBackend:
    def prepare(self, settings):
        return 0

    def results(self, settings, pairs, out):
        for config, fold in pairs:
            base = {"config": config, "fold": fold, "device": "cpu", "n_clips": 0}
            if fold == 1:
                yield {**base, "failed": "The training loss is nan at epoch 3, training batch 2 of 4."}
            else:
                yield {**base, "rows": [], "embeddings": None}


def test_the_runner_records_the_other_pairs_and_names_the_failed_ones(tmp_path):
    settings_ = check_settings(CompareSettings(**TINY))
    check_folder(tmp_path, settings_)
    with pytest.raises(
        RuntimeError, match=r"(?s)2 of 4 fits failed .*2 others are.*\nPL fold 1: The training loss is nan at epoch 3"
    ):
        run_pairs(settings_, tmp_path, _HalfFailingBackend(), verbose=0)
    recorded = sorted(p.name for p in (tmp_path / "runs").glob("*.json"))
    assert recorded == sorted(pair_path(tmp_path, config, 0).name for config in settings_.losses)


# ------------------------------------------------------------------ the Poincaré ball's options
def _poincare(**options):
    return HierarchicalEmbedder(geometry="poincare", max_epochs=1, random_state=0, **FAST, **options)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"geometry__c": "1"}, r"geometry__c must be a finite real number above 1e-05 .*got '1' \(str\)"),
        ({"geometry__c": True}, r"geometry__c must be .*got True \(bool\)"),
        ({"geometry__c": np.float32(-0.5)}, r"geometry__c must be .*got np.float32\(-0.5\)"),
        ({"geometry__c": float("inf")}, "geometry__c must be a finite real number"),
        ({"geometry__clip_norm": "1"}, r"geometry__clip_norm must be a positive finite real number or None; got '1'"),
        ({"geometry__clip_norm": 0.0}, "geometry__clip_norm must be a positive"),
        ({"geometry__learn_curvature": "yes"}, r"geometry__learn_curvature must be True or False; got 'yes' \(str\)"),
        ({"geometry__eps": 1e-9}, r"geometry__eps must be a real number in \[1e-06, 1\).*float32 points"),
        ({"geometry__eps": 1.0}, r"geometry__eps must be a real number in \[1e-06, 1\)"),
        ({"geometry__c": 1e30}, r"nothing to read.*= 3.11e-15.*Usable: geometry__c <= 9.65e\+04"),
        ({"geometry__eps": 0.999999}, r"nothing to read.*Usable: geometry__eps <= 0.99 at this c"),
        ({"geometry__c": 1e30, "geometry__eps": 0.999999}, "nothing to read.*Usable: lower both"),
    ],
)
def test_ball_options_are_refused_by_name(options, match):
    with pytest.raises(ValueError, match=match):
        _poincare(**options).fit(X_BLOBS, Y_BLOBS)


def test_numpy_scalars_are_accepted_as_ball_options():
    # The case: "must be a finite number above 1e-05; got np.float32(0.5)".
    emb = _poincare(geometry__c=np.float32(0.5), geometry__clip_norm=np.float64(1), geometry__learn_curvature=np.True_)
    assert emb.fit(X_BLOBS, Y_BLOBS).curvature_ == pytest.approx(0.5, rel=0.1)


def test_a_curvature_that_saturates_the_features_warns_with_the_usable_range():
    with pytest.warns(UserWarning, match=r"geometry__c=100 .*Usable: c <= 9.65 at this clip_norm.*clip_norm <= 0.311"):
        _poincare(geometry__c=100.0).fit(X_BLOBS, Y_BLOBS)


def test_default_ball_is_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _poincare().fit(X_BLOBS, Y_BLOBS)
        _poincare(geometry__c=5.0, geometry__clip_norm=0.5).fit(X_BLOBS, Y_BLOBS)


# ------------------------------------------------------------------ paired statistics agree with themselves
def test_one_large_fold_does_not_tie_the_others():
    # The case: with a tolerance relative to the largest score both p-values were 1.0
    # while the bootstrap interval excluded 0.
    a, b = [1e9 + 1, 0.5, 0.6, 0.7, 0.8], [1e9, 0.4, 0.5, 0.6, 0.7]
    result = paired_comparison(a, b, random_state=0)
    assert result.ci_low > 0
    assert result.ttest_pvalue < 0.05
    assert result.wilcoxon_pvalue == pytest.approx(2 / 2**4)  # the large fold's 1 is within its resolution: 0


def test_a_difference_within_resolution_is_zero_for_every_statistic():
    result = paired_comparison([0.1 + 0.2, 0.5, 0.7], [0.3, 0.5, 0.7], random_state=0)
    assert (result.ttest_pvalue, result.wilcoxon_pvalue) == (1.0, 1.0)
    assert (result.mean_difference, result.ci_low, result.ci_high) == (0.0, 0.0, 0.0)


_SCORES = st.floats(-1e3, 1e3, allow_nan=False, width=64)


@settings(max_examples=300, deadline=None)
@given(
    pairs=st.lists(st.tuples(_SCORES, _SCORES), min_size=2, max_size=12),
    scale=st.sampled_from([1.0, 1e6, 1e12]),
    step=st.sampled_from([0.0, 0.1, 1e-10]),
)
def test_p_values_and_interval_agree_in_sign(pairs, scale, step):
    a = np.array([x for x, _ in pairs])
    b = np.array([y for _, y in pairs])
    a[0], b[0] = a[0] * scale, a[0] * scale + step * scale  # one fold of another scale
    before = (a.copy(), b.copy())
    result = paired_comparison(a, b, n_bootstrap=2000, random_state=0)
    for side in (1, -1):
        if side * (result.ci_low if side == 1 else result.ci_high) > 0:  # the interval lies on this side of 0
            assert side * result.mean_difference > 0
            assert result.ttest_pvalue < 1.0
            assert result.wilcoxon_pvalue < 1.0 or np.any(side * (a - b) < 0)
    if result.ttest_pvalue == 1.0 and result.wilcoxon_pvalue == 1.0:
        assert result.ci_low <= 0 <= result.ci_high
    np.testing.assert_array_equal(a, before[0])
    np.testing.assert_array_equal(b, before[1])


# ------------------------------------------------------------------ labels in the user's spelling
def test_spellings_that_nfc_merges_warn_naming_both():
    nfd = unicodedata.normalize("NFD", "é")
    y = Y_BLOBS.copy()
    y[0], y[1] = "a/i/1é", "a/i/1" + nfd
    y[y == "a/i/1"] = "a/i/1é"
    before = y.copy()
    emb = HierarchicalEmbedder(max_epochs=1, random_state=0, **FAST)
    with pytest.warns(UserWarning, match=r"spells one label two ways .*U\+00E9.*U\+0301.*returns the first spelling"):
        emb.fit(X_BLOBS, y)
    assert emb.classes_[0] == "a/i/1é"
    np.testing.assert_array_equal(y, before)


def test_one_spelling_per_label_is_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        HierarchicalEmbedder(max_epochs=1, random_state=0, **FAST).fit(X_BLOBS, Y_BLOBS)


def test_partial_fit_keeps_the_seed_stream_of_its_fit():
    # The case: set_params(random_state=...) after fit changed what the next partial_fit did.
    first = HierarchicalEmbedder(max_epochs=1, random_state=0, **FAST).fit(X_BLOBS, Y_BLOBS)
    second = copy.deepcopy(first).set_params(random_state=123)
    first.partial_fit(X_BLOBS, Y_BLOBS)
    second.partial_fit(X_BLOBS, Y_BLOBS)
    np.testing.assert_array_equal(first.transform(X_BLOBS), second.transform(X_BLOBS))


def test_successive_partial_fits_draw_new_batches_reproducibly():
    def run():
        emb = HierarchicalEmbedder(max_epochs=1, random_state=0, **FAST).fit(X_BLOBS, Y_BLOBS)
        losses = [emb.partial_fit(X_BLOBS, Y_BLOBS).history_[-1, "train_loss"] for _ in range(2)]
        return losses, emb.transform(X_BLOBS)

    (losses, Z), (again, Z_again) = run(), run()
    assert losses == again
    np.testing.assert_array_equal(Z, Z_again)


# ------------------------------------------------------------------ y as the docs describe it
def test_nan_ends_a_path_in_2d_y_as_the_user_guide_says():
    rows = np.array([path.split("/") for path in Y_BLOBS], dtype=object)
    rows[rows[:, 0] == "b", 2] = np.nan
    before = rows.copy()
    emb = HierarchicalEmbedder(max_epochs=1, random_state=0, **FAST).fit(X_BLOBS, rows)
    assert emb.taxonomy_.leaves[-2:] == ("b/k", "b/l")
    predicted = emb.predict(X_BLOBS)
    assert predicted.shape == rows.shape  # rows of classes_, in the user's form, NaN included
    assert 0.0 <= emb.score(X_BLOBS, rows) <= 1.0
    assert all(isinstance(row[2], float) and np.isnan(row[2]) for row in predicted if row[0] == "b")
    np.testing.assert_array_equal(rows.astype(str), before.astype(str))


def test_nan_in_1d_y_is_still_refused_by_name():
    y = np.where(np.arange(len(Y_BLOBS)) == 3, np.nan, 1.0)
    with pytest.raises(ValueError, match=r"Label nan is not a finite number \(sample 3\)"):
        HierarchicalEmbedder(max_epochs=1, **FAST).fit(X_BLOBS, y)


# ------------------------------------------------------------------ messages made clear
AMBIGUOUS = Taxonomy.from_paths(["Trumpet/open", "Horn/open", "Horn/stopped"])


def test_a_leaf_name_under_two_parents_is_ambiguous_in_encode():
    with pytest.raises(ValueError, match=r"Label 'open' \(sample 1\) is ambiguous: give the full path.*'Horn/open'"):
        AMBIGUOUS.encode(["stopped", "open"])
    assert AMBIGUOUS.encode(["stopped"]).tolist() == [1]  # a unique name still works


def test_a_leaf_name_under_two_parents_is_ambiguous_in_fit():
    y = np.array(["open", "stopped", "Trumpet/open"] * 8, dtype=object)
    X = np.random.default_rng(0).normal(size=(len(y), 4)).astype(np.float32)
    with pytest.raises(ValueError, match="'open' .* is ambiguous: give the full path"):
        HierarchicalEmbedder(taxonomy=AMBIGUOUS, max_epochs=1, **FAST).fit(X, y)


def test_audio_loader_memory_that_is_a_file_is_named(tmp_path):
    clip = tmp_path / "clip.wav"
    sf.write(clip, np.zeros(800), 8000)
    for call in ("fit", "transform"):
        with pytest.raises(ValueError, match=r"memory=.*clip.wav' is a file, not a folder"):
            getattr(AudioLoader(sr=8000, duration=0.05, memory=clip), call)([str(clip)])


def test_make_hierarchical_sounds_with_an_empty_taxonomy_is_named():
    with pytest.raises(ValueError, match=r"branching is an empty Taxonomy \(no leaves\)"):
        make_hierarchical_sounds(branching=Taxonomy.from_paths([]))


def test_hierarchical_precision_recall_fscore_on_empty_input_is_nan_like_its_siblings():
    assert np.isnan(mistake_severity([], []))
    assert all(np.isnan(v) for v in hierarchical_precision_recall_fscore([], []))


@pytest.mark.parametrize("root", [["", ""], [None, None], [np.nan, np.nan]])
def test_a_root_prediction_in_2d_form_is_the_root(root):
    y_true, y_pred = [["a", "x"], ["b", "z"]], [["a", "y"], root]
    before = copy.deepcopy(y_pred)
    expected = hierarchical_precision_recall_fscore(["a/x", "b/z"], ["a/y", ""])
    assert hierarchical_precision_recall_fscore(y_true, y_pred) == expected
    assert expected[0] == pytest.approx(0.5)  # the root's empty set: precision over a/y alone
    assert y_pred == before  # the same objects (NaN included) in the same places


def test_a_gap_in_a_2d_prediction_is_still_refused():
    with pytest.raises(ValueError, match="has a gap"):
        hierarchical_precision_recall_fscore([["a", "x"]], [["", "x"]])


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--baseline", "XYZ"], "baseline 'XYZ' is not one of the configurations"),
        (["--n-workers", "100000"], "n_workers=100000 exceeds the"),
    ],
)
def test_cli_blames_the_option_at_fault(tmp_path, capsys, extra, fragment):
    assert main(["compare", "--dataset", "synthetic", "--out", str(tmp_path / "out"), *extra]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "losses=" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_hiclass_difference_is_documented():
    doc = hierarchical_precision_recall_fscore.__doc__
    assert "as hiclass defines them" not in doc
    assert "hiclass's" in doc and "compare the *names*" in doc and "Kiritchenko" in doc


def test_hierarchical_scores_compare_nodes_not_names():
    # "open" under Trumpet is not "open" under Horn: no node in common, where names would share "open".
    assert hierarchical_precision_recall_fscore(["Trumpet/open"], ["Horn/open"]) == (0.0, 0.0, 0.0)
    by_name = len({"Trumpet", "open"} & {"Horn", "open"}) / 2
    assert by_name == 0.5
