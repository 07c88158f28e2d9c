"""Catalogue of bad and edge inputs across the public API: each gives a clear error or a documented result.

Every case names the exception type and a fragment of its message (or the
documented value), so that a silent wrong answer or an obscure error fails
here. The last tests check that no entry point writes into the caller's data.
"""

import copy
import gc
import math
import os
import unicodedata
import warnings
import weakref

import numpy as np
import pytest
import soundfile as sf
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.pipeline import make_pipeline

from sklearn_hier import HierarchicalEmbedder, Taxonomy, UnseenLeafKFold, hierarchy_scorers
from sklearn_hier.audio import AudioLoader, MelTransformer
from sklearn_hier.cli import main
from sklearn_hier.datasets import load_audio_folder, make_hierarchical_sounds
from sklearn_hier.metrics import (
    average_hierarchical_distance_at_k,
    hierarchical_ndcg_score,
    hierarchical_precision_recall_fscore,
    hierarchical_retrieval_scores,
    level_f1_score,
    lsa_accuracy,
    mean_normalized_rank,
    mistake_severity,
    precision_at_k,
    predict_at_lsa_level,
)
from sklearn_hier.taxonomy import label_paths

NFD_E = unicodedata.normalize("NFD", "é")
EMB = np.random.default_rng(0).normal(size=(6, 3))
Y6 = np.array(["a/x", "a/x", "a/y", "a/y", "b/z", "b/z"], dtype=object)
TAX = Taxonomy.from_paths(["a/x", "a/y", "b/z"])

# ------------------------------------------------------------------ labels
# (label set, exception, message fragment): the one contract, in label_paths.
LABELS = [
    ("None", ["a", None], ValueError, r"Label None \(sample 1\) is missing"),
    ("None first", [None, "a"], ValueError, r"Label None \(sample 0\)"),
    ("NaN float", [1.0, math.nan], ValueError, "not a finite number"),
    ("NaN numpy", np.array([1.0, np.nan]), ValueError, "not a finite number"),
    ("inf", [1.0, math.inf], ValueError, "not a finite number"),
    ("-inf", [-math.inf, 2.0], ValueError, "not a finite number"),
    ("bytes", [b"a/x", b"b"], TypeError, "is bytes; decode"),
    ("bytes mixed", ["a", b"b"], TypeError, "is bytes"),
    ("empty str", ["a", ""], ValueError, r"Label '' is empty \(sample 1\)"),
    ("whitespace", ["a", "   "], ValueError, "only of whitespace"),
    ("tab", ["a", "\t"], ValueError, "only of whitespace"),
    ("trailing space", ["a ", "b"], ValueError, "leading or trailing whitespace"),
    ("leading space", [" a", "b"], ValueError, "leading or trailing whitespace"),
    ("inner name spaced", ["a/ x", "b"], ValueError, "name ' x' with leading or trailing"),
    ("newline", ["a\n", "b"], ValueError, "leading or trailing whitespace"),
    ("doubled sep", ["a//x"], ValueError, "has an empty name"),
    ("trailing sep", ["a/x/"], ValueError, "has an empty name"),
    ("leading sep", ["/a"], ValueError, "has an empty name"),
    ("only sep", ["/"], ValueError, "has an empty name"),
    ("ancestor", ["A", "A/x"], ValueError, "'A' is an internal node, an ancestor of label 'A/x'"),
    ("deep ancestor", ["A/x/1", "A"], ValueError, "'A' is an internal node"),
    ("mid ancestor", ["A/x/1", "A/x", "B"], ValueError, "'A/x' is an internal node"),
    ("int and str", [1, "1"], TypeError, "mixes int 1 and str '1'"),
    ("str and int", ["a", 2], TypeError, "mixes str"),
    ("int and float", [1, 1.5], TypeError, "mixes int 1 and float 1.5"),
    ("numpy int and str", [np.int64(1), "1"], TypeError, "mixes"),
    ("bool", [True, False], TypeError, "is a bool"),
    ("numpy bool", np.array([True, False]), TypeError, "is a bool"),
    ("bool with ints", [1, True], TypeError, "is a bool"),
    ("complex", [1j, 2j], TypeError, "is a complex"),
    ("dict", [{"a": 1}], TypeError, "is a dict"),
    ("nested list", np.array([["a"], ["b", "c"]], dtype=object), TypeError, "is a list"),
    ("object", [object()], TypeError, "is a object"),
    ("single str", "A/x", TypeError, "not a single str"),
    ("single bytes", b"A/x", TypeError, "not a single bytes"),
    ("3-D", np.zeros((2, 2, 2)), ValueError, "1-D .* or 2-D"),
    ("2-D gap", [["a", "", "x"]], ValueError, "Row 0 of y has a gap"),
    ("2-D None gap", [["a", None, "x"]], ValueError, "has a gap"),
    ("2-D empty row", [["", ""], ["a", "b"]], ValueError, "Row 0 of y is empty"),
    ("2-D sep in name", [["a/b", "c"]], ValueError, "contains the separator"),
    ("2-D bytes", [[b"a", b"b"]], TypeError, "is bytes"),
    ("2-D spaced", [["a ", "b"]], ValueError, "leading or trailing whitespace"),
    ("2-D ancestor", [["a", ""], ["a", "x"]], ValueError, "'a' is an internal node"),
]


