"""The ``sklearn-hier`` command."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import Any

from sklearn_hier._show_versions import describe_environment
from sklearn_hier._version import __version__

__all__ = ["describe_environment", "main"]


def _info(args: argparse.Namespace) -> int:
    for key, value in describe_environment().items():
        print(f"{key:>14}: {value}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from sklearn_hier.experiments import CompareSettings, compare
    from sklearn_hier.experiments._settings import default_configs

    chosen = {
        "dataset": args.dataset,
        "data_dir": args.data_dir,
        **config_grid(args.losses or default_configs(args.dataset), args.triplets, args.geometry),
        "baseline": args.baseline,
        "device": args.device,
        "random_state": args.seed,
        "n_jobs": args.n_jobs,
    }
    optional = (("n_splits", args.folds), ("max_epochs", args.max_epochs), ("min_samples_leaf", args.min_samples_leaf))
    chosen |= {k: v for k, v in optional if v is not None}
    if args.quick and args.recipe:
        raise ValueError("--quick and --recipe are two presets; give one.")
    preset = {"quick": CompareSettings.quick_settings, "paper": CompareSettings.paper_recipe}.get(
        "quick" if args.quick else args.recipe, CompareSettings
    )
    settings = preset(**chosen)
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be at least 1; got {args.threads}.")
    _set_audio(settings, args.sr, args.duration)
    if not args.quiet:
        print(_describe_run(settings))
    threads = args.threads if args.threads is not None else (1 if args.quick else None)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    try:
        compare(
            settings,
            out=args.out,
            verbose=0 if args.quiet else 1 + args.verbose,
            overwrite=args.overwrite,
            n_workers=args.n_workers,
            scheduler=args.scheduler,
        )
    except KeyboardInterrupt:
        where = f" in {args.out}" if args.out else ""
        print(
            f"sklearn-hier compare: interrupted; the finished pairs are kept{where}, "
            "the same command with the same --out resumes.",
            file=sys.stderr,
        )
        return 130
    return 0


def _set_audio(settings: Any, sr: int | None, duration: float | None) -> None:
    """Put ``--sr`` and ``--duration`` into the chosen dataset's parameters (checked here: they shape the data)."""
    if sr is not None and sr < 1000:
        raise ValueError(f"--sr must be a sample rate of at least 1000 Hz; got {sr}.")
    if duration is not None and not duration > 0:
        raise ValueError(f"--duration must be a positive number of seconds; got {duration}.")
    given = {name: value for name, value in (("sr", sr), ("duration", duration)) if value is not None}
    if given:
        params = settings.dataset_params
        settings.dataset_params = {**params, settings.dataset: {**params.get(settings.dataset, {}), **given}}


def _describe_run(settings: Any) -> str:
    """What the run will use, said before it starts: the data as it will be read, and quick mode's cuts.

    Examples
    --------
    >>> from sklearn_hier.experiments import CompareSettings
    >>> print(_describe_run(CompareSettings(dataset="folder", data_dir="clips")))
    Data: every audio file under 'clips', resampled to 44100 Hz, the first 1.0 s of each (--sr, --duration).
    """
    from sklearn_hier.experiments._outputs import share_in_words
    from sklearn_hier.experiments._pairs import FILE_DATASETS, sample_rate_of

    params = settings.dataset_params.get(settings.dataset, {})
    sr = sample_rate_of(settings)
    if settings.dataset in FILE_DATASETS:
        duration = params.get("duration", 1.0)
        where = "OrchideaSOL copy" if settings.dataset == "orchideasol" else "audio file under"
        data = f"every {where} {settings.data_dir!r}, resampled to {sr} Hz, the first {duration} s of each"
    elif settings.dataset == "synthetic":
        leaves = math.prod(params.get("branching", (3, 3, 3))) if params else None
        data = f"generated sounds at {sr} Hz" + (f", {leaves} leaves x {params['n_per_leaf']} clips" if leaves else "")
    elif settings.dataset == "mixtures":
        data = _describe_mixtures(params, sr)
    elif settings.quick:
        data = (
            f"a subset of the soundfont's notes ({len(params['programs'])} programs x {len(params['techniques'])} "
            f"techniques, {params['n_per_leaf']} clips per leaf), rendered at {sr} Hz"
        )
    else:
        data = f"the soundfont's notes, rendered at {sr} Hz"
    text = f"Data: {data} (--sr, --duration)."
    if settings.quick:
        epochs = f"{settings.max_epochs} epoch" + "s" * (settings.max_epochs != 1)
        text += (
            f"\nQuick mode: {settings.mel_params.get('n_mels', 128)} mel bands, a 16-channel ConvModel, "
            f"{settings.n_splits} folds, {epochs}, and {share_in_words(settings)} (so that RP@5 is defined); drop "
            "--quick for the paper's settings."
        )
    return text


