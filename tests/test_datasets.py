"""Tests of sklearn_hier.datasets: synthetic sounds, soundfont notes, local folders, the data home."""

import os
import re
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
from scipy.stats import binomtest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_hier.datasets import (
    TECHNIQUES,
    _soundfont,
    clear_data_home,
    get_data_home,
    load_audio_folder,
    load_orchideasol,
    load_soundfont_instruments,
    make_hierarchical_sounds,
)
from sklearn_hier.taxonomy import Taxonomy


def mean_mel_bands(waves, sr):
    """The baseline's features: time-averaged dB mel bands, with librosa directly."""
    mel = librosa.feature.melspectrogram(y=waves, sr=sr, n_fft=1024, hop_length=512, n_mels=40)
    return librosa.power_to_db(mel).mean(axis=-1)


def level_accuracies(features, target):
    """Per level: 3-fold accuracy of a logistic regression trained on that level's labels,
    the majority-class rate (chance) and the one-sided binomial p-value of beating it."""
    tax = Taxonomy.from_paths(target)
    codes = tax.level_codes(target)
    accuracies, chances, p_values = [], [], []
    # Multithreaded BLAS on these tiny problems is ten times slower when the cores are shared.
    with threadpool_limits(1):
        for labels in codes.T:
            clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
            predicted = cross_val_predict(clf, features, labels, cv=StratifiedKFold(3, shuffle=True, random_state=0))
            n_correct = int((predicted == labels).sum())
            chance = np.bincount(labels).max() / len(labels)
            accuracies.append(n_correct / len(labels))
            chances.append(chance)
            p_values.append(binomtest(n_correct, len(labels), chance, alternative="greater").pvalue)
    return np.array(accuracies), np.array(chances), np.array(p_values)


# ----------------------------------------------------------------- synthetic
def test_synthetic_shapes_labels_and_peaks():
    X, y = make_hierarchical_sounds(n_per_leaf=4, sr=8000, duration=0.25, noise=0.0, random_state=0)
    assert X.shape == (3 * 3 * 2 * 4, 2000) and X.dtype == np.float32
    assert y.dtype == object and all(re.fullmatch(r"a[0-2]/b[0-2]/c[01]", label) for label in y)
    labels, counts = np.unique(y, return_counts=True)
    assert len(labels) == 18 and set(counts) == {4}
    # Without background noise each clip peaks at its gain, drawn in [-12, 0] dB.
    peaks = np.abs(X).max(axis=1)
    assert peaks.max() <= 1.0 + 1e-6 and peaks.min() >= 10 ** (-12 / 20) - 1e-6


def test_synthetic_is_deterministic_per_seed():
    a = make_hierarchical_sounds(n_per_leaf=2, branching=(2, 2), sr=8000, random_state=3)
    b = make_hierarchical_sounds(n_per_leaf=2, branching=(2, 2), sr=8000, random_state=3)
    c = make_hierarchical_sounds(n_per_leaf=2, branching=(2, 2), sr=8000, random_state=4)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_synthetic_takes_a_ragged_taxonomy_unchanged():
    tax = Taxonomy.from_paths(["brass/horn/open", "brass/horn/muted", "brass/tuba", "keys"])
    X, y = make_hierarchical_sounds(n_per_leaf=3, branching=tax, sr=8000, shuffle=False, random_state=0)
    assert list(y) == [leaf for leaf in tax.leaves for _ in range(3)]
    assert X.shape == (12, 4000)
    assert tax.leaves == ("brass/horn/muted", "brass/horn/open", "brass/tuba", "keys")


def test_synthetic_shuffle_keeps_the_same_multiset_of_labels():
    _, grouped = make_hierarchical_sounds(n_per_leaf=2, branching=(2, 2), sr=8000, shuffle=False, random_state=0)
    _, shuffled = make_hierarchical_sounds(n_per_leaf=2, branching=(2, 2), sr=8000, random_state=0)
    assert list(grouped) == ["a0/b0", "a0/b0", "a0/b1", "a0/b1", "a1/b0", "a1/b0", "a1/b1", "a1/b1"]
    assert sorted(shuffled) == list(grouped) and list(shuffled) != list(grouped)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"branching": (3, 0)}, "branching"),
        ({"branching": ()}, "branching"),
        ({"branching": (2.5, 2)}, "branching"),
        ({"n_per_leaf": 0}, "n_per_leaf"),
        ({"difficulty": -1}, "difficulty"),
        ({"sr": 10}, "sr"),
        ({"sr": 8000, "duration": 0.001}, "at least 64 samples; got sr=8000, duration=0.001"),
    ],
)
def test_synthetic_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_hierarchical_sounds(**kwargs)


