"""Progress of a long phase, the one display every command uses.

On a terminal it is Rich's live bar. Rich draws nothing live on a pipe, so a CI log or `make report > log`
would show a phase start and then minutes of silence: whenever stdout or stderr is not a terminal, the phase
instead prints a plain line (phase, done/total, elapsed) at its first update, at least every INTERVAL_S
seconds while it runs, and when it ends. Progress goes to stderr, so stdout keeps only results (and pure
JSON with `--json -`); in a CI log the two streams are one.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from killmatrix.rendering.terminal import console as make_console

INTERVAL_S = 15.0


class PlainProgress:
    """The piped form: state updated by the phase, a line printed whenever INTERVAL_S passed since the last.

    `tick()` is called by a background thread (so a phase that reports nothing for minutes still prints) and
    after every update; `clock` is injectable so the timing can be tested without waiting."""

    def __init__(self, phase: str, total: int | None, console: Console, *, interval_s: float = INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic):
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s!r}")
        self.phase, self.total, self.done, self.detail = phase, total, 0, ""
        self._console, self._interval, self._clock = console, interval_s, clock
        self._start = self._last_line = clock()
        self._updated = False
        self._lock = threading.Lock()

    def _count(self) -> str:
        return f"{self.done}/{self.total}" if self.total else f"{self.done} done"

    def line(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.phase}: {self._count()}, {self._clock() - self._start:.0f} s elapsed{detail}"

    def _emit(self, text: str) -> None:
        self._last_line = self._clock()
        # Text, not markup: details name tests and mutants, and case ids look like markup ("[int32]").
        self._console.print(text, markup=False, highlight=False, soft_wrap=True)

    def update(self, *, detail: str | None = None, done: int | None = None, advance: int = 0,
               total: int | None = None) -> None:
        with self._lock:
            self.detail = self.detail if detail is None else detail
            self.total = self.total if total is None else total
            self.done = (self.done if done is None else done) + advance
            first, self._updated = not self._updated, True
            if first:  # the phase is under way (a phase that fails its checks first prints nothing)
                self._emit(self.line())
        self.tick()

    def seconds_to_next_line(self) -> float:
        return max(0.0, self._last_line + self._interval - self._clock())

    def tick(self) -> None:
        with self._lock:
            if self.seconds_to_next_line() <= 0:
                self._emit(self.line())

    def finish(self) -> None:
        with self._lock:
            self._emit(f"{self.phase}: {self._count()} in {self._clock() - self._start:.0f} s")


class LiveProgress:
    """The terminal form: a transient Rich bar, with the same `update` as PlainProgress."""

    def __init__(self, phase: str, total: int | None, bar: Progress):
        self.phase, self._bar = phase, bar
        self._task = bar.add_task(escape(phase), total=total)

    def update(self, *, detail: str | None = None, done: int | None = None, advance: int = 0,
               total: int | None = None) -> None:
        fields = {"description": escape(f"{self.phase}: {detail}" if detail else self.phase)} if detail is not None \
            else {}
        self._bar.update(self._task, completed=done, advance=advance or None, total=total, **fields)


@contextmanager
def phase_progress(phase: str, total: int | None = None, *, console: Console | None = None,
                   interval_s: float | None = None) -> Iterator[PlainProgress | LiveProgress]:
    """Show the progress of `phase` for the duration of the block; update it with `.update(...)`."""
    console = console or make_console(stderr=True)
    if console.is_terminal and sys.stdout.isatty():
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            yield LiveProgress(phase, total, bar)
        return
    progress = PlainProgress(phase, total, console, interval_s=INTERVAL_S if interval_s is None else interval_s)
    stop = threading.Event()

    def keep_printing() -> None:
        while not stop.wait(progress.seconds_to_next_line() or 0.01):
            progress.tick()

    ticker = threading.Thread(target=keep_printing, name=f"progress: {phase}", daemon=True)
    ticker.start()
    try:
        yield progress
    finally:
        stop.set()
        ticker.join()
    progress.finish()