def _describe_mixtures(params: dict, sr: int) -> str:
    """The mixtures a run will mix, in words: their number, notes per clip and the leaves they draw from.

    Examples
    --------
    >>> print(_describe_mixtures({"n_clips": 1200, "programs": (0, 4), "techniques": ("vibrato",)}, 22050))
    1200 clips mixing 2-3 notes of different leaves of the soundfont (2 programs x 1 technique), rendered at 22050 Hz
    >>> print(_describe_mixtures({"n_notes": 2, "distinct": "family"}, 44100))
    4000 clips mixing 2 notes of different families of the soundfont, rendered at 44100 Hz
    """
    n_notes = params.get("n_notes", (2, 3))
    low, high = (n_notes, n_notes) if isinstance(n_notes, int) else n_notes
    notes = f"{low}" if low == high else f"{low}-{high}"
    subset = ""
    if "programs" in params and "techniques" in params:
        n_programs, n_techniques = len(params["programs"]), len(params["techniques"])
        subset = f" ({n_programs} programs x {n_techniques} technique{'s' * (n_techniques != 1)})"
    return (
        f"{params.get('n_clips', 4000)} clips mixing {notes} notes of different "
        f"{_DISTINCT_PLURALS[params.get('distinct', 'leaf')]} of the soundfont{subset}, rendered at {sr} Hz"
    )


# How load_soundfont_mixtures' ``distinct`` reads in a sentence.
_DISTINCT_PLURALS = {"leaf": "leaves", "instrument": "instruments", "family": "families"}


def config_grid(losses: Sequence[str], triplets: Sequence[str], geometry: Sequence[str]) -> dict:
    """The configurations of ``--losses`` x ``--triplets`` x ``--geometry``, as CompareSettings fields.

    One value of ``--triplets`` (or ``--geometry``) is the run's setting, as
    before; several make a grid, every configuration naming its own value
    (unless its spec already sets it: ``"PL+T:triplets=tree"`` keeps tree).

    Examples
    --------
    >>> config_grid(["PL+T"], ["tree"], ["euclidean"])
    {'losses': ('PL+T',), 'triplets': 'tree', 'geometry': 'euclidean'}
    >>> config_grid(["PL+T"], ["tree", "batch_hard"], ["poincare"])["losses"]
    ('PL+T:triplets=tree', 'PL+T:triplets=batch_hard')
    """
    fields: dict = {"losses": tuple(losses)}
    for name, values in (("triplets", triplets), ("geometry", geometry)):
        values = list(dict.fromkeys(values))
        if len(values) == 1:
            fields[name] = values[0]
            continue
        grid: list[str] = []
        for spec in fields["losses"]:
            if f"{name}=" in spec.partition(":")[2]:
                grid.append(spec)
            else:
                grid += [f"{spec}{',' if ':' in spec else ':'}{name}={value}" for value in values]
        fields["losses"] = tuple(grid)
    return fields


def _version() -> str:
    return f"sklearn-hier {__version__}"


