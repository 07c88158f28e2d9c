"""Tests of sklearn_hier.audio: AudioLoader (files -> waveforms) and MelTransformer (waveforms -> dB mels).

References are written here, independently of the package: librosa called directly for the mel
spectrograms, the samples written to disk (or librosa.load) for the loader.
"""

import pickle

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.utils import estimator_checks

from sklearn_hier.audio import AudioLoader, MelTransformer
from sklearn_hier.audio import loader as loader_module

SR = 44100
PAPER = {}  # the defaults: torchaudio's (HTK scale, no norm, no top_db, reflect padding)
LIBROSA = {"mel_scale": "slaney", "norm": "slaney", "top_db": 80.0, "pad_mode": "constant"}
PRESETS = [pytest.param(PAPER, id="paper"), pytest.param(LIBROSA, id="librosa")]
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")),
]


def _signals(n=SR, sr=SR):
    """Named one-second test clips, float64."""
    rng = np.random.default_rng(0)
    t = np.arange(n) / sr
    harmonics = sum(0.5 / k * np.sin(2 * np.pi * 440 * k * t) for k in range(1, 6))
    return {
        "harmonic": harmonics,
        "noise": 0.1 * rng.standard_normal(n),
        "silence": np.zeros(n),
        "click": np.eye(1, n, n // 2)[0],
        "clipping": np.clip(3 * np.sin(2 * np.pi * 220 * t), -1, 1),
        "quiet_tone": 1e-4 * np.sin(2 * np.pi * 1000 * t),
    }


def _librosa_reference(
    clip, *, sr=SR, n_fft=2048, hop_length=512, n_mels=128, power=2.0, fmin=0.0, fmax=None, **preset
):
    """dB mel spectrogram of one clip, straight from librosa with the preset's settings."""
    spec = librosa.feature.melspectrogram(
        y=clip,
        sr=sr,
        n_fft=n_fft,
        hop_length=hop_length,
        n_mels=n_mels,
        power=power,
        fmin=fmin,
        fmax=fmax,
        htk=preset.get("mel_scale", "htk") == "htk",
        norm=preset.get("norm"),
        pad_mode=preset.get("pad_mode", "reflect"),
    )
    to_db = librosa.power_to_db if power == 2.0 else librosa.amplitude_to_db
    return to_db(spec, ref=1.0, amin=1e-10, top_db=preset.get("top_db"))


def _fitted(X, **params):
    return MelTransformer(**params).fit(X)


# MelTransformer: values


def test_default_shape_is_paper_input():
    X = np.zeros((2, SR), dtype=np.float32)
    mels = MelTransformer(device="cpu").fit_transform(X)
    assert mels.shape == (2, 128, 87)
    assert mels.dtype == np.float32


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("preset", PRESETS)
def test_torch_matches_librosa_in_float64(preset, device):
    signals = _signals()
    X = np.stack(list(signals.values()))
    mels = MelTransformer(backend="torch", device=device, **preset).fit_transform(X)
    for row, (name, clip) in enumerate(signals.items()):
        err = np.abs(mels[row] - _librosa_reference(clip, **preset)).max()
        assert err < 1e-3, f"{name}: max abs error {err} dB"


@pytest.mark.parametrize("backend", ["torch", "librosa"])
@pytest.mark.parametrize("preset", PRESETS)
def test_fmin_and_fmax_match_librosa_in_every_backend(preset, backend):
    band = {"fmin": 300.0, "fmax": 8000.0, "n_mels": 64}
    signals = _signals()
    X = np.stack(list(signals.values()))
    mels = MelTransformer(backend=backend, device="cpu", **band, **preset).fit_transform(X)
    full = MelTransformer(backend=backend, device="cpu", n_mels=64, **preset).fit_transform(X)
    assert not np.allclose(mels, full)  # the band changes the filters
    for row, (name, clip) in enumerate(signals.items()):
        err = np.abs(mels[row] - _librosa_reference(clip, **band, **preset)).max()
        assert err < 1e-3, f"{name}: max abs error {err} dB"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"fmax": 30000}, "fmax=30000 must be at most sr / 2 = 22050.0"),
        ({"fmin": 5000, "fmax": 4000}, r"fmin=5000 must be below fmax \(4000 Hz\)"),
        ({"fmin": 23000}, r"fmin=23000 must be below fmax \(22050.0 Hz, sr / 2\)"),
        ({"fmin": -1.0}, "'fmin' parameter of MelTransformer"),
        ({"fmax": 0}, "'fmax' parameter of MelTransformer"),
        ({"fmin": 20000, "n_mels": 128, "n_fft": 512}, "between fmin=20000 and fmax=None"),
    ],
)
def test_bad_band_edges_are_named_at_fit(params, message):
    with pytest.raises(ValueError, match=message):
        MelTransformer(device="cpu", **params).fit(np.zeros((1, 4096)))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("preset", PRESETS)
