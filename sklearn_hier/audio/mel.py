"""Waveforms to dB mel spectrograms, batched with torchaudio or clip by clip with librosa."""

from __future__ import annotations

import os
import warnings
from importlib import metadata
from numbers import Integral, Real
from typing import Any

import librosa
import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from sklearn_hier._device import check_device
from sklearn_hier._progress import progress
from sklearn_hier._tensor_input import host_array

try:
    from torchaudio.functional import melscale_fbanks
    from torchaudio.transforms import AmplitudeToDB, MelSpectrogram
except ImportError:  # torchaudio is an optional extra: the same three objects in plain PyTorch
    from sklearn_hier.audio._torch_mel import AmplitudeToDB, MelSpectrogram, melscale_fbanks

__all__ = ["MelTransformer", "mel_implementation"]

# Floor of both dB conversions; torchaudio's AmplitudeToDB uses it for power and magnitude alike,
# so librosa is given the same value to agree with it below -100 dB (power) or -200 dB (magnitude).
_AMIN = 1e-10

# Measured by benchmarks/bench_mel.py on a 2-core x86_64 CPU, 5,000 one-second clips at 44.1 kHz
# (docs/performance.md): torchaudio batched 295 clips/s at batch_size=256 (666 at 32) against 73
# for librosa clip by clip, 4.0x; a second run gave 478 against 115, 4.2x. So "auto" picks torch on
# CPU as well as on CUDA.
_AUTO_BACKEND = "torch"
# Clips per batch of batch_size="auto", per device type (benchmarks/bench_mel.py, docs/performance.md). On an
# H200, 256 one-second clips per batch ran 10-13 % faster than 1024 (24,770 against 21,930 clips/s with the tensor
# left on the GPU). On a 2-core CPU, 32 ran 1.1-2.3x faster than 256 over four runs: a batch's complex spectrogram
# (0.7 MB a clip) then stays in cache; 8-32 were within the runs' noise of each other. Another device's figure goes
# in the table.
_AUTO_BATCH_SIZE = {"cpu": 32, "cuda": 256}


