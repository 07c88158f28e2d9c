"""Polyphonic clips: single soundfont notes of different leaves mixed, labelled with the set of their paths."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from sklearn_hier._progress import progress
from sklearn_hier._warnings import warn_at_caller
from sklearn_hier.datasets._base import get_data_home
from sklearn_hier.datasets._midi import TECHNIQUES
from sklearn_hier.datasets._soundfont import (
    RENDER_CONSTRAINTS,
    SOUNDFONT_FORMAT_VERSION,
    cache_key,
    load_soundfont_instruments,
    plan_leaves,
    read_soundfont,
    write_cache,
)
from sklearn_hier.taxonomy import Taxonomy, label_paths

__all__ = ["load_soundfont_mixtures"]

# Bump when the planning or the mixing changes, so old caches are not read.
MIXTURES_FORMAT_VERSION = 1
# Every mixture's peak: -6 dBFS, headroom for 16-bit files and for adding noise later.
_PEAK = 0.5
# The notes are the single-note set rendered with its default seed (which only moves tremolo
# velocities), so that every random_state of the mixtures shares one render of them.
_NOTES_SEED = 0
# How many levels of family/instrument/technique two notes of one mixture must differ at.
_DISTINCT_DEPTHS = {"family": 1, "instrument": 2, "leaf": 3}
_PLURALS = {"family": "families", "instrument": "instruments", "leaf": "leaves"}


@dataclass(frozen=True)
class _Mixture:
    notes: tuple[int, ...]  # rows of the single-note set, in tree order
    levels_db: tuple[float, ...]  # one per note, relative to equal loudness (RMS)


@validate_params(
    {
        **RENDER_CONSTRAINTS,
        "n_clips": [Interval(Integral, 1, None, closed="left")],
        "n_notes": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "distinct": [StrOptions(set(_DISTINCT_DEPTHS))],
        "level_db": [Interval(Real, 0, 60, closed="both")],
    },
    prefer_skip_nested_validation=True,
)
def load_soundfont_mixtures(
    *,
    families: Iterable[str] | None = None,
    programs: Iterable[int] | None = None,
    techniques: Iterable[str] | None = None,
    n_clips: int = 4000,
    n_notes: int | tuple[int, int] = (2, 3),
    distinct: str = "leaf",
    level_db: float = 6.0,
    n_per_leaf: int | None = 20,
    sr: int = 44100,
    duration: float = 1.0,
    soundfont: str | os.PathLike | None = None,
    data_home: str | os.PathLike | None = None,
    render_if_missing: bool = True,
    as_frame: bool = False,
    n_jobs: int | None = None,
    verbose: int = 1,
    random_state: int = 0,
) -> Bunch:
    """Load polyphonic clips that mix soundfont notes of different leaves, each labelled with a label set.

    Every clip sounds 2 or 3 (``n_notes``) single notes of different
    instruments or techniques at once; its label is the ``frozenset`` of the
    notes' paths ``family/instrument/technique``, e.g.
    ``frozenset({"Strings/Violin/vibrato", "Brass/Trumpet/staccato"})``:
    real polyphonic audio with a known hierarchy, for multi-label learning.
    The notes are exactly the clips of :func:`load_soundfont_instruments`
    (offline, from the soundfont shipped in ``pretty_midi``), so the two sets
    share one tree and one render.

    =================  ======================================================
    Clips (default)    4,000 mono clips of ``duration`` seconds at ``sr``
    Labels (default)   2 or 3 paths per clip, out of 192 leaves
    Notes (default)    3,840 single notes (20 per leaf), each rendered once
    =================  ======================================================

    The first call renders the single notes (a progress bar shows), mixes
    them and caches both in the data home; later calls with the same
    parameters read the cache. The same parameters and soundfont give
    bit-identical arrays.

    Parameters
    ----------
    families : array-like of str, default=None
        General MIDI families to keep, as in :func:`load_soundfont_instruments`.
    programs : array-like of int, default=None
        General MIDI programs (0-127); None means the 32 default programs of
        :func:`load_soundfont_instruments`, filtered by ``families``.
    techniques : array-like of str, default=None
        A subset of :data:`TECHNIQUES`; None means all six.
    n_clips : int, default=4000
        Number of mixtures.
    n_notes : int or tuple of (int, int), default=(2, 3)
        Notes per mixture: exactly ``n_notes``, or a number drawn uniformly
        from ``low`` to ``high`` inclusive for each clip.
    distinct : {"leaf", "instrument", "family"}, default="leaf"
        What the notes of one mixture must differ in: "leaf" allows one
        instrument with two techniques (a violin's vibrato and its staccato),
        "instrument" needs different programs, "family" different families.
        Each clip therefore has exactly as many labels as notes.
    level_db : float, default=6.0
        Spread of the notes' levels: each note, scaled to unit RMS, gets a
        gain drawn uniformly from ``-level_db`` to 0 dB; 0 mixes every note at
        equal loudness.
    n_per_leaf : int, default=20
        Single notes per leaf the mixtures draw from: the clips of
        ``load_soundfont_instruments(n_per_leaf=n_per_leaf, n_rare_leaves=0)``,
        spread over the instrument's range at velocities 40, 80 and 120.
        None keeps the whole grid (39 to 93 notes per leaf).
    sr : int, default=44100
        Sample rate of the clips, in Hz.
    duration : float, default=1.0
        Length of each clip in seconds; all its notes start at 0.
    soundfont : str or path-like, default=None
        Another ``.sf2`` file to render with; None uses ``TimGM6mb.sf2`` from
        ``pretty_midi``.
    data_home : str or path-like, default=None
        Cache folder; see :func:`get_data_home`.
    render_if_missing : bool, default=True
        Render the single notes when the cache lacks them; if False, raise
        instead (mixing cached notes again is not rendering and always runs).
    as_frame : bool, default=False
        Return the per-clip metadata as a pandas DataFrame in ``frame``.
    n_jobs : int, default=None
        Processes rendering the notes in parallel (joblib); None means 1
        unless in a ``joblib.parallel_config`` context, -1 means all cores.
    verbose : int, default=1
        Show a progress bar while rendering and mixing; 0 is silent.
    random_state : int, default=0
        Chooses each clip's number of notes, leaves, notes and levels. The
        notes themselves do not depend on it: every seed mixes the same render.

    Returns
    -------
    data : Bunch
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_clips, round(sr * duration)), dtype float32
            Mono waveforms, each with a peak of 0.5.
        target : ndarray of shape (n_clips,), dtype object
            One ``frozenset`` of label paths per clip (a label set).
        taxonomy : Taxonomy
            The tree of every leaf some clip carries.
        frame : DataFrame of shape (n_clips, 10) or None
            With ``as_frame=True``, per clip: target, n_notes, and one tuple
            per note, in tree order, in each of paths, programs, pitches,
            velocities, levels_db (the drawn level), gains (the factor that
            multiplied the single note, see Notes) and notes (the note's row
            in the single-note set).
        sr : int
            The sample rate.
        DESCR : str
            Description of the dataset.

    Raises
    ------
    ValueError
        On an unknown family, program or technique, an ``n_notes`` that is not
        one or two positive ints in order, or more notes per clip than there
        are distinct leaves (instruments, families) to draw them from.
    FileNotFoundError
        If ``soundfont`` does not exist, or neither the mixtures nor their
        single notes are cached and ``render_if_missing=False``.

    See Also
    --------
    load_soundfont_instruments : The single notes these clips mix.

    Notes
    -----
    Drawing (``random_state``): for each clip, a number of notes; then leaves
    one at a time, uniformly among those whose family, instrument or leaf
    (``distinct``) is not in the clip yet; then one of each leaf's
    ``n_per_leaf`` notes and a level. Clips are drawn independently.

    Mixing: ``clip = sum_k gain_k * note_k`` with
    ``gain_k = s * 10 ** (level_k / 20) / rms(note_k)``, the sum taken in
    float64, and ``s`` setting the clip's peak to 0.5. Scaling each note to
    unit RMS first keeps every label audible: the rendered levels differ by
    about 20 dB between velocities 40 and 120 and by more between presets, so
    a plain sum would bury quiet notes under loud ones (the velocity still
    changes the timbre). A common peak, rather than the sum's own level,
    keeps loudness from telling how many notes a clip holds. All notes start
    together at the clip's start.

    Cost: one render per single note (``n_per_leaf`` per leaf), shared with
    :func:`load_soundfont_instruments` called with ``n_per_leaf``,
    ``n_rare_leaves=0`` and ``random_state=0`` (its cache is this loader's
    cache of notes); the mixing itself takes seconds. The default
    configuration needs about 0.7 GB for the notes and 0.7 GB for the clips.

    Cache: under ``soundfont_mixtures/`` in the data home, in a folder named
    by a hash of the parameters above (except ``data_home``, ``n_jobs``,
    ``verbose`` and ``as_frame``), the soundfont's SHA-256 and the format
    versions of the notes and the mixtures; ``params.json`` beside the arrays
    must equal them. A cache that cannot be read, or holds other parameters,
    is mixed again with a warning.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_hier.datasets import load_soundfont_mixtures
    >>> bunch = load_soundfont_mixtures(
    ...     programs=[40, 56, 73], techniques=["ordinario"], n_clips=4, n_notes=2,
    ...     n_per_leaf=2, sr=8000, duration=0.5, data_home=tempfile.mkdtemp(), verbose=0)
    >>> bunch.data.shape  # 4 clips of 0.5 s at 8 kHz
    (4, 4000)
    >>> sorted(bunch.target[0])  # two notes of different instruments
    ['Brass/Trumpet/ordinario', 'Pipe/Flute/ordinario']
    >>> bunch.taxonomy.n_leaves
    3
    """
    low, high = _check_n_notes(n_notes)
    soundfont_path, soundfont_bytes = read_soundfont(soundfont)
    leaves = plan_leaves(families, programs, techniques, n_per_leaf, warn_shared=soundfont is None)
    _check_enough_leaves(leaves, high, distinct, n_notes)
    mixtures = _plan_mixtures(leaves, n_clips, (low, high), distinct, float(level_db), random_state)
    params = {
        "version": MIXTURES_FORMAT_VERSION,
        "notes_version": SOUNDFONT_FORMAT_VERSION,
        "soundfont_sha256": hashlib.sha256(soundfont_bytes).hexdigest(),
        "programs": sorted({leaf.program for leaf in leaves}),
        "techniques": [t for t in TECHNIQUES if t in {leaf.technique for leaf in leaves}],
        "n_per_leaf": n_per_leaf,
        "n_clips": n_clips,
        "n_notes": [low, high],
        "distinct": distinct,
        "level_db": float(level_db),
        "sr": sr,
        "duration": float(duration),
        "random_state": random_state,
    }
    folder = Path(get_data_home(data_home)) / "soundfont_mixtures" / cache_key(params)
    n_samples = int(round(sr * duration))
    cached = _read_cache(folder, params, (n_clips, n_samples), sum(len(m.notes) for m in mixtures))
    if cached is None:
        notes = _load_notes(params, soundfont, data_home, render_if_missing, n_jobs, verbose)
        data, gains = _mix(notes, mixtures, verbose)
        write_cache(folder, data, params, gains=gains)
    else:
        data, gains = cached
    return _bunch(data, gains, mixtures, leaves, Path(soundfont_path).name, params, as_frame)


# ------------------------------------------------------------------ checks
def _check_n_notes(n_notes: Any) -> tuple[int, int]:
    pair = (n_notes, n_notes) if isinstance(n_notes, Integral) else tuple(n_notes)
    ok = len(pair) == 2 and all(isinstance(n, Integral) and not isinstance(n, bool) for n in pair)
    if not ok or not 1 <= pair[0] <= pair[1]:
        raise ValueError(f"n_notes must be an int >= 1 or a pair (low, high) with 1 <= low <= high; got {n_notes!r}.")
    return int(pair[0]), int(pair[1])


def _group(path: str, distinct: str) -> str:
    return "/".join(path.split("/")[: _DISTINCT_DEPTHS[distinct]])


def _check_enough_leaves(leaves: Sequence[Any], high: int, distinct: str, n_notes: Any) -> None:
    groups = {_group(leaf.path, distinct) for leaf in leaves}
    if high > len(groups):
        raise ValueError(
            f"n_notes={n_notes!r} asks for up to {high} notes of different {_PLURALS[distinct]} in one clip "
            f"(distinct={distinct!r}), but the chosen programs and techniques give {len(groups)}; "
            "choose more of them or fewer notes."
        )


# ------------------------------------------------------------------ drawing
def _plan_mixtures(
    leaves: Sequence[Any], n_clips: int, n_notes: tuple[int, int], distinct: str, level_db: float, seed: int
) -> list[_Mixture]:
    """Each clip's notes (rows of the single-note set) and levels, drawn from ``seed`` alone."""
    first_row = np.cumsum([0] + [len(leaf.pitches) for leaf in leaves])
    groups = [_group(leaf.path, distinct) for leaf in leaves]
    rng = np.random.RandomState(seed)
    mixtures = []
    for size in rng.randint(n_notes[0], n_notes[1] + 1, size=n_clips):
        chosen = _distinct_leaves(rng.permutation(len(leaves)), groups, int(size))
        notes = tuple(int(first_row[i] + rng.randint(len(leaves[i].pitches))) for i in chosen)
        levels = tuple(float(v) for v in rng.uniform(-level_db, 0.0, size=len(notes)))
        mixtures.append(_Mixture(notes, levels))
    return mixtures


