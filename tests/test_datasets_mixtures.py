"""Tests of sklearn_hier.datasets.load_soundfont_mixtures: label sets, the mixing rule, determinism, the cache."""

import json
import shutil
import warnings

import numpy as np
import pytest

from sklearn_hier.datasets import _mixtures, _soundfont, load_soundfont_instruments, load_soundfont_mixtures

# Tiny: 4 programs (3 families) x 2 techniques = 8 leaves, 3 notes each, half a second at 8 kHz.
SMALL = {
    "programs": [40, 42, 56, 73],
    "techniques": ["ordinario", "vibrato"],
    "n_clips": 24,
    "n_per_leaf": 3,
    "sr": 8000,
    "duration": 0.5,
    "verbose": 0,
}
# The single-note set the SMALL mixtures draw from.
NOTES = {k: SMALL[k] for k in ("programs", "techniques", "n_per_leaf", "sr", "duration", "verbose")}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("mixtures_home")


@pytest.fixture(scope="module")
def mixtures(home):
    return load_soundfont_mixtures(data_home=home, as_frame=True, **SMALL)


@pytest.fixture
def notes_only_home(home, mixtures, tmp_path):
    """A data home holding the rendered single notes and no mixture: loads there mix but never render."""
    shutil.copytree(home / "soundfont_instruments", tmp_path / "soundfont_instruments")
    return tmp_path