def test_synthetic_baseline_beats_chance_more_at_coarse_levels():
    X, y = make_hierarchical_sounds(n_per_leaf=20, random_state=0)
    accuracy, chance, p_value = level_accuracies(mean_mel_bands(X, 16000), y)
    assert np.all(p_value < 1e-6), (accuracy, chance)
    assert np.all(np.diff(accuracy) < -0.05), accuracy


def test_synthetic_difficulty_blurs_the_leaves():
    scores = []
    for difficulty in (0.0, 1.0):
        X, y = make_hierarchical_sounds(n_per_leaf=12, difficulty=difficulty, noise=0.0, random_state=1)
        scores.append(level_accuracies(mean_mel_bands(X, 16000), y)[0][-1])
    assert scores[0] > scores[1] + 0.15, scores


# ----------------------------------------------------------------- soundfont
SUBSET = {
    "programs": [40, 42, 56, 57],
    "techniques": ["ordinario", "staccato", "vibrato"],
    "n_per_leaf": 10,
    "n_rare_leaves": 1,
    "sr": 22050,
    "verbose": 0,
}


@pytest.fixture(scope="module")
def soundfont_home(tmp_path_factory):
    return tmp_path_factory.mktemp("soundfont_home")


@pytest.fixture(scope="module")
def subset(soundfont_home):
    return load_soundfont_instruments(data_home=soundfont_home, as_frame=True, **SUBSET)


def test_soundfont_subset_shapes_and_label_paths(subset):
    n = len(subset.target)
    assert subset.data.shape == (n, 22050) and subset.data.dtype == np.float32 and subset.sr == 22050
    assert subset.taxonomy.levels[1] == ("Brass", "Strings")
    assert set(subset.taxonomy.levels[2]) == {"Brass/Trombone", "Brass/Trumpet", "Strings/Cello", "Strings/Violin"}
    assert subset.taxonomy.n_leaves == 12 and subset.taxonomy.depth == 3
    frame = subset.frame
    assert list(frame.columns) == ["target", "family", "instrument", "technique", "program", "pitch", "velocity"]
    assert (frame.target == frame.family + "/" + frame.instrument + "/" + frame.technique).all()
    assert set(frame.velocity) <= {40, 80, 120}
    violin = frame[frame.program == 40]
    assert violin.pitch.min() >= 55 and violin.pitch.max() <= 96
    # Every clip sounds: the quietest (velocity 40, staccato) is far above 16-bit silence.
    assert np.sqrt((subset.data**2).mean(axis=1)).min() > 1e-4


def test_soundfont_subset_has_one_rare_leaf(subset):
    leaves, counts = np.unique(subset.target, return_counts=True)
    assert len(leaves) == 12
    assert sorted(counts)[1:] == [10] * 11
    assert 3 <= sorted(counts)[0] <= 9
    assert "fewer than 10 clips: " + leaves[np.argmin(counts)] in subset.DESCR


def test_soundfont_render_is_bit_identical_in_parallel(subset, tmp_path):
    again = load_soundfont_instruments(data_home=tmp_path, n_jobs=2, **SUBSET)
    assert np.array_equal(again.data, subset.data)
    assert list(again.target) == list(subset.target)


def test_soundfont_second_load_reads_the_cache(subset, soundfont_home, monkeypatch):
    def no_render(*args, **kwargs):
        raise AssertionError("rendered although the clips are cached")

    monkeypatch.setattr(_soundfont, "render_notes", no_render)
    cached = load_soundfont_instruments(data_home=soundfont_home, render_if_missing=False, **SUBSET)
    assert np.array_equal(cached.data, subset.data)
    assert cached.frame is None


def test_soundfont_file_is_read_once_per_render(subset, tmp_path, monkeypatch):
    reads = []
    read_bytes = Path.read_bytes

    def counting(path):
        reads.append(path)
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", counting)
    again = load_soundfont_instruments(data_home=tmp_path, **SUBSET)
    assert [p.suffix for p in reads] == [".sf2"]  # once, although the subset has several leaves
    assert len(set(again.target)) > 1 and np.array_equal(again.data, subset.data)


def test_soundfont_missing_cache_without_render_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="render_if_missing"):
        load_soundfont_instruments(data_home=tmp_path, render_if_missing=False, **SUBSET)


def test_soundfont_baseline_beats_chance_at_every_level(subset):
    accuracy, chance, p_value = level_accuracies(mean_mel_bands(subset.data, subset.sr), subset.target)
    assert np.all(p_value < 1e-6), (accuracy, chance)


