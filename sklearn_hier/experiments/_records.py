"""A comparison's results as a record: one file per finished fit, written atomically with a fingerprint.

A pair (configuration x fold) is committed by one ``os.replace`` of its JSON
file, which names the fingerprint of the settings that produced it. Nothing
else is ever read back as a result, so a run that stops at any instant (Ctrl-C,
SIGTERM, a lost worker, a full disk) leaves whole records or none, and a rerun
in the same folder with other settings is refused rather than mixed in.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from sklearn_hier._version import __version__
from sklearn_hier.audio.mel import mel_implementation
from sklearn_hier.datasets._mixtures import MIXTURES_FORMAT_VERSION
from sklearn_hier.datasets._soundfont import SOUNDFONT_FORMAT_VERSION
from sklearn_hier.experiments._settings import CompareSettings
from sklearn_hier.taxonomy import is_multilabel

__all__ = [
    "check_folder",
    "fingerprint",
    "pair_path",
    "read_embeddings",
    "read_pair",
    "write_atomic",
    "write_pair",
]

# Settings that change no fit: where the work runs, how it is shown, which configuration the others
# are compared with, and a preset's name (the settings it sets are fingerprinted themselves).
_NOT_FINGERPRINTED = ("losses", "device", "n_jobs", "quick", "data_dir", "baseline", "recipe")
_FORMAT = 1  # bump when a pair record's layout changes


def fingerprint(settings: CompareSettings) -> dict[str, Any]:
    """The settings that decide a run's numbers, with the data and package versions.

    The loss configuration is not part of it: each pair record names its own,
    so configurations can be added to a finished run.

    Examples
    --------
    >>> a = fingerprint(CompareSettings(dataset="synthetic"))
    >>> b = fingerprint(CompareSettings(dataset="synthetic", max_epochs=1))
    >>> a == b, sorted(set(a) ^ set(b))
    (False, [])
    """
    values = {k: v for k, v in asdict(settings).items() if k not in _NOT_FINGERPRINTED}
    # Only the chosen dataset's parameters matter; the others sit in quick_settings unused.
    values["dataset_params"] = settings.dataset_params.get(settings.dataset, {})
    values["data_version"] = _data_version(settings)
    # torchaudio and the plain-PyTorch mels agree to ~1e-3 dB, not bit for bit: a model trained on one differs.
    values["mel_backend"] = mel_implementation(settings.mel_params.get("backend", "auto"))
    values["package_version"] = __version__
    values["format"] = _FORMAT
    return json.loads(json.dumps(values, sort_keys=True, default=str))  # tuples -> lists, as read back


def _data_version(settings: CompareSettings) -> str:
    """What identifies the data beyond its parameters: the renderer's versions, or the files themselves."""
    if settings.dataset == "synthetic":
        return "generated"  # a function of its parameters and the package version
    if settings.dataset in ("soundfont", "mixtures"):
        versions = [f"{name} {metadata.version(name)}" for name in ("pretty_midi", "midirenderer")]
        # Mixtures are rendered notes mixed: both formats decide their samples.
        mixing = f"mixtures format {MIXTURES_FORMAT_VERSION}; " if settings.dataset == "mixtures" else ""
        return f"{mixing}render format {SOUNDFONT_FORMAT_VERSION}; " + ", ".join(versions)
    # A local folder: its listing (names, sizes, modification times) stands for its content.
    root = Path(settings.data_dir).resolve()
    listing = sorted(
        f"{path.relative_to(root)}\t{path.stat().st_size}\t{path.stat().st_mtime_ns}"
        for path in root.rglob("*")
        if path.is_file()
    )
    return f"{root} " + hashlib.sha256("\n".join(listing).encode()).hexdigest()[:16]


def pair_path(out: Path, config: str, fold: int) -> Path:
    """The record of one pair: a readable name plus a hash, so different specs never share a file."""
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", config).strip("_")
    tag = hashlib.sha256(config.encode()).hexdigest()[:8]
    return out / "runs" / f"{slug}-{tag}_fold{fold}.json"


