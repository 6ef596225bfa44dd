"""``kepler-reader top``: a live table of the pods using the most power.

Every ``--interval`` seconds each URL is scraped (concurrently when there are
several) and compared with its previous successful scrape by
:func:`~kepler_reader.diff`: watts are the joules between the two scrapes divided by
their measured interval. On a terminal the table is redrawn in place; piped, each
refresh is a block of plain lines starting with a timestamp line, ending with a blank
line. A failed scrape is shown and bridged: the next good one is compared with the
last good one. SIGINT (or SIGTERM) stops it with exit 0.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

import attrs

from .cli_options import (
    add_connection_options,
    env_default,
    positive_seconds,
    scraper_from_args,
)
from .delta import EnergyDelta, diff
from .exceptions import KeplerReaderError
from .kepler import KeplerView, Registry, kepler_view
from .parser import Parser
from .schedule import Outcome, ScrapeWorkers, StopSignals, Ticker
from .scraping import format_of

if TYPE_CHECKING:
    from .scraping import Scraper
    from .snapshot import Snapshot

__all__ = ["add_top_parser", "render_top", "run_top"]

#: ANSI: cursor home, then clear the screen.
CLEAR = "\x1b[H\x1b[2J"
# The parser's and registry's memory of series is cleared past this many times the
# series of the latest bodies, plus this floor.
_CACHE_SLACK = 2
_CACHE_FLOOR = 1000


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def add_top_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Add the ``top`` subcommand to ``commands``."""
    top = commands.add_parser(
        "top",
        help="a live table of the pods using the most power",
        description="Scrape each URL every --interval seconds and show the pods "
        "with the highest power (watts between consecutive scrapes). Redraws in "
        "place on a terminal; prints one block per refresh when piped.",
    )
    top.add_argument("url", nargs="+", metavar="URL", help="metrics URLs")
    top.add_argument(
        "--interval",
        type=positive_seconds,
        # A string default goes through ``type`` only when this command is used.
        default=env_default("--interval", "5"),
        metavar="SECONDS",
        help="seconds between scrapes (default 5; env KEPLER_READER_INTERVAL)",
    )
    top.add_argument(
        "--zone",
        default=env_default("--zone", "package"),
        help="the zone: package (default), core, uncore, dram, ... (never summed; "
        "env KEPLER_READER_ZONE)",
    )
    top.add_argument(
        "--namespace",
        default=env_default("--namespace"),
        metavar="NS",
        help="show only this namespace (env KEPLER_READER_NAMESPACE)",
    )
    top.add_argument(
        "--limit",
        type=_positive_int,
        default=20,
        metavar="N",
        help="rows shown (default 20)",
    )
    top.add_argument(
        "--iterations",
        type=_positive_int,
        metavar="N",
        help="stop after N refreshes (default: until interrupted)",
    )
    add_connection_options(top)
    top.set_defaults(handler=run_top)


@attrs.frozen(slots=True)
class _Row:
    watts: float
    joules: float
    namespace: str
    pod: str
    node: str


