"""Backbones: networks that map one input to one embedding vector."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["MLP", "ConvModel"]


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}.")


class ConvModel(nn.Module):
    """The paper's convolutional backbone (Garcia et al. 2021, "music-trees").

    ``n_blocks`` blocks of [Conv2d 3x3 ('same' padding) -> BatchNorm2d -> ReLU
    -> MaxPool2d(2)], then the maximum over the time axis, then a linear layer
    from ``channels * (n_mels // 2**n_blocks)`` features to the embedding. With
    the defaults this is the paper's network: 707,456 parameters, and a
    128 x 87 mel spectrogram becomes a 256-d embedding. The maximum over time
    lets the same weights take any number of frames (at least ``2**n_blocks``).
    Moved to ``memory_format=torch.channels_last``, it runs channels-last
    throughout (the layout cuDNN's convolutions and pools prefer): its
    one-channel input is already in both layouts, so nothing is converted.

    Parameters
    ----------
    n_mels : int, default=128
        Mel bands of the input; at least ``2**n_blocks``.
    channels : int, default=128
        Output channels of every convolution.
    n_blocks : int, default=4
        Number of conv / pool blocks.
    embedding_dim : int, default=256
        Size of the output embedding.

    Examples
    --------
    >>> import torch
    >>> model = ConvModel(n_mels=16, channels=4, n_blocks=2, embedding_dim=8)
    >>> model(torch.zeros(3, 16, 20)).shape
    torch.Size([3, 8])
    >>> model(torch.zeros(3, 1, 16, 11)).shape  # a channel axis and any number of frames
    torch.Size([3, 8])
    """

    def __init__(self, n_mels: int = 128, channels: int = 128, n_blocks: int = 4, embedding_dim: int = 256) -> None:
        super().__init__()
        for name, value in [("n_mels", n_mels), ("channels", channels), ("n_blocks", n_blocks)]:
            _check_positive_int(name, value)
        _check_positive_int("embedding_dim", embedding_dim)
        if n_mels < 2**n_blocks:
            raise ValueError(f"n_mels={n_mels} is too small for n_blocks={n_blocks}: it must be >= {2**n_blocks}.")
        self.n_mels = n_mels
        self.n_blocks = n_blocks
        self.embedding_dim = embedding_dim
        blocks: list[nn.Module] = []
        for i in range(n_blocks):
            blocks += [
                nn.Conv2d(1 if i == 0 else channels, channels, kernel_size=3, padding="same"),
                nn.BatchNorm2d(channels),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(channels * (n_mels // 2**n_blocks), embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch of spectrograms.

        Parameters
        ----------
        x : Tensor of shape (B, n_mels, T) or (B, 1, n_mels, T)

        Returns
        -------
        z : Tensor of shape (B, embedding_dim)
        """
        shape = tuple(x.shape)
        if x.ndim == 3:
            x = x.unsqueeze(1)
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[2] != self.n_mels:
            raise ValueError(
                f"ConvModel expects input of shape (B, {self.n_mels}, T) or (B, 1, {self.n_mels}, T); got {shape}."
            )
        if x.shape[3] < 2**self.n_blocks:
            raise ValueError(
                f"ConvModel with n_blocks={self.n_blocks} needs at least {2**self.n_blocks} frames; got {x.shape[3]}."
            )
        h = self.blocks(x)  # (B, channels, n_mels // 2**n_blocks, T')
        h = h.amax(dim=3)
        return self.fc(h.flatten(1))


class MLP(nn.Module):
    """A multilayer perceptron for 2-D (tabular) input such as precomputed features.

    Each hidden layer is Linear -> ReLU; the last layer is linear.

    Parameters
    ----------
    n_features : int
        Size of each input row.
    hidden : sequence of int, default=(256,)
        Widths of the hidden layers; empty for a single linear map.
    embedding_dim : int, default=256
        Size of the output embedding.

    Examples
    --------
    >>> import torch
    >>> model = MLP(5, hidden=(8, 8), embedding_dim=3)
    >>> model(torch.zeros(4, 5)).shape
    torch.Size([4, 3])
    """

    def __init__(self, n_features: int, hidden: Sequence[int] = (256,), embedding_dim: int = 256) -> None:
        super().__init__()
        _check_positive_int("n_features", n_features)
        _check_positive_int("embedding_dim", embedding_dim)
        hidden = tuple(hidden)
        for width in hidden:
            _check_positive_int("every width in hidden", width)
        self.n_features = n_features
        self.embedding_dim = embedding_dim
        widths = (n_features, *hidden)
        layers: list[nn.Module] = []
        for n_in, n_out in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], embedding_dim))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch of feature rows: (B, n_features) -> (B, embedding_dim)."""
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"MLP expects input of shape (B, {self.n_features}); got {tuple(x.shape)}.")
        return self.layers(x)
