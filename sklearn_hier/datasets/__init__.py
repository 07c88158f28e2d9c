"""Datasets: synthetic hierarchical sounds, soundfont-rendered instruments and mixtures, local audio trees.

Every loader returns a :class:`sklearn.utils.Bunch` with ``data``, ``target``
(label paths; for the soundfont mixtures, label sets), ``taxonomy``, ``frame``
(metadata DataFrame with ``as_frame=True``, else None) and ``DESCR``. Rendered
data is cached in the data home: ``SKLEARN_HIER_DATA`` or ``~/sklearn_hier_data``.
"""

from sklearn_hier.datasets._base import clear_data_home, get_data_home
from sklearn_hier.datasets._fsd50k import load_fsd50k
from sklearn_hier.datasets._local import load_audio_folder, load_orchideasol
from sklearn_hier.datasets._mixtures import load_soundfont_mixtures
from sklearn_hier.datasets._soundfont import TECHNIQUES, load_soundfont_instruments
from sklearn_hier.datasets._synthetic import make_hierarchical_sounds

__all__ = [
    "TECHNIQUES",
    "clear_data_home",
    "get_data_home",
    "load_audio_folder",
    "load_fsd50k",
    "load_orchideasol",
    "load_soundfont_instruments",
    "load_soundfont_mixtures",
    "make_hierarchical_sounds",
]
