"""dB mel spectrograms in plain PyTorch, for machines without torchaudio.

torchaudio is an optional dependency: each of its releases requires one torch
release, so depending on it would cap the torch a user can have. The three
names here take the same arguments and give the same values as the torchaudio
objects ``MelTransformer`` builds (``torchaudio.functional.melscale_fbanks``,
``torchaudio.transforms.MelSpectrogram`` and ``AmplitudeToDB``), so either can
be used in their place. They are computed with ``torch.stft`` and a triangular
mel filter bank (HTK or Slaney mel scale, Slaney area normalisation or none),
the filter bank that torchaudio and librosa build.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

__all__ = ["AmplitudeToDB", "MelSpectrogram", "melscale_fbanks"]

_MEL_SCALES = ("htk", "slaney")
_NORMS = (None, "slaney")

# Slaney's mel scale (librosa's default): linear below 1 kHz, logarithmic above.
_SLANEY_HZ_PER_MEL = 200.0 / 3
_SLANEY_LOG_HZ = 1000.0
_SLANEY_LOG_MEL = _SLANEY_LOG_HZ / _SLANEY_HZ_PER_MEL
_SLANEY_LOG_STEP = math.log(6.4) / 27.0


def _check_choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}; got {value!r}.")


def _hz_to_mel(freq: torch.Tensor, mel_scale: str) -> torch.Tensor:
    if mel_scale == "htk":
        return 2595.0 * torch.log10(1.0 + freq / 700.0)
    linear = freq / _SLANEY_HZ_PER_MEL
    logarithmic = _SLANEY_LOG_MEL + torch.log(freq.clamp(min=_SLANEY_LOG_HZ) / _SLANEY_LOG_HZ) / _SLANEY_LOG_STEP
    return torch.where(freq >= _SLANEY_LOG_HZ, logarithmic, linear)


def _mel_to_hz(mels: torch.Tensor, mel_scale: str) -> torch.Tensor:
    if mel_scale == "htk":
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    linear = _SLANEY_HZ_PER_MEL * mels
    logarithmic = _SLANEY_LOG_HZ * torch.exp(_SLANEY_LOG_STEP * (mels - _SLANEY_LOG_MEL))
    return torch.where(mels >= _SLANEY_LOG_MEL, logarithmic, linear)


def melscale_fbanks(
    n_freqs: int,
    f_min: float,
    f_max: float,
    n_mels: int,
    sample_rate: float,
    norm: str | None = None,
    mel_scale: str = "htk",
    *,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Triangular mel filter bank, as ``torchaudio.functional.melscale_fbanks`` builds it.

    Parameters
    ----------
    n_freqs : int
        Number of FFT bins, ``n_fft // 2 + 1``, spread evenly from 0 Hz to
        ``sample_rate // 2``.
    f_min, f_max : float
        Lowest and highest frequency of the filters, in Hz.
    n_mels : int
        Number of filters, evenly spaced on the mel scale.
    sample_rate : float
        Sample rate, in Hz.
    norm : {"slaney"} or None, default=None
        ``"slaney"`` divides each filter by half its width in Hz (constant
        energy per band); None leaves each filter with a peak of 1.
    mel_scale : {"htk", "slaney"}, default="htk"
        Hz-to-mel formula.
    dtype : torch.dtype, default=torch.float32
        Type of the result. The filters are computed in float64 whatever it is.

    Returns
    -------
    fb : Tensor of shape (n_freqs, n_mels)
        Weight of each FFT bin in each mel band.

    Examples
    --------
    >>> fb = melscale_fbanks(1025, 0.0, 22050.0, 128, 44100)
    >>> fb.shape
    torch.Size([1025, 128])
    >>> bool((fb.sum(dim=0) > 0).all())  # every band covers some FFT bin
    True
    """
    _check_choice("mel_scale", mel_scale, _MEL_SCALES)
    _check_choice("norm", norm, _NORMS)
    all_freqs = torch.linspace(0, sample_rate // 2, n_freqs, dtype=torch.float64)
    bounds = _hz_to_mel(torch.tensor([f_min, f_max], dtype=torch.float64), mel_scale)
    f_pts = _mel_to_hz(torch.linspace(bounds[0], bounds[1], n_mels + 2, dtype=torch.float64), mel_scale)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)  # (n_freqs, n_mels + 2)
    rising = -slopes[:, :-2] / f_diff[:-1]
    falling = slopes[:, 2:] / f_diff[1:]
    fb = torch.clamp(torch.minimum(rising, falling), min=0.0)
    if norm == "slaney":
        fb = fb * (2.0 / (f_pts[2 : n_mels + 2] - f_pts[:n_mels])).unsqueeze(0)
    return fb.to(dtype)


