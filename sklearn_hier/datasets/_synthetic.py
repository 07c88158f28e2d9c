"""Synthetic audio whose label tree shapes the sound."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.fft
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from sklearn_hier.taxonomy import Taxonomy

__all__ = ["make_hierarchical_sounds"]

# Each level of the tree moves one group of sound attributes; a tree deeper
# than three levels cycles through the groups again. Every attribute lives on
# [0, 1] and is mapped to physical units by _attribute_values.
_GROUPS = (
    ("formant_low", "formant_high", "formant_gain", "formant_width", "tilt"),
    ("harmonic_slope", "even_gain", "harmonic_peak", "peak_gain"),
    ("attack", "decay", "vibrato_depth", "vibrato_rate", "tremolo_depth", "noise_share"),
)
_ATTRIBUTES = tuple(name for group in _GROUPS for name in group)
_GROUP_OF = np.array([g for g, group in enumerate(_GROUPS) for _ in group])
_LEVEL_NAMES = "abcdefghijklmnopqrstuvwxyz"
# Siblings at depth d spread over _SHRINK ** (d - 1) of an attribute's range:
# deeper splits are subtler, as siblings deep in a real taxonomy sound alike.
_SHRINK = 0.7
_N_HARMONICS = 24
_TABLE_SIZE = 2048
_ENVELOPE_POINTS = 513
_MIN_SAMPLES = 64
_F0_RANGE = (110.0, 440.0)
_GAIN_DB_RANGE = (-12.0, 0.0)
# The std of the per-clip attribute jitter at difficulty 1: siblings of a
# top-level three-way split sit a third of the range apart, so difficulty 1 blurs them.
_JITTER_AT_ONE = 0.25


@validate_params(
    {
        "n_per_leaf": [Interval(Integral, 1, None, closed="left")],
        "branching": ["array-like", Taxonomy],
        "sr": [Interval(Integral, 1000, None, closed="left")],
        "duration": [Interval(Real, 0, None, closed="neither")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "difficulty": [Interval(Real, 0, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_hierarchical_sounds(
    n_per_leaf: int = 20,
    branching: Any = (3, 3, 2),
    *,
    sr: int = 16000,
    duration: float = 0.5,
    noise: float = 0.01,
    difficulty: float = 0.5,
    shuffle: bool = True,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate harmonic sounds whose timbre follows a label tree.

    Every node of the tree moves one group of sound attributes away from its
    parent's values, so that clips are the more alike the deeper their lowest
    common ancestor is, and each level can be heard:

    - level 1 (and 4, 7, ...) sets the spectral envelope: two formants
      (centre, gain, width) and a spectral tilt, applied to harmonics and
      noise alike;
    - level 2 (and 5, ...) sets the harmonic structure: the slope of the
      harmonic amplitudes, the level of the even harmonics and a boosted
      harmonic;
    - level 3 (and 6, ...) sets the temporal shape: attack, decay, vibrato
      depth and rate, tremolo depth and the share of filtered noise.

    Siblings are spread evenly over each attribute their level sets (in a
    random order), so no two siblings sound alike by chance; the spread
    shrinks by 0.7 per level, so deeper splits are subtler. Each clip then
    gets a random pitch (110-440 Hz, log-uniform), a random gain (-12 to 0 dB)
    and a Gaussian jitter of every attribute whose size is set by
    ``difficulty``.

    Parameters
    ----------
    n_per_leaf : int, default=20
        Clips generated for each leaf.
    branching : sequence of int or Taxonomy, default=(3, 3, 2)
        Number of children per node at each level (a full tree), or a
        :class:`~sklearn_hier.taxonomy.Taxonomy` whose leaves are used as is
        (ragged trees included). Generated nodes are named by level letter
        and index: ``"a0/b2/c1"``.
    sr : int, default=16000
        Sample rate in Hz.
    duration : float, default=0.5
        Length of each clip in seconds.
    noise : float, default=0.01
        Standard deviation of white background noise added to every clip
        (clips peak at most at 1 before it).
    difficulty : float, default=0.5
        Standard deviation of the per-clip attribute jitter, as a multiple
        of a quarter of each attribute's range. 0 gives clips that differ from
        their leaf's prototype only in pitch and gain; 1 blurs the boundary
        between siblings of a three-way split.
    shuffle : bool, default=True
        Shuffle the clips; otherwise they are grouped by leaf, in leaf order.
    random_state : int, RandomState instance or None, default=None
        Seeds the tree's sound attributes and every clip.

    Returns
    -------
    X : ndarray of shape (n_leaves * n_per_leaf, round(sr * duration)), dtype float32
        Mono waveforms.
    y : ndarray of shape (n_leaves * n_per_leaf,), dtype object
        Label path of each clip, such as ``"a0/b2/c1"``.

    Raises
    ------
    ValueError
        If ``branching`` holds a count below 1 or more than 26 levels, is a
        Taxonomy without leaves, or ``sr * duration`` is under 64 samples.

    See Also
    --------
    load_soundfont_instruments : Real instrument notes with a three-level tree.

    Examples
    --------
    >>> from sklearn_hier.datasets import make_hierarchical_sounds
    >>> from sklearn_hier.taxonomy import Taxonomy
    >>> X, y = make_hierarchical_sounds(n_per_leaf=2, branching=(2, 3), sr=8000, random_state=0)
    >>> X.shape, X.dtype  # 2 x 3 leaves, 2 clips each, 0.5 s at 8 kHz
    ((12, 4000), dtype('float32'))
    >>> sorted(set(y))[:2]
    ['a0/b0', 'a0/b1']
    >>> tax = Taxonomy.from_paths(["brass/horn", "brass/tuba", "keys"])  # any tree, ragged too
    >>> X, y = make_hierarchical_sounds(n_per_leaf=1, branching=tax, shuffle=False, random_state=0)
    >>> y
    array(['brass/horn', 'brass/tuba', 'keys'], dtype=object)
    """
    n_samples = int(round(sr * duration))
    if n_samples < _MIN_SAMPLES:
        raise ValueError(f"sr * duration must give at least {_MIN_SAMPLES} samples; got sr={sr}, duration={duration}.")
    taxonomy = branching if isinstance(branching, Taxonomy) else _full_tree(branching)
    if taxonomy.n_leaves == 0:
        raise ValueError(
            "branching is an empty Taxonomy (no leaves), so there is no class to make sounds of; give a tree "
            "with at least one leaf, e.g. Taxonomy.from_paths(['brass/horn', 'keys'])."
        )
    rng = check_random_state(random_state)
    leaf_u = _leaf_attributes(taxonomy, rng)
    codes = np.repeat(np.arange(taxonomy.n_leaves), n_per_leaf)
    if shuffle:
        codes = codes[rng.permutation(len(codes))]
    jitter = rng.normal(scale=difficulty * _JITTER_AT_ONE, size=(len(codes), len(_ATTRIBUTES)))
    u = np.clip(leaf_u[codes] + jitter, 0.0, 1.0)
    X = _synthesize(_attribute_values(u), n_samples, sr, noise, rng)
    return X, taxonomy.decode(codes)


