"""FSD50K from a local copy: its clips, their label sets of AudioSet ids, and the AudioSet ontology's DAG.

Nothing is downloaded. FSD50K (Fonseca et al., 2022; 51,197 Freesound clips,
200 classes of the AudioSet ontology, CC licences) is read as its release lays
it out: ``FSD50K.ground_truth/`` with ``dev.csv`` (``fname,labels,mids,split``),
``eval.csv`` (``fname,labels,mids``) and ``vocabulary.csv`` (``index,label,mid``,
no header), and the audio in ``FSD50K.dev_audio/`` and ``FSD50K.eval_audio/``.
The ontology is AudioSet's ``ontology.json``, which FSD50K does not ship.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

from sklearn_hier.taxonomy import Taxonomy

__all__ = ["load_fsd50k"]

_TRUTH = "FSD50K.ground_truth"
_AUDIO = {"dev": "FSD50K.dev_audio", "eval": "FSD50K.eval_audio"}
_COLUMNS = {"dev": ("fname", "labels", "mids", "split"), "eval": ("fname", "labels", "mids")}


@validate_params(
    {
        "root": [str, os.PathLike],
        "subset": [StrOptions({"all", "dev", "eval"})],
        "ontology": [str, os.PathLike, list, None],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_fsd50k(
    root: str | os.PathLike,
    *,
    subset: str = "all",
    ontology: str | os.PathLike | Sequence[Mapping[str, Any]] | None = None,
    as_frame: bool = False,
) -> Bunch:
    """Load a local copy of FSD50K: audio file paths, label sets of AudioSet ids, and the ontology's DAG.

    Every clip's target is the set of the AudioSet machine ids FSD50K gives it
    (``mids``; FSD50K's labels already include the ancestors of each label in
    its vocabulary). The taxonomy is the AudioSet ontology restricted to the
    200 classes of FSD50K's vocabulary and their ancestors: a DAG (a class may
    have several parents), keyed by the ids, with names and restrictions as
    node attributes. Pass ``data`` to :class:`~sklearn_hier.audio.AudioLoader`
    to read the audio (clips last 0.3 to 30 s).

    Parameters
    ----------
    root : str or path-like
        The folder holding ``FSD50K.ground_truth/``, ``FSD50K.dev_audio/`` and
        ``FSD50K.eval_audio/``.
    subset : {"all", "dev", "eval"}, default="all"
        The development clips (FSD50K's ``train`` and ``val`` splits), the
        evaluation clips, or both.
    ontology : str, path-like or list of dict, default=None
        AudioSet's ``ontology.json`` (or its parsed list); None reads
        ``root/ontology.json``.
    as_frame : bool, default=False
        Also return a DataFrame in ``frame``: the file name, FSD50K's split,
        the label names and the ids of each clip.

    Returns
    -------
    data : Bunch
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_clips,), dtype object
            Absolute path of each clip's audio file.
        target : ndarray of shape (n_clips,), dtype object
            The frozenset of AudioSet ids of each clip.
        split : ndarray of shape (n_clips,), dtype object
            ``"train"``, ``"val"`` (development) or ``"eval"``.
        taxonomy : Taxonomy
            The ontology's DAG over the vocabulary and its ancestors.
        vocabulary : dict of str to str
            FSD50K's 200 classes: id to name.
        frame : DataFrame or None
            With ``as_frame=True``.
        DESCR : str
            Description of the copy read.

    Raises
    ------
    FileNotFoundError
        Naming the missing ground-truth file, ontology or audio files (the
        first few), before anything is returned.
    ValueError
        Naming the file and row: a missing column, a clip whose ``labels``
        and ``mids`` differ in number, an id outside the vocabulary, a
        vocabulary id absent from the ontology, or a file name listed twice.

    Examples
    --------
    >>> import json, os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> truth = os.path.join(root, "FSD50K.ground_truth")
    >>> for folder in (truth, os.path.join(root, "FSD50K.dev_audio"), os.path.join(root, "FSD50K.eval_audio")):
    ...     os.makedirs(folder)
    >>> ontology = [{"id": "/m/0jbk", "name": "Animal", "child_ids": ["/m/0bt9lr"]},
    ...             {"id": "/m/0bt9lr", "name": "Dog", "child_ids": []}]
    >>> _ = open(os.path.join(root, "ontology.json"), "w").write(json.dumps(ontology))
    >>> _ = open(os.path.join(truth, "vocabulary.csv"), "w").write("0,Animal,/m/0jbk\\n1,Dog,/m/0bt9lr\\n")
    >>> dev = 'fname,labels,mids,split\\n7,"Dog,Animal","/m/0bt9lr,/m/0jbk",train\\n'
    >>> _ = open(os.path.join(truth, "dev.csv"), "w").write(dev)
    >>> _ = open(os.path.join(truth, "eval.csv"), "w").write("fname,labels,mids\\n9,Animal,/m/0jbk\\n")
    >>> for name in ("FSD50K.dev_audio/7.wav", "FSD50K.eval_audio/9.wav"):
    ...     _ = open(os.path.join(root, name), "wb")
    >>> bunch = load_fsd50k(root)
    >>> [sorted(labels) for labels in bunch.target], list(bunch.split)
    ([['/m/0bt9lr', '/m/0jbk'], ['/m/0jbk']], ['train', 'eval'])
    >>> bunch.taxonomy.name_of("/m/0bt9lr")
    'Dog'
    """
    top = Path(root)
    if not top.is_dir():
        raise FileNotFoundError(f"FSD50K folder {str(top)!r} does not exist.")
    vocabulary = _read_vocabulary(top / _TRUTH / "vocabulary.csv")
    rows = [row for part in _parts(subset) for row in _read_clips(top / _TRUTH / f"{part}.csv", part, vocabulary)]
    _check_unique(rows)
    paths = [top / _AUDIO[row["part"]] / f"{row['fname']}.wav" for row in rows]
    _check_audio(paths)
    taxonomy = _vocabulary_dag(_ontology_source(top, ontology), vocabulary)
    target = np.empty(len(rows), dtype=object)
    target[:] = [frozenset(row["mids"]) for row in rows]
    split = np.array([row["split"] for row in rows], dtype=object)
    return Bunch(
        data=np.array([str(path.resolve()) for path in paths], dtype=object),
        target=target,
        split=split,
        taxonomy=taxonomy,
        vocabulary=vocabulary,
        frame=_frame(rows) if as_frame else None,
        DESCR=_describe(rows, taxonomy, subset),
    )


def _parts(subset: str) -> tuple[str, ...]:
    return ("dev", "eval") if subset == "all" else (subset,)


def _read_vocabulary(path: Path) -> dict[str, str]:
    """FSD50K's classes, id to name, from ``vocabulary.csv`` (rows ``index,label,mid``, no header)."""
    vocabulary: dict[str, str] = {}
    for line, row in enumerate(_csv_rows(path, header=False), start=1):
        if len(row) != 3 or not row[2].strip():
            raise ValueError(f"{path.name} line {line}: expected 'index,label,mid'; got {row!r}.")
        vocabulary[row[2].strip()] = row[1].strip()
    if not vocabulary:
        raise ValueError(f"{path.name} lists no class.")
    return vocabulary


