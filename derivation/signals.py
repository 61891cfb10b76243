"""SIGTERM and SIGHUP, handled like Ctrl-C: the work stops, partial files are removed, and the
command exits with 128 + the signal's number.

Python turns SIGINT into :class:`KeyboardInterrupt`, so ``finally`` blocks run and a half-written
temporary file is removed. SIGTERM (``kill``, a job scheduler's time limit) and SIGHUP (a closed
terminal) kill the process outright by default, leaving ``.NAME.XXXX.partial`` files behind.
:func:`terminating` makes them raise :class:`Terminated` instead, for as long as it is active.

>>> import signal
>>> with terminating():
...     try:
...         signal.raise_signal(signal.SIGTERM)
...     except Terminated as stop:
...         print(stop.signum == signal.SIGTERM, stop.exit_code)
True 143
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived. A ``BaseException``, like ``KeyboardInterrupt``, so no
    ``except Exception`` swallows it on its way out."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _raise(signum: int, frame) -> None:
    raise Terminated(signum)


def active() -> bool:
    """Whether :func:`terminating` is in force (its handler is installed)."""
    return bool(SIGNALS) and all(signal.getsignal(number) is _raise for number in SIGNALS)


@contextlib.contextmanager
def terminating() -> Iterator[list[int]]:
    """While the block runs, SIGTERM and SIGHUP raise :class:`Terminated`.

    Only signals left at their default action are taken over (a program that handles them itself
    keeps its handler), and only in the main thread, where Python runs signal handlers. Yields the
    signals taken over; the previous handlers are restored on the way out.
    """
    taken: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for number in SIGNALS:
            if signal.getsignal(number) == signal.SIG_DFL:
                taken[number] = signal.signal(number, _raise)
    try:
        yield list(taken)
    finally:
        for number, previous in taken.items():
            signal.signal(number, previous)