def test_torch_float32_matches_librosa_within_80_db_of_peak(preset, device):
    signals = _signals()
    X = np.stack(list(signals.values())).astype(np.float32)
    mels = MelTransformer(backend="torch", device=device, **preset).fit_transform(X)
    for row, name in enumerate(signals):
        expected = _librosa_reference(X[row], **preset)
        upper = expected >= expected.max() - 80
        err = np.abs(mels[row] - expected)[upper].max()
        assert err < 5e-3, f"{name}: max abs error {err} dB in the top 80 dB"


@pytest.mark.parametrize("preset", PRESETS)
def test_librosa_backend_matches_librosa(preset):
    signals = _signals(n=8192)
    X = np.stack(list(signals.values()))
    mels = MelTransformer(backend="librosa", **preset).fit_transform(X)
    for row, clip in enumerate(signals.values()):
        np.testing.assert_allclose(mels[row], _librosa_reference(clip, **preset), atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("backend", ["torch", "librosa"])
def test_top_db_clamps_each_clip_against_its_own_peak(backend, device):
    signals = _signals()
    loud, quiet = signals["harmonic"], 1e-3 * signals["noise"]
    quiet_alone = _librosa_reference(quiet, **LIBROSA)
    loud_alone = _librosa_reference(loud, **LIBROSA)
    # A batch-wide clamp would flatten the quiet clip to one value: it lies wholly below loud max - 80 dB.
    assert quiet_alone.max() < loud_alone.max() - 80
    mels = MelTransformer(backend=backend, device=device, **LIBROSA).fit_transform(np.stack([loud, quiet, loud]))
    np.testing.assert_allclose(mels[1], quiet_alone, atol=1e-3)
    np.testing.assert_allclose(mels[0], loud_alone, atol=1e-3)
    assert mels[1].std() > 1.0


@pytest.mark.parametrize("backend", ["torch", "librosa"])
def test_magnitude_power_matches_amplitude_to_db(backend):
    signals = _signals(n=8192)
    X = np.stack([signals["harmonic"], signals["noise"]])
    mels = MelTransformer(power=1.0, backend=backend, top_db=120.0).fit_transform(X)
    for row, clip in enumerate(X):
        expected = _librosa_reference(clip, power=1.0, top_db=120.0)
        np.testing.assert_allclose(mels[row], expected, atol=1e-3)


def test_silence_sits_on_the_db_floor():
    mels = MelTransformer(n_fft=256, hop_length=64, n_mels=16).fit_transform(np.zeros((1, 1000)))
    np.testing.assert_array_equal(mels, -100.0)
    mag = MelTransformer(n_fft=256, hop_length=64, n_mels=16, power=1.0).fit_transform(np.zeros((1, 1000)))
    np.testing.assert_array_equal(mag, -200.0)


@pytest.mark.parametrize("backend", ["torch", "librosa"])
def test_clip_shorter_than_n_fft_is_zero_padded(backend):
    short = np.array([[0.5, -0.25, 1.0, 0.0, 0.75]])
    padded = np.pad(short, ((0, 0), (0, 256 - 5)))
    params = {"n_fft": 256, "hop_length": 64, "n_mels": 16, "backend": backend}
    mels = MelTransformer(**params).fit_transform(short)
    assert mels.shape == (1, 16, 1 + 256 // 64)
    np.testing.assert_array_equal(mels, MelTransformer(**params).fit_transform(padded))


def test_batch_size_and_row_order_do_not_change_values():
    X = np.stack(list(_signals(n=4096).values()))
    params = {"n_fft": 512, "hop_length": 128, "n_mels": 32, **LIBROSA}
    whole = MelTransformer(batch_size=256, **params).fit_transform(X)
    one_by_one = MelTransformer(batch_size=1, **params).fit_transform(X)
    reversed_order = MelTransformer(batch_size=4, **params).fit_transform(X[::-1])
    np.testing.assert_allclose(whole, one_by_one, atol=1e-5)
    np.testing.assert_allclose(whole, reversed_order[::-1], atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("backend", ["torch", "librosa"])
def test_torch_output_stays_on_device(backend, device):
    X = np.stack(list(_signals(n=4096).values()))
    params = {"n_fft": 512, "hop_length": 128, "n_mels": 32, "backend": backend, "device": device}
    tensor = MelTransformer(output="torch", **params).fit_transform(X)
    assert isinstance(tensor, torch.Tensor)
    assert tensor.device.type == device and tensor.dtype == torch.float32
    assert not tensor.requires_grad
    np.testing.assert_array_equal(tensor.cpu().numpy(), MelTransformer(**params).fit_transform(X))


@pytest.mark.parametrize("backend", ["torch", "librosa"])
@pytest.mark.parametrize("dtype", [np.int16, np.int32])
def test_integer_pcm_is_scaled_like_librosa(backend, dtype):
    floats = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 2048))
    pcm = np.round(floats * 2.0 ** (8 * np.dtype(dtype).itemsize - 1)).astype(dtype)
    before = pcm.copy()
    mel = MelTransformer(n_fft=256, hop_length=64, n_mels=16, backend=backend, device="cpu")
    expected = mel.fit_transform(librosa.util.buf_to_float(pcm, n_bytes=np.dtype(dtype).itemsize).reshape(pcm.shape))
    np.testing.assert_allclose(mel.fit_transform(pcm), expected, atol=1e-3)
    np.testing.assert_array_equal(pcm, before)  # scaled in a copy


def test_auto_device_and_backend():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    tensor = MelTransformer(n_fft=256, n_mels=16, output="torch").fit_transform(np.zeros((1, 512)))
    assert tensor.device.type == expected


# MelTransformer: estimator behaviour


def test_fit_learns_only_the_clip_length():
    mel = MelTransformer(device="cpu")
    assert mel.fit(np.zeros((3, 4096))) is mel
    assert mel.n_features_in_ == 4096
    assert [k for k in vars(mel) if k.endswith("_")] == ["n_features_in_"]


def test_callers_array_is_not_modified():
    X = np.stack(list(_signals(n=1024).values())).astype(np.float32)
    original = X.copy()
    X.setflags(write=False)
    MelTransformer(n_fft=2048, n_mels=16, top_db=80).fit_transform(X)  # n_fft > clip: padding path
    MelTransformer(n_fft=256, n_mels=16, backend="librosa").fit_transform(X)
    np.testing.assert_array_equal(X, original)


def test_clone_and_pickle_round_trip():
    X = np.stack(list(_signals(n=2048).values()))
    mel = _fitted(X, n_fft=256, hop_length=64, n_mels=16, top_db=60.0)
    assert clone(mel).get_params() == mel.get_params()
    restored = pickle.loads(pickle.dumps(mel))
    assert restored.n_features_in_ == 2048
    np.testing.assert_array_equal(restored.transform(X), mel.transform(X))


# MelTransformer: errors


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_name_the_row(bad):
    X = np.zeros((4, 512))
    X[2, 100] = bad
    with pytest.raises(ValueError, match=r"NaN or infinite samples in rows \[2\]"):
        MelTransformer(n_fft=256, n_mels=16).fit(X)
    mel = _fitted(np.zeros((4, 512)), n_fft=256, n_mels=16)
    with pytest.raises(ValueError, match=r"rows \[2\]"):
        mel.transform(X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_row_check_matches_a_sample_by_sample_check(dtype):
    from sklearn_hier.audio.mel import _finite_rows

    rng = np.random.default_rng(0)
    big = np.finfo(dtype).max / 2  # two of these overflow a row sum, yet every sample is finite
    for _ in range(50):
        X = rng.uniform(-1, 1, size=(12, 64)).astype(dtype)
        rows, cols = rng.integers(0, 12, size=6), rng.integers(0, 64, size=6)
        X[rows, cols] = rng.choice([np.nan, np.inf, -np.inf, big, -big, 0.5], size=6)
        np.testing.assert_array_equal(_finite_rows(X), np.isfinite(X).all(axis=1))


def test_huge_finite_samples_are_not_called_non_finite():
    from sklearn_hier.audio.mel import _finite_rows

    X = np.full((2, 8), np.finfo(np.float32).max, dtype=np.float32)
    X[1, 3] = np.inf
    X[1, 4] = -np.inf
    np.testing.assert_array_equal(_finite_rows(X), [True, False])


@pytest.mark.parametrize(
    ("X", "error", "match"),
    [
        (np.zeros(512), ValueError, "Expected 2D array"),
        (np.zeros((2, 3, 512)), ValueError, "Found array with dim 3"),
        (np.full((2, 512), "a"), TypeError, "strings or paths such as .a.; read the files first with AudioLoader"),
        (np.zeros((2, 512), dtype=complex), ValueError, "Complex data not supported"),
        (np.zeros((0, 512)), ValueError, "0 sample"),
    ],
    ids=["1-D", "3-D", "strings", "complex", "empty"],
)
def test_bad_waveform_arrays(X, error, match):
    with pytest.raises(error, match=match):
        MelTransformer(n_fft=256, n_mels=16).fit(X)


def test_transform_with_another_clip_length():
    mel = _fitted(np.zeros((2, 1024)), n_fft=256, n_mels=16)
    with pytest.raises(ValueError, match="X has 2048 features, but MelTransformer is expecting 1024"):
        mel.transform(np.zeros((2, 2048)))


def test_too_many_mels_for_n_fft():
    with pytest.raises(ValueError, match=r"n_mels=128 is too large for n_fft=256 at sr=44100: \d+ mel bands"):
        MelTransformer(n_fft=256).fit(np.zeros((1, 1024)))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_mels": 0}, "'n_mels' parameter"),
        ({"power": 1.5}, "'power' parameter"),
        ({"mel_scale": "bark"}, "'mel_scale' parameter"),
        ({"backend": "numpy"}, "'backend' parameter"),
        ({"output": "list"}, "'output' parameter"),
        ({"device": "gpu0"}, "device must be 'auto' or a torch device"),
    ],
)
def test_bad_parameters_raise_at_fit(params, match):
    mel = MelTransformer(**params)  # no validation in __init__
    with pytest.raises(ValueError, match=match):
        mel.fit(np.zeros((1, 4096)))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised where CUDA is missing")
