"""Scraping many endpoints at once: one Kepler per node, each keeping its identity.

:func:`scrape_all` runs the scrapers on threads (scraping waits on the network, so
threads overlap well despite the GIL) and returns one :class:`ScrapeResult` per
scraper, in the order given. A failed endpoint is a result with an error, next to the
others' snapshots; it never hides them and never becomes a snapshot of zeros.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from .dumps import redact_url
from .exceptions import KeplerReaderError

if TYPE_CHECKING:
    from .scraping import Scraper
    from .snapshot import Snapshot

__all__ = ["MAX_WORKERS", "ScrapeResult", "scrape_all"]

#: The most threads :func:`scrape_all` starts unless told otherwise.
MAX_WORKERS = 64


@attrs.frozen(slots=True)
class ScrapeResult:
    """One endpoint's part of :func:`scrape_all`: a snapshot or the error instead.

    Attributes:
        node: The node the endpoint reports on (the scraper's ``node``).
        url: The endpoint's URL, without credentials.
        snapshot: The parsed scrape, or ``None`` when it failed.
        error: Why it failed (a :class:`~kepler_reader.ScrapeError`, a
            :class:`~kepler_reader.ParseError` or a
            :class:`~kepler_reader.LimitExceededError`), or ``None``.
        elapsed_seconds: Wall time this endpoint took, in seconds, retries included.
    """

    node: str
    url: str
    snapshot: Snapshot | None
    error: KeplerReaderError | None
    elapsed_seconds: float

    @property
    def ok(self) -> bool:
        """Whether the scrape gave a snapshot."""
        return self.snapshot is not None


def _one(scraper: Scraper) -> ScrapeResult:
    started = time.monotonic()
    snapshot: Snapshot | None = None
    error: KeplerReaderError | None = None
    try:
        snapshot = scraper.scrape()
    except KeplerReaderError as failure:
        error = failure
    return ScrapeResult(
        node=scraper.node,
        url=redact_url(scraper.url),
        snapshot=snapshot,
        error=error,
        elapsed_seconds=time.monotonic() - started,
    )


def scrape_all(
    scrapers: Sequence[Scraper], *, max_workers: int | None = None
) -> list[ScrapeResult]:
    """Scrape every endpoint once, concurrently.

    Args:
        scrapers: One scraper per endpoint (build them once and reuse them, so that
            connections and parsers stay warm between rounds).
        max_workers: Threads to use; by default one per scraper, at most
            :data:`MAX_WORKERS`. The round takes about as long as the slowest
            endpoint while there are at least as many threads as endpoints.

    Returns:
        One result per scraper, in the order given, each with its node. Failures
        are results with ``error`` set, so one endpoint down never hides the rest.

    Raises:
        ValueError: The same scraper appears twice (a scraper serves one thread at
            a time), or ``max_workers`` is below 1.

    Errors other than kepler_reader's own (a bug) propagate once every scrape has
    finished.
    """
    if len({id(s) for s in scrapers}) != len(scrapers):
        raise ValueError("each scraper may appear only once in scrape_all")
    if max_workers is not None and max_workers < 1:
        raise ValueError(f"max_workers must be 1 or more, not {max_workers}")
    if not scrapers:
        return []
    workers = max_workers or min(len(scrapers), MAX_WORKERS)
    if workers == 1 or len(scrapers) == 1:
        return [_one(s) for s in scrapers]
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=workers, thread_name_prefix="kepler-reader-scrape"
    ) as pool:
        futures = [pool.submit(_one, s) for s in scrapers]
    return [f.result() for f in futures]
