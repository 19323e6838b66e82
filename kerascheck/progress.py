"""A progress bar on stderr (files checked / total) for runs longer than a second.

Shown only when stderr is a terminal and the output is the human text
format. It is drawn from the main thread only (no refresh thread): the
engine forks its workers, and a thread holding a lock at fork time could
deadlock a child. The bar is transient: it disappears when the run ends.
"""

from __future__ import annotations

import os
import sys
import time

DELAY = 1.0  # seconds before the bar appears
REFRESH = 0.1  # seconds between redraws


class Bar:
    def __init__(self, total: int, delay: float | None = None, plain: bool = False) -> None:
        self.total = total
        self.plain = plain  # no colour or bold (NO_COLOR, --color never); the bar still moves
        self.delay = DELAY if delay is None else delay
        self.started = time.monotonic()
        self.last = 0.0
        self.done = 0
        self._progress = None
        self._task = None

    def __call__(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self._progress is None:
            if now - self.started < self.delay or self.done >= self.total:
                return
            self._show()
        if now - self.last >= REFRESH:
            self.last = now
            self._progress.update(self._task, completed=self.done)
            self._progress.refresh()

    def _show(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        class _Console(Console):
            def on_broken_pipe(self) -> None:
                self.quiet = True  # stderr closed: the bar just stops (rich's default would exit)

        console = _Console(file=sys.stderr, stderr=True, color_system=None if self.plain else "auto")
        self._progress = Progress(TextColumn("checking"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("files"), TimeElapsedColumn(), console=console,
                                  transient=True, auto_refresh=False)
        self._task = self._progress.add_task("check", total=self.total, completed=self.done)
        self._progress.start()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def make(total: int, output_format: str, color: str = "auto") -> Bar | None:
    """A bar for this run, or None when it must not show. `color` is --color's value."""
    if output_format != "text" or total < 2:
        return None
    try:
        if not sys.stderr.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    if os.environ.get("TERM") == "dumb":
        return None
    from kerascheck.report.text import plain

    delay = os.environ.get("KERASCHECK_PROGRESS_DELAY")  # hidden; the tests use 0
    try:
        return Bar(total, delay=float(delay) if delay else None, plain=plain(color))
    except ValueError:
        return Bar(total, plain=plain(color))
