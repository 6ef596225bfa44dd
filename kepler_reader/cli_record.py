"""``kepler-reader record``: scrape endpoints on a schedule and append to a recording.

Each URL gets its own :class:`~kepler_reader.Scraper`, scraped at ``start + k *
interval`` (concurrently when there are several). Every response is one record of the
file (``docs/recording-format.md``); a failed scrape is logged and recorded as a gap
marker, never as a zero. SIGTERM and SIGINT stop the loop: scrapes still in flight
are dropped, the file is closed after its last complete record, and the exit code is
0. The recording stays readable after a crash or SIGKILL, losing at most the record
being written.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import TYPE_CHECKING, TextIO

from .cli_options import (
    add_connection_options,
    env_default,
    positive_seconds,
    scraper_from_args,
)
from .exceptions import KeplerReaderError, LimitExceededError
from .recorder import DEFAULT_MAX_RECORD_BYTES, RecordingWriter
from .schedule import POLL_SECONDS, Outcome, ScrapeWorkers, StopSignals, Ticker

if TYPE_CHECKING:
    from .scraping import Response, Scraper

__all__ = ["add_record_parser", "run_record"]

log = logging.getLogger("kepler_reader.record")
# On a stop, how long a scrape in flight may go on (its result dropped) before exit.
_DRAIN_SECONDS = 2.0


def env_urls() -> list[str]:
    """The URLs in ``KEPLER_READER_URL`` (separated by spaces or commas)."""
    text = env_default("--url", "") or ""
    return text.replace(",", " ").split()


def add_record_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Add the ``record`` subcommand to ``commands``."""
    record = commands.add_parser(
        "record",
        help="scrape endpoints every S seconds and append each scrape to a file",
        description="Scrape each URL every --interval seconds and append every "
        "body to a recording that survives crashes (at most the last scrape is "
        "lost) and resumes after a restart. Read it with kepler_reader.read_recording "
        "or `zcat FILE`. Stops on SIGTERM or SIGINT (exit 0) or after --duration.",
    )
    record.add_argument(
        "url",
        nargs="*",
        metavar="URL",
        help="metrics URLs (default: env KEPLER_READER_URL, space-separated)",
    )
    # String defaults from the environment go through ``type`` (and give a usage
    # error when bad) only when this command is used.
    record.add_argument(
        "--interval",
        type=positive_seconds,
        default=env_default("--interval"),
        metavar="SECONDS",
        help="seconds between scrapes (env KEPLER_READER_INTERVAL); required",
    )
    record.add_argument(
        "--duration",
        type=positive_seconds,
        default=env_default("--duration"),
        metavar="SECONDS",
        help="stop after this many seconds, the last scrape included "
        "(env KEPLER_READER_DURATION; default: until stopped)",
    )
    record.add_argument(
        "-o",
        "--output",
        default=env_default("--output"),
        metavar="FILE",
        help="the recording to append to (env KEPLER_READER_OUTPUT); required",
    )
    add_connection_options(record)
    record.set_defaults(handler=run_record)


class _Progress:
    """One status line on a terminal, rewritten in place; nothing elsewhere."""

    def __init__(self, stream: TextIO, path: str) -> None:
        self._stream = stream
        self._path = path
        self._on = stream.isatty()
        self.scrapes = 0
        self.gaps = 0
        self.last_error = ""

    def show(self, written: int) -> None:
        if not self._on:
            return
        line = (
            f"kepler-reader record: {self.scrapes} scrapes, {self.gaps} gaps, "
            f"{written / 1e6:.1f} MB to {self._path}"
        )
        if self.last_error:
            line += f"; last error: {self.last_error}"
        self._stream.write("\r\x1b[K" + line[:200])
        self._stream.flush()

    def finish(self) -> None:
        if self._on:
            self._stream.write("\n")
            self._stream.flush()


def _store(
    writer: RecordingWriter,
    scraper: Scraper,
    outcome: Outcome[Response],
    progress: _Progress,
    failing: dict[int, str],
) -> None:
    """Append one scrape's outcome: its body, or a gap saying why there is none."""
    error = outcome.error
    if error is None and outcome.value is not None:
        try:
            writer.write_response(outcome.value, node=scraper.node)
        except LimitExceededError as too_large:
            error = too_large
        else:
            progress.scrapes += 1
            if failing.pop(outcome.worker, None) is not None:
                log.warning("%s answers again", outcome.value.url)
            return
    if not isinstance(error, KeplerReaderError):
        raise error or AssertionError("a scrape outcome with neither value nor error")
    reason = str(error)
    writer.write_gap(outcome.started_at, scraper.url, reason, node=scraper.node)
    progress.gaps += 1
    progress.last_error = reason
    if failing.get(outcome.worker) != reason:
        log.warning("scrape failed, recorded as a gap: %s", reason)
    failing[outcome.worker] = reason


def run_record(args: argparse.Namespace) -> int:
    """Run ``kepler-reader record`` until the duration ends or a signal stops it.

    Returns:
        0 (a clean stop). Scrape failures are gaps, not exits.

    Raises:
        RecordingError: The recording cannot be opened or written (exit 4).
        SystemExit: A missing URL, interval or output (usage error, exit 2).
    """
    urls = args.url or env_urls()
    missing = [
        what
        for what, value in (
            ("URL", urls),
            ("--interval", args.interval),
            ("-o/--output", args.output),
        )
        if not value
    ]
    if missing:
        print(
            f"kepler-reader record: error: {', '.join(missing)} required "
            "(as arguments or KEPLER_READER_* variables)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    scrapers = [scraper_from_args(args, url) for url in urls]
    progress = _Progress(sys.stderr, args.output)
    # A larger body cap (where the connection flags offer one) needs records as large.
    body_cap = getattr(args, "max_body_bytes", None) or 0
    record_cap = max(DEFAULT_MAX_RECORD_BYTES, body_cap + 64 * 1024)
    with (
        RecordingWriter(args.output, max_record_bytes=record_cap) as writer,
        StopSignals() as stop,
    ):
        workers: ScrapeWorkers[Response] = ScrapeWorkers([s.fetch for s in scrapers])
        ticker = Ticker(args.interval)
        failing: dict[int, str] = {}
        try:
            while not stop.requested:
                now = time.monotonic()
                last_tick_done = (
                    args.duration is not None
                    and ticker.elapsed_at_next > args.duration + 1e-9
                )
                if last_tick_done and not workers.in_flight:
                    break
                if not last_tick_done and ticker.due(now):
                    for index, scraper in enumerate(scrapers):
                        if not workers.start(index):
                            log.warning(
                                "%s: the previous scrape is still running; this "
                                "tick is skipped",
                                scraper,
                            )
                    ticker.advance(now)
                wait = (
                    POLL_SECONDS
                    if last_tick_done
                    else ticker.next_at - time.monotonic()
                )
                for outcome in workers.collect(wait):
                    _store(writer, scrapers[outcome.worker], outcome, progress, failing)
                    progress.show(writer.bytes_written)
        finally:
            dropped = workers.in_flight
            workers.close(wait_seconds=_DRAIN_SECONDS)
            progress.finish()
        if dropped:
            log.info("dropped %d scrapes in flight", dropped)
        log.info(
            "%s: %d scrapes and %d gaps appended (%d bytes), %d records in the file%s",
            writer.path,
            progress.scrapes,
            progress.gaps,
            writer.bytes_written,
            writer.records,
            f"; stopped by {stop.signal_name}" if stop.signal_name else "",
        )
    for scraper in scrapers:
        scraper.close()
    return 0