@pytest.mark.parametrize(("y", "error", "match"), [c[1:] for c in LABELS], ids=[c[0] for c in LABELS])
def test_label_contract(y, error, match):
    with pytest.raises(error, match=match):
        label_paths(y)


# Documented results: what the contract turns valid labels into.
GOOD_LABELS = [
    ("ints", [3, 7], ["3", "7"]),
    ("numpy ints", np.array([3, 7], dtype=np.int16), ["3", "7"]),
    ("integral floats", [1.0, 2.0], ["1", "2"]),
    ("floats", [0.5, 2.0], ["0.5", "2"]),
    ("negative int", [-1, 2], ["-1", "2"]),
    ("numpy str", np.array(["a/x", "b"]), ["a/x", "b"]),
    ("NFD to NFC", [f"caf{NFD_E}"], ["café"]),
    ("inner spaces kept", ["French horn/open"], ["French horn/open"]),
    ("2-D ragged", [["a", "x"], ["b", None]], ["a/x", "b"]),
    ("2-D NaN ends", np.array([["a", "x"], ["b", np.nan]], dtype=object), ["a/x", "b"]),
    ("2-D ints", [[1, 2], [1, 3]], ["1/2", "1/3"]),
    ("tuple", ("a", "b"), ["a", "b"]),
    ("repeated", ["a/x", "a/x"], ["a/x", "a/x"]),
    ("empty", [], []),
]


@pytest.mark.parametrize(("y", "expected"), [c[1:] for c in GOOD_LABELS], ids=[c[0] for c in GOOD_LABELS])
def test_label_contract_documented_results(y, expected):
    np.testing.assert_array_equal(label_paths(y), np.array(expected, dtype=object))


def test_nfc_and_nfd_spellings_are_one_leaf():
    tax = Taxonomy.from_paths([f"caf{NFD_E}/x", "café/x"])
    assert tax.leaves == ("café/x",)


def test_float_and_int_labels_agree():
    assert Taxonomy.from_y([1.0, 2.0]).encode([1, 2]).tolist() == [0, 1]


# ----------------------------------------------------- every entry point
ENTRY_POINTS = [
    ("Taxonomy.from_paths", lambda y: Taxonomy.from_paths(y)),
    ("Taxonomy.from_y", lambda y: Taxonomy.from_y(y)),
    ("Taxonomy()", lambda y: Taxonomy(y)),
    ("encode", lambda y: TAX.encode(y)),
    ("level_f1_score", lambda y: level_f1_score(y, y)),
    ("mistake_severity", lambda y: mistake_severity(y, y)),
    ("hPRF", lambda y: hierarchical_precision_recall_fscore(y, y)),
    ("lsa_accuracy", lambda y: lsa_accuracy(y, [None] * len(y), TAX)),
    ("mean_normalized_rank", lambda y: mean_normalized_rank(EMB[: len(y)], y)),
    ("ndcg", lambda y: hierarchical_ndcg_score(EMB[: len(y)], y)),
    ("precision_at_k", lambda y: precision_at_k(EMB[: len(y)], y)),
    ("UnseenLeafKFold", lambda y: next(UnseenLeafKFold(2, min_samples_leaf=1).split(np.zeros(len(y)), y))),
]
BAD_FOR_ALL = [
    ("None", ["a/x", None], ValueError, "missing"),
    ("bytes", [b"a/x", b"b/y"], TypeError, "bytes"),
    ("spaced", ["a/x ", "b/y"], ValueError, "whitespace"),
    ("mixed", [1, "1"], TypeError, "mixes"),
    ("str", "a/x", TypeError, "single str|must be an array-like"),
]


@pytest.mark.parametrize("bad", BAD_FOR_ALL, ids=[b[0] for b in BAD_FOR_ALL])
@pytest.mark.parametrize("call", [e[1] for e in ENTRY_POINTS], ids=[e[0] for e in ENTRY_POINTS])
def test_every_entry_point_applies_the_label_contract(call, bad):
    _, y, error, match = bad
    with pytest.raises(error, match=match):
        call(y)


