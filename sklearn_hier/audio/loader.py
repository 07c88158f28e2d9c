"""Audio files to fixed-length mono waveforms at one sample rate."""

from __future__ import annotations

import os
import re
import warnings
from numbers import Integral, Real
from typing import Any

import librosa
import numpy as np
import soundfile as sf
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_memory

from sklearn_hier._progress import progress

__all__ = ["AudioLoader"]

_RESAMPLER = "soxr_hq"


class AudioLoader(TransformerMixin, BaseEstimator):
    """Read audio files into fixed-length mono waveforms.

    Each file is read with soundfile (librosa's loader for formats soundfile
    lacks), downmixed to mono by averaging its channels, resampled to ``sr``
    with soxr (through librosa), cut to ``duration`` seconds from ``offset`` and
    zero-padded at the end when shorter. The reading follows ``librosa.load``
    (same start and length at the native rate, same resampler), so the output
    equals ``librosa.load(path, sr=sr, offset=offset, duration=duration)``
    zero-padded to ``round(sr * duration)`` samples.

    Parameters
    ----------
    sr : float, default=44100
        Sample rate of the output, in Hz.
    duration : float, default=1.0
        Seconds kept from each file: the output has ``round(sr * duration)``
        samples per clip.
    offset : float, default=0.0
        Seconds skipped at the start of each file.
    n_jobs : int or None, default=None
        Files read in parallel (joblib; None means 1 unless in a
        ``joblib.parallel_config`` context, -1 means all cores). Threads are
        preferred: soundfile and soxr release the GIL, and no clip has to be
        copied back from a worker process. Reading one file takes about a
        millisecond, so extra workers pay off only on idle cores (see
        ``docs/performance.md``).
    memory : str, os.PathLike, joblib.Memory or None, default=None
        Cache of decoded clips, as in :class:`sklearn.pipeline.Pipeline`: a
        folder (created if missing; a path to a file is refused), or an
        object with the joblib.Memory interface. Entries are keyed
        on the file's path, size and modification time and on ``sr``,
        ``duration`` and ``offset``, so an edited file is read again.
    on_truncated : {"warn", "raise"}, default="warn"
        What to do with a file whose header promises more audio than it holds
        (a WAV cut short by a failed copy, detected from libsndfile's report):
        warn naming the file (the missing part is zero-padded like any short
        clip), or raise a ``ValueError`` before anything is decoded.
    verbose : int, default=1
        0 is silent; 1 shows a progress bar (on stderr) when a ``transform``
        runs longer than two seconds; 2 shows it from the start.

    See Also
    --------
    MelTransformer : Turns the waveforms into dB mel spectrograms.

    Notes
    -----
    The transformer is stateless: ``fit`` only validates, and ``transform``
    may be called without it. Every file is checked (it exists, is not empty,
    has a readable header, is longer than ``offset``) before any is decoded;
    a file that fails raises a ``ValueError`` naming it and its row in ``X``.

    The output is a plain array, which carries no sample rate: a following
    :class:`MelTransformer` cannot tell which ``sr`` it was read at, so give
    both steps the same ``sr``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np, soundfile as sf
    >>> from sklearn_hier.audio import AudioLoader
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "half_second.wav")
    ...     sf.write(path, np.full(4000, 0.5), 8000)  # 0.5 s at 8 kHz
    ...     clips = AudioLoader(sr=8000, duration=1.0).fit_transform([path])
    >>> clips.shape, clips.dtype
    ((1, 8000), dtype('float32'))
    >>> clips[0, [0, 3999, 4000]]  # the missing half second is zero-padded
    array([0.5, 0.5, 0. ], dtype=float32)
    """

    _parameter_constraints: dict = {
        "sr": [Interval(Real, 0, None, closed="neither")],
        "duration": [Interval(Real, 0, None, closed="neither")],
        "offset": [Interval(Real, 0, None, closed="left")],
        "n_jobs": [Integral, None],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "on_truncated": [StrOptions({"warn", "raise"})],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        sr: float = 44100,
        duration: float = 1.0,
        offset: float = 0.0,
        n_jobs: int | None = None,
        memory: Any = None,
        on_truncated: str = "warn",
        verbose: int = 1,
    ) -> None:
        self.sr = sr
        self.duration = duration
        self.offset = offset
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_truncated = on_truncated
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> AudioLoader:
        """Check the parameters and the file list; nothing is learned.

        Parameters
        ----------
        X : array-like of shape (n_files,)
            Paths of audio files (str or os.PathLike).
        y : None
            Ignored.

        Returns
        -------
        self : AudioLoader
            The transformer, unchanged.

        Examples
        --------
        >>> AudioLoader().fit(["a.wav"])
        AudioLoader()
        """
        self._n_output_samples()
        _as_memory(self.memory)
        _check_paths(X)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Read, downmix, resample, cut and pad every file.

        Parameters
        ----------
        X : array-like of shape (n_files,)
            Paths of audio files (str or os.PathLike).

        Returns
        -------
        waveforms : ndarray of shape (n_files, round(sr * duration)), float32
            One mono clip per file, in the order of ``X``.

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np, soundfile as sf
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "stereo.flac")
        ...     sf.write(path, np.array([[0.5, -0.5], [0.25, 0.75]]), 8000)  # 2 frames, 2 channels
        ...     clips = AudioLoader(sr=8000, duration=0.0005).transform([path])  # 4 samples
        >>> clips  # channels averaged, then zero-padded
        array([[0. , 0.5, 0. , 0. ]], dtype=float32)
        """
        self._validate_params()
        n_samples = self._n_output_samples()
        paths = _check_paths(X)
        stamps = [_checked_stamp(path, row, self.offset, self.on_truncated) for row, path in enumerate(paths)]
        load = check_memory(_as_memory(self.memory)).cache(_cached_clip)
        clips = Parallel(n_jobs=self.n_jobs, prefer="threads", return_as="generator")(
            delayed(load)(path, stamp, self.sr, self.offset, self.duration, n_samples)
            for path, stamp in zip(paths, stamps, strict=True)
        )
        out = np.empty((len(paths), n_samples), dtype=np.float32)
        for row, clip in enumerate(
            progress(clips, total=len(paths), desc="Reading audio", unit="file", verbose=self.verbose)
        ):
            out[row] = clip
        return out

    def _n_output_samples(self) -> int:
        n_samples = round(self.sr * self.duration)
        if n_samples < 1:
            raise ValueError(
                f"sr={self.sr} and duration={self.duration} give {n_samples} samples per clip; need at least 1."
            )
        return n_samples

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Its input is a list of file paths, so sklearn's checks (which feed 2-D numeric arrays)
        # are skipped as they are for its text vectorizers; tests/test_audio.py runs the
        # data-free API checks instead.
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        tags.requires_fit = False
        return tags


def _as_memory(memory: Any) -> Any:
    """``memory`` for ``check_memory``: a folder as a str; a path to something else refused by name."""
    memory = os.fspath(memory) if isinstance(memory, os.PathLike) else memory
    if isinstance(memory, str) and os.path.exists(memory) and not os.path.isdir(memory):
        raise ValueError(
            f"memory={memory!r} is a file, not a folder: memory is the folder of the cache of decoded clips "
            "(created if missing), or a joblib.Memory; give a folder path."
        )
    return memory


def _check_paths(X: Any) -> list[str]:
    """The file paths in ``X`` as strings, after checking its shape and types.

    Examples
    --------
    >>> _check_paths(np.array(["a.wav", "b.flac"]))
    ['a.wav', 'b.flac']
    """
    if isinstance(X, str | os.PathLike):
        raise TypeError(f"X must be a 1-D array-like of file paths, not a single path; got {X!r}.")
    paths = np.asarray(X, dtype=object)
    if paths.ndim != 1:
        raise ValueError(f"X must be a 1-D array-like of file paths; got shape {paths.shape}.")
    if paths.size == 0:
        raise ValueError("X contains no file paths.")
    for row, path in enumerate(paths):
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"X[{row}] is {path!r} ({type(path).__name__}); expected a file path (str or os.PathLike).")
    return [os.fspath(path) for path in paths]


def _checked_stamp(path: str, row: int, offset: float, on_truncated: str = "warn") -> tuple[int, int]:
    """The file's (size, modification time), after checking it can be read from ``offset``.

    Raises ``ValueError`` naming the file and its row when it is missing,
    empty, not audio, or no longer than ``offset`` seconds; warns or raises
    (``on_truncated``) when it holds less audio than its header declares.
    """
    where = f"Audio file {path!r} (X[{row}])"
    if not os.path.isfile(path):
        raise ValueError(f"{where} does not exist or is not a file.")
    status = os.stat(path)
    if status.st_size == 0:
        raise ValueError(f"{where} is empty (0 bytes).")
    length = _duration_s(path, where)
    _check_complete(path, where, on_truncated)
    if length == 0:
        raise ValueError(f"{where} holds no audio samples.")
    if offset >= length:
        raise ValueError(f"{where} lasts {length:.3f} s, which does not reach offset={offset} s.")
    return status.st_size, status.st_mtime_ns


def _duration_s(path: str, where: str) -> float:
    """Length of an audio file in seconds, read from its header."""
    try:
        info = sf.info(path)
        return info.frames / info.samplerate
    except sf.LibsndfileError as sf_error:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # librosa announces its fallback to audioread
                return librosa.get_duration(path=path)
        except Exception as fallback_error:  # audioread raises many unrelated types for unreadable files
            raise ValueError(f"{where} cannot be read as audio: {sf_error}") from fallback_error


# libsndfile's report on a WAV whose data chunk is shorter than its header says: "data : 16000 (should be 7978)".
_SHORT_DATA = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def _check_complete(path: str, where: str, on_truncated: str) -> None:
    """Warn or raise when libsndfile reports fewer data bytes than the file's header declares."""
    try:
        report = sf.info(path).extra_info
    except sf.LibsndfileError:  # a format only librosa reads: no header report to compare
        return
    match = _SHORT_DATA.search(report)
    if match is None or int(match.group(2)) >= int(match.group(1)):
        return
    declared, present = int(match.group(1)), int(match.group(2))
    message = (
        f"{where} is truncated: its header declares {declared} bytes of audio but it holds {present} "
        f"({present / declared:.0%}); the missing part is read as silence (zero-padded)."
    )
    if on_truncated == "raise":
        raise ValueError(message)
    warnings.warn(message + " Pass on_truncated='raise' to refuse such files.", UserWarning, stacklevel=5)


