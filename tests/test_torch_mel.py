"""Tests of sklearn_hier.audio._torch_mel, the mel spectrogram without torchaudio.

The references are librosa, called directly, at the tolerances tests/test_audio.py holds the
torchaudio path to, and torchaudio itself where it is installed.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch

# The clips and the librosa reference the torchaudio path is tested against, so both paths meet
# the same bar.
from test_audio import DEVICES, PRESETS, SR, _librosa_reference, _signals

from sklearn_hier.audio import MelTransformer
from sklearn_hier.audio._torch_mel import AmplitudeToDB, MelSpectrogram, melscale_fbanks

SCALES = [(scale, norm) for scale in ("htk", "slaney") for norm in (None, "slaney")]


def _db_mels(X, dtype, device="cpu", power=2.0, **preset):
    """The MelTransformer recipe: (batch, 1, mels, frames) so top_db clamps each clip on its own."""
    to_mel = MelSpectrogram(
        sample_rate=SR,
        n_fft=2048,
        hop_length=512,
        n_mels=128,
        power=power,
        mel_scale=preset.get("mel_scale", "htk"),
        norm=preset.get("norm"),
        pad_mode=preset.get("pad_mode", "reflect"),
        wkwargs={"dtype": dtype},
    ).to(device)
    to_db = AmplitudeToDB("power" if power == 2.0 else "magnitude", top_db=preset.get("top_db"))
    batch = torch.tensor(X, dtype=dtype, device=device)
    return to_db(to_mel(batch).unsqueeze(1)).squeeze(1).cpu().numpy()


@pytest.mark.parametrize(("mel_scale", "norm"), SCALES)
def test_filter_bank_matches_librosa(mel_scale, norm):
    ours = melscale_fbanks(1025, 0.0, SR / 2, 128, SR, norm=norm, mel_scale=mel_scale, dtype=torch.float64)
    theirs = librosa.filters.mel(sr=SR, n_fft=2048, n_mels=128, htk=mel_scale == "htk", norm=norm, dtype=np.float64)
    np.testing.assert_allclose(ours.numpy(), theirs.T, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("preset", PRESETS)
def test_float64_matches_librosa(preset, device):
    signals = _signals()
    mels = _db_mels(np.stack(list(signals.values())), torch.float64, device, **preset)
    for row, (name, clip) in enumerate(signals.items()):
        err = np.abs(mels[row] - _librosa_reference(clip, **preset)).max()
        assert err < 1e-3, f"{name}: max abs error {err} dB"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("preset", PRESETS)
def test_float32_matches_librosa_within_80_db_of_peak(preset, device):
    signals = _signals()
    X = np.stack(list(signals.values())).astype(np.float32)
    mels = _db_mels(X, torch.float32, device, **preset)
    for row, name in enumerate(signals):
        expected = _librosa_reference(X[row], **preset)
        upper = expected >= expected.max() - 80
        err = np.abs(mels[row] - expected)[upper].max()
        assert err < 5e-3, f"{name}: max abs error {err} dB in the top 80 dB"


def test_magnitude_matches_amplitude_to_db():
    signals = _signals(n=8192)
    mels = _db_mels(np.stack(list(signals.values())), torch.float64, power=1.0, top_db=120.0)
    for row, clip in enumerate(signals.values()):
        np.testing.assert_allclose(mels[row], _librosa_reference(clip, power=1.0, top_db=120.0), atol=1e-3)


def test_top_db_clamps_each_clip_of_a_4d_batch_against_its_own_peak():
    x = torch.tensor([[[[1.0, 1e-6]]], [[[1e-4, 1e-12]]]])
    db = AmplitudeToDB("power", top_db=30.0)(x)
    np.testing.assert_allclose(db.numpy().ravel(), [0.0, -30.0, -40.0, -70.0], atol=1e-4)
    # a 3-D input is one group: clamped against the peak of the whole tensor, as torchaudio does
    flat = AmplitudeToDB("power", top_db=30.0)(x.squeeze(1))
    np.testing.assert_allclose(flat.numpy().ravel(), [0.0, -30.0, -30.0, -30.0], atol=1e-4)


def test_float64_module_is_float64_throughout():
    to_mel = MelSpectrogram(sample_rate=SR, n_fft=512, n_mels=40, wkwargs={"dtype": torch.float64})
    assert to_mel.window.dtype == to_mel.fb.dtype == torch.float64
    assert to_mel(torch.zeros(1, 4096, dtype=torch.float64)).dtype == torch.float64


def test_leading_dimensions_are_kept():
    to_mel = MelSpectrogram(sample_rate=SR, n_fft=512, hop_length=256, n_mels=40)
    X = torch.randn(2, 3, 4096, generator=torch.Generator().manual_seed(0))
    out = to_mel(X)
    assert out.shape == (2, 3, 40, 17)
    torch.testing.assert_close(out[1, 2], to_mel(X[1, 2]))


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: melscale_fbanks(10, 0.0, 100.0, 4, 200, mel_scale="bark"), "mel_scale must be one of"),
        (lambda: melscale_fbanks(10, 0.0, 100.0, 4, 200, norm="area"), "norm must be one of"),
        (lambda: MelSpectrogram(power=0.0), "power must be positive"),
        (lambda: AmplitudeToDB(stype="energy"), "stype must be one of"),
        (lambda: AmplitudeToDB(top_db=-1.0), "top_db must be non-negative"),
    ],
)
def test_bad_arguments_name_the_parameter(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize(("mel_scale", "norm"), SCALES)
def test_same_values_as_torchaudio(mel_scale, norm):
    torchaudio = pytest.importorskip("torchaudio", reason="torchaudio is an optional dependency")
    kwargs = {"sample_rate": SR, "n_fft": 2048, "hop_length": 512, "n_mels": 128}
    kwargs |= {"mel_scale": mel_scale, "norm": norm, "wkwargs": {"dtype": torch.float64}}
    ours = MelSpectrogram(**kwargs)
    theirs = torchaudio.transforms.MelSpectrogram(**kwargs).to(torch.float64)
    X = torch.tensor(np.stack(list(_signals(n=8192).values())))
    # torchaudio builds its filter bank in float32: its band edges differ in the 7th digit, so the
    # values agree to 1e-3 dB (the bar of tests/test_audio.py), not to float64 precision.
    to_db = torchaudio.transforms.AmplitudeToDB(top_db=None)
    torch.testing.assert_close(to_db(ours(X)), to_db(theirs(X)), rtol=0, atol=1e-3)
    for stype, top_db in [("power", None), ("power", 80.0), ("magnitude", 120.0)]:
        spec = ours(X).unsqueeze(1)
        expected = torchaudio.transforms.AmplitudeToDB(stype=stype, top_db=top_db)(spec)
        torch.testing.assert_close(AmplitudeToDB(stype, top_db)(spec), expected)


def test_mel_transformer_runs_without_torchaudio():
    # torchaudio is an optional extra: with it blocked, MelTransformer falls back to _torch_mel
    # and gives the same mels as with it.
    code = (
        "import sys; sys.modules['torchaudio'] = None\n"
        "import numpy as np\n"
        "from sklearn_hier.audio import mel\n"
        "assert mel.MelSpectrogram.__module__ == 'sklearn_hier.audio._torch_mel'\n"
        "X = np.random.default_rng(0).normal(size=(3, 22050)).astype(np.float32)\n"
        "np.save(sys.argv[1], mel.MelTransformer(device='cpu', verbose=0).fit_transform(X))\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "mels.npy"
        subprocess.run([sys.executable, "-c", code, str(out)], check=True, env=_env_with_package())
        without = np.load(out)
    X = np.random.default_rng(0).normal(size=(3, 22050)).astype(np.float32)
    with_torchaudio = MelTransformer(device="cpu", verbose=0).fit_transform(X)
    np.testing.assert_allclose(without, with_torchaudio, atol=1e-3)


def _env_with_package():
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    return env