class MelTransformer(TransformerMixin, BaseEstimator):
    """Turn waveforms into dB-scaled mel spectrograms.

    The defaults reproduce the paper's reference code (torchaudio's defaults: HTK
    mel scale, no filter normalisation, no ``top_db`` clamping, centred frames with
    reflect padding). ``mel_scale="slaney", norm="slaney", top_db=80,
    pad_mode="constant"`` reproduces librosa's defaults.

    Parameters
    ----------
    sr : float, default=44100
        Sample rate of the waveforms, in Hz.
    n_fft : int, default=2048
        FFT size and window length (a periodic Hann window).
    hop_length : int, default=512
        Samples between the starts of successive frames.
    n_mels : int, default=128
        Number of mel bands, from ``fmin`` to ``fmax``. Every band must cover
        at least one FFT bin with a non-zero weight, which bounds ``n_mels``
        for a given ``n_fft``.
    fmin : float, default=0.0
        Lowest frequency of the mel bands, in Hz (the paper's 0).
    fmax : float or None, default=None
        Highest frequency of the mel bands, in Hz, above ``fmin`` and at most
        ``sr / 2``; None is ``sr / 2`` (the paper's). Both go to every backend
        (``f_min`` / ``f_max`` of torchaudio, ``fmin`` / ``fmax`` of librosa).
    power : {1.0, 2.0}, default=2.0
        Exponent of the magnitude spectrum: 2 gives power (converted with
        ``10 log10``), 1 gives magnitude (converted with ``20 log10``).
    mel_scale : {"htk", "slaney"}, default="htk"
        Hz-to-mel formula.
    norm : {"slaney"} or None, default=None
        ``"slaney"`` divides each triangular filter by its width in Hz
        (constant energy per band); None leaves the filters with a peak of 1.
    top_db : float or None, default=None
        If set, every clip is clamped to at least its own maximum minus
        ``top_db`` (per clip, never across the batch).
    pad_mode : {"reflect", "constant"}, default="reflect"
        Padding of the ``n_fft // 2`` samples added at both ends so that frames
        are centred on ``t * hop_length``.
    backend : {"auto", "torch", "librosa"}, default="auto"
        ``"torch"`` runs torchaudio batched on ``device``; ``"librosa"`` runs
        librosa clip by clip on the CPU; ``"auto"`` is torch (measured faster
        on CPU too, see ``docs/performance.md``).
    device : str or torch.device, default="auto"
        Device of the torch backend; ``"auto"`` is CUDA when available, else
        CPU. It is resolved at every ``transform``, so a transformer fitted on
        a GPU machine runs on the CPU of one without.
    batch_size : int or "auto", default="auto"
        Clips per torch batch (memory grows linearly with it). ``"auto"``:
        32 on the CPU (1.1-2.3x faster than 256 on a 2-core machine), 256 on
        CUDA (on an H200 it beat 1024 by 10-13 %). On CUDA each batch is uploaded from
        page-locked host memory without waiting, overlapping the previous
        batch's work.
    output : {"numpy", "torch"}, default="numpy"
        Return type of ``transform``: a numpy array, or a torch tensor left on
        the backend's device (no round trip before a torch model).
    verbose : int, default=1
        0 is silent; 1 shows a progress bar (on stderr) when a ``transform``
        runs longer than two seconds; 2 shows it from the start.

    Attributes
    ----------
    n_features_in_ : int
        Number of samples per clip seen in ``fit``.

    See Also
    --------
    AudioLoader : Reads audio files into the waveforms this transformer takes.

    Notes
    -----
    ``fit`` learns nothing but the clip length; it validates the parameters
    and raises if some mel band would be empty.

    Clips shorter than ``n_fft`` are zero-padded at the end to ``n_fft``
    samples, so every clip gives at least ``1 + n_fft // hop_length`` frames;
    otherwise a clip of ``n`` samples gives ``1 + n // hop_length`` frames.

    Precision follows the input. Float64 waveforms are transformed in float64:
    torch and librosa then agree within 1e-3 dB (5e-4 dB measured; the rest is
    torchaudio's float32 filterbank). Float32 waveforms run in float32 on the
    torch backend, as in the reference code: bands within 80 dB of a clip's
    peak still agree within a few thousandths of a dB, but bands further below
    it, where float32 rounding of the FFT dominates, can differ by several dB
    when ``top_db`` is None. librosa computes the STFT in float64 either way.
    The output is float32 in all cases.

    Input contract. Float waveforms are expected in [-1, 1]. Signed integer
    PCM (int16, int32, ...) is scaled to [-1, 1] as ``librosa.util.buf_to_float``
    does (divided by ``2 ** (bits - 1)``), in both backends, so int16 samples
    read without scaling give the same mels as the floats; unsigned and bool
    arrays are rejected. A torch tensor (any device; one that requires grad
    is detached) obeys the same rules as the array it holds: it is read on the
    host, so an int16 tensor is scaled as an int16 array is and a bool tensor
    is refused; meta, sparse and complex tensors are refused by name.
    Strings (file paths) are rejected with a pointer to
    :class:`AudioLoader`. A mel spectrogram that overflows float32 (waveforms
    far outside [-1, 1]) raises, naming the rows. The waveforms carry no sample
    rate, so an ``sr`` different from the one ``AudioLoader`` resampled to
    cannot be detected: set the same ``sr`` on both steps.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_hier.audio import MelTransformer
    >>> t = np.arange(44100) / 44100
    >>> X = np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)])  # 1 s tone, 1 s silence
    >>> mels = MelTransformer(device="cpu").fit_transform(X)
    >>> mels.shape, mels.dtype
    ((2, 128, 87), dtype('float32'))
    >>> float(mels[1].max())  # silence sits at the -100 dB floor
    -100.0
    """

    _parameter_constraints: dict = {
        "sr": [Interval(Real, 0, None, closed="neither")],
        "n_fft": [Interval(Integral, 2, None, closed="left")],
        "hop_length": [Interval(Integral, 1, None, closed="left")],
        "n_mels": [Interval(Integral, 1, None, closed="left")],
        "fmin": [Interval(Real, 0, None, closed="left")],
        "fmax": [Interval(Real, 0, None, closed="neither"), None],
        "power": [Options(Real, {1.0, 2.0})],
        "mel_scale": [StrOptions({"htk", "slaney"})],
        "norm": [StrOptions({"slaney"}), None],
        "top_db": [Interval(Real, 0, None, closed="neither"), None],
        "pad_mode": [StrOptions({"reflect", "constant"})],
        "backend": [StrOptions({"auto", "torch", "librosa"})],
        "device": [str, torch.device],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "output": [StrOptions({"numpy", "torch"})],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        sr: float = 44100,
        n_fft: int = 2048,
        hop_length: int = 512,
        n_mels: int = 128,
        fmin: float = 0.0,
        fmax: float | None = None,
        power: float = 2.0,
        mel_scale: str = "htk",
        norm: str | None = None,
        top_db: float | None = None,
        pad_mode: str = "reflect",
        backend: str = "auto",
        device: str | torch.device = "auto",
        batch_size: int | str = "auto",
        output: str = "numpy",
        verbose: int = 1,
    ) -> None:
        self.sr = sr
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.fmin = fmin
        self.fmax = fmax
        self.power = power
        self.mel_scale = mel_scale
        self.norm = norm
        self.top_db = top_db
        self.pad_mode = pad_mode
        self.backend = backend
        self.device = device
        self.batch_size = batch_size
        self.output = output
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> MelTransformer:
        """Check the parameters and the waveforms; learn the clip length.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
            Waveforms.
        y : None
            Ignored.

        Returns
        -------
        self : MelTransformer
            The fitted transformer.

        Examples
        --------
        >>> import numpy as np
        >>> MelTransformer(device="cpu").fit(np.zeros((2, 4096))).n_features_in_
        4096
        """
        check_device(self.device)
        _check_band_edges(self.sr, self.fmin, self.fmax)
        _check_mel_bands(self.sr, self.n_fft, self.n_mels, self.mel_scale, self.norm, self.fmin, self.fmax)
        _check_waveforms(self, X, reset=True)
        return self

    def transform(self, X: Any) -> np.ndarray | torch.Tensor:
        """Compute the dB mel spectrogram of every clip.

        Parameters
        ----------
        X : array-like of shape (n_clips, n_samples)
            Waveforms, as many samples per clip as in ``fit``.

        Returns
        -------
        mels : ndarray or Tensor of shape (n_clips, n_mels, n_frames), float32
            A tensor on the backend's device when ``output="torch"``.

        Examples
        --------
        >>> import numpy as np
        >>> mel = MelTransformer(n_fft=512, hop_length=256, n_mels=40, device="cpu", output="torch")
        >>> mel.fit_transform(np.zeros((3, 8000))).shape
        torch.Size([3, 40, 32])
        """
        check_is_fitted(self)
        waveforms = _check_waveforms(self, X, reset=False)
        device = check_device(self.device)
        if self._resolved_backend() == "librosa":
            mels = _check_finite_mels(self._librosa_mels(waveforms), waveforms)
            return mels if self.output == "numpy" else torch.from_numpy(mels).to(device)
        mels = _check_finite_mels(self._torch_mels(waveforms, device), waveforms)
        return mels.cpu().numpy() if self.output == "numpy" else mels

    def _resolved_backend(self) -> str:
        return _AUTO_BACKEND if self.backend == "auto" else self.backend

    def _torch_mels(self, waveforms: np.ndarray, device: torch.device) -> torch.Tensor:
        dtype = torch.float64 if waveforms.dtype == np.float64 else torch.float32
        to_mel, to_db = self._torch_modules(dtype, device)
        mels = torch.empty(_output_shape(self, waveforms), dtype=torch.float32, device=device)
        # no_grad, not inference_mode: inference tensors could not be fed to a model being trained.
        batch_size = self.batch_size_for(device)
        with torch.no_grad():
            starts = range(0, len(waveforms), batch_size)
            for start in self._progress(starts, unit="batch"):
                stop = start + batch_size
                batch = _upload(waveforms[start:stop], device)
                # A 4-D input makes AmplitudeToDB clamp each clip to its own max - top_db; on 3-D
                # input it would clamp against the max of the whole batch.
                mels[start:stop] = to_db(to_mel(batch).unsqueeze(1)).squeeze(1)
        return mels

    def batch_size_for(self, device: Any) -> int:
        """Clips per torch batch on ``device``: ``batch_size``, with ``"auto"`` resolved.

        Examples
        --------
        >>> MelTransformer().batch_size_for("cpu"), MelTransformer(batch_size=8).batch_size_for("cuda")
        (32, 8)
        """
        if self.batch_size != "auto":
            return self.batch_size
        return _AUTO_BATCH_SIZE.get(torch.device(device).type, _AUTO_BATCH_SIZE["cpu"])

    def _torch_modules(self, dtype: torch.dtype, device: torch.device) -> tuple[torch.nn.Module, torch.nn.Module]:
        to_mel = MelSpectrogram(
            sample_rate=self.sr,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            n_mels=self.n_mels,
            f_min=float(self.fmin),
            f_max=None if self.fmax is None else float(self.fmax),
            power=self.power,
            mel_scale=self.mel_scale,
            norm=self.norm,
            pad_mode=self.pad_mode,
            center=True,
            # A float32 window cast to float64 would cap the float64 path at float32 accuracy.
            wkwargs={"dtype": dtype},
        )
        to_db = AmplitudeToDB(stype=_stype(self.power), top_db=self.top_db)
        return to_mel.to(device=device, dtype=dtype), to_db.to(device)

    def _librosa_mels(self, waveforms: np.ndarray) -> np.ndarray:
        to_db = librosa.power_to_db if _stype(self.power) == "power" else librosa.amplitude_to_db
        mels = np.empty(_output_shape(self, waveforms), dtype=np.float32)
        for i, clip in self._progress(enumerate(waveforms), unit="clip", total=len(waveforms)):
            spec = librosa.feature.melspectrogram(
                y=clip,
                sr=self.sr,
                n_fft=self.n_fft,
                hop_length=self.hop_length,
                center=True,
                pad_mode=self.pad_mode,
                power=self.power,
                n_mels=self.n_mels,
                fmin=self.fmin,
                fmax=self.fmax,
                htk=self.mel_scale == "htk",
                norm=self.norm,
            )
            mels[i] = to_db(spec, ref=1.0, amin=_AMIN, top_db=self.top_db)
        return mels

    def _progress(self, items: Any, unit: str, total: int | None = None) -> Any:
        total = len(items) if total is None else total
        return progress(items, total=total, desc="Mel spectrograms", unit=unit, verbose=self.verbose)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def _stype(power: float) -> str:
    return "power" if power == 2.0 else "magnitude"


