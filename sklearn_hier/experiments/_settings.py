"""What one comparison run is: :class:`CompareSettings`, its checks and the canonical form of a configuration.

A configuration is a loss spec, optionally followed by options of the
embedder that differ between configurations: ``"PL+B+T"``,
``"PL+B+T:triplets=batch_hard"``, ``"PL+B+T:geometry=poincare"`` or
``"PL+T:triplets=semi_hard,geometry=poincare"``. An option left out takes the
run's own setting (``CompareSettings.triplets``, ``CompareSettings.geometry``).

A dataset of label sets (``"mixtures"``) has configurations of its own
(:data:`LABEL_SET_CONFIGS`), and a configuration that cannot train on label
sets is refused when the settings are checked, before any data is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from numbers import Integral, Real
from pathlib import Path
from typing import Any

from sklearn_hier._build import nested
from sklearn_hier._validation import check_label_set_fit
from sklearn_hier.embedder import HierarchicalEmbedder
from sklearn_hier.nn import LossSpec
from sklearn_hier.nn.spec import BUILTIN_TERMS

__all__ = [
    "CONFIG_OPTIONS",
    "DATASETS",
    "LABEL_SET_CONFIGS",
    "LABEL_SET_DATASETS",
    "PAPER_CONFIGS",
    "PAPER_RECIPE",
    "CompareSettings",
    "canonical_config",
    "canonical_losses",
    "check_settings",
    "config_params",
    "default_configs",
]

PAPER_CONFIGS = ("L", "L+T", "PL", "PL+T", "PL+B", "PL+B+T")
DATASETS = ("soundfont", "synthetic", "orchideasol", "folder", "mixtures")
# Datasets whose clips carry label sets (several paths each): split by UnseenLabelKFold, scored for label sets.
LABEL_SET_DATASETS = ("mixtures",)
# The paper's six on label sets. The tree sampler needs one leaf per clip, so T mines its triplets in
# each batch; semi_hard rather than batch_hard because on closure overlap the hardest positive of a
# batch is often a clip sharing one node of three, and the paper's own T is a margin loss on
# triplets that are not all hard.
LABEL_SET_CONFIGS = (
    "L",
    "L+T:triplets=semi_hard",
    "PL",
    "PL+T:triplets=semi_hard",
    "PL+B",
    "PL+B+T:triplets=semi_hard",
)
TRIPLETS = ("tree", "batch_hard", "semi_hard")
GEOMETRIES = ("euclidean", "poincare")
# The embedder options a configuration may set, in the order its canonical name writes them.
CONFIG_OPTIONS = {"triplets": TRIPLETS, "geometry": GEOMETRIES}

# The paper's training recipe (the reference code's configuration files and training module), item by item, as
# CompareSettings.paper_recipe() sets it; tests/test_experiments.py checks a fitted pipeline against every item.
PAPER_RECIPE = {
    "batch": "32 tree triplets = 96 clips (triplets='tree', triplets_per_batch=32)",
    "optimizer": "Adam, lr 1e-3, weight decay 1e-5",
    "lr_scheduler": "ReduceLROnPlateau on the validation loss, factor 0.6, patience 50 (250 with T)",
    "early_stopping": "on the validation loss without the triplet term, patience 100 (500 with T), best epoch kept",
    "max_epochs": 2500,
    "gradient_clipping": "norm 1.0",
    "class_weight": "balanced (inverse leaf frequency in each epoch's triplets; pos_weight for B)",
    "split": "80/10/10 per seen leaf: UnseenLeafKFold(test_size=0.1), then valid_size=1/9 of the rest",
    "folds": "5 folds over leaves; leaves under 10 clips always unseen",
    "features": "MelTransformer defaults: 44.1 kHz, n_fft 2048, hop 512, 128 HTK mel bands, power dB",
    "network": "ConvModel (128 channels), 256-d embedding",
}


# Terms are written in the paper's order (L, PL, B, T), any others after them by name, so
# that "T+PL" and "pl + 1*t" both read "PL+T": one configuration, one label, one results file.
@dataclass
class CompareSettings:
    """Every setting of one comparison run, as recorded in ``run.json``.

    The defaults are the paper's (full network, 128 mels, up to 2,500
    epochs with early stopping); :meth:`quick_settings` shrinks data,
    network and epochs so the whole run fits in minutes on a laptop CPU.

    ``losses`` names the configurations: loss specs, each optionally with
    embedder options that set it apart (``"PL+B+T:triplets=batch_hard"``,
    ``"PL+B+T:geometry=poincare"``; see :func:`canonical_config`); None
    means the dataset's own (:func:`default_configs`: the paper's six, or
    :data:`LABEL_SET_CONFIGS` on label sets).
    ``triplets`` and ``geometry`` apply to the configurations that do not
    set them. ``terms`` holds loss terms of your own, by name, which the
    configurations' loss specs may then name (``losses=("PL+T", "PL+MR")``
    with ``terms={"MR": MarginRanking(margin=0.2)}``); they travel with the
    settings to every worker, and their options (their ``repr``) are part of
    the records' fingerprint. ``baseline`` is the configuration the paired statistics compare
    every other with (None: the first); it changes no fit, so it is not part
    of the records' fingerprint.

    Examples
    --------
    >>> check_settings(CompareSettings()).losses
    ('L', 'L+T', 'PL', 'PL+T', 'PL+B', 'PL+B+T')
    >>> CompareSettings(dataset="mixtures").label_sets
    True
    """

    dataset: str = "soundfont"
    data_dir: str | None = None
    losses: tuple[str, ...] | None = None
    triplets: str = "tree"
    geometry: str = "euclidean"
    n_splits: int = 5
    min_samples_leaf: int = 10
    test_size: float = 0.1
    max_epochs: int = 2500
    device: str = "auto"
    random_state: int = 0
    n_jobs: int | None = None
    dataset_params: dict[str, Any] = field(default_factory=dict)
    mel_params: dict[str, Any] = field(default_factory=dict)
    embedder_params: dict[str, Any] = field(default_factory=dict)
    quick: bool = False
    baseline: str | None = None
    recipe: str | None = None
    terms: dict[str, Any] = field(default_factory=dict)

    @property
    def label_sets(self) -> bool:
        """Whether the dataset's clips carry label sets: folds by label, scores for label sets."""
        return self.dataset in LABEL_SET_DATASETS

    @classmethod
    def paper_recipe(cls, **overrides: Any) -> CompareSettings:
        """The paper's training recipe to the letter (:data:`PAPER_RECIPE`), on any dataset.

        Beyond the defaults, which already follow the paper's network, features,
        optimizer, schedule, early stopping and clipping, it turns on the
        reference code's class weights and holds out 1/9 of each seen leaf's
        training clips for validation, so that train / validation / test are
        80 / 10 / 10 of each seen leaf (up to rounding per leaf). On a CPU this
        runs for days; it is meant for a GPU.

        Examples
        --------
        >>> paper = CompareSettings.paper_recipe(dataset="synthetic")
        >>> paper.recipe, paper.max_epochs, paper.embedder_params["class_weight"]
        ('paper', 2500, 'balanced')
        """
        settings = cls(
            n_splits=5,
            min_samples_leaf=10,
            max_epochs=2500,
            recipe="paper",
            embedder_params={
                "triplets_per_batch": 32,
                "lr": 1e-3,
                "weight_decay": 1e-5,
                "class_weight": "balanced",
                "valid_size": 1 / 9,
                "embedding_dim": 256,
            },
        )
        for key, value in overrides.items():
            setattr(settings, key, value)
        return settings

    @classmethod
    def quick_settings(cls, **overrides: Any) -> CompareSettings:
        """A run that fits a busy 2-core CPU in a few minutes.

        A subset of the data (soundfont: 12 programs x 4 techniques, 12 clips
        per leaf; synthetic: 27 leaves of 12 half-second clips at 16 kHz;
        mixtures: 2,000 clips of 2 or 3 notes drawn from the soundfont's 48
        quick leaves, 12 notes each), 64 mel bands at 22.05 kHz, a 16-channel
        ConvModel with 64-d embeddings, 3 folds and 5 epochs (mixtures: 12).
        Sized for a 2-core CPU shared with other work: the paper's network
        and epochs take hours there.

        Half of each seen leaf's clips (6 of 12) are test clips
        (``test_size=0.5``, the paper's is 0.1), so that every query of the
        seen test set has 5 clips of its leaf to retrieve: RP@5 can reach 1
        and is defined in every fold. With the paper's 10 % of 12 clips, one
        or two test clips per leaf leave RP@5 undefined or capped far below 1.

        On mixtures every clip carrying one of the fold's held-out labels
        (a third of them) is an unseen test clip: some 1,250-1,300 of the
        2,000. Of the others, ``test_size=0.3`` of each seen label's are
        tested (260-280 clips), leaving some 440-480 to train on, and RP@5
        can still reach 1: every label is carried by tens of clips. The
        mixtures train for 12 epochs rather than 5: an epoch on label sets
        passes over the training clips once, about 5 batches here, so 5
        epochs would be some 25 steps.

        Examples
        --------
        >>> quick = CompareSettings.quick_settings(dataset="synthetic")
        >>> quick.n_splits, quick.max_epochs, quick.test_size, quick.quick
        (3, 5, 0.5, True)
        >>> mixtures = CompareSettings.quick_settings(dataset="mixtures")
        >>> mixtures.test_size, mixtures.max_epochs
        (0.3, 12)
        """
        settings = cls(
            n_splits=3,
            test_size=0.5,
            max_epochs=5,
            quick=True,
            dataset_params={
                "soundfont": {
                    # Two programs from each of six families, four techniques: 48 leaves.
                    "programs": (0, 4, 16, 19, 24, 25, 40, 42, 56, 57, 72, 73),
                    "techniques": ("ordinario", "staccato", "tremolo", "vibrato"),
                    "n_per_leaf": 12,
                    "n_rare_leaves": 3,
                    "sr": 22050,
                },
                "synthetic": {"n_per_leaf": 12, "branching": (3, 3, 3), "sr": 16000, "duration": 0.5},
                "mixtures": {
                    # The soundfont's quick leaves, each note rendered once and mixed into several clips.
                    "programs": (0, 4, 16, 19, 24, 25, 40, 42, 56, 57, 72, 73),
                    "techniques": ("ordinario", "staccato", "tremolo", "vibrato"),
                    "n_per_leaf": 12,
                    "n_clips": 2000,
                    "n_notes": (2, 3),
                    "sr": 22050,
                },
            },
            mel_params={"sr": 22050, "n_fft": 1024, "hop_length": 512, "n_mels": 64},
            embedder_params={"module__channels": 16, "embedding_dim": 64},
        )
        dataset = overrides.get("dataset", settings.dataset)
        for key, value in {**_QUICK_BY_DATASET.get(dataset, {}), **overrides}.items():
            setattr(settings, key, value)
        return settings


