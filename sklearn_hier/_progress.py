"""Progress bars for long work: shown on long runs, silenced by ``verbose=0``, plain text off a terminal."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm

__all__ = ["plain_unless_terminal", "progress"]

# SGR sequences (colours, bold): what skorch's PrintLog wraps the best scores in.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")

# verbose=1 shows a bar only for work still running after this many seconds, so short calls stay quiet.
DELAY_S = 2.0


def progress(iterable: Iterable[Any], *, total: int, desc: str, unit: str, verbose: int) -> Iterable[Any]:
    """Wrap ``iterable`` in a tqdm bar on stderr.

    Parameters
    ----------
    iterable : iterable
        The work items.
    total : int
        Number of items.
    desc, unit : str
        Label of the bar and name of one item.
    verbose : int
        0: no bar; 1: a bar once the work has run for ``DELAY_S`` seconds;
        2 or more: a bar from the start.

    Returns
    -------
    iterable
        The items, in order.

    Notes
    -----
    When stderr is not a terminal (a log file, a CI job) the bar is drawn with
    plain ASCII and a fixed width, so that the log holds no escape codes.

    Examples
    --------
    >>> list(progress(range(3), total=3, desc="demo", unit="item", verbose=0))
    [0, 1, 2]
    """
    stream = sys.stderr
    terminal = stream.isatty()
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        file=stream,
        disable=not verbose,
        delay=0.0 if verbose > 1 else DELAY_S,
        ascii=not terminal,
        ncols=None if terminal else 80,
        dynamic_ncols=terminal,
    )


def plain_unless_terminal(text: str) -> str:
    """``text`` without its colour codes when standard output is not a terminal.

    skorch's epoch table wraps the best scores in colour codes; on a terminal they
    stay, in a log file or a pipe (a CI job) they would be noise.

    Examples
    --------
    >>> plain_unless_terminal("\x1b[36m2.9092\x1b[0m")  # doctest output is not a terminal
    '2.9092'
    """
    isatty = getattr(sys.stdout, "isatty", None)
    return text if callable(isatty) and isatty() else _ANSI.sub("", text)