def test_soundfont_default_plan_is_orchideasol_sized():
    leaves = _soundfont._plan(_soundfont.DEFAULT_PROGRAMS, TECHNIQUES, None, 8, 0)
    sizes = np.array([len(leaf.pitches) for leaf in leaves])
    assert len(leaves) == 192 and sizes.sum() == 11605
    assert (sizes < 10).sum() == 8 and sizes[sizes >= 10].min() == 39 and sizes.max() == 93
    # At most one program of each set that shares samples in TimGM6mb.
    for same in _soundfont._SAME_SAMPLES_IN_TIMGM6MB:
        assert len(same.intersection(_soundfont.DEFAULT_PROGRAMS)) <= 1
    # Family and instrument names come from pretty_midi and never contain the separator.
    assert all(leaf.path.count("/") == 2 for leaf in leaves)


def test_soundfont_does_not_modify_the_callers_lists(tmp_path):
    programs, techniques = [57, 40], ["vibrato", "ordinario"]
    with pytest.raises(FileNotFoundError):
        load_soundfont_instruments(
            programs=programs, techniques=techniques, n_rare_leaves=0, data_home=tmp_path, render_if_missing=False
        )
    assert programs == [57, 40] and techniques == ["vibrato", "ordinario"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"programs": [40, 200]}, ValueError, "200"),
        ({"programs": []}, ValueError, "programs is empty"),
        ({"techniques": ["legato"]}, ValueError, "'legato'"),
        ({"families": ["Woodwinds"]}, ValueError, "'Woodwinds'"),
        ({"families": ["Bass"]}, ValueError, r"\['Bass'\]"),
        ({"programs": [40], "techniques": ["vibrato"], "n_rare_leaves": 2}, ValueError, "n_rare_leaves=2"),
        ({"soundfont": "no-such.sf2"}, FileNotFoundError, "no-such.sf2"),
        ({"duration": 0}, ValueError, "duration"),
    ],
)
def test_soundfont_rejects_bad_parameters(kwargs, error, message, tmp_path):
    with pytest.raises(error, match=message):
        load_soundfont_instruments(data_home=tmp_path, render_if_missing=False, **kwargs)


def test_soundfont_rejects_a_file_that_is_not_a_soundfont(tmp_path):
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"RIFF\x00\x00\x00\x00WAVE")
    with pytest.raises(ValueError, match="fake.sf2"):
        load_soundfont_instruments(soundfont=fake, data_home=tmp_path, render_if_missing=False)


def test_soundfont_warns_on_programs_sharing_samples(tmp_path):
    with pytest.warns(UserWarning, match=r"\[0, 1\]"), pytest.raises(FileNotFoundError):
        load_soundfont_instruments(programs=[0, 1], data_home=tmp_path, render_if_missing=False)


def test_soundfont_families_filter_the_default_programs(tmp_path):
    with pytest.raises(FileNotFoundError):  # only the choice is checked; nothing is rendered
        load_soundfont_instruments(families=["Pipe"], data_home=tmp_path, render_if_missing=False)
    assert _soundfont._choose_programs(["Pipe"], None, warn_shared=False) == (72, 73, 74, 75)
    assert _soundfont._choose_programs(["Brass"], [40, 56, 57], warn_shared=False) == (56, 57)


# ------------------------------------------------------------- local folders
def write_wav(path, n=80):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(n), 8000)


ORCHIDEA_ROWS = [
    "Brass/Horn/ordinario/Hn-ord-A2-ff-N-N.wav",
    "Brass/Horn/ordinario/Hn-ord-B2-pp-N-N.wav",
    "Brass/Horn+sordina/ordinario/Hn+S-ord-A2-ff-N-N.wav",
    "Brass/Trumpet_C+cup/flatterzunge/TpC+C-flatt-C4-mf-N-N.wav",
    "Strings/Violin/pizzicato_l_vib/Vn-pizz_lv-G3-mf-4c-N.wav",
]