def test_cuda_without_gpu_raises():
    with pytest.raises(ValueError, match="CUDA is not available"):
        MelTransformer(device="cuda").fit(np.zeros((1, 4096)))


def test_transform_before_fit():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MelTransformer().transform(np.zeros((1, 4096)))


# AudioLoader


def _write(path, data, sr, subtype="FLOAT"):
    sf.write(path, data, sr, subtype=subtype)
    return str(path)


def _tone(seconds, sr, freq=1000.0, amplitude=0.5):
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(round(seconds * sr)) / sr)).astype(np.float32)


def test_mono_file_at_target_rate_is_read_exactly(tmp_path):
    data = np.random.default_rng(1).uniform(-1, 1, 12000).astype(np.float32)
    path = _write(tmp_path / "long.wav", data, 8000)
    clips = AudioLoader(sr=8000, duration=1.0).fit_transform([path])
    assert clips.shape == (1, 8000) and clips.dtype == np.float32
    np.testing.assert_array_equal(clips[0], data[:8000])


def test_short_file_is_zero_padded_and_offset_is_honoured(tmp_path):
    data = np.random.default_rng(2).uniform(-1, 1, 12000).astype(np.float32)
    long_path = _write(tmp_path / "long.wav", data, 8000)
    short_path = _write(tmp_path / "short.wav", data[:3000], 8000)
    clips = AudioLoader(sr=8000, duration=0.5).transform([short_path, long_path])
    np.testing.assert_array_equal(clips[0], np.concatenate([data[:3000], np.zeros(1000, np.float32)]))
    np.testing.assert_array_equal(clips[1], data[:4000])
    late = AudioLoader(sr=8000, duration=1.0, offset=0.75).transform([long_path])
    np.testing.assert_array_equal(late[0], np.concatenate([data[6000:12000], np.zeros(2000, np.float32)]))


