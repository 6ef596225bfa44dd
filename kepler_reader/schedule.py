"""Running scrapes on a steady schedule, several endpoints at once, until told to stop.

The long-running commands (``record``, ``top``) share three pieces:

- :class:`Ticker`: ticks at ``start + k * interval``, so a slow scrape delays one tick
  but never shifts the ones after it; ticks that passed unseen are skipped, not
  bunched up.
- :class:`ScrapeWorkers`: one daemon thread per endpoint, each running its job when
  told and handing the result back through a queue. A scrape in flight never holds
  up the exit: the threads die with the process.
- :class:`StopSignals`: SIGTERM and SIGINT set a flag the main loop checks between
  short waits. The handler does nothing else, so it cannot interrupt a record half
  written or deadlock on a lock the main thread holds.
"""

from __future__ import annotations

import math
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType, TracebackType
from typing import Generic, TypeVar

import attrs

__all__ = ["Outcome", "ScrapeWorkers", "StopSignals", "Ticker"]

T = TypeVar("T")

#: The longest the main loop waits before looking at the stop flag again, in seconds.
POLL_SECONDS = 0.05


class StopSignals:
    """Turn SIGTERM and SIGINT into a flag, while the ``with`` block runs.

    The previous handlers come back on exit. Outside the main thread (where Python
    cannot install handlers) the flag is only set by :meth:`request`.
    """

    def __init__(self) -> None:
        self.requested = False
        #: The name of the signal that asked to stop, or ``None``.
        self.signal_name: str | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, number: int, frame: FrameType | None) -> None:
        self.requested = True
        self.signal_name = signal.Signals(number).name

    def request(self) -> None:
        """Ask the loop to stop, as a signal would."""
        self.requested = True

    def sleep(self, seconds: float) -> None:
        """Sleep up to ``seconds``, returning early (within 50 ms) once stopped."""
        end = time.monotonic() + max(seconds, 0.0)
        while not self.requested:
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, POLL_SECONDS))

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGTERM, signal.SIGINT):
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)  # type: ignore[arg-type]
        self._previous.clear()


class Ticker:
    """A steady schedule: tick ``k`` falls at ``start + k * interval_seconds``.

    Args:
        interval_seconds: Seconds between ticks.
        start: The monotonic time of tick 0 (default: now).
    """

    def __init__(self, interval_seconds: float, start: float | None = None) -> None:
        if not 0 < interval_seconds < math.inf:
            raise ValueError(
                f"interval must be a positive number of seconds, not {interval_seconds}"
            )
        self.interval_seconds = interval_seconds
        self.start = time.monotonic() if start is None else start
        #: The number of the next tick.
        self.index = 0
        #: Ticks skipped because the loop was busy past them.
        self.missed = 0

    @property
    def next_at(self) -> float:
        """The monotonic time of the next tick."""
        return self.start + self.index * self.interval_seconds

    @property
    def elapsed_at_next(self) -> float:
        """Seconds from tick 0 to the next tick."""
        return self.index * self.interval_seconds

    def due(self, now: float | None = None) -> bool:
        """Whether the next tick has come."""
        return (time.monotonic() if now is None else now) >= self.next_at

    def advance(self, now: float | None = None) -> None:
        """Move past the tick just taken, skipping any that are already over."""
        moment = time.monotonic() if now is None else now
        self.index += 1
        late = math.floor((moment - self.next_at) / self.interval_seconds) + 1
        if late > 0:
            self.index += late
            self.missed += late


@attrs.frozen(slots=True)
class Outcome(Generic[T]):
    """The result of one job run by :class:`ScrapeWorkers`.

    Attributes:
        worker: The index of the job (the endpoint) in the list given.
        started_at: When the run started, in seconds since the epoch.
        value: What the job returned, or ``None`` when it raised.
        error: What the job raised, or ``None``.
    """

    worker: int
    started_at: float
    value: T | None
    error: BaseException | None


class ScrapeWorkers(Generic[T]):
    """One daemon thread per job: :meth:`start` runs one, :meth:`collect` gets results.

    Args:
        jobs: What each worker runs, typically a bound ``Scraper.fetch``.
    """

    def __init__(self, jobs: Sequence[Callable[[], T]]) -> None:
        self._jobs = list(jobs)
        self._inbox: list[queue.SimpleQueue[bool]] = [
            queue.SimpleQueue() for _ in self._jobs
        ]
        self._results: queue.SimpleQueue[Outcome[T]] = queue.SimpleQueue()
        self._busy = [False] * len(self._jobs)
        self._threads = [
            threading.Thread(
                target=self._serve, args=(i,), name=f"kepler-reader-{i}", daemon=True
            )
            for i in range(len(self._jobs))
        ]
        for thread in self._threads:
            thread.start()

    def _serve(self, index: int) -> None:
        inbox = self._inbox[index]
        job = self._jobs[index]
        while inbox.get():
            started = time.time()
            try:
                outcome = Outcome(index, started, job(), None)
            except Exception as error:  # handed to the main thread, which decides
                outcome = Outcome(index, started, None, error)
            self._results.put(outcome)

    def __len__(self) -> int:
        return len(self._jobs)

    def busy(self, index: int) -> bool:
        """Whether worker ``index`` has a run whose result was not collected yet."""
        return self._busy[index]

    @property
    def in_flight(self) -> int:
        """The runs started whose results were not collected yet."""
        return sum(self._busy)

    def start(self, index: int) -> bool:
        """Run worker ``index``'s job once, unless it is still busy.

        Returns:
            Whether the run was started.
        """
        if self._busy[index]:
            return False
        self._busy[index] = True
        self._inbox[index].put(True)
        return True

    def collect(self, timeout: float) -> list[Outcome[T]]:
        """The results that arrive within ``timeout`` seconds (at least one, if any).

        Returns after the first result (with any others already waiting), or when the
        time is up; the wait is capped at 50 ms so a stop request is seen soon.
        """
        try:
            first = self._results.get(timeout=min(max(timeout, 0.0), POLL_SECONDS))
        except queue.Empty:
            return []
        found = [first]
        while True:
            try:
                found.append(self._results.get_nowait())
            except queue.Empty:
                break
        for outcome in found:
            self._busy[outcome.worker] = False
        return found

    def close(self, wait_seconds: float = 0.0) -> None:
        """Let the workers end, waiting up to ``wait_seconds`` for runs in flight.

        Their results are dropped. A run still going after the wait ends with the
        process (the threads are daemons); waiting a little first means the process
        rarely exits with a request half done.
        """
        for inbox in self._inbox:
            inbox.put(False)
        deadline = time.monotonic() + wait_seconds
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
