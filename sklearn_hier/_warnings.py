"""Warnings that point at the user's code, and a run's warnings collected and shown once each.

A leaf module (it imports nothing from the package), like ``_show_versions``.
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["collected_warnings", "warn_at_caller"]

# Packages whose frames a warning never points into: the library and the ones that call it back.
_INTERNAL = ("sklearn_hier", "sklearn", "skorch", "joblib", "torch")


def _internal_folders() -> tuple[str, ...]:
    folders = []
    for name in _INTERNAL:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            folders.append(str(Path(module.__file__).parent))
    return tuple(folders)


def warn_at_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """Warn at the first frame outside the library and the packages that call it back.

    A scorer runs inside ``cross_validate``; a fixed ``stacklevel`` would point at
    scikit-learn or at this package, where the user can change nothing. The line shown
    is the user's own call (``cross_validate(...)``, ``scorer(model, X, y)``).

    Examples
    --------
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_at_caller("look here")
    >>> caught[0].filename == __file__ or caught[0].filename.startswith("<doctest")
    True
    """
    folders = _internal_folders()
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(folders):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


@contextmanager
def collected_warnings(n_tasks: int) -> Iterator[None]:
    """Hold back the warnings of a run's tasks, then show each kind once, with how often it came.

    A warning raised once per fit (an undefined metric, a deprecation) would otherwise be
    printed once per fold, through the progress bar. Warnings of one kind come from one
    line of code; the first message of each kind is shown, with the count.

    Parameters
    ----------
    n_tasks : int
        The run's number of tasks (fits), for the count.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            kinds: dict[tuple, list[warnings.WarningMessage]] = {}
            for item in caught:
                kinds.setdefault((item.category, item.filename, item.lineno), []).append(item)
    for (category, filename, lineno), items in kinds.items():
        message = str(items[0].message)
        if len(items) > 1:
            message = f"{message} [{len(items)} times in {n_tasks} fits; shown once]"
        warnings.warn_explicit(message, category, filename, lineno, module=_module_name(filename))


def _module_name(filename: str) -> str:
    return re.sub(r"\.py$", "", Path(filename).name)