def _output_shape(mel: MelTransformer, waveforms: np.ndarray) -> tuple[int, int, int]:
    return len(waveforms), mel.n_mels, 1 + waveforms.shape[1] // mel.hop_length


def _check_band_edges(sr: float, fmin: float, fmax: float | None) -> None:
    """Raise unless ``fmin < fmax <= sr / 2`` (``fmax=None`` is ``sr / 2``).

    Examples
    --------
    >>> _check_band_edges(22050, 0.0, None)
    >>> _check_band_edges(22050, 0.0, 16000)
    Traceback (most recent call last):
    ...
    ValueError: fmax=16000 must be at most sr / 2 = 11025.0 (the Nyquist frequency at sr=22050).
    """
    top = sr / 2 if fmax is None else fmax
    if fmax is not None and fmax > sr / 2:
        raise ValueError(f"fmax={fmax} must be at most sr / 2 = {sr / 2} (the Nyquist frequency at sr={sr}).")
    if fmin >= top:
        raise ValueError(f"fmin={fmin} must be below fmax ({top} Hz{'' if fmax is not None else ', sr / 2'}).")


def _check_mel_bands(
    sr: float, n_fft: int, n_mels: int, mel_scale: str, norm: str | None, fmin: float = 0.0, fmax: float | None = None
) -> None:
    """Raise if a mel band would cover no FFT bin (it would be constant at the dB floor).

    Examples
    --------
    >>> _check_mel_bands(44100, 2048, 128, "htk", None)
    >>> _check_mel_bands(44100, 256, 128, "htk", None)
    Traceback (most recent call last):
    ...
    ValueError: n_mels=128 is too large for n_fft=256 at sr=44100: ...
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torchaudio warns about the very case raised below
        filters = melscale_fbanks(
            n_freqs=n_fft // 2 + 1,
            f_min=float(fmin),
            f_max=float(sr // 2) if fmax is None else float(fmax),
            n_mels=n_mels,
            sample_rate=sr,
            norm=norm,
            mel_scale=mel_scale,
        )
    empty = np.flatnonzero((filters.max(dim=0).values == 0).numpy())
    if empty.size:
        raise ValueError(
            f"n_mels={n_mels} is too large for n_fft={n_fft} at sr={sr}{_band(fmin, fmax)}: {empty.size} mel bands "
            f"(indices {empty[:5].tolist()}{'...' if empty.size > 5 else ''}) cover no FFT bin. "
            "Lower n_mels or raise n_fft."
        )


def _band(fmin: float, fmax: float | None) -> str:
    """The band, in an error message, where it is not the default 0 Hz to sr / 2."""
    return "" if fmin == 0 and fmax is None else f" between fmin={fmin} and fmax={fmax}"


def _check_waveforms(mel: MelTransformer, X: Any, *, reset: bool) -> np.ndarray:
    """Validated float waveforms, zero-padded at the end to at least ``n_fft`` samples.

    Examples
    --------
    >>> import numpy as np
    >>> _check_waveforms(MelTransformer(n_fft=8), np.full((1, 3), 16384, dtype=np.int16), reset=True)
    array([[0.5, 0.5, 0.5, 0. , 0. , 0. , 0. , 0. ]], dtype=float32)
    """
    # A tensor is checked as the array it holds, so tensors and arrays are scaled and refused alike.
    X = host_array(X)
    scale = _pcm_scale(X)
    waveforms = validate_data(mel, X, reset=reset, dtype=[np.float32, np.float64], ensure_all_finite=False)
    if scale != 1.0:
        waveforms = (waveforms * scale).astype(np.float32)  # a new array: the caller's stays as it was
    finite_rows = _finite_rows(waveforms)
    if not finite_rows.all():
        bad = np.flatnonzero(~finite_rows)
        raise ValueError(
            f"X contains NaN or infinite samples in rows {bad[:5].tolist()}{'...' if bad.size > 5 else ''}; "
            "waveforms must be finite."
        )
    short = mel.n_fft - waveforms.shape[1]
    if short > 0:
        return np.pad(waveforms, ((0, 0), (0, short)))
    return waveforms


def _finite_rows(waveforms: np.ndarray) -> np.ndarray:
    """Whether each row holds only finite samples, reading the array once and allocating one value per row.

    A sum with a NaN or an infinity in it is not finite, so rows with a finite
    sum are finite; only the others (a NaN, an infinity, or finite samples
    whose sum overflows) are checked sample by sample. The sums are one BLAS
    matrix-vector product, 4.6x faster than ``np.isfinite(waveforms)``, which
    writes a byte per sample, on a 2-core CPU: on a GPU machine that check
    would otherwise take a large share of ``transform``.

    Examples
    --------
    >>> _finite_rows(np.array([[0.5, np.nan], [3e38, 3e38], [1.0, -1.0]], dtype=np.float32))
    array([False,  True,  True])
    """
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(waveforms @ np.ones(waveforms.shape[1], dtype=waveforms.dtype))
    suspects = np.flatnonzero(~finite)
    finite[suspects] = np.isfinite(waveforms[suspects]).all(axis=1)
    return finite


def _pcm_scale(X: Any) -> float:
    """Factor taking the samples of ``X`` to [-1, 1]: ``2 ** -(bits - 1)`` for signed integer PCM, else 1.

    Raises ``TypeError`` for file paths (an AudioLoader step is missing) and
    for unsigned or bool arrays, whose scale is ambiguous.

    Examples
    --------
    >>> _pcm_scale(np.zeros((1, 4), dtype=np.int16))
    3.0517578125e-05
    """
    try:
        array = X if isinstance(X, np.ndarray) else np.asarray(X)
    except ValueError:  # ragged: validate_data says so
        return 1.0
    dtype = array.dtype
    first = array.flat[0] if dtype.kind == "O" and array.size else None
    if dtype.kind in "US" or isinstance(first, str | bytes | os.PathLike):
        raise TypeError(
            "MelTransformer takes waveforms (n_clips, n_samples), but X holds strings or paths such as "
            f"{str(array.flat[0])!r}; read the files first with AudioLoader, e.g. "
            "make_pipeline(AudioLoader(sr=...), MelTransformer(sr=...))."
        )
    if dtype.kind in "ub":
        raise TypeError(
            f"Waveforms of dtype {dtype} have no unambiguous scale; give float samples in [-1, 1] "
            "or signed integer PCM (int16, int32), which is scaled by 2 ** -(bits - 1)."
        )
    if dtype.kind == "i":
        return 2.0 ** -(8 * dtype.itemsize - 1)
    return 1.0


def _upload(waveforms: np.ndarray, device: torch.device) -> torch.Tensor:
    """A batch of waveforms on ``device``: to a GPU through page-locked memory, without waiting for the copy."""
    if device.type != "cuda":
        return torch.tensor(np.ascontiguousarray(waveforms), device=device)
    return torch.from_numpy(np.ascontiguousarray(waveforms)).pin_memory().to(device, non_blocking=True)


def _check_finite_mels(mels: Any, waveforms: np.ndarray) -> Any:
    """``mels``, after checking no clip overflowed float32 inside the spectrogram."""
    finite = torch.isfinite(mels).flatten(1).all(1) if isinstance(mels, torch.Tensor) else np.isfinite(mels).all((1, 2))
    if bool(finite.all()):
        return mels
    bad = np.flatnonzero(~np.asarray(finite.cpu() if isinstance(finite, torch.Tensor) else finite))
    peak = float(np.abs(waveforms[bad]).max())
    raise ValueError(
        f"The mel spectrograms of rows {bad[:5].tolist()}{'...' if bad.size > 5 else ''} of X overflow float32 "
        f"(waveform peak {peak:.3g}); waveforms are expected in [-1, 1], so rescale them."
    )


def mel_implementation(backend: str = "auto") -> str:
    """Which code computes the mels of ``MelTransformer(backend=backend)`` here, with its version.

    The torch backend runs on torchaudio where it is installed and on the
    package's plain-PyTorch copy of the same three objects otherwise. They
    agree to about 1e-3 dB, but a model trained on one is not bit for bit the
    model trained on the other, so a comparison records this string.

    Parameters
    ----------
    backend : {"auto", "torch", "librosa"}, default="auto"

    Returns
    -------
    implementation : str
        ``"torchaudio <version>"``, ``"plain PyTorch (torch <version>)"`` or
        ``"librosa <version>"``.

    Examples
    --------
    >>> mel_implementation("librosa").startswith("librosa ")
    True
    """
    if backend not in ("auto", "torch", "librosa"):
        raise ValueError(f"backend must be one of 'auto', 'torch', 'librosa'; got {backend!r}.")
    if (_AUTO_BACKEND if backend == "auto" else backend) == "librosa":
        return f"librosa {librosa.__version__}"
    if MelSpectrogram.__module__.startswith("torchaudio"):
        return f"torchaudio {metadata.version('torchaudio')}"
    return f"plain PyTorch (torch {torch.__version__})"
