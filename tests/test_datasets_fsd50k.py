"""load_fsd50k on a tiny FSD50K-shaped copy written by the test (nothing is downloaded)."""

import csv
import json

import numpy as np
import pytest
from _ontology import BARK, CANIDAE, DOG, HOWL, ONTOLOGY

from sklearn_hier import HierarchicalEmbedder
from sklearn_hier.datasets import load_fsd50k
from sklearn_hier.metrics import hierarchy_scorers
from sklearn_hier.taxonomy import Taxonomy, label_sets

ANIMAL, DOMESTIC, WILD, MUSIC, GUITAR = "/m/0jbk", "/m/068hy", "/m/01280g", "/m/04rlf", "/m/0342h"
# The vocabulary: FSD50K's classes are a subset of the ontology (here without "Musical instrument").
VOCABULARY = {ANIMAL: "Animal", DOMESTIC: "Domestic_animals_and_pets", WILD: "Wild_animals", DOG: "Dog"}
VOCABULARY |= {CANIDAE: "Canidae_and_dogs_and_wolves", HOWL: "Howl", BARK: "Bark", MUSIC: "Music", GUITAR: "Guitar"}
DEV = [
    ("101", [BARK, DOG, DOMESTIC, ANIMAL], "train"),
    ("102", [HOWL, DOG, CANIDAE, DOMESTIC, WILD, ANIMAL], "train"),
    ("103", [GUITAR, MUSIC, BARK, DOG, DOMESTIC, ANIMAL], "val"),
]
EVAL = [("201", [GUITAR, MUSIC]), ("202", [HOWL, DOG, CANIDAE, DOMESTIC, WILD, ANIMAL])]


def _write(root, dev=DEV, eval_=EVAL, vocabulary=VOCABULARY, ontology=ONTOLOGY, audio=True):
    truth = root / "FSD50K.ground_truth"
    truth.mkdir(parents=True)
    with open(truth / "vocabulary.csv", "w", newline="") as f:
        csv.writer(f).writerows([i, name, mid] for i, (mid, name) in enumerate(vocabulary.items()))
    with open(truth / "dev.csv", "w", newline="") as f:
        rows = [
            [fname, ",".join(VOCABULARY.get(m, "X") for m in mids), ",".join(mids), split] for fname, mids, split in dev
        ]
        csv.writer(f).writerows([["fname", "labels", "mids", "split"], *rows])
    with open(truth / "eval.csv", "w", newline="") as f:
        rows = [[fname, ",".join(VOCABULARY[m] for m in mids), ",".join(mids)] for fname, mids in eval_]
        csv.writer(f).writerows([["fname", "labels", "mids"], *rows])
    if ontology is not None:
        (root / "ontology.json").write_text(json.dumps(ontology))
    for part, clips in (("dev", dev), ("eval", eval_)):
        folder = root / f"FSD50K.{part}_audio"
        folder.mkdir()
        for clip in clips if audio else ():
            (folder / f"{clip[0]}.wav").write_bytes(b"")
    return root


def test_clips_label_sets_splits_and_the_vocabulary_dag(tmp_path):
    bunch = load_fsd50k(_write(tmp_path))
    assert [t for t in bunch.target] == [frozenset(mids) for _, mids, *_ in DEV + EVAL]
    assert list(bunch.split) == ["train", "train", "val", "eval", "eval"]
    assert [p.rsplit("/", 2)[-2:] for p in bunch.data][0] == ["FSD50K.dev_audio", "101.wav"]
    tax = bunch.taxonomy
    assert not tax.is_tree and set(tax.parents(HOWL)) == {DOG, CANIDAE}  # Howl has two parents
    assert set(tax.nodes[1:]) == set(VOCABULARY) | {"/m/04szw"}  # the vocabulary and its ancestors
    assert tax.name_of(GUITAR) == "Guitar" and tax.restrictions_of("/m/04szw") == ("abstract",)
    assert bunch.vocabulary == VOCABULARY and bunch.frame is None
    # The targets are label sets the library reads as they are, and closed under the ontology's ancestors.
    assert label_sets(list(bunch.target), taxonomy=tax) == tuple(bunch.target)
    assert all(tax.closure(t) - t <= {"/m/04szw"} for t in bunch.target)


