"""What the library runs on: Python, package versions and the compute device (like ``sklearn.show_versions``).

A leaf module (it imports nothing from the package), so that the CLI and the
comparison run can both record the environment without importing each other.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata

__all__ = ["describe_environment", "show_versions"]

_PACKAGES = ("sklearn-hier", "numpy", "scikit-learn", "skorch", "torch", "torchaudio", "librosa", "anytree", "joblib")


def describe_environment() -> dict[str, str]:
    """Versions of Python and of the packages the library runs on, and the compute device.

    Examples
    --------
    >>> info = describe_environment()
    >>> sorted(info)[:2]
    ['anytree', 'device']
    """
    info = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "not installed"
    info["device"] = _device_name()
    return info


def _device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def show_versions() -> None:
    """Print the system, the versions of the packages the library runs on, and the compute device.

    What to paste into a bug report, as :func:`sklearn.show_versions`; the
    command ``sklearn-hier info`` prints the same.

    Examples
    --------
    >>> from sklearn_hier import show_versions
    >>> show_versions()  # doctest: +ELLIPSIS
    <BLANKLINE>
    System:
          python: ...
      executable: ...
         machine: ...
          device: ...
    <BLANKLINE>
    Python dependencies:
    sklearn-hier: ...
    """
    info = describe_environment()
    system = {
        "python": sys.version.replace("\n", " "),
        "executable": sys.executable,
        "machine": platform.platform(),
        "device": info.pop("device"),
    }
    info.pop("python")
    for title, items in (("System", system), ("Python dependencies", info)):
        print(f"\n{title}:")
        for key, value in items.items():
            print(f"{key:>12}: {value}")