def _full_tree(branching: Any) -> Taxonomy:
    counts = np.asarray(branching)
    if counts.ndim != 1 or counts.size == 0 or not np.issubdtype(counts.dtype, np.integer) or (counts < 1).any():
        raise ValueError(f"branching must be a non-empty sequence of positive ints or a Taxonomy; got {branching!r}.")
    if counts.size > len(_LEVEL_NAMES):
        raise ValueError(f"branching may have at most {len(_LEVEL_NAMES)} levels; got {counts.size}.")
    paths: list[tuple[str, ...]] = [()]
    for depth, count in enumerate(counts):
        paths = [(*p, f"{_LEVEL_NAMES[depth]}{i}") for p in paths for i in range(int(count))]
    return Taxonomy.from_paths("/".join(p) for p in paths)


def _leaf_attributes(taxonomy: Taxonomy, rng: np.random.RandomState) -> np.ndarray:
    """Attributes in [0, 1] of every leaf, rows in leaf-code order."""
    u = {"": np.full(len(_ATTRIBUTES), 0.5)}
    for node in taxonomy.nodes:
        kids = taxonomy.children(node)
        if not kids:
            continue
        level = taxonomy.node_depth(node)  # the children's depth minus one
        cols = np.flatnonzero(_GROUP_OF == level % len(_GROUPS))
        spread = _SHRINK**level
        # Evenly spread slots, one per child, shuffled per attribute.
        slots = (np.argsort(rng.random_sample((len(cols), len(kids))), axis=1) + 0.5) / len(kids)
        for i, kid in enumerate(kids):
            u[kid] = u[node].copy()
            u[kid][cols] = u[node][cols] + spread * (slots[:, i] - 0.5)
    return np.clip(np.array([u[leaf] for leaf in taxonomy.leaves]), 0.0, 1.0)