class MelSpectrogram(nn.Module):
    """Mel spectrogram of waveforms, with ``torchaudio.transforms.MelSpectrogram``'s arguments.

    A periodic Hann window, ``torch.stft``, the ``power``-th power of the
    magnitude, then :func:`melscale_fbanks`. The window and the filter bank are
    buffers, so ``.to(device, dtype)`` moves them with the module.

    Parameters
    ----------
    sample_rate : float, default=16000
        Sample rate of the waveforms, in Hz.
    n_fft : int, default=400
        FFT size.
    win_length : int or None, default=None
        Window length; None is ``n_fft``.
    hop_length : int or None, default=None
        Samples between frames; None is ``win_length // 2``.
    f_min : float, default=0.0
        Lowest filter frequency, in Hz.
    f_max : float or None, default=None
        Highest filter frequency, in Hz; None is ``sample_rate // 2``.
    pad : int, default=0
        Zeros added at both ends of each waveform before the STFT.
    n_mels : int, default=128
        Number of mel bands.
    power : float, default=2.0
        Exponent of the magnitude: 2 gives power, 1 magnitude.
    center : bool, default=True
        Pad ``n_fft // 2`` samples at both ends so frames are centred on
        ``t * hop_length``.
    pad_mode : str, default="reflect"
        Padding used when ``center`` is True (``torch.stft``'s modes).
    norm : {"slaney"} or None, default=None
        Filter normalisation, as in :func:`melscale_fbanks`.
    mel_scale : {"htk", "slaney"}, default="htk"
        Hz-to-mel formula.
    wkwargs : dict or None, default=None
        Keyword arguments of ``torch.hann_window``. Its ``dtype``, when given,
        is also the dtype of the filter bank, so a float64 module is float64
        throughout.

    Examples
    --------
    >>> to_mel = MelSpectrogram(sample_rate=44100, n_fft=2048, hop_length=512, n_mels=128)
    >>> to_mel(torch.zeros(2, 44100)).shape
    torch.Size([2, 128, 87])
    """

    def __init__(
        self,
        sample_rate: float = 16000,
        n_fft: int = 400,
        win_length: int | None = None,
        hop_length: int | None = None,
        f_min: float = 0.0,
        f_max: float | None = None,
        pad: int = 0,
        n_mels: int = 128,
        power: float = 2.0,
        center: bool = True,
        pad_mode: str = "reflect",
        norm: str | None = None,
        mel_scale: str = "htk",
        wkwargs: dict | None = None,
    ) -> None:
        super().__init__()
        if power <= 0:
            raise ValueError(f"power must be positive; got {power!r}.")
        self.n_fft = n_fft
        self.win_length = win_length if win_length is not None else n_fft
        self.hop_length = hop_length if hop_length is not None else self.win_length // 2
        self.pad = pad
        self.power = power
        self.center = center
        self.pad_mode = pad_mode
        wkwargs = dict(wkwargs or {})
        self.register_buffer("window", torch.hann_window(self.win_length, **wkwargs))
        f_max = f_max if f_max is not None else float(sample_rate // 2)
        fb = melscale_fbanks(n_fft // 2 + 1, f_min, f_max, n_mels, sample_rate, norm, mel_scale)
        self.register_buffer("fb", fb.to(wkwargs.get("dtype", torch.float32)))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Mel spectrogram of shape ``(..., n_mels, n_frames)`` from waveforms of shape ``(..., time)``."""
        if self.pad > 0:
            waveform = nn.functional.pad(waveform, (self.pad, self.pad), "constant")
        shape = waveform.shape
        stft = torch.stft(
            waveform.reshape(-1, shape[-1]),
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=self.center,
            pad_mode=self.pad_mode,
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        spec = stft.abs()
        if self.power != 1.0:
            spec = spec.pow(self.power)
        mel = torch.matmul(spec.transpose(-1, -2), self.fb).transpose(-1, -2)
        return mel.reshape(shape[:-1] + mel.shape[-2:])


class AmplitudeToDB(nn.Module):
    """Power or magnitude to decibels, with ``torchaudio.transforms.AmplitudeToDB``'s arguments.

    ``10 log10`` of power or ``20 log10`` of magnitude, floored at an amplitude
    of 1e-10 (reference value 1).

    Parameters
    ----------
    stype : {"power", "magnitude"}, default="power"
        What the input holds.
    top_db : float or None, default=None
        If set, values are clamped to at least the maximum minus ``top_db``.
        As in torchaudio, the maximum is taken over the last three dimensions:
        give a batch as ``(batch, 1, n_mels, n_frames)`` to clamp each clip
        against its own peak; a 3-D batch is clamped against the batch's peak.

    Examples
    --------
    >>> AmplitudeToDB(top_db=80.0)(torch.tensor([[[[1.0, 1e-3, 0.0]]]]))
    tensor([[[[  0., -30., -80.]]]])
    """

    def __init__(self, stype: str = "power", top_db: float | None = None) -> None:
        super().__init__()
        _check_choice("stype", stype, ("power", "magnitude"))
        if top_db is not None and top_db < 0:
            raise ValueError(f"top_db must be non-negative or None; got {top_db!r}.")
        self.stype = stype
        self.top_db = top_db
        self.multiplier = 10.0 if stype == "power" else 20.0
        self.amin = 1e-10

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Decibels, the same shape as ``x``."""
        x_db = self.multiplier * torch.log10(torch.clamp(x, min=self.amin))
        if self.top_db is None:
            return x_db
        shape = x_db.shape
        channels = shape[-3] if x_db.dim() > 2 else 1
        packed = x_db.reshape(-1, channels, shape[-2], shape[-1])
        floor = (packed.amax(dim=(-3, -2, -1)) - self.top_db).view(-1, 1, 1, 1)
        return torch.maximum(packed, floor).reshape(shape)
