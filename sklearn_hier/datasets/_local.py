"""Audio datasets from a local folder: OrchideaSOL, or any tree of audio files."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import validate_params

from sklearn_hier._docstrings import fill_doc
from sklearn_hier.datasets._base import make_bunch

__all__ = ["load_audio_folder", "load_orchideasol"]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")
_ORCHIDEA_AUDIO = "OrchideaSOL2020"
_ORCHIDEA_CSV = "OrchideaSOL_metadata.csv"
_NO_MUTE = "open"

# The examples' set-up: a new folder, and a function writing a silent 10 ms note at each path under it.
_DOCS = {
    "note_files": """
        >>> import os, tempfile
        >>> import numpy as np, soundfile as sf
        >>> def write_notes(root, paths):
        ...     for path in paths:
        ...         os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
        ...         sf.write(os.path.join(root, path), np.zeros(80), 8000)
        >>> root = tempfile.mkdtemp()
    """,
}


@validate_params(
    {
        "root": [str, os.PathLike],
        "extensions": ["array-like", None],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
@fill_doc(**_DOCS)
def load_audio_folder(
    root: str | os.PathLike,
    *,
    extensions: Iterable[str] | None = None,
    as_frame: bool = False,
) -> Bunch:
    """Load the file paths of a folder tree of audio files, labelled by their folders.

    A file's label path is the chain of folders from ``root`` down to it:
    ``root/Brass/Horn/ordinario/take1.wav`` is labelled
    ``"Brass/Horn/ordinario"``. Leaves may sit at different depths. Hidden
    files and folders (starting with ``"."``) are skipped; files are listed in
    sorted order. Pass ``data`` to :class:`~sklearn_hier.audio.AudioLoader` to
    read the audio.

    Parameters
    ----------
    root : str or path-like
        Top folder; its sub-folders are the top level of the tree.
    extensions : array-like of str, default=None
        File extensions to keep (case-insensitive, with the dot); None means
        ``.wav, .flac, .ogg, .mp3, .aif, .aiff``.
    as_frame : bool, default=False
        Also return a pandas DataFrame in ``frame`` (target and the path
        relative to ``root``).

    Returns
    -------
    data : Bunch
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_files,), dtype object
            Absolute path of each audio file.
        target : ndarray of shape (n_files,), dtype object
            Label path of each file.
        taxonomy : Taxonomy
            The tree of the label paths.
        frame : DataFrame of shape (n_files, 2) or None
            With ``as_frame=True``: target and relative path.
        DESCR : str
            Description of the folder's contents.

    Raises
    ------
    FileNotFoundError
        If ``root`` is not a folder, or holds no audio file.
    ValueError
        If an audio file sits directly in ``root`` (it would have no label).

    Examples
    --------
    %(note_files)s
    >>> from sklearn_hier.datasets import load_audio_folder
    >>> write_notes(root, ["Brass/Horn/note.wav", "Brass/Tuba/note.wav", "Keys/note.wav"])
    >>> bunch = load_audio_folder(root)
    >>> bunch.target
    array(['Brass/Horn', 'Brass/Tuba', 'Keys'], dtype=object)
    >>> os.path.relpath(bunch.data[2], root)
    'Keys/note.wav'
    """
    top = _existing_folder(root, "root")
    wanted = _extensions(extensions)
    relative = [f for f in _walk(top) if f.suffix.lower() in wanted]
    if not relative:
        raise FileNotFoundError(f"No audio file ({', '.join(sorted(wanted))}) under {str(top)!r}.")
    for rel in relative:
        if len(rel.parts) == 1:
            raise ValueError(f"Audio file {str(top / rel)!r} sits directly in root: it has no folder to label it.")
    target = ["/".join(rel.parts[:-1]) for rel in relative]
    _check_leaf_folders(top, relative, target)
    descr = f"Audio folder\n------------\n{len(relative)} audio files under {top.name!r}, labelled by their folders.\n"
    return make_bunch(
        _paths(top, relative),
        target,
        {"path": [rel.as_posix() for rel in relative]},
        descr,
        as_frame,
    )


@validate_params(
    {
        "root": [str, os.PathLike],
        "metadata": [str, os.PathLike, None],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
@fill_doc(**_DOCS)
def load_orchideasol(
    root: str | os.PathLike,
    *,
    metadata: str | os.PathLike | None = None,
    as_frame: bool = False,
) -> Bunch:
    """Load the file paths and labels of a local copy of OrchideaSOL.

    OrchideaSOL (IRCAM, 2020) holds 13,265 single notes of orchestral
    instruments, with mutes and extended playing techniques; it cannot be
    downloaded without registering, so it is read from a folder you name.
    Labels are the four-level paths ``family/instrument/mute/technique`` of
    the paper, read from the ``Path`` column of the metadata CSV
    (``Brass/Horn+sordina/ordinario/Hn+S-ord-A2-ff-N-N.wav``): the
    instrument folder's ``+`` separates the mute, and ``"open"`` stands for
    no mute, giving ``"Brass/Horn/sordina/ordinario"`` and
    ``"Brass/Horn/open/ordinario"``.

    Parameters
    ----------
    root : str or path-like
        The folder holding the family folders (``Brass``, ``Strings``, ...),
        or the release folder holding ``OrchideaSOL2020/``.
    metadata : str or path-like, default=None
        The metadata CSV; None looks for ``OrchideaSOL_metadata.csv`` in the
        audio folder, in ``root`` and in the audio folder's parent.
    as_frame : bool, default=False
        Also return a pandas DataFrame in ``frame``: target, family,
        instrument, mute, technique, then every column of the CSV.

    Returns
    -------
    data : Bunch
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_files,), dtype object
            Absolute path of each audio file, in the CSV's order; read them
            with :class:`~sklearn_hier.audio.AudioLoader`.
        target : ndarray of shape (n_files,), dtype object
            Label paths ``family/instrument/mute/technique``.
        taxonomy : Taxonomy
            The tree of the label paths (5 / 16 / 35 / 197 nodes per level on
            the full dataset).
        frame : DataFrame or None
            The metadata, with ``as_frame=True``.
        DESCR : str
            Description of the dataset.

    Raises
    ------
    FileNotFoundError
        If the folder, the CSV or any listed audio file is missing (the
        message names the path and counts the missing files).
    ValueError
        If the CSV lacks the ``Path`` column or a path has fewer than four
        parts.

    See Also
    --------
    load_audio_folder : Any folder tree of audio files.
    load_soundfont_instruments : A rendered dataset in the same spirit.

    References
    ----------
    .. [1] C. E. Cella, D. Ghisi, V. Lostanlen, F. Lévy, J. Fineberg and Y. Maresz,
       "OrchideaSOL: a dataset of extended instrumental techniques for
       computer-aided orchestration", ICMC 2020.

    Examples
    --------
    %(note_files)s
    >>> from sklearn_hier.datasets import load_orchideasol
    >>> rows = ["Brass/Horn/ordinario/Hn-ord-A2-ff-N-N.wav", "Brass/Horn+sordina/ordinario/Hn+S-ord-A2-ff-N-N.wav"]
    >>> write_notes(root, rows)
    >>> with open(os.path.join(root, "OrchideaSOL_metadata.csv"), "w") as f:
    ...     _ = f.write("Path,Dynamics\\n" + "\\n".join(row + ",ff" for row in rows))
    >>> load_orchideasol(root).target
    array(['Brass/Horn/open/ordinario', 'Brass/Horn/sordina/ordinario'], dtype=object)
    """
    given = _existing_folder(root, "root")
    audio = given / _ORCHIDEA_AUDIO if (given / _ORCHIDEA_AUDIO).is_dir() else given
    csv_path = _metadata_path(metadata, [audio, given, audio.parent])
    header, rows = _read_csv(csv_path)
    if "Path" not in header:
        raise ValueError(f"The metadata {str(csv_path)!r} has no 'Path' column; its columns are {header}.")
    relative = [Path((row["Path"] or "").strip()) for row in rows]
    labels = []
    for line, rel in enumerate(relative, start=2):
        if len(rel.parts) < 4:
            raise ValueError(
                f"Row {line} of {str(csv_path)!r}: Path {rel.as_posix()!r} is not family/instrument/technique/file."
            )
        labels.append(_orchidea_label(rel.parts))
    paths = _paths(audio, relative)
    _check_files_exist(paths, csv_path)
    columns = dict(zip(("family", "instrument", "mute", "technique"), zip(*labels, strict=True), strict=True))
    columns.update({name: [row[name] for row in rows] for name in header})
    target = ["/".join(label) for label in labels]
    descr = (
        "OrchideaSOL\n-----------\n"
        f"{len(rows)} single notes of orchestral instruments listed in {csv_path.name!r}, labelled "
        f"family/instrument/mute/technique ('{_NO_MUTE}' when no mute).\n"
        "Cella et al., OrchideaSOL: a dataset of extended instrumental techniques for computer-aided "
        "orchestration, ICMC 2020.\n"
    )
    return make_bunch(paths, target, columns, descr, as_frame)


def _check_leaf_folders(top: Path, relative: Sequence[Path], target: Sequence[str]) -> None:
    """Raise, naming a file, when a folder holds audio files and also sub-folders of labelled files."""
    folders = set(target)
    # Each proper prefix of a labelled folder that is itself labelled: O(folders x depth).
    inner = {"/".join(f.split("/")[:d]): f for f in sorted(folders) for d in range(1, f.count("/") + 1)}
    for rel, label in zip(relative, target, strict=True):
        if label in inner:
            deeper = [inner[label]]
            raise ValueError(
                f"Audio file {str(top / rel)!r} sits in folder {label!r}, which also has labelled sub-folders "
                f"({deeper[0]!r}): a label must be a leaf, so move it into a sub-folder of its own."
            )


def _existing_folder(path: str | os.PathLike, name: str) -> Path:
    folder = Path(path).expanduser().absolute()
    if not folder.is_dir():
        raise FileNotFoundError(f"{name} {str(folder)!r} is not an existing folder.")
    return folder


def _extensions(extensions: Iterable[str] | None) -> set[str]:
    if extensions is None:
        return set(AUDIO_EXTENSIONS)
    wanted = set()
    for ext in extensions:
        if not isinstance(ext, str) or not ext.startswith(".") or len(ext) < 2:
            raise ValueError(f"extensions must hold strings starting with a dot, such as '.wav'; got {ext!r}.")
        wanted.add(ext.lower())
    if not wanted:
        raise ValueError("extensions is empty; pass None for the default audio extensions.")
    return wanted


def _walk(top: Path) -> list[Path]:
    """Files under ``top`` relative to it, hidden ones skipped, in sorted order."""
    found = []
    for folder, subfolders, files in os.walk(top):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        here = Path(folder).relative_to(top)
        found += [here / f for f in sorted(files) if not f.startswith(".")]
    return found


def _paths(top: Path, relative: Sequence[Path]) -> np.ndarray:
    return np.array([str(top / rel) for rel in relative], dtype=object)


def _metadata_path(metadata: str | os.PathLike | None, folders: Sequence[Path]) -> Path:
    if metadata is not None:
        path = Path(metadata).expanduser().absolute()
        if not path.is_file():
            raise FileNotFoundError(f"The metadata CSV {str(path)!r} does not exist.")
        return path
    tried = list(dict.fromkeys(folder / _ORCHIDEA_CSV for folder in folders))
    for path in tried:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"No {_ORCHIDEA_CSV} found; looked at {[str(p) for p in tried]}. Pass metadata= with its path."
    )


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        header = list(reader.fieldnames or [])
    if not rows:
        raise ValueError(f"The metadata {str(path)!r} has no rows.")
    return header, rows


def _orchidea_label(parts: Sequence[str]) -> tuple[str, str, str, str]:
    instrument, _, mute = parts[1].partition("+")
    return parts[0], instrument, mute or _NO_MUTE, parts[2]


def _check_files_exist(paths: Sequence[str], csv_path: Path) -> None:
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} of the {len(paths)} audio files listed in {str(csv_path)!r} are missing, "
            f"the first being {missing[0]!r}."
        )