def _cached_clip(
    path: str, stamp: tuple[int, int], sr: float, offset: float, duration: float, n_samples: int
) -> np.ndarray:
    """One clip, via :func:`_load_clip`; ``stamp`` (size, mtime) only makes the cache key change with the file."""
    return _load_clip(path, sr, offset, duration, n_samples)


def _load_clip(path: str, sr: float, offset: float, duration: float, n_samples: int) -> np.ndarray:
    """One mono clip of ``n_samples`` at ``sr``: read, downmix, resample, cut, zero-pad."""
    mono, native_sr = _read_mono(path, offset, duration)
    if native_sr != sr:
        mono = librosa.resample(mono, orig_sr=native_sr, target_sr=sr, res_type=_RESAMPLER)
    clip = np.zeros(n_samples, dtype=np.float32)
    kept = min(n_samples, len(mono))
    clip[:kept] = mono[:kept]
    return clip


def _read_mono(path: str, offset: float, duration: float) -> tuple[np.ndarray, float]:
    """``duration`` seconds from ``offset`` at the file's own rate, channels averaged."""
    try:
        with sf.SoundFile(path) as audio:
            native_sr = audio.samplerate
            # int() truncation, as librosa.load does, so both start on the same sample.
            audio.seek(int(offset * native_sr))
            frames = audio.read(frames=int(duration * native_sr), dtype="float32", always_2d=True)
        return frames.mean(axis=1), native_sr
    except sf.LibsndfileError:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # librosa announces its fallback to audioread
                return librosa.load(path, sr=None, mono=True, offset=offset, duration=duration, dtype=np.float32)
        except Exception as error:  # audioread raises many unrelated types for corrupt data
            raise ValueError(f"Audio file {path!r} cannot be decoded: {error}") from error