# Quick settings that differ by dataset, beyond its dataset_params (see quick_settings for why).
_QUICK_BY_DATASET: dict[str, dict[str, Any]] = {"mixtures": {"test_size": 0.3, "max_epochs": 12}}


def default_configs(dataset: str) -> tuple[str, ...]:
    """The configurations a run compares when none are named: the paper's six, or their label-set version.

    Examples
    --------
    >>> default_configs("soundfont") == PAPER_CONFIGS, default_configs("mixtures")[1]
    (True, 'L+T:triplets=semi_hard')
    """
    return LABEL_SET_CONFIGS if dataset in LABEL_SET_DATASETS else PAPER_CONFIGS


def canonical_losses(spec: str, terms: dict[str, Any] | None = None) -> str:
    """The one spelling of a loss configuration: equal specs give equal strings, different ones never.

    Terms are upper-case, in the paper's order (L, PL, B, T, then others by
    name), a weight of 1 is left out and other weights are written exactly.

    Parameters
    ----------
    spec : str
        A loss spec as :meth:`~sklearn_hier.nn.LossSpec.parse` reads it
        (the spelling is :attr:`~sklearn_hier.nn.LossSpec.canonical`).
    terms : dict of str to LossTerm, optional
        Terms of your own that ``spec`` may name.

    Returns
    -------
    canonical : str

    Examples
    --------
    >>> canonical_losses("t + pl"), canonical_losses("PL*2+T"), canonical_losses("PL+2*T")
    ('PL+T', '2*PL+T', 'PL+2*T')
    """
    return LossSpec.parse(spec, terms=terms).canonical