@pytest.fixture
def orchidea(tmp_path):
    for row in ORCHIDEA_ROWS:
        write_wav(tmp_path / "OrchideaSOL2020" / row)
    lines = ["Path,Dynamics,Fold"] + [f"{row},{row.split('-')[3]},{i % 5}" for i, row in enumerate(ORCHIDEA_ROWS)]
    (tmp_path / "OrchideaSOL_metadata.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_orchideasol_labels_paths_and_frame(orchidea):
    bunch = load_orchideasol(orchidea, as_frame=True)
    assert list(bunch.target) == [
        "Brass/Horn/open/ordinario",
        "Brass/Horn/open/ordinario",
        "Brass/Horn/sordina/ordinario",
        "Brass/Trumpet_C/cup/flatterzunge",
        "Strings/Violin/open/pizzicato_l_vib",
    ]
    assert [Path(p) for p in bunch.data] == [orchidea / "OrchideaSOL2020" / row for row in ORCHIDEA_ROWS]
    assert [len(level) for level in bunch.taxonomy.levels[1:]] == [2, 3, 4, 4]
    assert list(bunch.frame.columns) == [
        "target",
        "family",
        "instrument",
        "mute",
        "technique",
        "Path",
        "Dynamics",
        "Fold",
    ]
    assert list(bunch.frame.Dynamics) == ["ff", "pp", "ff", "mf", "mf"]
    assert "OrchideaSOL" in bunch.DESCR and "2 / 3 / 4 / 4 nodes per level" in bunch.DESCR


def test_orchideasol_accepts_the_audio_folder_with_the_csv_beside_it(orchidea):
    bunch = load_orchideasol(orchidea / "OrchideaSOL2020")
    assert len(bunch.target) == len(ORCHIDEA_ROWS) and bunch.frame is None


def test_orchideasol_missing_csv_names_where_it_looked(orchidea):
    os.remove(orchidea / "OrchideaSOL_metadata.csv")
    with pytest.raises(FileNotFoundError, match="OrchideaSOL_metadata.csv"):
        load_orchideasol(orchidea)
    with pytest.raises(FileNotFoundError, match="elsewhere.csv"):
        load_orchideasol(orchidea, metadata=orchidea / "elsewhere.csv")


def test_orchideasol_missing_path_column_is_named(orchidea):
    (orchidea / "meta.csv").write_text("File,Dynamics\na.wav,ff\n")
    with pytest.raises(ValueError, match="no 'Path' column.*'File', 'Dynamics'"):
        load_orchideasol(orchidea, metadata=orchidea / "meta.csv")


def test_orchideasol_missing_audio_file_is_named(orchidea):
    os.remove(orchidea / "OrchideaSOL2020" / ORCHIDEA_ROWS[3])
    with pytest.raises(FileNotFoundError, match=r"1 of the 5 .*TpC\+C-flatt-C4-mf-N-N.wav"):
        load_orchideasol(orchidea)


def test_orchideasol_short_path_is_named_with_its_row(orchidea):
    (orchidea / "meta.csv").write_text("Path\nBrass/Horn/ordinario/Hn-ord-A2-ff-N-N.wav\nBrass/x.wav\n")
    with pytest.raises(ValueError, match="Row 3 .*'Brass/x.wav'"):
        load_orchideasol(orchidea, metadata=orchidea / "meta.csv")


def test_orchideasol_missing_root_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_orchideasol(tmp_path / "nowhere")


def test_audio_folder_labels_a_ragged_tree(tmp_path):
    for rel in ["Brass/Horn/a.wav", "Brass/Horn/b.FLAC", "Brass/Tuba/a.wav", "Keys/c.wav"]:
        write_wav(tmp_path / rel)
    (tmp_path / "Keys" / "notes.txt").write_text("not audio")
    write_wav(tmp_path / ".hidden" / "x.wav")
    write_wav(tmp_path / "Keys" / ".y.wav")
    bunch = load_audio_folder(tmp_path, as_frame=True)
    assert list(bunch.target) == ["Brass/Horn", "Brass/Horn", "Brass/Tuba", "Keys"]
    assert list(bunch.frame.path) == ["Brass/Horn/a.wav", "Brass/Horn/b.FLAC", "Brass/Tuba/a.wav", "Keys/c.wav"]
    assert all(os.path.isfile(p) for p in bunch.data)
    assert bunch.taxonomy.leaves == ("Brass/Horn", "Brass/Tuba", "Keys")
    only_wav = load_audio_folder(tmp_path, extensions=[".wav"])
    assert len(only_wav.target) == 3


def test_audio_folder_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        load_audio_folder(tmp_path / "missing")
    (tmp_path / "Keys").mkdir()
    with pytest.raises(FileNotFoundError, match="No audio file"):
        load_audio_folder(tmp_path)
    write_wav(tmp_path / "loose.wav")
    with pytest.raises(ValueError, match="loose.wav"):
        load_audio_folder(tmp_path)
    with pytest.raises(ValueError, match="'wav'"):
        load_audio_folder(tmp_path, extensions=["wav"])


# ----------------------------------------------------------------- data home
def test_data_home_from_argument_environment_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("SKLEARN_HIER_DATA", str(tmp_path / "from_env"))
    assert get_data_home() == str(tmp_path / "from_env") and (tmp_path / "from_env").is_dir()
    assert get_data_home(tmp_path / "given") == str(tmp_path / "given")
    monkeypatch.delenv("SKLEARN_HIER_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_data_home() == str(tmp_path / "home" / "sklearn_hier_data")


def test_data_home_that_is_a_file_is_refused_and_clear_removes(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="file"):
        get_data_home(tmp_path / "file")
    home = get_data_home(tmp_path / "cache")
    (Path(home) / "x").write_text("cached")
    clear_data_home(home)
    assert not os.path.exists(home)
