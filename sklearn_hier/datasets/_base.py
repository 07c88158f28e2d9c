"""The data home and the Bunch every loader returns."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from sklearn_hier.taxonomy import Taxonomy, label_paths

__all__ = ["clear_data_home", "get_data_home"]

DATA_HOME_ENV = "SKLEARN_HIER_DATA"


def get_data_home(data_home: str | os.PathLike | None = None) -> str:
    """Return the folder where rendered datasets are cached, creating it if needed.

    The folder is, in order of precedence: ``data_home`` when given, the
    ``SKLEARN_HIER_DATA`` environment variable when set, else
    ``~/sklearn_hier_data``. A leading ``~`` is expanded.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use instead of the default.

    Returns
    -------
    data_home : str
        Absolute path of the folder.

    Raises
    ------
    NotADirectoryError
        If the path exists and is not a folder.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn_hier.datasets import get_data_home
    >>> home = get_data_home(os.path.join(tempfile.mkdtemp(), "cache"))
    >>> os.path.isdir(home)
    True
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or os.path.join("~", "sklearn_hier_data")
    path = Path(data_home).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"The data home {str(path)!r} exists and is not a folder.")
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def clear_data_home(data_home: str | os.PathLike | None = None) -> None:
    """Delete the data home and everything cached in it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to delete; see :func:`get_data_home` for the default.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn_hier.datasets import clear_data_home, get_data_home
    >>> home = get_data_home(os.path.join(tempfile.mkdtemp(), "cache"))
    >>> clear_data_home(home)
    >>> os.path.exists(home)
    False
    """
    shutil.rmtree(get_data_home(data_home))


def make_bunch(
    data: np.ndarray,
    target: Sequence[str],
    columns: Mapping[str, Sequence[Any]],
    descr: str,
    as_frame: bool,
    **extra: Any,
) -> Bunch:
    """Assemble the Bunch every loader returns.

    ``columns`` are per-sample metadata; with ``as_frame`` they become the
    ``frame`` DataFrame (target first), otherwise ``frame`` is None, as in
    scikit-learn's loaders. ``descr`` gets a last line sizing the label tree.
    """
    target = label_paths(target)  # the label contract: NFC, no empty or badly spaced name, leaves only
    taxonomy = Taxonomy.from_paths(target)
    sizes = " / ".join(str(len(level)) for level in taxonomy.levels[1:])
    descr += f"Label tree: {sizes} nodes per level, {taxonomy.n_leaves} leaves.\n"
    frame = None
    if as_frame:
        try:
            import pandas as pd
        except ImportError as exc:  # pandas is optional for the library
            raise ImportError("as_frame=True needs pandas; install it or pass as_frame=False.") from exc
        frame = pd.DataFrame({"target": target, **{k: np.asarray(v) for k, v in columns.items()}})
    return Bunch(
        data=data,
        target=target,
        taxonomy=taxonomy,
        frame=frame,
        DESCR=descr,
        **extra,
    )
