"""Rendering single notes through a soundfont: a MIDI file per instrument and technique, played by midirenderer."""

from __future__ import annotations

import io
from collections.abc import Sequence
from math import gcd
from typing import Any

import numpy as np

__all__ = ["TECHNIQUES", "render_notes"]

TECHNIQUES = ("ordinario", "staccato", "tremolo", "vibrato", "glissando", "crescendo")

_RENDER_SR = 48000  # midirenderer's output rate
_LEAD = 0.25  # seconds before the first onset
_GAP = 0.15  # seconds between a clip's end and the next onset


def render_notes(
    soundfont: np.ndarray,
    program: int,
    technique: str,
    pitches: Sequence[int],
    velocities: Sequence[int],
    sr: int,
    duration: float,
    seed: int,
) -> np.ndarray:
    """Notes of one instrument and technique, rendered from one MIDI file.

    Parameters
    ----------
    soundfont : ndarray of uint8
        Content of the SoundFont 2 file, read once by the caller.
    program : int
        General MIDI program.
    technique : str
        One of :data:`TECHNIQUES`.
    pitches, velocities : sequence of int
        One note per clip.
    sr : int
        Output sample rate.
    duration : float
        Seconds per clip.
    seed : int
        Seed of the technique's random details (tremolo velocities).

    Returns
    -------
    clips : ndarray of shape (len(pitches), round(sr * duration)), float32
    """
    import midirenderer
    import soundfile as sf
    from scipy.signal import resample_poly

    rng = np.random.default_rng([seed, program, TECHNIQUES.index(technique)])
    midi = _notes_midi(program, technique, pitches, velocities, duration, rng)
    wav = midirenderer.render_wave_from(soundfont.tobytes(), midi)
    audio = sf.read(io.BytesIO(wav), dtype="float32", always_2d=True)[0].mean(axis=1)
    width = int(round(_RENDER_SR * duration))
    starts = np.round(_onsets(len(pitches), duration) * _RENDER_SR).astype(np.int64)
    audio = np.pad(audio, (0, max(0, starts[-1] + width - len(audio))))
    clips = audio[starts[:, None] + np.arange(width)]
    if sr != _RENDER_SR:
        g = gcd(sr, _RENDER_SR)
        clips = resample_poly(clips, sr // g, _RENDER_SR // g, axis=1)
    n_samples = int(round(sr * duration))
    clips = np.pad(clips[:, :n_samples], ((0, 0), (0, max(0, n_samples - clips.shape[1]))))
    return clips.astype(np.float32)


def _onsets(n_notes: int, duration: float) -> np.ndarray:
    return _LEAD + np.arange(n_notes) * (duration + _GAP)


def _notes_midi(
    program: int,
    technique: str,
    pitches: Sequence[int],
    velocities: Sequence[int],
    duration: float,
    rng: np.random.Generator,
) -> bytes:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(resolution=960)
    inst = pretty_midi.Instrument(program=program)
    # Dry sound: the reverb and chorus tails would carry one note into the next clip.
    inst.control_changes += [pretty_midi.ControlChange(91, 0, 0.0), pretty_midi.ControlChange(93, 0, 0.0)]
    for onset, pitch, velocity in zip(_onsets(len(pitches), duration), pitches, velocities, strict=True):
        # Silence the previous note's release, then reset what a technique may have moved.
        inst.control_changes.append(pretty_midi.ControlChange(120, 0, onset - 0.1))
        inst.control_changes += [pretty_midi.ControlChange(c, v, onset - 0.05) for c, v in ((1, 0), (11, 127))]
        inst.pitch_bends.append(pretty_midi.PitchBend(0, onset - 0.05))
        _add_technique(inst, technique, pitch, velocity, onset, duration, rng)
    pm.instruments.append(inst)
    buffer = io.BytesIO()
    pm.write(buffer)
    return buffer.getvalue()


def _add_technique(
    inst: Any, technique: str, pitch: int, velocity: int, onset: float, duration: float, rng: np.random.Generator
) -> None:
    import pretty_midi

    end = onset + duration
    if technique == "staccato":
        inst.notes.append(pretty_midi.Note(velocity, pitch, onset, onset + min(0.12, duration)))
        return
    if technique == "tremolo":
        starts = onset + np.arange(int(np.ceil(duration * 12))) / 12
        jitter = rng.integers(-8, 9, size=len(starts))
        for start, dv in zip(starts, jitter, strict=True):
            note_velocity = int(np.clip(velocity + dv, 1, 127))
            inst.notes.append(pretty_midi.Note(note_velocity, pitch, start, min(start + 0.05, end)))
        return
    inst.notes.append(pretty_midi.Note(velocity, pitch, onset, end))
    times = np.arange(0.0, duration, 0.01)
    if technique == "vibrato":
        # +/-0.5 semitone: a quarter of the default +/-2 semitone bend range.
        bends = np.round(2048 * np.sin(2 * np.pi * 5.5 * times))
        inst.pitch_bends += [pretty_midi.PitchBend(int(b), onset + t) for t, b in zip(times, bends, strict=True)]
    elif technique == "glissando":
        bends = np.round(8191 * np.minimum(times / (0.8 * duration), 1.0))
        inst.pitch_bends += [pretty_midi.PitchBend(int(b), onset + t) for t, b in zip(times, bends, strict=True)]
    elif technique == "crescendo":
        levels = np.round(30 + 97 * times / duration)
        inst.control_changes += [
            pretty_midi.ControlChange(11, int(v), onset + t) for t, v in zip(times, levels, strict=True)
        ]
