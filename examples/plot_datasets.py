"""
=====================================
The datasets and their label trees
=====================================

``sklearn_hier.datasets`` makes hierarchical audio data on any machine, offline:
synthetic sounds whose timbre follows a tree, and real instrument notes rendered
from the General MIDI soundfont that ships with ``pretty_midi``. Every loader
returns the label paths and their :class:`~sklearn_hier.taxonomy.Taxonomy`.

This example draws the soundfont dataset's tree and one mel spectrogram per
instrument family, then does the same for the synthetic sounds.
"""

# %%
# Soundfont instruments
# ---------------------
# One instrument per family keeps the first render to a few seconds; the
# default (``load_soundfont_instruments()``) renders 32 instruments, 192 leaves
# and 11,605 clips in a few minutes, once: later loads read the cache in the
# data home (``SKLEARN_HIER_DATA`` or ``~/sklearn_hier_data``).
import librosa
import matplotlib.pyplot as plt
import numpy as np

from sklearn_hier.datasets import load_soundfont_instruments, make_hierarchical_sounds
from sklearn_hier.taxonomy import Taxonomy

notes = load_soundfont_instruments(
    programs=[0, 8, 16, 24, 40, 56, 65, 73], n_per_leaf=12, n_rare_leaves=2, as_frame=True, verbose=0
)
print(notes.taxonomy)
print(notes.taxonomy.render())

# %%
# The tree is family / instrument / technique. Two leaves were cut to fewer
# than ten clips, so an unseen-leaf protocol always has leaves to hide:
print(notes.DESCR)


# %%
# One mel spectrogram per family
# ------------------------------
# The ordinario note nearest to middle C of each family's instrument, as dB
# mel bands (librosa's defaults: Slaney mel scale and norm).
def mel_db(wave, sr):
    mel = librosa.feature.melspectrogram(y=wave, sr=sr, n_fft=2048, hop_length=512, n_mels=128)
    return librosa.power_to_db(mel, ref=1.0, top_db=80)


def plot_mels(clips, titles, sr, ncols=4):
    nrows = -(-len(clips) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3 * ncols, 2.6 * nrows), sharex=True, sharey=True, squeeze=False)
    for ax, wave, title in zip(axes.ravel(), clips, titles, strict=False):
        ax.imshow(mel_db(wave, sr), origin="lower", aspect="auto", extent=(0, len(wave) / sr, 0, 128))
        ax.set_title(title, fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    for ax in axes[:, 0]:
        ax.set_ylabel("mel band")
    fig.tight_layout()
    return fig


frame = notes.frame
rows = [
    (frame[frame.family == family].query("technique == 'ordinario'").pitch - 60).abs().idxmin()
    for family in notes.taxonomy.levels[1]
]
plot_mels(
    notes.data[rows], [f"{frame.family[i]}: {frame.instrument[i]}, MIDI {frame.pitch[i]}" for i in rows], notes.sr
)
plt.show()

# %%
# Synthetic hierarchical sounds
# -----------------------------
# ``make_hierarchical_sounds`` builds a full tree from a branching tuple (or
# takes any Taxonomy). Level 1 sets the spectral envelope, level 2 the
# harmonic structure, level 3 the temporal shape, each clip with its own
# pitch and gain. A thousand clips take well under a second.
X, y = make_hierarchical_sounds(n_per_leaf=4, branching=(4, 2, 2), random_state=0)
print(X.shape)
tax = Taxonomy.from_paths(y)
print(tax.render())

# %%
# One clip of each top-level node: the formants differ between columns.
first = [np.flatnonzero(y == leaf)[0] for leaf in tax.leaves[::4]]
plot_mels(X[first], [y[i] for i in first], sr=16000)
plt.show()