def test_stereo_is_averaged_to_mono(tmp_path):
    rng = np.random.default_rng(3)
    stereo = rng.uniform(-1, 1, (8000, 2)).astype(np.float32)
    path = _write(tmp_path / "stereo.wav", stereo, 8000)
    clips = AudioLoader(sr=8000, duration=1.0).transform([path])
    np.testing.assert_allclose(clips[0], stereo.mean(axis=1), atol=1e-7)


@pytest.mark.parametrize(("native_sr", "fmt", "subtype"), [(22050, "flac", "PCM_16"), (48000, "wav", "PCM_24")])
def test_other_rates_are_resampled(tmp_path, native_sr, fmt, subtype):
    path = _write(tmp_path / f"tone.{fmt}", _tone(1.2, native_sr), native_sr, subtype)
    clip = AudioLoader(sr=SR, duration=1.0).transform([path])[0]
    # The same file through librosa.load, the behaviour AudioLoader promises to follow.
    expected, _ = librosa.load(path, sr=SR, offset=0.0, duration=1.0)
    np.testing.assert_allclose(clip, librosa.util.fix_length(expected, size=SR), atol=1e-6)
    # Away from the edges the resampled tone is the tone sampled at 44.1 kHz.
    middle = slice(1000, SR - 1000)
    np.testing.assert_allclose(clip[middle], _tone(1.0, SR)[middle], atol=2e-3)