def test_subsets_and_the_frame(tmp_path):
    root = _write(tmp_path)
    assert len(load_fsd50k(root, subset="dev").target) == 3 and set(load_fsd50k(root, subset="eval").split) == {"eval"}
    frame = load_fsd50k(root, as_frame=True).frame
    assert list(frame.columns) == ["fname", "split", "labels", "mids"]
    assert frame["labels"][3] == ("Guitar", "Music") and frame["mids"][3] == (GUITAR, MUSIC)


def test_the_ontology_may_be_passed_and_is_required(tmp_path):
    root = _write(tmp_path / "a", ontology=None)
    with pytest.raises(FileNotFoundError, match="does not ship the AudioSet ontology. Pass ontology="):
        load_fsd50k(root)
    assert load_fsd50k(root, ontology=ONTOLOGY).taxonomy == Taxonomy.from_ontology(ONTOLOGY).restrict(
        [frozenset(VOCABULARY)]
    )


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"dev": [("101", ["/m/unknown"], "train")]}, ValueError, r"dev.csv line 2 \(clip '101'\).*not in vocabulary"),
        ({"vocabulary": {**VOCABULARY, "/m/absent": "X"}}, ValueError, r"\['/m/absent'\] are not classes of the onto"),
        ({"audio": False}, FileNotFoundError, r"5 audio files of the ground truth are missing, e.g. '.*101.wav'"),
        ({"dev": [DEV[0], DEV[0]]}, ValueError, r"Clip '101' is listed twice in dev.csv \(rows 0 and 1\)"),
    ],
)
def test_bad_copies_are_refused_by_name(tmp_path, change, error, match):
    with pytest.raises(error, match=match):
        load_fsd50k(_write(tmp_path, **change))


def test_malformed_ground_truth_files_are_named(tmp_path):
    root = _write(tmp_path)
    (root / "FSD50K.ground_truth" / "eval.csv").write_text("fname,mids\n201,/m/0342h\n")
    with pytest.raises(ValueError, match=r"eval.csv has no column labels; its header is \['fname', 'mids'\]"):
        load_fsd50k(root)
    (root / "FSD50K.ground_truth" / "eval.csv").write_text('fname,labels,mids\n201,Guitar,"/m/0342h,/m/04rlf"\n')
    with pytest.raises(ValueError, match=r"eval.csv line 2 \(clip '201'\): 1 labels but 2 ids"):
        load_fsd50k(root)
    (root / "FSD50K.ground_truth" / "eval.csv").write_text("fname,labels,mids\n201,Guitar,/m/0342h,/m/04rlf\n")
    with pytest.raises(ValueError, match=r"eval.csv line 2 has 4 fields, its header 3: quote the lists"):
        load_fsd50k(root)
    (root / "FSD50K.ground_truth" / "vocabulary.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"vocabulary.csv' \(the vocabulary\) does not exist"):
        load_fsd50k(root)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_fsd50k(tmp_path / "nowhere")
    assert np.all([isinstance(t, frozenset) for t in load_fsd50k(_write(tmp_path / "b")).target])


def test_fsd50k_label_sets_train_the_embedder_on_the_ontology_dag(tmp_path):
    bunch = load_fsd50k(_write(tmp_path))
    rng = np.random.default_rng(0)
    y = list(bunch.target) * 8  # 40 clips: the five label sets of the copy, with features of their own
    centres = {mid: rng.normal(size=6) * 3 for mid in VOCABULARY}
    X = np.array([sum(centres[mid] for mid in labels) for labels in y]) + rng.normal(scale=0.3, size=(len(y), 6))
    emb = HierarchicalEmbedder(
        losses="PL+B+T",
        triplets="batch_hard",
        taxonomy=bunch.taxonomy,
        embedding_dim=6,
        module__hidden=(16,),
        max_epochs=5,
        valid_size=None,
        random_state=0,
        verbose=0,
    ).fit(X.astype(np.float32), y)
    # FSD50K's labels are closed under their ancestors, so inner nodes are classes too; the DAG is kept.
    assert set(emb.classes_) == set().union(*bunch.target) and not emb.taxonomy_.is_tree
    assert set(emb.taxonomy_.parents(HOWL)) == {DOG, CANIDAE}
    assert all(labels <= set(emb.classes_) for labels in emb.predict_label_sets(X.astype(np.float32)))
    assert 0 < hierarchy_scorers()["ndcg"](emb, X.astype(np.float32), np.array(y, dtype=object)) <= 1