def _stamp(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def render_top(
    results: dict[str, EnergyDelta | str],
    *,
    now: float,
    zone: str,
    namespace: str | None,
    limit: int,
) -> str:
    """One refresh of the table, as text.

    Args:
        results: For each node, its delta over the last interval, or why there is
            none (a failed scrape, the first scrape).
        now: The time of the refresh, in seconds since the epoch.
        zone: The zone shown.
        namespace: Only pods of this namespace, or ``None`` for all.
        limit: The most rows shown.

    Returns:
        The lines: a heading with the time and zone, one status line per node
        (interval in seconds, node watts, or the error), then the pods by watts,
        highest first.
    """
    rows: list[_Row] = []
    lines = [f"{_stamp(now)}  zone {zone}"]
    for node, result in results.items():
        if isinstance(result, str):
            lines.append(f"node {node}: {result}")
            continue
        node_watts = result.node.watts
        shown = "n/a" if node_watts is None else f"{node_watts:.3f} W"
        pods = [p for p in result.pods if namespace is None or p.namespace == namespace]
        lines.append(
            f"node {node}: interval {result.interval_seconds:.3f} s, node {shown}, "
            f"{len(pods)} pods {sum(p.watts for p in pods):.3f} W"
        )
        rows.extend(_Row(p.watts, p.joules, p.namespace, p.pod, node) for p in pods)
    rows.sort(key=lambda row: (-row.watts, row.namespace, row.pod))
    rows = rows[:limit]
    several = len(results) > 1
    table = [("WATTS", "JOULES", "NAMESPACE", "POD", *(["NODE"] if several else []))]
    table.extend(
        (
            f"{row.watts:.3f}",
            f"{row.joules:.6f}",
            row.namespace,
            row.pod,
            *([row.node] if several else []),
        )
        for row in rows
    )
    widths = [max(len(cells[i]) for cells in table) for i in range(len(table[0]))]
    for cells in table:
        numbers = [cells[i].rjust(widths[i]) for i in range(2)]
        words = [cells[i].ljust(widths[i]) for i in range(2, len(cells))]
        lines.append("  ".join(numbers + words).rstrip())

    return "\n".join(lines) + "\n"


def _draw(stream: TextIO, text: str) -> None:
    if stream.isatty():
        stream.write(CLEAR + text)
    else:
        stream.write(text + "\n")
    stream.flush()


def run_top(args: argparse.Namespace) -> int:
    """Run ``kepler-reader top`` until ``--iterations`` refreshes or a signal.

    Returns:
        0. Scrape failures are shown, not exits.
    """
    scrapers = [scraper_from_args(args, url) for url in args.url]
    nodes = _names(scrapers)
    latest: dict[int, KeplerView] = {}
    registry = Registry()
    status: dict[int, EnergyDelta | str] = dict.fromkeys(
        nodes, "waiting for a second scrape"
    )
    refreshes = 0
    with StopSignals() as stop:
        workers: ScrapeWorkers[Snapshot] = ScrapeWorkers(
            [_bounded_scrape(s) for s in scrapers]
        )
        ticker = Ticker(args.interval)
        try:
            while not stop.requested:
                for index in range(len(scrapers)):
                    workers.start(index)
                ticker.advance()
                while workers.in_flight and not stop.requested:
                    for outcome in workers.collect(1.0):
                        status[outcome.worker] = _update(
                            latest,
                            registry,
                            outcome,
                            args.zone,
                        )
                registry.max_entries = (
                    _CACHE_SLACK
                    * sum(len(view.snapshot.series) for view in latest.values())
                    + _CACHE_FLOOR
                )
                if stop.requested:
                    break
                if _has_delta(status) or refreshes:
                    _draw(
                        sys.stdout,
                        render_top(
                            {nodes[i]: status[i] for i in nodes},
                            now=time.time(),
                            zone=args.zone,
                            namespace=args.namespace,
                            limit=args.limit,
                        ),
                    )
                    refreshes += 1
                    if args.iterations is not None and refreshes >= args.iterations:
                        break
                stop.sleep(ticker.next_at - time.monotonic())
        finally:
            workers.close(wait_seconds=2.0)
    for scraper in scrapers:
        scraper.close()
    return 0


def _has_delta(status: dict[int, EnergyDelta | str]) -> bool:
    return any(not isinstance(value, str) for value in status.values())


def _update(
    latest: dict[int, KeplerView],
    registry: Registry,
    outcome: Outcome[Snapshot],
    zone: str,
) -> EnergyDelta | str:
    """Fold one scrape into the state; return the node's line of the next table."""
    if outcome.error is not None:
        if not isinstance(outcome.error, KeplerReaderError):
            raise outcome.error
        return f"scrape failed: {outcome.error}"
    assert outcome.value is not None
    before = latest.get(outcome.worker)
    after = latest[outcome.worker] = kepler_view(outcome.value, registry=registry)
    if before is None:
        return "waiting for a second scrape"
    try:
        return diff(before, after, zone=zone)
    except KeplerReaderError as problem:
        return f"no delta: {problem}"


def _bounded_scrape(scraper: Scraper) -> Callable[[], Snapshot]:
    """A job that scrapes and parses with a parser whose memory stays bounded.

    A parser remembers every series it has seen; where pods churn, that memory grows
    with every new pod. Here it is cleared once it holds more than about twice the
    series of the last body, which costs one cold parse now and then.
    """
    parser = Parser(max_cached_series=_CACHE_FLOOR)

    def job() -> Snapshot:
        response = scraper.fetch()
        snapshot = parser.parse(
            response.body,
            source=response.url,
            scraped_at=response.scraped_at,
            format=format_of(response.content_type) or "text",
        )
        parser.max_cached_series = _CACHE_SLACK * len(snapshot.series) + _CACHE_FLOOR
        return snapshot

    return job


def _names(scrapers: list[Scraper]) -> dict[int, str]:
    """A distinct display name per endpoint: its node, or its URL if nodes repeat."""
    names = [s.node for s in scrapers]
    if len(set(names)) < len(names):
        names = [s.url for s in scrapers]
    return dict(enumerate(names))