def test_offset_and_resampling_follow_librosa_load(tmp_path):
    stereo = np.stack([_tone(2.0, 16000, 300.0), _tone(2.0, 16000, 700.0)], axis=1)
    path = _write(tmp_path / "stereo16k.flac", stereo, 16000, "PCM_24")
    clip = AudioLoader(sr=22050, duration=0.5, offset=1.25).transform([path])[0]
    expected, _ = librosa.load(path, sr=22050, mono=True, offset=1.25, duration=0.5)
    np.testing.assert_allclose(clip, librosa.util.fix_length(expected, size=round(22050 * 0.5)), atol=1e-6)


def test_parallel_reading_gives_the_same_clips(tmp_path):
    paths = [_write(tmp_path / f"{i}.wav", _tone(0.3, 16000, 200.0 * (i + 1)), 16000) for i in range(4)]
    serial = AudioLoader(sr=8000, duration=0.25, n_jobs=1).transform(paths)
    parallel = AudioLoader(sr=8000, duration=0.25, n_jobs=2).transform(paths)
    np.testing.assert_array_equal(serial, parallel)


def test_memory_caches_decoded_clips_and_rereads_edited_files(tmp_path, monkeypatch):
    path = _write(tmp_path / "a.wav", _tone(0.5, 8000), 8000)
    loader = AudioLoader(sr=8000, duration=0.5, memory=tmp_path / "cache")
    first = loader.transform([path])

    def fail(*args):
        raise AssertionError("decoded again although cached")

    monkeypatch.setattr(loader_module, "_load_clip", fail)
    np.testing.assert_array_equal(loader.transform([path]), first)
    monkeypatch.undo()
    _write(path, _tone(0.25, 8000, 500.0), 8000)  # other size: a new cache key
    edited = loader.transform([path])
    np.testing.assert_array_equal(edited[0, :2000], _tone(0.25, 8000, 500.0))


