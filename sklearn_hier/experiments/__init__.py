"""The paper's comparison (Table I) of loss configurations over UnseenLeafKFold folds.

:func:`compare` runs every configuration x fold pair, in this process or on a
Dask cluster, records each finished pair atomically with a fingerprint of the
settings, and writes the table, the CSV and the plots.
"""

from sklearn_hier.experiments._compare import compare
from sklearn_hier.experiments._pairs import make_pipeline
from sklearn_hier.experiments._settings import (
    DATASETS,
    PAPER_CONFIGS,
    PAPER_RECIPE,
    CompareSettings,
    canonical_config,
    canonical_losses,
)
from sklearn_hier.experiments._summary import TABLE_COLUMNS, summary_table

__all__ = [
    "DATASETS",
    "PAPER_CONFIGS",
    "PAPER_RECIPE",
    "TABLE_COLUMNS",
    "CompareSettings",
    "canonical_config",
    "canonical_losses",
    "compare",
    "make_pipeline",
    "summary_table",
]
