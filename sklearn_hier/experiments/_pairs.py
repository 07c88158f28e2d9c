"""One configuration x fold pair, fitted and scored wherever it runs: in this process or on a Dask worker.

Everything here is a function of the settings alone, so a pair gives the same
numbers in any process. The dataset and its folds are built once per process
and kept (:func:`prepared`), never shipped with each pair.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from joblib import Memory
from scipy import sparse
from sklearn.model_selection import cross_validate
from sklearn.pipeline import Pipeline

from sklearn_hier import datasets
from sklearn_hier._device import check_device
from sklearn_hier._net import NonFiniteTrainingError
from sklearn_hier.audio import AudioLoader, MelTransformer
from sklearn_hier.embedder import HierarchicalEmbedder
from sklearn_hier.experiments._records import fingerprint
from sklearn_hier.experiments._scoring import ComparisonScoring
from sklearn_hier.experiments._settings import CompareSettings, config_params
from sklearn_hier.model_selection import UnseenLabelKFold, UnseenLeafKFold
from sklearn_hier.taxonomy import Taxonomy, label_sets

__all__ = ["PRECISION_K", "fit_pair", "make_pipeline", "precision_ceiling", "prepared", "sample_rate_of"]

# Datasets of audio files, read by an AudioLoader at the sample rate and duration of READ_PARAMS.
FILE_DATASETS = ("orchideasol", "folder")
READ_PARAMS = ("sr", "duration")

# The k of the comparison's RP@k: hierarchy_scorers' default, the paper's RP@5.
PRECISION_K = 5

_CACHE: dict[str, Any] = {}
_CACHE_LOCK = threading.Lock()


def prepared(settings: CompareSettings, verbose: int = 0) -> tuple[Any, np.ndarray, list]:
    """The dataset ``(X, y)`` and its folds, loaded once per process for the latest settings.

    Raises
    ------
    ValueError
        If the data cannot be split as asked (more folds than eligible leaves).
    """
    data = fingerprint(settings)
    for name in ("max_epochs", "embedder_params", "triplets", "geometry", "mel_params"):
        data.pop(name)
    key = repr(sorted(data.items()))
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE.clear()  # one dataset at a time: a worker's memory holds the run at hand only
            X, y = _load_dataset(settings, verbose)
            _CACHE[key] = (X, y, _splits(settings, X, y))
        return _CACHE[key]


def _load_dataset(settings: CompareSettings, verbose: int) -> tuple[Any, np.ndarray]:

    params = dict(settings.dataset_params.get(settings.dataset, {}))
    if settings.dataset in FILE_DATASETS:
        for name in READ_PARAMS:  # how files are read: the pipeline's AudioLoader takes these, not the listing
            params.pop(name, None)
    if settings.dataset == "synthetic":
        return datasets.make_hierarchical_sounds(random_state=settings.random_state, **params)
    if settings.dataset == "soundfont":
        bunch = datasets.load_soundfont_instruments(verbose=verbose, n_jobs=settings.n_jobs, **params)
    elif settings.dataset == "mixtures":
        # The seed draws the mixtures (their notes are one render whatever the seed), as it draws synthetic sounds.
        bunch = datasets.load_soundfont_mixtures(
            verbose=verbose, n_jobs=settings.n_jobs, random_state=settings.random_state, **params
        )
    elif settings.dataset == "orchideasol":
        bunch = datasets.load_orchideasol(settings.data_dir, **params)
    else:
        bunch = datasets.load_audio_folder(settings.data_dir, **params)
    return bunch.data, np.asarray(bunch.target, dtype=object)


def _splits(settings: CompareSettings, X: Any, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    # On label sets the folds hide labels, and a clip carrying a hidden label is an unseen test clip.
    cv = (UnseenLabelKFold if settings.label_sets else UnseenLeafKFold)(
        n_splits=settings.n_splits,
        min_samples_leaf=settings.min_samples_leaf,
        test_size=settings.test_size,
        shuffle=True,
        random_state=settings.random_state,
    )
    return list(cv.split(X, y))


def sample_rate_of(settings: CompareSettings) -> int:
    """The sample rate the comparison reads and renders its dataset at: the dataset's own, the mels', or a default.

    Examples
    --------
    >>> sample_rate_of(CompareSettings(dataset="synthetic")), sample_rate_of(CompareSettings(dataset="soundfont"))
    (16000, 44100)
    """
    params = settings.dataset_params.get(settings.dataset, {})
    default = 16000 if settings.dataset == "synthetic" else 44100
    return int(params.get("sr", settings.mel_params.get("sr", default)))


def make_pipeline(settings: CompareSettings, config: str, memory: Any = None, verbose: int = 0) -> Any:
    """The README pipeline for one configuration, built from ``settings``.

    ``config`` is a loss spec with optional options (``"PL+B+T:geometry=poincare"``,
    see :func:`~sklearn_hier.experiments.canonical_config`); options it leaves
    out come from ``settings``. File-based datasets get an
    :class:`~sklearn_hier.audio.AudioLoader` first.

    Examples
    --------
    >>> pipe = make_pipeline(CompareSettings(dataset="synthetic"), "PL+T")
    >>> [name for name, _ in pipe.steps]
    ['mel', 'emb']
    """

    sr = sample_rate_of(settings)
    mel = MelTransformer(**{**settings.mel_params, "sr": sr}, device=settings.device)
    embedder = HierarchicalEmbedder(
        **config_params(config, settings),
        max_epochs=settings.max_epochs,
        device=settings.device,
        random_state=settings.random_state,
        verbose=int(verbose > 1),
        **settings.embedder_params,
    )
    steps = [("mel", mel), ("emb", embedder)]
    if settings.dataset in FILE_DATASETS:
        duration = settings.dataset_params.get(settings.dataset, {}).get("duration", 1.0)
        steps.insert(0, ("audio", AudioLoader(sr=sr, duration=duration, n_jobs=settings.n_jobs)))
    return Pipeline(steps, memory=memory)


def fit_pair(settings: CompareSettings, config: str, fold: int, cache_dir: str | None, verbose: int = 0) -> dict:
    """Fit and score one pair; returns its rows (one per metric) and, for fold 0, the test embeddings.

    A fit whose training diverged (:class:`~sklearn_hier._net.NonFiniteTrainingError`)
    returns ``failed`` (the error's message) instead of rows.

    ``cache_dir`` holds the mel features (shared by the configurations of a
    fold); ``None`` keeps them in the Dask worker's own folder.
    """
    X, y, splits = prepared(settings, verbose)
    train, test = splits[fold]
    memory = Memory(cache_dir if cache_dir is not None else _worker_folder(), verbose=0)
    pipe = make_pipeline(settings, config, memory=memory, verbose=verbose)
    if verbose > 1:  # the epoch table that follows, labelled: fits of every fold look alike
        print(f"{config}, fold {fold} (of {settings.n_splits}): {len(train)} training clips, {len(test)} test clips")
    device = str(check_device(settings.device))
    try:
        result = cross_validate(
            pipe,
            X,
            y,
            cv=[(train, test)],
            scoring=ComparisonScoring(settings.label_sets, k=PRECISION_K),
            return_estimator=True,
            error_score="raise",
        )
    except NonFiniteTrainingError as error:
        # A diverged fit is a failure to report, never a result: the runner writes no record for it.
        return {"config": config, "fold": fold, "failed": str(error), "device": device, "n_clips": len(y)}
    fitted = result["estimator"][0]
    rows = [
        {"config": config, "fold": fold, "metric": key[len("test_") :], "value": float(values[0])}
        for key, values in result.items()
        if key.startswith("test_")
    ]
    rows += [
        {"config": config, "fold": fold, "metric": t, "value": float(result[t][0])} for t in ("fit_time", "score_time")
    ]
    # The epochs early stopping let the fit run: with fit_time, what a timing of the whole comparison rests on.
    rows.append({"config": config, "fold": fold, "metric": "epochs", "value": float(len(fitted[-1].history))})
    # The best RP@5 this fold's seen test clips allow: below 1, RP@5 measures the data, not the model.
    ceiling = precision_ceiling(y[train], y[test], k=PRECISION_K)
    rows.append({"config": config, "fold": fold, "metric": f"precision_at_{PRECISION_K}_ceiling", "value": ceiling})
    embeddings = None
    if fold == 0:
        Z = fitted.transform(X[test] if hasattr(X, "shape") else [X[i] for i in test])
        embeddings = (Z, y[test], getattr(fitted[-1], "curvature_", None))
    return {"config": config, "fold": fold, "rows": rows, "embeddings": embeddings, "device": device, "n_clips": len(y)}


def precision_ceiling(y_train: Any, y_test: Any, k: int = PRECISION_K) -> float:
    """The highest RP@k any model can score on the seen test clips: 1 when each has k relevant clips there.

    A test clip is seen when each of its labels is a node of the training
    labels' tree (one label per clip: its leaf was trained on). Relevant is
    what RP@k counts: the same leaf, or for label sets a shared most specific
    label. A query with ``m`` relevant test clips finds at most ``min(m, k)``
    of them among its ``k`` nearest; the mean of ``min(m, k) / k`` over the
    seen queries is the ceiling (NaN without any).

    Examples
    --------
    >>> y_train = np.array(["a/x", "a/y"])
    >>> precision_ceiling(y_train, np.array(["a/x"] * 2 + ["a/y"] * 6 + ["b/z"] * 3), k=5)  # b/z is unseen
    0.8
    >>> # label sets: {a/x, a/y} shares a label with both others, each of them with it alone
    >>> round(precision_ceiling([{"a/x", "a/y"}], [{"a/x"}, {"a/x", "a/y"}, {"a/y"}], k=5), 4)  # (1 + 2 + 1) / 15
    0.2667
    """
    train = label_sets(y_train)
    taxonomy = Taxonomy.from_label_sets(list(train))
    known = set(taxonomy.nodes[1:])
    seen = [labels for labels in label_sets(y_test) if labels <= known]
    if not seen:
        return float("nan")
    # A label that is an ancestor of another label of its set is not one of the set's most specific.
    above = {label: set(taxonomy.ancestors(label)) for labels in seen for label in labels}
    specific = [[label for label in labels if not any(label in above[o] for o in labels)] for labels in seen]
    column = {node: j for j, node in enumerate(taxonomy.nodes)}
    rows = np.repeat(np.arange(len(seen)), [len(labels) for labels in specific])
    cols = [column[label] for labels in specific for label in labels]
    carries = sparse.csr_array((np.ones(len(cols)), (rows, cols)), shape=(len(seen), len(column)))
    relevant = np.asarray(((carries @ carries.T) > 0).sum(axis=1)).ravel() - 1  # a clip is no partner of its own
    return float(np.mean(np.minimum(relevant, k) / k))


def _worker_folder() -> str:
    from distributed import get_worker

    return str(get_worker().local_directory) + "/sklearn_hier_mel"
