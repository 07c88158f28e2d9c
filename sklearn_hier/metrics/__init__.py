"""Hierarchy-aware metrics and the scorers that feed them to ``cross_validate``."""

from sklearn_hier.metrics._classification import (
    average_hierarchical_distance_at_k,
    hierarchical_precision_recall_fscore,
    level_f1_score,
    lsa_accuracy,
    mistake_severity,
)
from sklearn_hier.metrics._multilabel_classification import multilabel_level_f1_score, multilabel_lsa_accuracy
from sklearn_hier.metrics._ranking import (
    hierarchical_ndcg_score,
    hierarchical_retrieval_scores,
    mean_normalized_rank,
    precision_at_k,
)
from sklearn_hier.metrics._scorers import hierarchy_scorers, predict_at_lsa_level
from sklearn_hier.metrics._tagging import (
    lwlrap_score,
    mean_average_precision,
    multilabel_hierarchical_f1_score,
    multilabel_hierarchical_precision_recall_fscore,
    tagging_scorers,
)

__all__ = [
    "average_hierarchical_distance_at_k",
    "hierarchical_ndcg_score",
    "hierarchical_precision_recall_fscore",
    "hierarchical_retrieval_scores",
    "hierarchy_scorers",
    "level_f1_score",
    "lsa_accuracy",
    "lwlrap_score",
    "mean_average_precision",
    "mean_normalized_rank",
    "mistake_severity",
    "multilabel_hierarchical_f1_score",
    "multilabel_hierarchical_precision_recall_fscore",
    "multilabel_level_f1_score",
    "multilabel_lsa_accuracy",
    "precision_at_k",
    "predict_at_lsa_level",
    "tagging_scorers",
]
