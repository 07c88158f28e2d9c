"""What the library runs on: Python, package versions and the compute device (like ``sklearn.show_versions``).

A leaf module (it imports nothing from the package), so that the CLI and the
comparison run can both record the environment without importing each other.
"""

from __future__ import annotations

import platform
from importlib import metadata

__all__ = ["describe_environment"]

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