def check_folder(out: Path, settings: CompareSettings, *, overwrite: bool = False) -> None:
    """Make ``out`` ready for ``settings``: refuse records of other settings, or clear them with ``overwrite``.

    Raises
    ------
    ValueError
        If ``out/runs`` holds a record of other settings (a one-line message
        naming the first setting that differs) and ``overwrite`` is False.
    OSError
        If ``out`` cannot be created or written.
    """
    runs = out / "runs"
    if overwrite:
        for name in ("runs", "cache"):
            shutil.rmtree(out / name, ignore_errors=True)
    current = fingerprint(settings)
    for path in sorted(runs.glob("*.json")) if runs.is_dir() else ():
        theirs = _stored_fingerprint(path)
        if theirs != current:
            raise ValueError(
                f"{out} holds results of other settings ({_first_difference(theirs, current)}); "
                "rerun with the same settings to resume, or use --overwrite (overwrite=True) or another --out."
            )
    runs.mkdir(parents=True, exist_ok=True)
    probe = runs / ".writable"
    write_atomic(probe, b"")  # an unwritable folder fails here, before any data is loaded
    probe.unlink()


# Settings added to the fingerprint after records were first written, with the value every run made
# before them used: a record without the key was made with that value, so it stays resumable.
# (mel_backend is not here: which mel code an older run used cannot be known, so such a run is refused.)
_ADDED_SETTINGS = {"test_size": 0.1, "terms": {}}


def _stored_fingerprint(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    stored = record.get("fingerprint") if isinstance(record, dict) else None
    return {**_ADDED_SETTINGS, **stored} if isinstance(stored, dict) else stored


def _first_difference(theirs: dict[str, Any] | None, current: dict[str, Any]) -> str:
    if theirs is None:
        return "a record this version cannot read"
    for key in sorted(set(theirs) | set(current)):
        if theirs.get(key) != current.get(key):
            return f"{key}: {theirs.get(key)!r} there, {current.get(key)!r} now"
    return "none"  # unreachable: the fingerprints differ


def write_atomic(path: Path, data: bytes | Callable[[Any], None]) -> None:
    """Write ``path`` whole or not at all: a temporary file in the same folder, then ``os.replace``.

    ``data`` is bytes, or a function that writes into the open binary file.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); a result is a file like any other the user writes.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data) if isinstance(data, bytes) else data(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's file-creation mask (read by setting it and putting it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_pair(out: Path, settings: CompareSettings, result: dict[str, Any]) -> None:
    """Commit one finished pair: its fold-0 embeddings first, then the record that makes it count."""
    path = pair_path(out, result["config"], result["fold"])
    record = {key: result[key] for key in ("config", "fold", "rows", "device", "n_clips")}
    if result.get("embeddings") is not None:
        Z, y, curvature = result["embeddings"]
        npz = path.with_name(path.stem + "_embeddings.npz")
        # The ball's curvature goes with poincare embeddings: their similarity plot needs it.
        extra = {} if curvature is None else {"curvature": np.float64(curvature)}
        write_atomic(npz, lambda f: np.savez(f, Z=Z, **_labels_to_store(y), **extra))
        record["embeddings"] = npz.name
    record["fingerprint"] = fingerprint(settings)
    write_atomic(path, json.dumps(record).encode())


def read_pair(out: Path, config: str, fold: int) -> dict[str, Any] | None:
    """The committed record of a pair, or None if it has not finished.

    :func:`check_folder` has already refused records of other settings.
    """
    path = pair_path(out, config, fold)
    return json.loads(path.read_text()) if path.exists() else None


def read_embeddings(out: Path, record: dict[str, Any]) -> tuple[Any, Any, float | None] | None:
    """The fold-0 test embeddings, labels and ball curvature (None off the ball) a record points to, if any."""
    if "embeddings" not in record:
        return None
    with np.load(out / "runs" / record["embeddings"]) as data:
        curvature = float(data["curvature"]) if "curvature" in data.files else None
        y = data["y"]
        if "label_sets" in data.files:
            texts = y.tolist()
            y = np.empty(len(texts), dtype=object)
            y[:] = [frozenset(text.split(_SET_SEP)) for text in texts]
        return data["Z"], y, curvature


# Between the labels of one clip in a stored label set: no label path holds a tab.
_SET_SEP = "\t"


def _labels_to_store(y: Any) -> dict[str, np.ndarray]:
    """Labels as a plain string array (loadable without pickle); label sets as their sorted labels joined by a tab.

    Examples
    --------
    >>> stored = _labels_to_store([frozenset({"b/y", "a/x"})])
    >>> stored["y"][0].split(_SET_SEP), bool(stored["label_sets"])
    (['a/x', 'b/y'], True)
    """
    if not is_multilabel(y):
        return {"y": np.asarray(y, dtype=str)}
    return {"y": np.array([_SET_SEP.join(sorted(labels)) for labels in y], dtype=str), "label_sets": np.bool_(True)}