# ---------------------------------------------------------------- Taxonomy
TAXONOMY_CASES = [
    ("edge two parents", lambda: Taxonomy.from_edges([("a", "x"), ("b", "x")]), ValueError, "two different parents"),
    ("dict sep", lambda: Taxonomy.from_dict({"a": {"x/y": None}}), ValueError, "contains the separator"),
    ("dict empty name", lambda: Taxonomy.from_dict({"": None}), ValueError, "non-empty"),
    ("dict spaced", lambda: Taxonomy.from_dict({"a ": None}), ValueError, "whitespace"),
    ("dict bad value", lambda: Taxonomy.from_dict({"a": 3}), ValueError, "expected a dict, a list or None"),
    ("levels 1-D", lambda: Taxonomy.from_levels(["a"]), ValueError, "2-D"),
    ("empty sep", lambda: Taxonomy(["a"], sep=""), ValueError, "sep must be"),
    ("unknown leaf", lambda: TAX.encode(["a/zz"]), ValueError, "Unknown label 'a/zz'"),
    ("internal node", lambda: TAX.encode(["a/x", "a"]), ValueError, "internal node"),
    ("unknown node", lambda: TAX.path("c"), ValueError, "Unknown node 'c'"),
    ("ancestor_at level", lambda: TAX.ancestor_at(["a/x"], 5), ValueError, r"level must be in \[1, 2\]"),
    ("root parent", lambda: TAX.parent(""), ValueError, "root has no parent"),
    ("immutable", lambda: setattr(TAX, "sep", "|"), AttributeError, "immutable"),
    ("restrict unknown", lambda: TAX.restrict(["q"]), ValueError, "Unknown label 'q'"),
    ("from_paths generator of None", lambda: Taxonomy.from_paths(p for p in ["a", None]), ValueError, "missing"),
]


@pytest.mark.parametrize(
    ("build", "error", "match"), [c[1:] for c in TAXONOMY_CASES], ids=[c[0] for c in TAXONOMY_CASES]
)
def test_taxonomy_bad_input(build, error, match):
    with pytest.raises(error, match=match):
        build()


# ----------------------------------------------------------------- metrics
METRIC_CASES = [
    ("mnr 1 sample", lambda: mean_normalized_rank(EMB[:1], ["a"]), ValueError, "at least 2 samples"),
    ("mnr length", lambda: mean_normalized_rank(EMB, Y6[:-1]), ValueError, "inconsistent numbers of samples"),
    ("mnr NaN", lambda: mean_normalized_rank(np.where(EMB > 1, np.nan, EMB), Y6), ValueError, "NaN"),
    ("mnr 1-D", lambda: mean_normalized_rank(EMB[:, 0], Y6), ValueError, "must be 2-D"),
    ("mnr tensor 3-D", lambda: mean_normalized_rank(torch.zeros(6, 1, 3), Y6), ValueError, "must be 2-D"),
    ("mnr tensor inf", lambda: mean_normalized_rank(torch.full((6, 3), math.inf), Y6), ValueError, "infinity"),
    ("mnr bad level", lambda: mean_normalized_rank(EMB, Y6, levels=3), ValueError, "depths from 1 to 2"),
    ("mnr metric", lambda: mean_normalized_rank(EMB, Y6, metric="l1"), ValueError, "metric"),
    ("ndcg k=0", lambda: hierarchical_ndcg_score(EMB, Y6, k=0), ValueError, "'k' parameter"),
    ("ndcg relevance", lambda: hierarchical_ndcg_score(EMB, Y6, relevance="x"), ValueError, "relevance"),
    ("ndcg average", lambda: hierarchical_ndcg_score(EMB, Y6, average="x"), ValueError, "average"),
    ("dot overflow", lambda: mean_normalized_rank(EMB * 1e30, Y6, metric="dot"), ValueError, "too large"),
    ("f64 beyond f32", lambda: mean_normalized_rank(EMB * 1e200, Y6, metric="dot"), ValueError, "float32 range"),
    ("precision level", lambda: precision_at_k(EMB, Y6, level=7), ValueError, "level must be -1"),
    ("f1 length", lambda: level_f1_score(["a/x"], ["a/x", "b/z"]), ValueError, "inconsistent"),
    ("f1 empty pred", lambda: level_f1_score(["a/x"], [""]), ValueError, "Label '' is empty"),
    ("f1 level", lambda: level_f1_score(["a/x"], ["a/x"], level=-2), ValueError, "'level' parameter"),
    ("lsa 2-D pred", lambda: lsa_accuracy(["a/q"], [["a"]], TAX), ValueError, "y_pred must be 1-D"),
    ("lsa length", lambda: lsa_accuracy(["a/q", "b/q"], ["a"], TAX), ValueError, "inconsistent"),
    ("hPRF beta", lambda: hierarchical_precision_recall_fscore(["a/x"], ["a/x"], beta=0), ValueError, "'beta'"),
    ("AHD labels", lambda: average_hierarchical_distance_at_k(["a/x"], [[1.0]], labels=[None]), ValueError, "missing"),
    ("AHD k", lambda: average_hierarchical_distance_at_k(["a/x"], [[1.0]], labels=["a/x"], k=0), ValueError, "'k'"),
]