def _distinct_leaves(order: np.ndarray, groups: Sequence[str], size: int) -> list[int]:
    # Scanning a random order and skipping taken groups draws each next leaf uniformly among the allowed ones.
    taken: set[str] = set()
    chosen = []
    for i in order:
        if groups[i] not in taken:
            taken.add(groups[i])
            chosen.append(int(i))
            if len(chosen) == size:
                break
    return sorted(chosen)


# ------------------------------------------------------------------ mixing
def _load_notes(
    params: dict[str, Any],
    soundfont: str | os.PathLike | None,
    data_home: str | os.PathLike | None,
    render_if_missing: bool,
    n_jobs: int | None,
    verbose: int,
) -> np.ndarray:
    """The single-note set the mixtures draw from, rendered or read from its own cache."""
    try:
        with warnings.catch_warnings():
            # Already warned once, when the programs were chosen.
            warnings.filterwarnings("ignore", message=".*play the same samples", category=UserWarning)
            notes = load_soundfont_instruments(
                programs=params["programs"],
                techniques=params["techniques"],
                n_per_leaf=params["n_per_leaf"],
                n_rare_leaves=0,
                sr=params["sr"],
                duration=params["duration"],
                soundfont=soundfont,
                data_home=data_home,
                render_if_missing=render_if_missing,
                n_jobs=n_jobs,
                verbose=verbose,
                random_state=_NOTES_SEED,
            )
    except FileNotFoundError as exc:
        if render_if_missing:
            raise
        raise FileNotFoundError(
            "Neither the soundfont mixtures for these parameters nor the single notes they mix are cached; "
            "pass render_if_missing=True to render them."
        ) from exc
    return notes.data