def _read_clips(path: Path, part: str, vocabulary: Mapping[str, str]) -> list[dict[str, Any]]:
    rows = _csv_rows(path, header=True)
    header = tuple(rows[0]) if rows else ()
    missing = [name for name in _COLUMNS[part] if name not in header]
    if missing:
        raise ValueError(f"{path.name} has no column {', '.join(missing)}; its header is {list(header)}.")
    clips = []
    for line, values in enumerate(rows[1:], start=2):
        if len(values) != len(header):
            raise ValueError(
                f"{path.name} line {line} has {len(values)} fields, its header {len(header)}: quote the lists of "
                "labels and ids, as FSD50K's files do."
            )
        row = dict(zip(header, values, strict=True))
        clips.append(_clip(row, part, f"{path.name} line {line}", vocabulary))
    return clips


def _clip(row: Mapping[str, str], part: str, where: str, vocabulary: Mapping[str, str]) -> dict[str, Any]:
    labels = [name for name in row["labels"].split(",") if name]
    mids = [mid for mid in row["mids"].split(",") if mid]
    if not mids or len(labels) != len(mids):
        raise ValueError(f"{where} (clip {row['fname']!r}): {len(labels)} labels but {len(mids)} ids.")
    unknown = [mid for mid in mids if mid not in vocabulary]
    if unknown:
        raise ValueError(f"{where} (clip {row['fname']!r}): ids {unknown} are not in vocabulary.csv.")
    split = row["split"] if part == "dev" else "eval"
    return {"fname": row["fname"], "labels": labels, "mids": mids, "split": split, "part": part}