@pytest.fixture
def no_render(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("rendered although the single notes are cached")

    monkeypatch.setattr(_soundfont, "render_notes", refuse)


def test_mixtures_shapes_dtypes_and_label_sets(mixtures):
    assert mixtures.data.shape == (24, 4000) and mixtures.data.dtype == np.float32 and mixtures.sr == 8000
    target = mixtures.target
    assert target.shape == (24,) and target.dtype == object
    assert all(type(labels) is frozenset for labels in target)
    # 2 or 3 distinct leaves per clip, every one a leaf of the returned tree, which holds exactly those used.
    assert {len(labels) for labels in target} == {2, 3}
    used = set().union(*target)
    assert set(mixtures.taxonomy.leaves) == used and mixtures.taxonomy.depth == 3
    assert used <= {
        f"{p}/{t}"
        for p in ("Strings/Violin", "Strings/Cello", "Brass/Trumpet", "Pipe/Flute")
        for t in SMALL["techniques"]
    }
    frame = mixtures.frame
    assert list(frame.columns) == [
        "target", "n_notes", "paths", "programs", "pitches", "velocities", "levels_db", "gains", "notes",
    ]  # fmt: skip
    assert list(frame.n_notes) == [len(labels) for labels in target]
    assert all(frozenset(paths) == labels for paths, labels in zip(frame.paths, target, strict=True))
    assert all(
        len(column) == n for name in frame.columns[2:] for column, n in zip(frame[name], frame.n_notes, strict=True)
    )
    assert np.allclose(np.abs(mixtures.data).max(axis=1), 0.5)
    assert "24 mono clips of 0.5 s at 8000 Hz" in mixtures.DESCR and "8 leaves" in mixtures.DESCR


def test_mixture_is_the_rule_applied_to_its_notes_rendered_alone(mixtures, home, no_render):
    # The notes rendered alone are the single-note set: loading it reads the cache the mixtures left.
    single = load_soundfont_instruments(data_home=home, n_rare_leaves=0, as_frame=True, **NOTES)
    frame = mixtures.frame
    for clip, row in zip(mixtures.data, frame.itertuples(), strict=True):
        notes = single.data[list(row.notes)].astype(np.float64)
        assert tuple(single.target[list(row.notes)]) == row.paths
        assert tuple(single.frame.pitch[list(row.notes)]) == row.pitches
        assert tuple(single.frame.velocity[list(row.notes)]) == row.velocities
        assert all(-6.0 <= level <= 0.0 for level in row.levels_db)
        # The rule written out: unit RMS, then the drawn level in dB, summed, the sum's peak set to 0.5.
        unit = 10 ** (np.array(row.levels_db) / 20) / np.sqrt((notes**2).mean(axis=1))
        mix = unit @ notes
        expected = mix * 0.5 / np.abs(mix).max()
        np.testing.assert_allclose(clip, expected, rtol=0, atol=1e-6)
        # The frame's gains are the factors that multiplied each note.
        np.testing.assert_allclose(row.gains, unit * 0.5 / np.abs(mix).max(), rtol=1e-12)
        np.testing.assert_allclose(clip, np.array(row.gains) @ notes, rtol=0, atol=1e-6)


def test_mixtures_render_each_note_once_and_are_bit_identical(mixtures, tmp_path, monkeypatch):
    rendered = []
    render_notes = _soundfont.render_notes

    def counting(sf2, program, technique, pitches, *args):
        rendered.append((program, technique, len(pitches)))
        return render_notes(sf2, program, technique, pitches, *args)

    monkeypatch.setattr(_soundfont, "render_notes", counting)
    again = load_soundfont_mixtures(data_home=tmp_path, n_jobs=1, as_frame=True, **SMALL)
    # One MIDI file per leaf, each of its 3 notes once, whatever the number of clips using them.
    assert sorted(rendered) == sorted((p, t, 3) for p in SMALL["programs"] for t in SMALL["techniques"])
    assert np.array_equal(again.data, mixtures.data)
    assert list(again.target) == list(mixtures.target)
    assert again.frame.equals(mixtures.frame)


def test_mixtures_second_load_reads_the_cache(mixtures, home, monkeypatch):
    def no_mixing(*args, **kwargs):
        raise AssertionError("mixed again although the clips are cached")

    monkeypatch.setattr(_mixtures, "_load_notes", no_mixing)
    cached = load_soundfont_mixtures(data_home=home, render_if_missing=False, as_frame=True, **SMALL)
    assert np.array_equal(cached.data, mixtures.data)
    assert list(cached.target) == list(mixtures.target)
    assert cached.frame.equals(mixtures.frame)  # the gains come back from the cache, bit for bit


def test_mixtures_other_random_state_mixes_the_same_notes_differently(mixtures, notes_only_home, no_render):
    # no_render: the other seed draws from the very notes already rendered.
    other = load_soundfont_mixtures(data_home=notes_only_home, random_state=1, as_frame=True, **SMALL)
    assert list(other.target) != list(mixtures.target)
    assert list(other.frame.notes) != list(mixtures.frame.notes)
    assert not np.array_equal(other.data, mixtures.data)


@pytest.mark.parametrize(
    ("distinct", "n_notes", "depth"),
    [("leaf", 2, 3), ("instrument", (2, 3), 2), ("family", 3, 1)],
)
def test_mixtures_notes_differ_at_the_distinct_level(distinct, n_notes, depth, notes_only_home, no_render):
    bunch = load_soundfont_mixtures(data_home=notes_only_home, distinct=distinct, n_notes=n_notes, **SMALL)
    sizes = {n_notes} if isinstance(n_notes, int) else set(range(n_notes[0], n_notes[1] + 1))
    assert {len(labels) for labels in bunch.target} == sizes
    for labels in bunch.target:
        groups = {"/".join(path.split("/")[:depth]) for path in labels}
        assert len(groups) == len(labels), labels


def test_mixtures_level_db_zero_mixes_at_equal_loudness(notes_only_home, no_render):
    bunch = load_soundfont_mixtures(data_home=notes_only_home, level_db=0, as_frame=True, **SMALL)
    assert {level for levels in bunch.frame.levels_db for level in levels} == {0.0}


def test_mixtures_cache_is_not_read_for_other_parameters(notes_only_home, no_render):
    first = load_soundfont_mixtures(data_home=notes_only_home, **SMALL)
    (folder,) = (notes_only_home / "soundfont_mixtures").iterdir()
    np.save(folder / "data.npy", np.zeros_like(first.data))  # a cache these parameters must not see
    same = load_soundfont_mixtures(data_home=notes_only_home, render_if_missing=False, **SMALL)
    assert not same.data.any()  # the planted cache is read for its own parameters...
    for change in [{"random_state": 1}, {"n_clips": 23}, {"n_notes": 2}, {"distinct": "instrument"}, {"level_db": 3}]:
        other = load_soundfont_mixtures(data_home=notes_only_home, render_if_missing=False, **{**SMALL, **change})
        assert np.allclose(np.abs(other.data).max(axis=1), 0.5), change  # ...and never for others
    # Other notes: neither the mixtures nor their notes are cached.
    for change in [{"sr": 8001}, {"duration": 0.4}, {"n_per_leaf": 2}, {"techniques": ["ordinario"]}]:
        with pytest.raises(FileNotFoundError, match="render_if_missing=True"):
            load_soundfont_mixtures(data_home=notes_only_home, render_if_missing=False, **{**SMALL, **change})


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda folder: (folder / "data.npy").write_bytes((folder / "data.npy").read_bytes()[:1000]), "cannot be read"),
        (lambda folder: (folder / "gains.npy").unlink(), "cannot be read"),
        (lambda folder: (folder / "params.json").write_text("{"), "cannot be read"),
        (lambda folder: (folder / "params.json").write_text(json.dumps({"n_clips": 24})), "other parameters"),
        (lambda folder: np.save(folder / "data.npy", np.zeros((3, 4000), np.float32)), r"shapes \(3, 4000\)"),
    ],
)
def test_mixtures_damaged_cache_is_mixed_again_with_a_warning(damage, message, notes_only_home, no_render):
    first = load_soundfont_mixtures(data_home=notes_only_home, **SMALL)
    (folder,) = (notes_only_home / "soundfont_mixtures").iterdir()
    damage(folder)
    with pytest.warns(UserWarning, match=message):
        again = load_soundfont_mixtures(data_home=notes_only_home, **SMALL)
    assert np.array_equal(again.data, first.data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # repaired: the next load reads it quietly
        assert np.array_equal(load_soundfont_mixtures(data_home=notes_only_home, **SMALL).data, first.data)


def test_mixtures_progress_shows_and_is_silenced(notes_only_home, no_render, capsys):
    load_soundfont_mixtures(data_home=notes_only_home, **{**SMALL, "verbose": 2})
    assert "Mixing soundfont notes" in capsys.readouterr().err
    load_soundfont_mixtures(data_home=notes_only_home, **{**SMALL, "random_state": 3})
    assert capsys.readouterr().err == ""


def test_mixtures_missing_cache_without_render_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="render_if_missing=True"):
        load_soundfont_mixtures(data_home=tmp_path, render_if_missing=False, **SMALL)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n_notes": 0}, ValueError, "n_notes"),
        ({"n_notes": (3, 2)}, ValueError, r"n_notes must be .* got \(3, 2\)"),
        ({"n_notes": (1, 2, 3)}, ValueError, r"got \(1, 2, 3\)"),
        ({"n_notes": (2.0, 3)}, ValueError, r"got \(2.0, 3\)"),
        ({"n_notes": 9}, ValueError, r"n_notes=9 asks for up to 9 notes of different leaves .* give 8"),
        ({"distinct": "instrument", "n_notes": 5}, ValueError, "different instruments .* give 4"),
        ({"distinct": "family", "n_notes": (2, 4)}, ValueError, r"n_notes=\(2, 4\) .* families .* give 3"),
        ({"distinct": "note"}, ValueError, "distinct"),
        ({"n_clips": 0}, ValueError, "n_clips"),
        ({"level_db": -1}, ValueError, "level_db"),
        ({"programs": [40, 200]}, ValueError, "200"),
        ({"techniques": ["legato"]}, ValueError, "'legato'"),
        ({"soundfont": "no-such.sf2"}, FileNotFoundError, "no-such.sf2"),
    ],
)
def test_mixtures_reject_bad_parameters_before_rendering(kwargs, error, message, tmp_path, no_render):
    with pytest.raises(error, match=message):
        load_soundfont_mixtures(data_home=tmp_path, **{**SMALL, **kwargs})
    assert not (tmp_path / "soundfont_instruments").exists()


def test_mixtures_warn_once_on_programs_sharing_samples_and_keep_the_callers_lists(tmp_path):
    programs, n_notes = [1, 0], [2, 2]
    with pytest.warns(UserWarning, match=r"\[0, 1\]") as caught, pytest.raises(FileNotFoundError):
        load_soundfont_mixtures(
            programs=programs, n_notes=n_notes, n_clips=2, data_home=tmp_path, render_if_missing=False
        )
    assert len([w for w in caught if "same samples" in str(w.message)]) == 1
    assert programs == [1, 0] and n_notes == [2, 2]