@pytest.mark.parametrize(("call", "error", "match"), [c[1:] for c in METRIC_CASES], ids=[c[0] for c in METRIC_CASES])
def test_metric_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("scale", [1e-300, 1e-30, 1e-8, 1.0, 1e8, 1e30, 1e200])
@pytest.mark.parametrize("score", [mean_normalized_rank, hierarchical_ndcg_score, precision_at_k])
def test_cosine_metrics_are_scale_invariant(score, scale):
    reference = score(EMB, Y6)
    assert score(EMB * scale, Y6) == pytest.approx(reference, abs=1e-12)
    assert score(EMB * scale, Y6) <= 1.0


def test_cosine_scale_invariance_of_float32_tensors():
    tensor = torch.as_tensor(EMB, dtype=torch.float32)
    reference = hierarchical_ndcg_score(tensor, Y6)
    assert hierarchical_ndcg_score(tensor * 1e-30, Y6) == pytest.approx(reference, abs=1e-12)
    assert hierarchical_ndcg_score(tensor * 1e30, Y6) == pytest.approx(reference, abs=1e-12)


def test_zero_rows_keep_working_with_cosine():
    emb = EMB.copy()
    emb[0] = 0.0
    assert 0.0 <= hierarchical_retrieval_scores(emb, Y6)["ndcg"] <= 1.0


# ----------------------------------------------------------------- scorers
class Identity(BaseEstimator):
    """A stand-in fitted embedder: embeddings are X; predictions are the first seen node of a level."""

    def fit(self, X, y):
        self.taxonomy_ = Taxonomy.from_y(y)
        return self

    def transform(self, X):
        return np.asarray(X, dtype=np.float64)

    def predict_level(self, X, level, source="auto"):
        return np.full(len(X), self.taxonomy_.levels[level][0], dtype=object)


@pytest.fixture
def fitted():
    return Identity().fit(EMB, Y6)


SCORER_CASES = [
    ("y shorter", lambda est: hierarchy_scorers()["ndcg"](est, EMB, Y6[:-1]), ValueError, r"\[6, 5\]"),
    ("y longer", lambda est: hierarchy_scorers()["ndcg"](est, EMB, np.append(Y6, "a/x")), ValueError, r"\[6, 7\]"),
    ("y None", lambda est: hierarchy_scorers()["ndcg"](est, EMB, [None] * 6), ValueError, "missing"),
    ("weights", lambda est: hierarchy_scorers()["ndcg"](est, EMB, Y6, np.ones(6)), ValueError, "sample_weight"),
    ("unfitted", lambda est: hierarchy_scorers()["ndcg"](Identity(), EMB, Y6), Exception, "not fitted"),
    ("not an embedder", lambda est: hierarchy_scorers()["ndcg"](make_pipeline(), EMB, Y6), Exception, ""),
    ("k=0", lambda est: hierarchy_scorers(k=0), ValueError, "'k' parameter"),
    ("metric", lambda est: hierarchy_scorers(metric="l2"), ValueError, "'metric' parameter"),
    ("levels=[]", lambda est: hierarchy_scorers(levels=[]), ValueError, "levels must be depths"),
    ("levels=[0]", lambda est: hierarchy_scorers(levels=[0]), ValueError, "levels must be depths"),
    ("lsa unfitted", lambda est: predict_at_lsa_level(Identity(), EMB, Y6), Exception, "not fitted"),
]


@pytest.mark.parametrize(("call", "error", "match"), [c[1:] for c in SCORER_CASES], ids=[c[0] for c in SCORER_CASES])
def test_scorer_bad_input(fitted, call, error, match):
    with pytest.raises(error, match=match):
        call(fitted)


def test_scorer_warns_and_returns_nan_when_no_leaf_has_two_clips(fitted):
    y = np.array(["a/x", "a/y", "b/z"], dtype=object)
    with pytest.warns(UndefinedMetricWarning, match="no query has a relevant clip"):
        assert math.isnan(hierarchy_scorers()["precision_at_5"](fitted, EMB[:3], y))


