"""A local stand-in for a Kepler endpoint, serving the bundled scrapes.

:class:`~kepler_reader.replay.ReplayExporter` (importable from here too) binds
127.0.0.1 on a free port and answers ``GET /metrics`` with one body after another,
keeping the last one once the list is used up. The demo scrapes it twice over HTTP,
through the same :func:`~kepler_reader.fetch` a real endpoint goes through.
"""

from __future__ import annotations

import time
from importlib import resources

from .delta import EnergyDelta, diff
from .replay import ReplayExporter
from .scraping import scrape

__all__ = ["BUNDLED_RELEASES", "ReplayExporter", "bundled_scrapes", "run_demo"]

#: The Kepler releases whose scrape pairs ship with the package, oldest first.
BUNDLED_RELEASES = ("v0.3", "v0.4", "v0.5.5", "v0.7.2", "v0.7.12", "v0.9.0", "v0.11")
#: Seconds between the two bundled scrapes of each release.
BUNDLED_INTERVAL_SECONDS = 3.0


def bundled_scrapes(release: str) -> tuple[bytes, bytes]:
    """The two bundled scrapes of ``release`` (3 s apart), as bytes.

    Raises:
        ValueError: ``release`` is not one of :data:`BUNDLED_RELEASES`.
    """
    if release not in BUNDLED_RELEASES:
        raise ValueError(
            f"No bundled scrapes for {release!r}; choose one of "
            f"{', '.join(BUNDLED_RELEASES)}."
        )
    folder = resources.files("kepler_reader") / "data"
    first = (folder / f"{release}-node-a.prom").read_bytes()
    second = (folder / f"{release}-node-a.t3.prom").read_bytes()
    return first, second


def run_demo(release: str = "v0.11", *, wait: bool = True) -> EnergyDelta:
    """Scrape a local replay of ``release`` twice and compute per-pod energy.

    Args:
        release: One of :data:`BUNDLED_RELEASES`.
        wait: Wait between the scrapes for as long as the bundled ones were apart
            (3 s), and use the measured interval. With ``False`` the scrapes follow
            each other at once and the bundled 3 s interval is used instead.

    Returns:
        The energy (J) and power (W) per pod, namespace and node.
    """
    bodies = bundled_scrapes(release)
    with ReplayExporter(bodies) as exporter:
        before = scrape(exporter.url)
        if wait:
            remaining = BUNDLED_INTERVAL_SECONDS - (
                time.time() - (before.scraped_at or 0)
            )
            time.sleep(max(remaining, 0.0))
        after = scrape(exporter.url)
    return diff(before, after, interval=None if wait else BUNDLED_INTERVAL_SECONDS)
