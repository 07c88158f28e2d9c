"""The ``sklearn-hier`` command."""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Sequence
from importlib import metadata

__all__ = ["main"]

_PACKAGES = ("sklearn-hier", "numpy", "scikit-learn", "skorch", "torch", "torchaudio", "librosa", "anytree", "joblib")


def describe_environment() -> dict[str, str]:
    """Versions of Python and of the packages the library runs on, and the compute device.

    Examples
    --------
    >>> info = describe_environment()
    >>> sorted(info)[:2]
    ['anytree', 'device']
    """
    info = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "not installed"
    info["device"] = _device_name()
    return info


def _device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def _info(args: argparse.Namespace) -> int:
    for key, value in describe_environment().items():
        print(f"{key:>14}: {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``sklearn-hier`` and its subcommands."""
    parser = argparse.ArgumentParser(prog="sklearn-hier", description="Hierarchical embedding learning for audio.")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="print package versions and the compute device")
    info.set_defaults(handler=_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
