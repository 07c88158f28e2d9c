"""Audio front end: files to waveforms (AudioLoader), waveforms to dB mel spectrograms (MelTransformer)."""

from sklearn_hier.audio.loader import AudioLoader
from sklearn_hier.audio.mel import MelTransformer, mel_implementation

__all__ = ["AudioLoader", "MelTransformer", "mel_implementation"]