def test_loader_pipeline_feeds_mel_transformer(tmp_path):
    paths = [_write(tmp_path / f"{i}.wav", _tone(1.0, 16000, 300.0 * (i + 1)), 16000) for i in range(2)]
    pipe = make_pipeline(AudioLoader(sr=16000, duration=0.5), MelTransformer(sr=16000, n_fft=512, n_mels=40))
    mels = pipe.fit_transform(np.array(paths))
    assert mels.shape == (2, 40, 1 + 8000 // 512)
    assert np.argmax(mels[0].mean(axis=1)) < np.argmax(mels[1].mean(axis=1))  # 300 Hz below 600 Hz


def test_loader_clone_pickle_and_stateless(tmp_path):
    path = _write(tmp_path / "a.wav", _tone(0.5, 8000), 8000)
    loader = AudioLoader(sr=8000, duration=0.5, offset=0.1)
    paths = np.array([path], dtype=object)
    assert loader.fit(paths) is loader and vars(loader) == vars(clone(loader))
    restored = pickle.loads(pickle.dumps(loader))
    np.testing.assert_array_equal(restored.transform(paths), loader.transform(paths))
    assert paths.tolist() == [path]


@pytest.mark.parametrize(
    "check",
    [
        estimator_checks.check_no_attributes_set_in_init,
        estimator_checks.check_get_params_invariance,
        estimator_checks.check_set_params,
        estimator_checks.check_estimator_repr,
        estimator_checks.check_do_not_raise_errors_in_init_or_set_params,
        estimator_checks.check_parameters_default_constructible,
        estimator_checks.check_mixin_order,
        estimator_checks.check_valid_tag_types,
        estimator_checks.check_estimator_tags_renamed,
    ],
)
def test_loader_passes_data_free_sklearn_checks(check):
    check("AudioLoader", AudioLoader())


# AudioLoader: errors


def test_unreadable_files_are_named_before_decoding(tmp_path, monkeypatch):
    good = _write(tmp_path / "good.wav", _tone(0.5, 8000), 8000)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(np.random.default_rng(4).bytes(2000))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    no_samples = _write(tmp_path / "no_samples.wav", np.zeros(0, np.float32), 8000)
    monkeypatch.setattr(loader_module, "_load_clip", lambda *a: pytest.fail("decoding started before checks"))
    cases = [
        (corrupt, r"corrupt\.wav' \(X\[1\]\) cannot be read as audio"),
        (empty, r"empty\.wav' \(X\[1\]\) is empty \(0 bytes\)"),
        (no_samples, r"no_samples\.wav' \(X\[1\]\) holds no audio samples"),
        (tmp_path / "missing.wav", r"missing\.wav' \(X\[1\]\) does not exist"),
        (tmp_path, r"\(X\[1\]\) does not exist or is not a file"),
    ]
    for bad, match in cases:
        with pytest.raises(ValueError, match=match):
            AudioLoader(sr=8000).transform([good, bad])


def test_offset_past_the_end_is_named(tmp_path):
    path = _write(tmp_path / "short.wav", _tone(0.5, 8000), 8000)
    with pytest.raises(ValueError, match=r"short\.wav' \(X\[0\]\) lasts 0\.500 s, which does not reach offset=0\.6"):
        AudioLoader(sr=8000, offset=0.6).transform([path])


@pytest.mark.parametrize(
    ("X", "error", "match"),
    [
        ("a.wav", TypeError, "not a single path"),
        ([["a.wav"], ["b.wav"]], ValueError, r"1-D array-like of file paths; got shape \(2, 1\)"),
        ([], ValueError, "no file paths"),
        (["a.wav", 3.5], TypeError, r"X\[1\] is 3\.5 \(float\)"),
    ],
)
def test_bad_path_lists(X, error, match):
    with pytest.raises(error, match=match):
        AudioLoader().fit(X)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"duration": -1.0}, "'duration' parameter of AudioLoader must be a float in the range \\(0.0, inf\\)"),
        ({"offset": -0.5}, "'offset' parameter"),
        ({"sr": 0}, "'sr' parameter"),
        ({"memory": 3}, "'memory' parameter"),
        ({"sr": 100, "duration": 0.001}, r"give 0 samples per clip"),
    ],
)
def test_bad_loader_parameters(tmp_path, params, match):
    path = _write(tmp_path / "a.wav", _tone(0.5, 8000), 8000)
    with pytest.raises(ValueError, match=match):
        AudioLoader(**params).fit([path])
    with pytest.raises(ValueError, match=match):
        AudioLoader(**params).transform([path])
