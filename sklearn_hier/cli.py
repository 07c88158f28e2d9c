"""The ``sklearn-hier`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sklearn_hier._show_versions import describe_environment

__all__ = ["describe_environment", "main"]


def _info(args: argparse.Namespace) -> int:
    for key, value in describe_environment().items():
        print(f"{key:>14}: {value}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from sklearn_hier.experiments import PAPER_CONFIGS, CompareSettings, compare

    chosen = {
        "dataset": args.dataset,
        "data_dir": args.data_dir,
        "losses": tuple(args.losses or PAPER_CONFIGS),
        "triplets": args.triplets,
        "device": args.device,
        "random_state": args.seed,
        "n_jobs": args.n_jobs,
    }
    chosen |= {k: v for k, v in (("n_splits", args.folds), ("max_epochs", args.max_epochs)) if v is not None}
    settings = CompareSettings.quick_settings(**chosen) if args.quick else CompareSettings(**chosen)
    if args.quick and not args.quiet:
        print(
            "Quick mode: a subset of the data, 64 mel bands, a 32-channel ConvModel, "
            f"{settings.n_splits} folds and {settings.max_epochs} epochs; drop --quick for the paper's settings."
        )
    compare(settings, out=args.out, verbose=0 if args.quiet else 1)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``sklearn-hier`` and its subcommands."""
    parser = argparse.ArgumentParser(prog="sklearn-hier", description="Hierarchical embedding learning for audio.")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="print package versions and the compute device")
    info.set_defaults(handler=_info)
    cmp = sub.add_parser("compare", help="run the paper's loss comparison with cross-validation over unseen leaves")
    cmp.add_argument("--dataset", default="soundfont", choices=("soundfont", "synthetic", "orchideasol", "folder"))
    cmp.add_argument("--data-dir", help="local data folder (orchideasol, folder)")
    cmp.add_argument("--losses", nargs="+", metavar="SPEC", help="loss configurations (default: the paper's six)")
    cmp.add_argument("--triplets", default="tree", choices=("tree", "batch_hard", "semi_hard"))
    cmp.add_argument("--folds", type=int, help="UnseenLeafKFold splits (default 5, 3 with --quick)")
    cmp.add_argument("--max-epochs", type=int, help="epoch limit of each fit")
    cmp.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    cmp.add_argument("--quick", action="store_true", help="a small, fast run for a CPU")
    cmp.add_argument("--out", help="output folder (default ./sklearn_hier_results/<timestamp>)")
    cmp.add_argument("--n-jobs", type=int, help="processes for rendering and reading audio")
    cmp.add_argument("--seed", type=int, default=0, help="random seed")
    cmp.add_argument("--quiet", action="store_true", help="no progress or table on the terminal")
    cmp.set_defaults(handler=_compare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    A bad argument (an unknown loss term, a missing data folder, more folds
    than leaves) ends with a one-line message on stderr and exit code 2.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ValueError as error:
        print(f"sklearn-hier {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
