"""The paper's comparison (Table I) of loss configurations over UnseenLeafKFold folds (UnseenLabelKFold on label sets).

:func:`compare` runs every configuration x fold pair, in this process or on a
Dask cluster, records each finished pair atomically with a fingerprint of the
settings, and writes the table, the CSV and the plots.
"""

from sklearn_hier.experiments._compare import compare
from sklearn_hier.experiments._pairs import make_pipeline
from sklearn_hier.experiments._settings import (
    DATASETS,
    LABEL_SET_CONFIGS,
    PAPER_CONFIGS,
    PAPER_RECIPE,
    CompareSettings,
    canonical_config,
    canonical_losses,
    default_configs,
)
from sklearn_hier.experiments._summary import LABEL_SET_COLUMNS, TABLE_COLUMNS, summary_table

__all__ = [
    "DATASETS",
    "LABEL_SET_COLUMNS",
    "LABEL_SET_CONFIGS",
    "PAPER_CONFIGS",
    "PAPER_RECIPE",
    "TABLE_COLUMNS",
    "CompareSettings",
    "canonical_config",
    "canonical_losses",
    "compare",
    "default_configs",
    "make_pipeline",
    "summary_table",
]