def _attribute_values(u: np.ndarray) -> dict[str, np.ndarray]:
    def lin(name: str, low: float, high: float) -> np.ndarray:
        return low + (high - low) * u[:, _ATTRIBUTES.index(name)]

    def log(name: str, low: float, high: float) -> np.ndarray:
        return low * (high / low) ** u[:, _ATTRIBUTES.index(name)]

    return {
        "harmonic_slope": lin("harmonic_slope", 0.3, 2.2),
        "even_gain": lin("even_gain", -30.0, 0.0),
        "harmonic_peak": log("harmonic_peak", 1.0, 12.0),
        "peak_gain": lin("peak_gain", 0.0, 24.0),
        "formant_low": log("formant_low", 250.0, 1000.0),
        "formant_high": log("formant_high", 1200.0, 4800.0),
        "formant_gain": lin("formant_gain", 0.0, 24.0),
        "formant_width": lin("formant_width", 0.15, 0.8),
        "tilt": lin("tilt", -9.0, 0.0),
        "attack": log("attack", 0.003, 0.2),
        "decay": lin("decay", 0.0, 8.0),
        "vibrato_depth": lin("vibrato_depth", 0.0, 0.04),
        "vibrato_rate": lin("vibrato_rate", 3.0, 8.0),
        "tremolo_depth": lin("tremolo_depth", 0.0, 0.6),
        "noise_share": lin("noise_share", 0.0, 0.6),
    }


def _envelope_db(freqs: np.ndarray, p: dict[str, np.ndarray]) -> np.ndarray:
    """Spectral envelope in dB at ``freqs`` (broadcast against one row of parameters per clip)."""
    octaves = np.log2(np.maximum(freqs, 20.0))
    width = p["formant_width"][:, None]
    low = np.exp(-0.5 * ((octaves - np.log2(p["formant_low"])[:, None]) / width) ** 2)
    high = np.exp(-0.5 * ((octaves - np.log2(p["formant_high"])[:, None]) / width) ** 2)
    return p["tilt"][:, None] * (octaves - np.log2(500.0)) + p["formant_gain"][:, None] * (low + high)