def _csv_rows(path: Path, *, header: bool) -> list[list[str]]:
    if not path.is_file():
        what = "the ground truth" if header else "the vocabulary"
        raise FileNotFoundError(f"FSD50K file {str(path)!r} ({what}) does not exist.")
    with open(path, newline="", encoding="utf-8") as f:
        return [row for row in csv.reader(f) if row]


def _check_unique(rows: Sequence[Mapping[str, Any]]) -> None:
    seen: dict[tuple[str, str], int] = {}
    for i, row in enumerate(rows):
        key = (row["part"], row["fname"])
        if key in seen:
            raise ValueError(f"Clip {row['fname']!r} is listed twice in {row['part']}.csv (rows {seen[key]} and {i}).")
        seen[key] = i


def _check_audio(paths: Sequence[Path]) -> None:
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        shown = ", ".join(repr(path) for path in missing[:3])
        raise FileNotFoundError(f"{len(missing)} audio files of the ground truth are missing, e.g. {shown}.")


def _ontology_source(top: Path, ontology: Any) -> Any:
    if ontology is not None:
        return ontology
    default = top / "ontology.json"
    if not default.is_file():
        raise FileNotFoundError(
            f"No ontology.json in {str(top)!r}: FSD50K does not ship the AudioSet ontology. Pass ontology= (the "
            "path of AudioSet's ontology.json, or its parsed list)."
        )
    return default


def _vocabulary_dag(source: Any, vocabulary: Mapping[str, str]) -> Taxonomy:
    full = Taxonomy.from_ontology(source)
    absent = [mid for mid in vocabulary if mid not in full]
    if absent:
        raise ValueError(f"Vocabulary ids {absent[:5]} are not classes of the ontology given.")
    return full.restrict([frozenset(vocabulary)])


def _frame(rows: Sequence[Mapping[str, Any]]) -> Any:
    try:
        import pandas as pd
    except ImportError as exc:  # pandas is optional for the library
        raise ImportError("as_frame=True needs pandas; install it or pass as_frame=False.") from exc
    return pd.DataFrame(
        {
            "fname": [row["fname"] for row in rows],
            "split": [row["split"] for row in rows],
            "labels": [tuple(row["labels"]) for row in rows],
            "mids": [tuple(row["mids"]) for row in rows],
        }
    )


def _describe(rows: Sequence[Mapping[str, Any]], taxonomy: Taxonomy, subset: str) -> str:
    sizes = np.bincount([len(row["mids"]) for row in rows])
    most = int(np.argmax(sizes)) if len(sizes) else 0
    return (
        "FSD50K (local copy)\n-------------------\n"
        f"{len(rows)} clips ({subset}), {most} labels per clip most often; the AudioSet ontology restricted to "
        f"the vocabulary: {taxonomy.n_nodes - 1} classes, {'a tree' if taxonomy.is_tree else 'a DAG'}.\n"
    )