def test_scorer_warns_when_k_exceeds_every_leaf(fitted):
    with pytest.warns(UndefinedMetricWarning, match="fewer than k=5 relevant clips"):
        value = hierarchy_scorers(k=5)["precision_at_5"](fitted, EMB, Y6)
    assert value == pytest.approx(precision_at_k(EMB, Y6, k=5))


def test_scorer_with_enough_clips_is_quiet(fitted):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert 0.0 <= hierarchy_scorers(k=1)["precision_at_1"](fitted, EMB, Y6) <= 1.0


def test_scorer_cache_does_not_keep_the_model_and_data_alive():
    scorers = hierarchy_scorers()
    est, X = Identity().fit(EMB, Y6), EMB.copy()
    scorers["ndcg"](est, X, Y6)
    scorers["neg_mean_normalized_rank"](est, X, Y6)  # served from the cache
    refs = weakref.ref(est), weakref.ref(X)
    del est, X
    gc.collect()
    assert refs[0]() is None and refs[1]() is None
    assert scorers["ndcg"].cache._current is None


def test_scorer_cache_releases_a_pipeline_and_its_steps():
    scorers = hierarchy_scorers()
    pipe = make_pipeline(Identity()).fit(EMB, Y6)
    scorers["ndcg"](pipe, EMB, Y6)
    refs = weakref.ref(pipe), weakref.ref(pipe[-1])
    del pipe
    gc.collect()
    assert refs[0]() is None and refs[1]() is None


def test_scorer_cache_recomputes_for_a_new_model(fitted):
    scorers = hierarchy_scorers()
    first = scorers["ndcg"](fitted, EMB, Y6)
    other = Identity().fit(EMB, Y6)
    assert scorers["ndcg"](other, -EMB, Y6) == pytest.approx(hierarchical_ndcg_score(-EMB, Y6))
    assert first == pytest.approx(hierarchical_ndcg_score(EMB, Y6))


# ---------------------------------------------------------- UnseenLeafKFold
def _split(cv, y, X=None):
    return list(cv.split(np.zeros(len(y)) if X is None else X, y))


Y_CV = np.repeat([f"f{i // 3}/l{i}" for i in range(9)], 4).astype(object)
SPLITTER_CASES = [
    ("no y", lambda: _split(UnseenLeafKFold(2), None, X=np.zeros(36)), ValueError, "needs y"),
    ("n_splits=1", lambda: _split(UnseenLeafKFold(1), Y_CV), ValueError, "n_splits"),
    ("n_splits str", lambda: _split(UnseenLeafKFold("2"), Y_CV), ValueError, "n_splits"),
    ("min_samples_leaf=0", lambda: _split(UnseenLeafKFold(2, min_samples_leaf=0), Y_CV), ValueError, "min_samples"),
    ("test_size=1", lambda: _split(UnseenLeafKFold(2, test_size=1.0), Y_CV), ValueError, "test_size"),
    ("seed no shuffle", lambda: _split(UnseenLeafKFold(2, shuffle=False, random_state=7), Y_CV), ValueError, "shuffle"),
    ("too many folds", lambda: _split(UnseenLeafKFold(50, min_samples_leaf=1), Y_CV), ValueError, "50"),
    ("None label", lambda: _split(UnseenLeafKFold(2), np.append(Y_CV[:-1], None)), ValueError, "missing"),
    ("ancestor label", lambda: _split(UnseenLeafKFold(2), np.append(Y_CV[:-1], "f0")), ValueError, "internal node"),
    ("length", lambda: _split(UnseenLeafKFold(2), Y_CV, X=np.zeros(3)), ValueError, "inconsistent"),
]