def _synthesize(
    p: dict[str, np.ndarray], n_samples: int, sr: int, noise: float, rng: np.random.RandomState
) -> np.ndarray:
    n = len(p["attack"])
    f0 = _F0_RANGE[0] * (_F0_RANGE[1] / _F0_RANGE[0]) ** rng.random_sample(n)
    gain = 10 ** (rng.uniform(*_GAIN_DB_RANGE, size=n) / 20)
    lfo_phase = rng.uniform(0, 2 * np.pi, size=n)
    # The legacy RandomState draws normals several times slower than a Generator.
    fast = np.random.default_rng(rng.randint(2**31))
    block = max(1, sr // 1000)
    n_blocks = -(-n_samples // block)
    # Pitch and amplitude move slowly, so they are computed once per ~1 ms block.
    t_block = np.arange(n_blocks) * block / sr
    lfo = np.sin(2 * np.pi * p["vibrato_rate"][:, None] * t_block + lfo_phase[:, None])

    harmonic = _harmonic_wave(p, f0, lfo, block, sr)
    shaped_noise = _noise_wave(p, fast, n_blocks * block, sr)
    share = p["noise_share"][:, None, None].astype(np.float32)
    wave = (1 - share) * harmonic + share * shaped_noise
    wave *= _amplitude_envelope(p, t_block, lfo, n_samples / sr)[:, :, None]
    wave = wave.reshape(n, -1)[:, :n_samples]
    wave *= (gain / np.maximum(np.abs(wave).max(axis=1), 1e-9)).astype(np.float32)[:, None]
    if noise:
        wave += noise * fast.standard_normal(wave.shape, dtype=np.float32)
    return wave


def _harmonic_wave(p: dict[str, np.ndarray], f0: np.ndarray, lfo: np.ndarray, block: int, sr: int) -> np.ndarray:
    """Harmonic part at unit RMS, shape (n, n_blocks, block), read from one wavetable per clip."""
    k = np.arange(1, _N_HARMONICS + 1)
    amp_db = -20 * p["harmonic_slope"][:, None] * np.log10(k)
    amp_db += np.where(k % 2 == 0, p["even_gain"][:, None], 0.0)
    amp_db += p["peak_gain"][:, None] * np.exp(-0.5 * (np.log2(k / p["harmonic_peak"][:, None]) / 0.3) ** 2)
    amp_db += _envelope_db(f0[:, None] * k, p)
    # Harmonics that would pass Nyquist at the top of the vibrato are dropped, not aliased.
    top = f0[:, None] * k * (1 + p["vibrato_depth"][:, None])
    spectrum = np.zeros((len(f0), _TABLE_SIZE // 2 + 1))
    spectrum[:, 1 : _N_HARMONICS + 1] = np.where(top < 0.45 * sr, 10 ** (amp_db / 20), 0.0)
    table = np.fft.irfft(spectrum, n=_TABLE_SIZE, axis=1).astype(np.float32)
    table /= np.sqrt((table**2).mean(axis=1, keepdims=True)) + 1e-12
    # Cycles elapsed at each block start, then a constant frequency within the block.
    freq = f0[:, None] * (1 + p["vibrato_depth"][:, None] * lfo)
    start = np.cumsum(freq * (block / sr), axis=1) - freq * (block / sr)
    within = freq.astype(np.float32)[:, :, None] * (np.arange(block, dtype=np.float32) / sr)
    cycles = (start % 1.0).astype(np.float32)[:, :, None] + within
    index = (cycles * _TABLE_SIZE + 0.5).astype(np.int64) % _TABLE_SIZE
    index += (np.arange(len(f0)) * _TABLE_SIZE)[:, None, None]
    return table.ravel()[index]


def _noise_wave(p: dict[str, np.ndarray], fast: np.random.Generator, n_samples: int, sr: int) -> np.ndarray:
    """Noise coloured by the spectral envelope at unit RMS, shape (n, n_samples // block, block)."""
    n = len(p["attack"])
    n_bins = n_samples // 2 + 1
    coarse = np.linspace(0, sr / 2, _ENVELOPE_POINTS)
    magnitude = (10 ** (_envelope_db(coarse[None, :], p) / 20)).astype(np.float32)
    nearest = np.rint(np.arange(n_bins) * (_ENVELOPE_POINTS - 1) / (n_bins - 1)).astype(np.int64)
    spectrum = fast.standard_normal((n, n_bins, 2), dtype=np.float32).view(np.complex64)[:, :, 0]
    spectrum *= magnitude[:, nearest]
    shaped = scipy.fft.irfft(spectrum, n=n_samples, axis=1)
    shaped /= np.sqrt((shaped**2).mean(axis=1, keepdims=True)) + 1e-12
    return shaped.reshape(n, -1, max(1, sr // 1000))


def _amplitude_envelope(p: dict[str, np.ndarray], t: np.ndarray, lfo: np.ndarray, duration: float) -> np.ndarray:
    """Gain per block: attack ramp, exponential decay, tremolo and a 10 ms fade-out (no click at the cut)."""
    attack = np.minimum(t / p["attack"][:, None], 1.0)
    decay = np.exp(-p["decay"][:, None] * t)
    tremolo = 1 - p["tremolo_depth"][:, None] * 0.5 * (1 + lfo)
    release = np.clip((duration - t) / 0.01, 0.0, 1.0)
    return (attack * decay * tremolo * release).astype(np.float32)