def _split_config(spec: str) -> tuple[str, dict[str, str]]:
    """A configuration's loss spec and its options, checked (unknown names and values are errors)."""
    if not isinstance(spec, str):
        raise ValueError(f"A configuration must be a string such as 'PL+T:triplets=batch_hard'; got {spec!r}.")
    losses, _, tail = spec.partition(":")
    options: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in tail.split(","))):
        name, equals, value = (text.strip() for text in item.partition("="))
        if not equals or name not in CONFIG_OPTIONS or value not in CONFIG_OPTIONS[name]:
            allowed = "; ".join(f"{key}={'|'.join(values)}" for key, values in CONFIG_OPTIONS.items())
            raise ValueError(f"Unknown option {item!r} in configuration {spec!r}; options: {allowed}.")
        if name in options:
            raise ValueError(f"Option {name!r} is given twice in configuration {spec!r}.")
        options[name] = value
    return losses, options


def canonical_config(
    spec: str, *, triplets: str = "tree", geometry: str = "euclidean", terms: dict[str, Any] | None = None
) -> str:
    """The one name of a configuration: canonical losses, then the options that differ from the run's.

    Parameters
    ----------
    spec : str
        ``"LOSSES"`` or ``"LOSSES:name=value,..."`` with the options of
        :data:`CONFIG_OPTIONS` (``triplets``, ``geometry``).
    triplets, geometry : str
        The run's settings: an option equal to them is left out of the name.
    terms : dict of str to LossTerm, optional
        Terms of your own that the loss spec may name.

    Returns
    -------
    name : str

    Examples
    --------
    >>> canonical_config("t+pl+b: geometry=poincare")
    'PL+B+T:geometry=poincare'
    >>> canonical_config("PL+T:geometry=poincare,triplets=semi_hard,")
    'PL+T:triplets=semi_hard,geometry=poincare'
    >>> canonical_config("PL+T:triplets=tree"), canonical_config("PL+T", triplets="batch_hard")
    ('PL+T', 'PL+T')
    """
    losses, options = _split_config(spec)
    run = {"triplets": triplets, "geometry": geometry}
    kept = [f"{name}={options[name]}" for name in CONFIG_OPTIONS if name in options and options[name] != run[name]]
    return canonical_losses(losses, terms) + (":" + ",".join(kept) if kept else "")