def _mix(notes: np.ndarray, mixtures: Sequence[_Mixture], verbose: int) -> tuple[np.ndarray, np.ndarray]:
    """The clips, and the gain of every note of every clip in order (see the loader's Notes)."""
    rms = np.sqrt(np.array([np.mean(np.square(row, dtype=np.float64)) for row in notes]))
    data = np.empty((len(mixtures), notes.shape[1]), dtype=np.float32)
    gains = []
    clips = progress(mixtures, total=len(mixtures), desc="Mixing soundfont notes", unit="clip", verbose=verbose)
    for i, mixture in enumerate(clips):
        # A silent note (possible with another soundfont) stays silent instead of dividing by zero.
        levels = zip(mixture.notes, mixture.levels_db, strict=True)
        unit = [10 ** (level / 20) / rms[r] if rms[r] > 0 else 0.0 for r, level in levels]
        # Elementwise, in float64, in note order: no BLAS call whose summation order could vary.
        mix = sum(g * notes[r].astype(np.float64) for g, r in zip(unit, mixture.notes, strict=True))
        peak = np.abs(mix).max()
        scale = _PEAK / peak if peak > 0 else 0.0
        data[i] = mix * scale
        gains += [g * scale for g in unit]
    return data, np.array(gains, dtype=np.float64)


