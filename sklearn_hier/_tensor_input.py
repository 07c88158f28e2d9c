"""Torch tensors given where arrays are expected: checked once, so that they obey the arrays' input contract.

Every entry point that takes data (``MelTransformer``, ``HierarchicalEmbedder``,
the metrics) hands a tensor to :func:`checked_tensor` first. What comes back
is a plain, detached, contiguous tensor holding real numbers, or an error that
names the problem and its fix; :func:`host_array` then gives a CPU tensor to
the numpy contract as an array (a view where one is possible), so that a tensor
and the same data as an array are checked, converted and scaled by one code
path and give the same result or the same error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["checked_tensor", "has_negative_strides", "host_array"]


def checked_tensor(X: torch.Tensor, name: str = "X") -> torch.Tensor:
    """``X`` detached from autograd, with its conjugate and negative bits resolved, after refusing what has no values.

    Refused by name: meta tensors (a shape without values), sparse tensors
    (``X.to_dense()``) and complex tensors (as numpy's complex arrays are).
    A tensor that requires grad is detached: inputs are data, and a graph
    kept alive through them fails at the second backward pass.

    Examples
    --------
    >>> import torch
    >>> checked_tensor(torch.ones(2, 2, requires_grad=True)).requires_grad
    False
    >>> checked_tensor(torch.ones(2, 2, device="meta"))
    Traceback (most recent call last):
    ...
    ValueError: X is a meta tensor: it has a shape but no values...
    """
    if X.device.type == "meta":
        raise ValueError(
            f"{name} is a meta tensor: it has a shape but no values to compute with; materialise it first "
            f"(e.g. torch.empty_like({name}, device='cpu') filled with data)."
        )
    if X.layout != torch.strided:
        raise ValueError(f"{name} is a sparse tensor (layout {X.layout}); pass {name}.to_dense().")
    if X.is_complex():
        raise ValueError(f"Complex data not supported: {name} is a tensor of dtype {X.dtype}; pass real numbers.")
    return X.detach().resolve_conj().resolve_neg()


def host_array(X: Any, name: str = "X") -> Any:
    """A tensor ``X`` as a numpy array on the host (a view of a CPU tensor where dtypes allow); anything else as it is.

    bfloat16, which numpy lacks, becomes float32 (exactly). A tensor on another
    device is copied to the host.

    Examples
    --------
    >>> import torch
    >>> host_array(torch.arange(3, dtype=torch.int16))
    array([0, 1, 2], dtype=int16)
    >>> host_array([1, 2])
    [1, 2]
    """
    if not isinstance(X, torch.Tensor):
        return X
    X = checked_tensor(X, name)
    if X.dtype == torch.bfloat16:
        X = X.to(torch.float32)
    return X.cpu().numpy()


def has_negative_strides(X: np.ndarray) -> bool:
    """Whether ``X`` is a reversed view (``X[::-1]``), which torch cannot wrap without a copy.

    Examples
    --------
    >>> import numpy as np
    >>> has_negative_strides(np.zeros((3, 2))[::-1]), has_negative_strides(np.zeros((3, 2)))
    (True, False)
    """
    return any(stride < 0 for stride in X.strides)