def config_params(config: str, settings: CompareSettings) -> dict[str, str]:
    """The embedder parameters of a configuration: ``losses``, ``triplets`` and ``geometry``.

    Examples
    --------
    >>> config_params("PL+T:geometry=poincare", CompareSettings())
    {'losses': 'PL+T', 'triplets': 'tree', 'geometry': 'poincare'}
    """
    losses, options = _split_config(config)
    spec = LossSpec.parse(losses, terms=settings.terms)
    if any(name not in BUILTIN_TERMS for name in spec.weights):
        # A spec naming the settings' own terms reaches the estimator as name -> (weight, term).
        losses = {name: (weight, term) for name, weight, term in spec.entries}
    return {"losses": losses, "triplets": settings.triplets, "geometry": settings.geometry, **options}


def check_settings(settings: CompareSettings) -> CompareSettings:
    """Check every setting that can be checked without the data; return a copy with canonical losses.

    Raises
    ------
    ValueError
        Naming the setting, what it may be and what it was.
    """
    if settings.dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}; got {settings.dataset!r}.")
    if settings.dataset in ("orchideasol", "folder"):
        if settings.data_dir is None:
            raise ValueError(f"dataset {settings.dataset!r} needs a data directory (--data-dir).")
        if not Path(settings.data_dir).is_dir():
            raise ValueError(f"data directory {settings.data_dir!r} does not exist.")
    if settings.triplets not in TRIPLETS:
        raise ValueError(f"triplets must be one of {TRIPLETS}; got {settings.triplets!r}.")
    if settings.geometry not in GEOMETRIES:
        raise ValueError(f"geometry must be one of {GEOMETRIES}; got {settings.geometry!r}.")
    _check_int("n_splits", settings.n_splits, 2)
    _check_int("min_samples_leaf", settings.min_samples_leaf, 1)
    if isinstance(settings.test_size, bool) or not isinstance(settings.test_size, Real):
        raise ValueError(f"test_size must be a number in [0, 1); got {settings.test_size!r}.")
    if not 0 <= settings.test_size < 1:
        raise ValueError(f"test_size must be in [0, 1); got {settings.test_size!r}.")
    _check_int("max_epochs", settings.max_epochs, 1)
    _check_int("random_state", settings.random_state, 0)
    if settings.n_jobs is not None:
        _check_int("n_jobs", settings.n_jobs, -(2**31))
        if settings.n_jobs == 0:
            raise ValueError("n_jobs must be a positive number of processes or negative (all cores but some); got 0.")
    losses = default_configs(settings.dataset) if settings.losses is None else settings.losses
    configs = _unique_canonical(losses, settings)
    for config in configs:
        _check_config_params(config, settings)
    return replace(settings, losses=configs, baseline=_baseline(settings, configs))


