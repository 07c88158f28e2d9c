"""Single notes of General MIDI instruments rendered offline from a soundfont."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, validate_params

from sklearn_hier._progress import progress
from sklearn_hier.datasets._base import get_data_home, make_bunch
from sklearn_hier.datasets._midi import TECHNIQUES, render_notes

__all__ = ["TECHNIQUES", "load_soundfont_instruments"]


# Four programs from each of eight General MIDI families whose TimGM6mb samples
# are distinct and on which every technique is audible (measured; see the Notes
# of load_soundfont_instruments).
DEFAULT_PROGRAMS = (
    *(0, 4, 6, 7),  # Piano
    *(8, 10, 11, 15),  # Chromatic Percussion
    *(16, 19, 21, 22),  # Organ
    *(24, 25, 26, 27),  # Guitar
    *(40, 42, 43, 46),  # Strings
    *(56, 57, 58, 60),  # Brass
    *(65, 68, 70, 71),  # Reed
    *(72, 73, 74, 75),  # Pipe
)
# Playable range (lowest, highest MIDI note) of each default program.
_RANGES = {
    0: (36, 96), 4: (40, 88), 6: (41, 89), 7: (41, 84),
    8: (60, 96), 10: (60, 96), 11: (53, 89), 15: (48, 84),
    16: (36, 96), 19: (36, 96), 21: (53, 89), 22: (60, 84),
    24: (40, 84), 25: (40, 84), 26: (40, 84), 27: (40, 84),
    40: (55, 96), 42: (36, 76), 43: (28, 60), 46: (36, 96),
    56: (54, 82), 57: (40, 72), 58: (28, 58), 60: (34, 77),
    65: (49, 81), 68: (58, 91), 70: (34, 75), 71: (50, 91),
    72: (74, 102), 73: (60, 96), 74: (72, 98), 75: (60, 96),
}  # fmt: skip
# Any other program plays the range of its family.
_FAMILY_RANGES = {
    "Piano": (36, 96), "Chromatic Percussion": (60, 96), "Organ": (36, 96), "Guitar": (40, 84),
    "Bass": (28, 60), "Strings": (36, 91), "Ensemble": (43, 91), "Brass": (40, 79), "Reed": (46, 86),
    "Pipe": (60, 96), "Synth Lead": (48, 84), "Synth Pad": (48, 84), "Synth Effects": (48, 84),
    "Ethnic": (48, 84), "Percussive": (48, 84), "Sound Effects": (48, 84),
}  # fmt: skip
# Programs that play the same samples in TimGM6mb (measured): two of one set
# would be two leaves no model can tell apart.
_SAME_SAMPLES_IN_TIMGM6MB = (
    {0, 1, 2, 3}, {40, 41, 110}, {51, 86, 89, 90, 95, 97}, {38, 87}, {88, 92}, {76, 121}, {21, 23}, {22, 23},
)  # fmt: skip
_DEFAULT_SOUNDFONT = "TimGM6mb.sf2"
_VELOCITIES = (40, 80, 120)
_PITCH_STEP = 2
_RARE_SIZES = (3, 9)  # inclusive bounds of a rare leaf's clip count
# Bump when the rendering changes, so old caches are not read (and comparisons fingerprint it).
SOUNDFONT_FORMAT_VERSION = 1


@dataclass(frozen=True)
class _Leaf:
    program: int
    technique: str
    pitches: tuple[int, ...]
    velocities: tuple[int, ...]

    @property
    def path(self) -> str:
        return "/".join(_program_names(self.program) + (self.technique,))


# The parameters every soundfont loader shares (the single notes and their mixtures), as validate_params reads them.
RENDER_CONSTRAINTS = {
    "families": ["array-like", None],
    "programs": ["array-like", None],
    "techniques": ["array-like", None],
    "n_per_leaf": [Interval(Integral, 1, None, closed="left"), None],
    "sr": [Interval(Integral, 1000, None, closed="left")],
    "duration": [Interval(Real, 0.05, 10, closed="both")],
    "soundfont": [str, os.PathLike, None],
    "data_home": [str, os.PathLike, None],
    "render_if_missing": ["boolean"],
    "as_frame": ["boolean"],
    "n_jobs": [Integral, None],
    "verbose": ["verbose"],
    "random_state": [Interval(Integral, 0, 2**32 - 1, closed="both")],
}


@validate_params(
    {**RENDER_CONSTRAINTS, "n_rare_leaves": [Interval(Integral, 0, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def load_soundfont_instruments(
    *,
    families: Iterable[str] | None = None,
    programs: Iterable[int] | None = None,
    techniques: Iterable[str] | None = None,
    n_per_leaf: int | None = None,
    n_rare_leaves: int = 8,
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
    """Load single instrument notes rendered from a General MIDI soundfont.

    The default real dataset: it needs no download, because the soundfont
    ``TimGM6mb.sf2`` ships inside the ``pretty_midi`` package and
    ``midirenderer`` synthesises offline. Labels follow OrchideaSOL's spirit,
    a three-level tree ``family/instrument/technique`` such as
    ``"Strings/Violin/vibrato"``: General MIDI family, program name and one of
    six playing techniques.

    =================  ======================================================
    Clips (default)    11,605 mono clips of ``duration`` seconds at ``sr``
    Tree (default)     8 families / 32 instruments / 192 leaves (6 techniques)
    Rare leaves        ``n_rare_leaves`` leaves hold 3 to 9 clips only
    =================  ======================================================

    The first call renders the clips (a progress bar shows) and caches them
    in the data home; later calls with the same parameters read the cache.
    Rendering is deterministic: the same parameters and soundfont give
    bit-identical arrays.

    Parameters
    ----------
    families : array-like of str, default=None
        General MIDI families to keep (``"Piano"``, ``"Strings"``, ...). With
        ``programs=None``, their default programs are used.
    programs : array-like of int, default=None
        General MIDI programs (0-127) to render; None means the 32 default
        programs (four per family, see Notes), filtered by ``families``.
    techniques : array-like of str, default=None
        A subset of :data:`TECHNIQUES`; None means all six.
    n_per_leaf : int, default=None
        Clips per leaf, picked evenly over the leaf's (pitch, velocity) grid;
        None keeps the whole grid (every whole tone of the instrument's range
        at velocities 40, 80 and 120: 39 to 93 clips per leaf).
    n_rare_leaves : int, default=8
        Leaves cut down to 3 to 9 clips (and never above ``n_per_leaf``), so
        that an unseen-leaf protocol that never trains on leaves with fewer
        than 10 clips has some.
    sr : int, default=44100
        Sample rate of the clips, in Hz (rendered at 48 kHz, then resampled).
    duration : float, default=1.0
        Length of each clip in seconds, from the note's onset.
    soundfont : str or path-like, default=None
        Another ``.sf2`` file to render with; None uses ``TimGM6mb.sf2`` from
        ``pretty_midi``.
    data_home : str or path-like, default=None
        Cache folder; see :func:`get_data_home`.
    render_if_missing : bool, default=True
        Render when the cache lacks these clips; if False, raise instead.
    as_frame : bool, default=False
        Return the per-clip metadata as a pandas DataFrame in ``frame``.
    n_jobs : int, default=None
        Processes rendering in parallel (joblib); None means 1 unless in a
        ``joblib.parallel_config`` context, -1 means all cores.
    verbose : int, default=1
        Show a progress bar while rendering; 0 is silent.
    random_state : int, default=0
        Chooses the rare leaves and the velocity jitter of tremolos.

    Returns
    -------
    data : Bunch
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_clips, round(sr * duration)), dtype float32
            Mono waveforms, grouped by leaf.
        target : ndarray of shape (n_clips,), dtype object
            Label paths ``family/instrument/technique``.
        taxonomy : Taxonomy
            The tree of the label paths.
        frame : DataFrame of shape (n_clips, 7) or None
            With ``as_frame=True``: target, family, instrument, technique,
            program, pitch (MIDI note) and velocity of each clip.
        sr : int
            The sample rate.
        DESCR : str
            Description of the dataset.

    Raises
    ------
    ValueError
        On an unknown family, program or technique, or more rare leaves than
        leaves.
    FileNotFoundError
        If ``soundfont`` does not exist, or the clips are not cached and
        ``render_if_missing=False``.

    See Also
    --------
    make_hierarchical_sounds : Synthetic sounds on any tree, for fast tests.
    load_orchideasol : The paper's dataset, from a local copy.

    Notes
    -----
    Rendering recipe (``midirenderer``, a Rust port of a General MIDI
    synthesiser): one MIDI file per leaf holds all its notes, ``duration``
    plus 0.15 s apart; reverb and chorus sends are off, and an "all sound
    off" message 0.1 s before each onset cuts the previous note's release
    tail, so no clip hears its neighbour. The stereo output is averaged to
    mono, cut at each onset and resampled with a polyphase filter.

    Techniques: ordinario (the note held for ``duration``), staccato (0.12 s),
    tremolo (12 repeated notes per second, velocity jitter of up to 8),
    vibrato (a 5.5 Hz pitch-bend sine of +/-0.5 semitone; the modulation
    wheel is delayed by some presets), glissando (a pitch-bend ramp up two
    semitones over 80 % of the clip) and crescendo (expression from 30 to
    127).

    Programs: TimGM6mb gives several programs identical samples ({0, 1, 3},
    {40, 41, 110}, {51, 86, 89, 90, 95, 97}, {38, 87}, {88, 92}, {76, 121};
    2 contains 0's, 23 shares with 21 and 22); the defaults keep at most one
    of each, and a warning names any such pair passed in ``programs``. Self-
    decaying percussion (glockenspiel, marimba, xylophone, tubular bells)
    and pizzicato strings are left out: staccato and glissando are inaudible
    on them. The soundfont's licence (GPL-2 in Debian's copy) covers the file,
    which this library reads from the installed package and never copies.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_hier.datasets import load_soundfont_instruments
    >>> bunch = load_soundfont_instruments(
    ...     programs=[40, 56], techniques=["ordinario", "vibrato"], n_per_leaf=2,
    ...     n_rare_leaves=0, sr=16000, data_home=tempfile.mkdtemp(), verbose=0)
    >>> bunch.data.shape  # 2 programs x 2 techniques x 2 clips, 1 s at 16 kHz
    (8, 16000)
    >>> bunch.taxonomy.leaves[:2]
    ('Brass/Trumpet/ordinario', 'Brass/Trumpet/vibrato')
    """
    soundfont_path, soundfont_bytes = read_soundfont(soundfont)
    chosen = _choose_programs(families, programs, warn_shared=soundfont is None)
    chosen_techniques = _choose_techniques(techniques)
    leaves = _plan(chosen, chosen_techniques, n_per_leaf, n_rare_leaves, random_state)
    params = {
        "version": SOUNDFONT_FORMAT_VERSION,
        "soundfont_sha256": hashlib.sha256(soundfont_bytes).hexdigest(),
        "programs": list(chosen),
        "techniques": list(chosen_techniques),
        "n_per_leaf": n_per_leaf,
        "n_rare_leaves": n_rare_leaves,
        "sr": sr,
        "duration": float(duration),
        "random_state": random_state,
    }
    folder = Path(get_data_home(data_home)) / "soundfont_instruments" / cache_key(params)
    n_samples = int(round(sr * duration))
    n_clips = sum(len(leaf.pitches) for leaf in leaves)
    data = _read_cache(folder, (n_clips, n_samples))
    if data is None:
        if not render_if_missing:
            raise FileNotFoundError(
                f"The soundfont clips for these parameters are not cached in {str(folder.parent)!r}; "
                "pass render_if_missing=True to render them."
            )
        data = _render(leaves, soundfont_bytes, sr, duration, random_state, n_jobs, verbose)
        write_cache(folder, data, params)
    return make_bunch(
        data,
        [leaf.path for leaf in leaves for _ in leaf.pitches],
        _columns(leaves),
        _describe(leaves, Path(soundfont_path).name, sr, duration),
        as_frame,
        sr=sr,
    )


# ------------------------------------------------------------------ choices
def read_soundfont(soundfont: str | os.PathLike | None) -> tuple[str, bytes]:
    """The path and content of ``soundfont`` (None: ``TimGM6mb.sf2`` in ``pretty_midi``), checked to be an SF2."""
    if soundfont is None:
        with resources.as_file(resources.files("pretty_midi") / _DEFAULT_SOUNDFONT) as default:
            soundfont = str(default)
    path = os.fspath(soundfont)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Soundfont file {path!r} does not exist.")
    content = Path(path).read_bytes()
    if content[:4] != b"RIFF" or content[8:12] != b"sfbk":
        raise ValueError(f"Soundfont file {path!r} is not a SoundFont 2 file (no RIFF 'sfbk' header).")
    return path, content


@lru_cache(maxsize=128)
def _program_names(program: int) -> tuple[str, str]:
    import pretty_midi

    return pretty_midi.program_to_instrument_class(program), pretty_midi.program_to_instrument_name(program)


def _choose_programs(
    families: Iterable[str] | None, programs: Iterable[int] | None, warn_shared: bool
) -> tuple[int, ...]:
    if programs is None:
        chosen = list(DEFAULT_PROGRAMS)
    else:
        chosen = []
        for program in programs:
            if not isinstance(program, Integral) or isinstance(program, bool) or not 0 <= program <= 127:
                raise ValueError(f"programs must hold General MIDI program numbers 0-127; got {program!r}.")
            chosen.append(int(program))
    if families is not None:
        known = sorted({_program_names(p)[0] for p in range(128)})
        wanted = list(families)
        for family in wanted:
            if family not in known:
                raise ValueError(f"Unknown family {family!r}; the General MIDI families are {known}.")
        chosen = [p for p in chosen if _program_names(p)[0] in wanted]
        missing = [f for f in wanted if f not in {_program_names(p)[0] for p in chosen}]
        if missing:
            raise ValueError(f"No program chosen in families {missing}; pass programs= from these families.")
    if not chosen:
        raise ValueError("programs is empty; pass at least one General MIDI program.")
    chosen = sorted(set(chosen))
    if warn_shared:
        for same in _SAME_SAMPLES_IN_TIMGM6MB:
            clash = sorted(same.intersection(chosen))
            if len(clash) > 1:
                warnings.warn(
                    f"Programs {clash} play the same samples in {_DEFAULT_SOUNDFONT}: their leaves will sound alike.",
                    UserWarning,
                    stacklevel=3,
                )
    return tuple(chosen)


def _choose_techniques(techniques: Iterable[str] | None) -> tuple[str, ...]:
    if techniques is None:
        return TECHNIQUES
    wanted = list(techniques)
    for technique in wanted:
        if technique not in TECHNIQUES:
            raise ValueError(f"Unknown technique {technique!r}; choose among {list(TECHNIQUES)}.")
    if not wanted:
        raise ValueError(f"techniques is empty; choose among {list(TECHNIQUES)}.")
    return tuple(t for t in TECHNIQUES if t in wanted)


def plan_leaves(
    families: Iterable[str] | None,
    programs: Iterable[int] | None,
    techniques: Iterable[str] | None,
    n_per_leaf: int | None,
    *,
    warn_shared: bool,
) -> list[_Leaf]:
    """The leaves and notes ``load_soundfont_instruments(..., n_rare_leaves=0)`` renders, in row order.

    Nothing is rendered: loaders built on the single notes (the mixtures) plan and check
    their parameters with it before any long work.
    """
    chosen = _choose_programs(families, programs, warn_shared=warn_shared)
    # With no rare leaf the seed draws nothing: any value plans the same notes.
    return _plan(chosen, _choose_techniques(techniques), n_per_leaf, 0, 0)


def _note_grid(program: int) -> list[tuple[int, int]]:
    low, high = _RANGES.get(program) or _FAMILY_RANGES[_program_names(program)[0]]
    return [(pitch, velocity) for pitch in range(low, high + 1, _PITCH_STEP) for velocity in _VELOCITIES]


def _plan(
    programs: Sequence[int], techniques: Sequence[str], n_per_leaf: int | None, n_rare: int, seed: int
) -> list[_Leaf]:
    """Every leaf with the notes it will hold, in program then technique order."""
    pairs = [(p, t) for p in programs for t in techniques]
    if n_rare > len(pairs):
        raise ValueError(f"n_rare_leaves={n_rare} cannot exceed the number of leaves={len(pairs)}.")
    rng = np.random.RandomState(seed)
    rare = rng.choice(len(pairs), size=n_rare, replace=False)
    sizes = {int(i): int(rng.randint(_RARE_SIZES[0], _RARE_SIZES[1] + 1)) for i in rare}
    leaves = []
    for i, (program, technique) in enumerate(pairs):
        grid = _note_grid(program)
        size = min(len(grid), n_per_leaf or len(grid), sizes.get(i, len(grid)))
        # Evenly spread over the grid, so a small leaf still spans the instrument's range.
        picked = [grid[j] for j in np.unique(np.linspace(0, len(grid) - 1, size).round().astype(int))]
        leaves.append(_Leaf(program, technique, tuple(p for p, _ in picked), tuple(v for _, v in picked)))
    return leaves


def _columns(leaves: Sequence[_Leaf]) -> dict[str, list[Any]]:
    rows = [
        (*_program_names(leaf.program), leaf.technique, leaf.program, pitch, velocity)
        for leaf in leaves
        for pitch, velocity in zip(leaf.pitches, leaf.velocities, strict=True)
    ]
    names = ("family", "instrument", "technique", "program", "pitch", "velocity")
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


def _describe(leaves: Sequence[_Leaf], soundfont: str, sr: int, duration: float) -> str:
    sizes = [len(leaf.pitches) for leaf in leaves]
    rare = [f"{leaf.path} ({len(leaf.pitches)})" for leaf in leaves if len(leaf.pitches) < 10]
    return (
        "Soundfont instruments\n"
        "---------------------\n"
        f"Single notes rendered offline from {soundfont} with midirenderer: {sum(sizes)} mono clips of "
        f"{duration} s at {sr} Hz.\n"
        f"Labels family/instrument/technique (General MIDI family, program, playing technique); "
        f"leaves hold {min(sizes)} to {max(sizes)} clips.\n"
        f"Notes: every {_PITCH_STEP} semitones of each instrument's range at velocities "
        f"{', '.join(map(str, _VELOCITIES))}.\n"
        f"Leaves with fewer than 10 clips: {', '.join(rare) if rare else 'none'}.\n"
        "Techniques: ordinario (held), staccato (0.12 s), tremolo (12 notes/s), vibrato (5.5 Hz pitch-bend "
        "sine, +/-0.5 semitone), glissando (bend up 2 semitones), crescendo (expression 30 -> 127).\n"
    )


# --------------------------------------------------------------------- cache
def cache_key(params: dict[str, Any]) -> str:
    """The name of the cache folder of ``params``: a hash of their JSON, the same on every machine."""
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:20]


def _read_cache(folder: Path, shape: tuple[int, int]) -> np.ndarray | None:
    path = folder / "data.npy"
    if not path.is_file():
        return None
    data = np.load(path)
    # A cache of another shape was written by other code: render again rather than return it.
    return data if data.shape == shape and data.dtype == np.float32 else None


def write_cache(folder: Path, data: np.ndarray, params: dict[str, Any], **arrays: np.ndarray) -> None:
    """Write ``data.npy``, each of ``arrays`` as ``<name>.npy`` and ``params.json`` into ``folder``, atomically."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Written beside, then renamed: a crash or a concurrent reader never sees half a file.
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".partial-"))
    try:
        np.save(staging / "data.npy", data)
        for name, array in arrays.items():
            np.save(staging / f"{name}.npy", array)
        (staging / "params.json").write_text(json.dumps(params, indent=1, sort_keys=True))
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ----------------------------------------------------------------- rendering
def _render(
    leaves: Sequence[_Leaf],
    soundfont: bytes,
    sr: int,
    duration: float,
    seed: int,
    n_jobs: int | None,
    verbose: int,
) -> np.ndarray:
    from joblib import Parallel, delayed

    n_clips = sum(len(leaf.pitches) for leaf in leaves)
    out = np.empty((n_clips, int(round(sr * duration))), dtype=np.float32)
    # Read once here; a uint8 array (not bytes) so that worker processes get it memory-mapped, not copied.
    sf2 = np.frombuffer(soundfont, dtype=np.uint8)
    jobs = (
        delayed(render_notes)(sf2, leaf.program, leaf.technique, leaf.pitches, leaf.velocities, sr, duration, seed)
        for leaf in leaves
    )
    row = 0
    leaf_clips = Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    for clips in progress(
        leaf_clips, total=len(leaves), desc="Rendering soundfont notes", unit="leaf", verbose=verbose
    ):
        out[row : row + len(clips)] = clips
        row += len(clips)
    return out