# The options of ``sklearn-hier compare``, in the order its --help lists them: (flags, add_argument's keywords).
_COMPARE_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("--dataset",),
        dict(
            default="soundfont",
            choices=("soundfont", "synthetic", "orchideasol", "folder", "mixtures"),
            help="soundfont: instrument notes rendered from the bundled soundfont (default); synthetic: generated "
            "sounds, no rendering; orchideasol: a local OrchideaSOL copy; folder: audio files in label subfolders; "
            "mixtures: 2-3 soundfont notes mixed per clip, each clip labelled with the set of their paths "
            "(multi-label: UnseenLabelKFold folds, retrieval and tagging scores)",
        ),
    ),
    (("--data-dir",), dict(help="local data folder (orchideasol, folder)")),
    (
        ("--losses",),
        dict(
            nargs="+",
            metavar="SPEC",
            help="configurations: loss specs such as PL+T or L+0.5*T (default: the paper's six; on mixtures the same "
            "six with T mining semi_hard triplets), each optionally "
            "with options that set it apart, e.g. PL+B+T:triplets=batch_hard or PL+B+T:geometry=poincare "
            "(a list need not be a grid)",
        ),
    ),
    (
        ("--triplets",),
        dict(
            nargs="+",
            default=["tree"],
            choices=("tree", "batch_hard", "semi_hard"),
            help="how triplet terms get their triplets: tree (sampled from the label tree, the paper's; default), "
            "batch_hard or semi_hard (mined online in each batch); several values make a grid with --losses",
        ),
    ),
    (
        ("--geometry",),
        dict(
            nargs="+",
            default=["euclidean"],
            choices=("euclidean", "poincare"),
            help="the embeddings' space: euclidean (default) or poincare (the Poincaré ball); several values make "
            "a grid with --losses",
        ),
    ),
    (
        ("--baseline",),
        dict(
            metavar="CONFIG",
            help="the configuration every other is compared with, fold by fold (default: the first); the paired "
            "statistics are printed beside the table and written to summary.md and stats.csv",
        ),
    ),
    (
        ("--folds",),
        dict(type=int, help="UnseenLeafKFold splits (UnseenLabelKFold on mixtures; default 5, 3 with --quick)"),
    ),
    (
        ("--min-samples-leaf",),
        dict(
            type=int,
            help="leaves (on mixtures, labels) with fewer clips are never trained on: always unseen (default 10)",
        ),
    ),
    (
        ("--max-epochs",),
        dict(type=int, help="epoch limit of each fit (default 2500; with --quick 5, on mixtures 12)"),
    ),
    (
        ("--sr",),
        dict(
            type=int,
            metavar="HZ",
            help="sample rate the clips are read, rendered or generated at (default: 44100 for files and soundfont, "
            "22050 with --quick; 16000 for synthetic)",
        ),
    ),
    (
        ("--duration",),
        dict(
            type=float,
            metavar="SECONDS",
            help="seconds of each clip: files are cut (or padded) to it from their start (default 1.0; 0.5 for "
            "synthetic)",
        ),
    ),
    (("--device",), dict(default="auto", help="auto (CUDA when present; default), cpu or cuda[:N]")),
    (("--quick",), dict(action="store_true", help="a small, fast run for a CPU (a few minutes)")),
    (
        ("--recipe",),
        dict(
            choices=("paper",),
            help="paper: the paper's training recipe to the letter (96-clip triplet batches, Adam 1e-3 / 1e-5, "
            "its schedule, early stopping and clipping, class weights, 80/10/10 per leaf, up to 2,500 epochs; "
            "listed in run.json); for a GPU",
        ),
    ),
    (
        ("--out",),
        dict(help="output folder (default ./sklearn_hier_results/<timestamp>); rerunning with the same folder resumes"),
    ),
    (("--overwrite",), dict(action="store_true", help="delete the results already in --out and start over")),
    (("--n-jobs",), dict(type=int, help="processes for rendering and reading audio")),
    (
        ("--n-workers",),
        dict(
            type=int,
            metavar="N",
            help="run the fits on a local Dask cluster of N worker "
            "processes (on a GPU machine N fits share the GPUs); needs sklearn-hier[distributed]",
        ),
    ),
    (("--scheduler",), dict(metavar="ADDRESS", help="run the fits on the Dask cluster at ADDRESS (tcp://host:8786)")),
    (
        ("--threads",),
        dict(
            type=int,
            metavar="N",
            help="torch threads per in-process fit (default 1 with --quick: its small network gains little from "
            "a second thread and loses 2-3x when the cores are shared; torch's default otherwise)",
        ),
    ),
    (("--seed",), dict(type=int, default=0, help="random seed (default 0)")),
    (("-v", "--verbose"), dict(action="count", default=0, help="also print each fit's epochs")),
    (("--quiet",), dict(action="store_true", help="no progress or table on the terminal")),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``sklearn-hier`` and its subcommands.

    Examples
    --------
    >>> args = build_parser().parse_args(["compare", "--dataset", "synthetic", "--quick"])
    >>> args.dataset, args.quick, args.n_workers
    ('synthetic', True, None)
    """
    parser = argparse.ArgumentParser(prog="sklearn-hier", description="Hierarchical embedding learning for audio.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, help="info or compare; add -h after one for its options")
    info = sub.add_parser("info", help="print package versions and the compute device")
    info.set_defaults(handler=_info)
    cmp = sub.add_parser(
        "compare",
        help="run the paper's loss comparison with cross-validation over unseen leaves",
        description="Run the paper's loss comparison (Table I): every loss configuration on every "
        "UnseenLeafKFold fold. Finished pairs are recorded in --out and a rerun resumes; "
        "Ctrl-C stops with exit code 130.",
    )
    for flags, options in _COMPARE_OPTIONS:
        cmp.add_argument(*flags, **options)
    cmp.set_defaults(handler=_compare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    A bad argument (an unknown loss term, a missing data folder, more folds
    than leaves), an output folder that cannot be written or holds results
    of other settings, or a missing optional dependency ends with a one-line
    message on stderr and exit code 2; Ctrl-C ends a comparison with 130.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, OSError, ImportError) as error:
        if isinstance(error, ImportError) and error.name != "distributed":
            raise  # a broken installation, not a missing optional extra: keep the traceback
        print(f"sklearn-hier {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