# ------------------------------------------------------------------- cache
def _read_cache(
    folder: Path, params: dict[str, Any], shape: tuple[int, int], n_gains: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached clips and gains, or None (with a warning when a cache is there but unusable)."""
    if not folder.exists():
        return None
    try:
        stored = json.loads((folder / "params.json").read_text())
        data = np.load(folder / "data.npy", allow_pickle=False)
        gains = np.load(folder / "gains.npy", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:  # a missing, truncated or foreign file
        problem = f"cannot be read ({type(exc).__name__}: {exc})"
    else:
        # JSON turns tuples into lists: compare what was written with what would be.
        if stored != json.loads(json.dumps(params)):
            problem = "was written for other parameters"
        elif data.shape != shape or data.dtype != np.float32 or gains.shape != (n_gains,):
            problem = f"holds arrays of shapes {data.shape} and {gains.shape}, not {shape} and ({n_gains},)"
        else:
            return data, gains
    warn_at_caller(f"The cached soundfont mixtures in {str(folder)!r} {problem}; mixing them again.")
    return None


# -------------------------------------------------------------------- bunch
def _bunch(
    data: np.ndarray,
    gains: np.ndarray,
    mixtures: Sequence[_Mixture],
    leaves: Sequence[Any],
    soundfont: str,
    params: dict[str, Any],
    as_frame: bool,
) -> Bunch:
    # One row per single note, in the single-note set's order: what a mixture's note indices point at.
    rows = [
        (leaf.path, leaf.program, pitch, velocity)
        for leaf in leaves
        for pitch, velocity in zip(leaf.pitches, leaf.velocities, strict=True)
    ]
    paths = [tuple(rows[r][0] for r in m.notes) for m in mixtures]
    used = label_paths(sorted({p for clip in paths for p in clip}))  # the label contract, on every leaf used
    taxonomy = Taxonomy.from_paths(used)
    target = np.empty(len(mixtures), dtype=object)
    target[:] = [frozenset(clip) for clip in paths]
    frame = None
    if as_frame:
        frame = _frame(target, paths, gains, mixtures, rows)
    return Bunch(
        data=data,
        target=target,
        taxonomy=taxonomy,
        frame=frame,
        sr=params["sr"],
        DESCR=_describe(mixtures, taxonomy, soundfont, params),
    )


def _frame(
    target: np.ndarray,
    paths: Sequence[tuple[str, ...]],
    gains: np.ndarray,
    mixtures: Sequence[_Mixture],
    rows: Sequence[tuple[str, int, int, int]],
) -> Any:
    try:
        import pandas as pd
    except ImportError as exc:  # pandas is optional for the library
        raise ImportError("as_frame=True needs pandas; install it or pass as_frame=False.") from exc
    ends = np.cumsum([len(m.notes) for m in mixtures])
    per_clip = np.split(gains, ends[:-1])

    def column(values: Iterable[Any]) -> np.ndarray:
        out = np.empty(len(mixtures), dtype=object)
        out[:] = list(values)
        return out

    return pd.DataFrame(
        {
            "target": target,
            "n_notes": [len(m.notes) for m in mixtures],
            "paths": column(paths),
            "programs": column(tuple(rows[r][1] for r in m.notes) for m in mixtures),
            "pitches": column(tuple(rows[r][2] for r in m.notes) for m in mixtures),
            "velocities": column(tuple(rows[r][3] for r in m.notes) for m in mixtures),
            "levels_db": column(m.levels_db for m in mixtures),
            "gains": column(tuple(float(g) for g in clip) for clip in per_clip),
            "notes": column(m.notes for m in mixtures),
        }
    )


def _describe(mixtures: Sequence[_Mixture], taxonomy: Taxonomy, soundfont: str, params: dict[str, Any]) -> str:
    sizes, counts = np.unique([len(m.notes) for m in mixtures], return_counts=True)
    levels = " / ".join(str(len(level)) for level in taxonomy.levels[1:])
    per_leaf = "every note of each leaf's grid" if params["n_per_leaf"] is None else f"{params['n_per_leaf']} per leaf"
    return (
        "Soundfont mixtures\n"
        "------------------\n"
        f"{len(mixtures)} mono clips of {params['duration']} s at {params['sr']} Hz, each the sum of single notes "
        f"of different {_PLURALS[params['distinct']]} rendered offline from {soundfont} with midirenderer "
        f"({per_leaf}, as in load_soundfont_instruments), all starting at 0.\n"
        f"Notes per clip: {', '.join(f'{s} ({c} clips)' for s, c in zip(sizes, counts, strict=True))}.\n"
        f"Labels: the set of the notes' paths family/instrument/technique.\n"
        f"Mixing: each note scaled to unit RMS, then by a level drawn in [-{params['level_db']}, 0] dB; "
        f"the sum scaled to a peak of {_PEAK}.\n"
        f"Label tree: {levels} nodes per level, {taxonomy.n_leaves} leaves.\n"
    )
