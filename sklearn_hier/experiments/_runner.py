"""The one runner of configuration x fold pairs: it decides what runs, and alone writes the records.

Where the pairs run is a backend: :class:`InProcess` (the default, one pair
after the other here) or :class:`~sklearn_hier.experiments._dask.DaskBackend`
(a ``dask.distributed`` cluster, of CPU workers or of several fits sharing a
GPU). Both yield finished pairs; the runner skips pairs already recorded,
shows one progress bar over all of them, commits each result atomically and
stops on Ctrl-C without committing a fit that the interrupt cut short.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from tqdm.auto import tqdm

from sklearn_hier._warnings import collected_warnings
from sklearn_hier.experiments._pairs import fit_pair, prepared
from sklearn_hier.experiments._records import pair_path, write_pair
from sklearn_hier.experiments._settings import CompareSettings

__all__ = ["Backend", "InProcess", "run_pairs"]

Pair = tuple[str, int]


class Backend(Protocol):
    """Where pairs run: checks the data once, then yields each finished pair's result."""

    def prepare(self, settings: CompareSettings) -> int:
        """Load and split the data where the fits will run; returns the number of clips."""

    def results(self, settings: CompareSettings, pairs: list[Pair], out: Path) -> Iterator[dict[str, Any]]:
        """Run ``pairs``; yield each result as it finishes, in any order."""


class InProcess:
    """Run the pairs one after the other in this process (the default backend)."""

    def __init__(self, verbose: int = 0) -> None:
        self.verbose = verbose

    def prepare(self, settings: CompareSettings) -> int:
        return len(prepared(settings, self.verbose)[1])

    def results(self, settings: CompareSettings, pairs: list[Pair], out: Path) -> Iterator[dict[str, Any]]:
        for config, fold in pairs:
            yield fit_pair(settings, config, fold, str(out / "cache"), self.verbose)


def run_pairs(settings: CompareSettings, out: Path, backend: Backend, verbose: int = 1) -> int:
    """Run every pair of ``settings`` not yet recorded in ``out``; returns the number of clips.

    Raises
    ------
    KeyboardInterrupt
        On Ctrl-C (SIGINT). The pair that was running is not recorded, even
        when the fit swallowed the interrupt and returned early.
    RuntimeError
        Once every other pair has run, if some fits failed because training
        diverged (a NaN or infinite loss): those pairs are not recorded (a
        rerun tries them again), and the message names each with its cause.
    """
    pairs = [(config, fold) for config in settings.losses for fold in range(settings.n_splits)]
    todo = [pair for pair in pairs if not pair_path(out, *pair).exists()]
    terminal = sys.stderr.isatty()
    # Warnings come once per fit; held back, they are shown once each after the bar, not through it.
    with _interrupt_flag() as interrupted, collected_warnings(len(todo)):
        n_clips = backend.prepare(settings)
        bar = tqdm(
            total=len(pairs),
            initial=len(pairs) - len(todo),
            desc="config x fold",
            unit="fit",
            # Off a terminal (a log, a pipe) a bar redrawn with carriage returns is noise: one line per fit.
            disable=not (verbose and terminal),
            file=sys.stderr,
        )
        started, done = time.perf_counter(), len(pairs) - len(todo)
        with bar:
            failed = []
            for result in backend.results(settings, todo, out):
                if interrupted.is_set():
                    raise KeyboardInterrupt  # this fit may have ended early: it is not a result
                if "failed" in result:
                    failed.append(f"{result['config']} fold {result['fold']}: {result['failed']}")
                else:
                    write_pair(out, settings, result)
                bar.set_postfix_str(f"{result['config']} fold {result['fold']}")
                bar.update()
                done += 1
                if verbose and not terminal:
                    print(
                        f"config x fold: {done}/{len(pairs)} fits, {result['config']} fold {result['fold']} done "
                        f"({time.perf_counter() - started:.0f} s)",
                        file=sys.stderr,
                    )
    if failed:
        raise RuntimeError(
            f"{len(failed)} of {len(todo)} fits failed and are not recorded as results ({len(todo) - len(failed)} "
            f"others are, in {out / 'runs'}; a rerun in the same folder runs the failed ones again):\n"
            + "\n".join(failed)
        )
    return n_clips


@contextmanager
def _interrupt_flag() -> Iterator[threading.Event]:
    """An event set by SIGINT while the block runs; SIGINT still raises KeyboardInterrupt as usual.

    The event outlives the exception: a fit that catches KeyboardInterrupt and
    returns (skorch's ``partial_fit`` does) is still known to be cut short.
    Off the main thread no handler can be installed, and a SIGINT that the
    process ignores stays ignored; in both cases the event stays clear.
    """
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        yield event
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        event.set()
        if callable(previous):
            previous(signum, frame)
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield event
    finally:
        signal.signal(signal.SIGINT, previous)
