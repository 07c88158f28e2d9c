"""Audio front end: files to waveforms (AudioLoader), waveforms to dB mel spectrograms (MelTransformer)."""

from sklearn_hier.audio.loader import AudioLoader
from sklearn_hier.audio.mel import MelTransformer

__all__ = ["AudioLoader", "MelTransformer"]