@pytest.mark.parametrize(
    ("call", "error", "match"), [c[1:] for c in SPLITTER_CASES], ids=[c[0] for c in SPLITTER_CASES]
)
def test_splitter_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------------- AudioLoader
@pytest.fixture(scope="module")
def audio_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audio")
    good = folder / "good.wav"
    sf.write(good, np.full(800, 0.25), 8000, subtype="PCM_16")
    (folder / "empty.wav").write_bytes(b"")
    (folder / "text.wav").write_text("not audio")
    data = (folder / "good.wav").read_bytes()
    (folder / "cut.wav").write_bytes(data[: len(data) // 2])
    return folder


LOADER_CASES = [
    ("single path", lambda f: AudioLoader().transform(str(f / "good.wav")), TypeError, "not a single path"),
    ("2-D", lambda f: AudioLoader().transform([[str(f / "good.wav")]]), ValueError, "1-D"),
    ("empty list", lambda f: AudioLoader().transform([]), ValueError, "no file paths"),
    ("number", lambda f: AudioLoader().transform([3]), TypeError, r"X\[0\] is 3"),
    ("None", lambda f: AudioLoader().transform([None]), TypeError, r"X\[0\] is None"),
    ("missing", lambda f: AudioLoader().transform([str(f / "nope.wav")]), ValueError, r"does not exist.*|X\[0\]"),
    ("empty file", lambda f: AudioLoader().transform([str(f / "empty.wav")]), ValueError, "is empty"),
    ("not audio", lambda f: AudioLoader().transform([str(f / "text.wav")]), ValueError, "cannot be read as audio"),
    ("offset too far", lambda f: AudioLoader(offset=5).transform([str(f / "good.wav")]), ValueError, "offset=5"),
    ("folder", lambda f: AudioLoader().transform([str(f)]), ValueError, "not a file"),
    ("sr=0", lambda f: AudioLoader(sr=0).transform([str(f / "good.wav")]), ValueError, "'sr' parameter"),
    ("duration<0", lambda f: AudioLoader(duration=-1).transform([str(f / "good.wav")]), ValueError, "'duration'"),
    (
        "zero samples",
        lambda f: AudioLoader(sr=1, duration=0.1).transform([str(f / "good.wav")]),
        ValueError,
        "0 samples",
    ),
    (
        "truncated raise",
        lambda f: AudioLoader(on_truncated="raise").transform([str(f / "cut.wav")]),
        ValueError,
        r"cut.wav' \(X\[0\]\) is truncated",
    ),
    ("on_truncated", lambda f: AudioLoader(on_truncated="x").transform([str(f / "good.wav")]), ValueError, "on_trunc"),
]


@pytest.mark.parametrize(("call", "error", "match"), [c[1:] for c in LOADER_CASES], ids=[c[0] for c in LOADER_CASES])
def test_audio_loader_bad_input(audio_files, call, error, match):
    with pytest.raises(error, match=match):
        call(audio_files)


def test_truncated_file_warns_naming_it_and_is_zero_padded(audio_files):
    with pytest.warns(UserWarning, match=r"cut.wav' \(X\[0\]\) is truncated: its header declares"):
        clip = AudioLoader(sr=8000, duration=0.1, verbose=0).transform([str(audio_files / "cut.wav")])
    assert clip.shape == (1, 800) and clip[0, -1] == 0.0


def test_complete_file_does_not_warn(audio_files):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AudioLoader(sr=8000, duration=0.1, verbose=0).transform([str(audio_files / "good.wav")])


@pytest.mark.parametrize("step", ["loader", "mel"])
def test_progress_bar_has_no_escape_codes_off_a_terminal(audio_files, capsys, step):
    if step == "loader":
        AudioLoader(sr=8000, duration=0.1, verbose=2).transform([str(audio_files / "good.wav")] * 3)
        label = "Reading audio"
    else:
        MelTransformer(n_fft=256, n_mels=16, device="cpu", verbose=2).fit_transform(np.zeros((3, 800)))
        label = "Mel spectrograms"
    err = capsys.readouterr().err
    assert label in err and "100%" in err
    assert "\x1b" not in err


@pytest.mark.parametrize("step", ["loader", "mel"])
def test_verbose_0_is_silent(audio_files, capsys, step):
    if step == "loader":
        AudioLoader(sr=8000, duration=0.1, verbose=0).transform([str(audio_files / "good.wav")] * 3)
    else:
        MelTransformer(n_fft=256, n_mels=16, device="cpu", verbose=0).fit_transform(np.zeros((3, 800)))
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------- MelTransformer
def _mel(**params):
    return MelTransformer(n_fft=256, hop_length=128, n_mels=16, device="cpu", verbose=0, **params)


MEL_CASES = [
    ("paths", lambda: _mel().fit(np.array([["a.wav"]])), TypeError, "read the files first with AudioLoader"),
    ("path list", lambda: _mel().fit([["a.wav", "b.wav"]]), TypeError, "AudioLoader"),
    ("PathLike", lambda: _mel().fit(np.array([[os.path.join("x")]], dtype=object)), TypeError, "AudioLoader"),
    ("uint8", lambda: _mel().fit(np.zeros((1, 512), dtype=np.uint8)), TypeError, "no unambiguous scale"),
    ("bool", lambda: _mel().fit(np.zeros((1, 512), dtype=bool)), TypeError, "no unambiguous scale"),
    ("NaN", lambda: _mel().fit(np.full((2, 512), np.nan)), ValueError, r"rows \[0, 1\]"),
    ("inf row", lambda: _mel().fit(np.r_[np.zeros((1, 512)), np.full((1, 512), np.inf)]), ValueError, r"rows \[1\]"),
    ("1-D", lambda: _mel().fit(np.zeros(512)), ValueError, "Expected 2D array"),
    ("3-D", lambda: _mel().fit(np.zeros((1, 2, 512))), ValueError, "dim 3"),
    ("empty", lambda: _mel().fit(np.zeros((0, 512))), ValueError, "0 sample"),
    ("complex", lambda: _mel().fit(np.zeros((1, 512), dtype=complex)), ValueError, "Complex"),
    ("n_mels too big", lambda: MelTransformer(n_fft=64, n_mels=128).fit(np.zeros((1, 512))), ValueError, "n_mels=128"),
    ("length", lambda: _mel().fit(np.zeros((1, 512))).transform(np.zeros((1, 500))), ValueError, "512"),
    ("power", lambda: _mel(power=3.0).fit(np.zeros((1, 512))), ValueError, "'power'"),
    ("backend", lambda: _mel(backend="x").fit(np.zeros((1, 512))), ValueError, "'backend'"),
    ("verbose", lambda: MelTransformer(verbose="loud").fit(np.zeros((1, 4096))), ValueError, "'verbose'"),
]


@pytest.mark.parametrize(("call", "error", "match"), [c[1:] for c in MEL_CASES], ids=[c[0] for c in MEL_CASES])
def test_mel_transformer_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("backend", ["torch", "librosa"])
def test_float32_overflow_in_the_mel_names_the_rows(backend):
    X = np.zeros((3, 512), dtype=np.float32)
    X[2] = 1e20
    mel = _mel(backend=backend).fit(X)
    with pytest.raises(ValueError, match=r"rows \[2\] of X overflow float32 \(waveform peak 1e\+20\)"):
        mel.transform(X)


def test_int16_pcm_gives_the_mels_of_its_floats():
    floats = np.random.default_rng(1).uniform(-0.5, 0.5, (2, 512)).astype(np.float32)
    pcm = np.round(floats * 32768).astype(np.int16)
    np.testing.assert_allclose(_mel().fit_transform(pcm), _mel().fit_transform(pcm / 32768.0), atol=1e-3)


# -------------------------------------------------------- HierarchicalEmbedder
X_FIT = np.random.default_rng(2).normal(size=(16, 4)).astype(np.float32)
Y_FIT = np.array(["p/a", "p/b", "q/c", "q/d"] * 4, dtype=object)


def _with(y, row, value):
    y = np.array(y, dtype=object)
    y[row] = value
    return y


EMBEDDER_CASES = [
    ("None label", _with(Y_FIT, 3, None), ValueError, r"Label None \(sample 3\)"),
    ("NaN label", np.r_[np.arange(15.0), np.nan], ValueError, r"Label nan is not a finite number \(sample 15\)"),
    ("bytes", np.array([p.encode() for p in Y_FIT], dtype=object), TypeError, "bytes"),
    ("empty name", _with(Y_FIT, 0, ""), ValueError, "is empty"),
    ("trailing space", _with(Y_FIT, 0, "p/a "), ValueError, "whitespace"),
    ("doubled sep", _with(Y_FIT, 0, "p//a"), ValueError, "empty name"),
    ("mixed types", _with(np.arange(16), 0, "0"), TypeError, "mixes"),
    ("ancestor", _with(Y_FIT, 0, "p"), ValueError, "'p' is an internal node"),
    ("bool labels", np.array([True, False] * 8, dtype=object), TypeError, "bool"),
    ("length", Y_FIT[:-1], ValueError, "inconsistent numbers of samples"),
]


@pytest.mark.parametrize(("y", "error", "match"), [c[1:] for c in EMBEDDER_CASES], ids=[c[0] for c in EMBEDDER_CASES])
def test_embedder_fit_applies_the_label_contract(y, error, match):
    emb = HierarchicalEmbedder(max_epochs=1, verbose=0, device="cpu")
    with pytest.raises(error, match=match):
        emb.fit(X_FIT, y)
    assert "module_" not in vars(emb)


def test_embedder_score_applies_the_label_contract():
    emb = HierarchicalEmbedder(embedding_dim=2, max_epochs=1, verbose=0, device="cpu", random_state=0)
    emb.fit(X_FIT, Y_FIT)
    with pytest.raises(ValueError, match="missing"):
        emb.score(X_FIT, _with(Y_FIT, 0, None))


# ---------------------------------------------------------------- datasets
def test_audio_folder_with_files_above_a_subfolder_is_refused(tmp_path):
    for folder in ("A", "A/x", "B"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        sf.write(tmp_path / folder / "c.wav", np.zeros(80), 8000)
    with pytest.raises(ValueError, match=r"A.c.wav' sits in folder 'A', which also has labelled sub-folders \('A/x'\)"):
        load_audio_folder(tmp_path)


def test_audio_folder_labels_are_nfc(tmp_path):
    (tmp_path / f"caf{NFD_E}").mkdir()
    sf.write(tmp_path / f"caf{NFD_E}" / "c.wav", np.zeros(80), 8000)
    assert load_audio_folder(tmp_path).target.tolist() == ["café"]


DATASET_CASES = [
    ("no folder", lambda p: load_audio_folder(p / "nope"), FileNotFoundError, "not an existing folder"),
    ("no audio", lambda p: load_audio_folder(p), FileNotFoundError, "No audio file"),
    ("ext no dot", lambda p: load_audio_folder(p, extensions=["wav"]), ValueError, "starting with a dot"),
    ("ext empty", lambda p: load_audio_folder(p, extensions=[]), ValueError, "extensions is empty"),
    ("synthetic sr", lambda p: make_hierarchical_sounds(sr=10, duration=0.1), ValueError, "'sr' parameter"),
    ("synthetic branching", lambda p: make_hierarchical_sounds(branching=()), ValueError, "branching"),
]


@pytest.mark.parametrize(("call", "error", "match"), [c[1:] for c in DATASET_CASES], ids=[c[0] for c in DATASET_CASES])
def test_dataset_bad_input(tmp_path, call, error, match):
    with pytest.raises(error, match=match):
        call(tmp_path)


# ---------------------------------------------------------------------- CLI
CLI_CASES = [
    (["compare", "--dataset", "synthetic", "--losses", "PL+Q"], "'Q'"),
    (["compare", "--dataset", "synthetic", "--folds", "1"], "n_splits must be at least 2"),
    (["compare", "--dataset", "orchideasol"], "data"),
]


@pytest.mark.parametrize(("argv", "fragment"), CLI_CASES, ids=[" ".join(c[0][1:]) for c in CLI_CASES])
def test_cli_bad_arguments_exit_2_with_one_line(tmp_path, capsys, argv, fragment):
    assert main([*argv, "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1


def test_cli_unknown_option_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--no-such-option"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


# --------------------------------------------------- caller's data unchanged
UNCHANGED = [
    ("label_paths", lambda y, e: label_paths(y)),
    ("from_y", lambda y, e: Taxonomy.from_y(y)),
    ("encode", lambda y, e: Taxonomy.from_y(y).encode(y)),
    ("mnr", lambda y, e: mean_normalized_rank(e, y)),
    ("ndcg", lambda y, e: hierarchical_ndcg_score(e, y)),
    ("precision", lambda y, e: precision_at_k(e, y)),
    ("retrieval", lambda y, e: hierarchical_retrieval_scores(e, y)),
    ("f1", lambda y, e: level_f1_score(y, y[::-1].copy())),
    ("severity", lambda y, e: mistake_severity(y, y[::-1].copy())),
    ("splitter", lambda y, e: list(UnseenLeafKFold(2, min_samples_leaf=1).split(e, y))),
    ("scorers", lambda y, e: [s(Identity().fit(e, y), e, y) for s in hierarchy_scorers(k=1).values()]),
]


@pytest.mark.parametrize("call", [u[1] for u in UNCHANGED], ids=[u[0] for u in UNCHANGED])
def test_caller_data_unchanged(call):
    y = np.array([f"caf{NFD_E}/x", f"caf{NFD_E}/x", "a/y", "a/y", "b/z", "b/z"], dtype=object)
    emb = EMB.copy()
    emb[0] *= 1e30  # the cosine path rescales rows: in a copy
    y_before, emb_before = copy.deepcopy(y), emb.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        call(y, emb)
    np.testing.assert_array_equal(y, y_before)
    np.testing.assert_array_equal(emb, emb_before)


def test_mel_transformer_leaves_int_pcm_unchanged():
    pcm = np.arange(1024, dtype=np.int16).reshape(2, 512)
    before = pcm.copy()
    _mel().fit_transform(pcm)
    np.testing.assert_array_equal(pcm, before)


def test_float32_tensor_embeddings_unchanged():
    tensor = torch.as_tensor(EMB, dtype=torch.float32) * 1e20
    before = tensor.clone()
    hierarchical_ndcg_score(tensor, Y6)
    assert torch.equal(tensor, before)
