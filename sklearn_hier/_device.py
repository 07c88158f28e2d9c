"""What ``device="auto"`` means, in one place for the transformers, the estimator and the CLI."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["auto_device", "check_device", "fits_on_device"]


def auto_device(device: Any) -> Any:
    """The device ``"auto"`` stands for on this machine (CUDA when available); others unchanged.

    Examples
    --------
    >>> auto_device("cpu")
    'cpu'
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def check_device(device: Any) -> torch.device:
    """Resolve ``device`` and check it can be used here, before any long work.

    Raises
    ------
    ValueError
        If ``device`` is no torch device, or names CUDA on a machine without it.

    Examples
    --------
    >>> check_device("cpu")
    device(type='cpu')
    """
    try:
        resolved = torch.device(auto_device(device))
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must be 'auto' or a torch device ('cpu', 'cuda:0', ...); got {device!r}.") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available here; use device='auto' or 'cpu'.")
    return resolved


def fits_on_device(nbytes: int, device: torch.device, share: float = 0.5) -> bool:
    """Whether ``nbytes`` of data take at most ``share`` of the device's free memory (always true off CUDA).

    The rest of the free memory is left to the network's weights, activations
    and optimizer state.

    Examples
    --------
    >>> fits_on_device(10**12, torch.device("cpu"))
    True
    """
    if device.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes <= share * free