def _check_config_params(config: str, settings: CompareSettings) -> None:
    """A configuration's embedder parameters checked by the estimator's own constraints and loss specification.

    On label sets, also by the estimator's own refusal of what cannot train on them (HXE, SOFT, tree
    triplets with T, ``leaf_source="level_product"``), which a fit would only reach after the data is loaded.
    """
    params = {**config_params(config, settings), **settings.embedder_params}
    try:
        estimator = HierarchicalEmbedder(**params)
        estimator._validate_params()
        spec = LossSpec.parse(params["losses"], options=nested(estimator.get_params(), "criterion"))
    except (TypeError, ValueError) as error:
        raise ValueError(f"Configuration {config!r} with embedder_params {settings.embedder_params}: {error}") from None
    if settings.label_sets:
        try:
            check_label_set_fit(spec, estimator.triplets, estimator.leaf_source)
        except ValueError as error:
            raise ValueError(f"Configuration {config!r} on dataset {settings.dataset!r}: {error}") from None


def _baseline(settings: CompareSettings, configs: tuple[str, ...]) -> str:
    """The configuration the others are compared with: ``settings.baseline`` named canonically, or the first."""
    if settings.baseline is None:
        return configs[0]
    try:
        name = canonical_config(
            settings.baseline, triplets=settings.triplets, geometry=settings.geometry, terms=settings.terms
        )
    except ValueError:
        # canonical_config's own message names losses, which are fine: the baseline is what is wrong.
        raise ValueError(
            f"baseline {settings.baseline!r} is not one of the configurations {list(configs)}, nor a valid loss spec; "
            "name one of the configurations."
        ) from None
    if name not in configs:
        raise ValueError(f"baseline {settings.baseline!r} ({name}) is not one of the configurations {list(configs)}.")
    return name


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer; got {value!r}.")
    if value < low:
        raise ValueError(f"{name} must be at least {low}; got {value}.")


def _unique_canonical(losses: Any, settings: CompareSettings) -> tuple[str, ...]:
    if isinstance(losses, str):
        raise ValueError(f"losses must be a list of loss specs, not one string; got {losses!r}.")
    if not losses:
        raise ValueError("losses must name at least one configuration.")
    seen: dict[str, str] = {}
    for spec in losses:
        canonical = canonical_config(spec, triplets=settings.triplets, geometry=settings.geometry, terms=settings.terms)
        if canonical in seen:
            raise ValueError(
                f"losses {seen[canonical]!r} and {spec!r} are the same configuration ({canonical}); give each once."
            )
        seen[canonical] = spec
    return tuple(seen)
