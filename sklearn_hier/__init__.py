"""sklearn_hier: hierarchical embedding learning for audio, the scikit-learn way.

Public names are imported lazily so that ``import sklearn_hier`` (and the
``sklearn-hier`` command) stays fast: torch is loaded only when a model,
transformer or metric is first used.
"""

from importlib import import_module
from typing import Any

from sklearn_hier._version import __version__

_PUBLIC = {
    "Taxonomy": "sklearn_hier.taxonomy",
    "AudioLoader": "sklearn_hier.audio",
    "MelTransformer": "sklearn_hier.audio",
    "HierarchicalEmbedder": "sklearn_hier.embedder",
    "NonFiniteTrainingError": "sklearn_hier._net",
    "UnseenLabelKFold": "sklearn_hier.model_selection",
    "UnseenLeafKFold": "sklearn_hier.model_selection",
    "hierarchy_scorers": "sklearn_hier.metrics",
    "PairedComparison": "sklearn_hier.stats",
    "paired_comparison": "sklearn_hier.stats",
    "paired_comparison_table": "sklearn_hier.stats",
    "show_versions": "sklearn_hier._show_versions",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(import_module(_PUBLIC[name]), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'sklearn_hier' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
