"""A local stand-in for a Kepler endpoint, serving the bundled scrapes.

:class:`~kepler_reader.replay.ReplayExporter` (importable from here too) binds
127.0.0.1 on a free port and answers ``GET /metrics`` with one body after another,
keeping the last one once the list is used up. The demo scrapes it twice over HTTP,
through the same :func:`~kepler_reader.fetch` a real endpoint goes through.
"""

from __future__ import annotations

import itertools
import time
from importlib import resources

import numpy as np

from .delta import EnergyDelta, diff
from .parser import parse
from .recording import Recording, recording_from_snapshots
from .replay import ReplayExporter
from .scraping import scrape

__all__ = [
    "BUNDLED_RELEASES",
    "ReplayExporter",
    "bundled_recording",
    "bundled_scrapes",
    "run_demo",
]

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


#: The time given to the first bundled scrape in :func:`bundled_recording`
#: (2026-12-03T10:00:00Z), in seconds since the epoch.
BUNDLED_START = 1796292000.0


def bundled_recording(
    release: str = "v0.11",
    *,
    offsets: tuple[float, ...] = (0.0, 3.0, 6.0, 9.0, 15.0, 18.0, 21.0, 24.0),
    reset_at: int | None = 6,
    start: float = BUNDLED_START,
) -> Recording:
    """A recording made from the bundled pair of ``release`` by extending it linearly.

    Not a measurement: the pair's two scrapes are 3 s apart, and every counter is
    carried on at the rate it moved between them, so each pod's power is the same in
    every interval. It exists to show plots and recordings on any machine. With the
    default ``offsets`` the scrape at 12 s is missing (a gap from 9 to 15 s), and at
    ``reset_at`` (the scrape at 21 s) every counter restarts from one interval's worth
    of energy, as after an exporter restart. Gauges keep their second-scrape values;
    a series absent from either scrape of the pair is left as it was there.

    Args:
        release: One of :data:`BUNDLED_RELEASES`.
        offsets: Each scrape's time in seconds after ``start``, ascending.
        reset_at: The row at which counters restart, or ``None`` for none.
        start: The time of the first scrape, in seconds since the epoch.

    Returns:
        A recording of ``len(offsets)`` scrapes.

    Raises:
        ValueError: ``release`` is not bundled, or ``offsets`` is not ascending.
    """
    if any(b <= a for a, b in itertools.pairwise(offsets)):
        raise ValueError(f"The offsets must be ascending, not {offsets!r}.")
    first, second = bundled_scrapes(release)
    pair = recording_from_snapshots(
        [parse(first), parse(second)],
        times=[start, start + BUNDLED_INTERVAL_SECONDS],
    )
    counter = np.array([t == "counter" for t in pair.types], dtype=np.bool_)
    moving = counter & pair.present[0] & pair.present[1]
    rate = np.where(moving, pair.values[1] - pair.values[0], 0.0)
    rate /= BUNDLED_INTERVAL_SECONDS
    rows = len(offsets)
    values = np.empty((rows, len(pair.series)))
    present = np.empty((rows, len(pair.series)), dtype=np.bool_)
    for row, offset in enumerate(offsets):
        template = 0 if row == 0 else 1
        values[row] = pair.values[template]
        present[row] = pair.present[template]
        if reset_at is not None and row >= reset_at:
            # Restarted one interval before the scrape at reset_at.
            since = offset - offsets[reset_at] + BUNDLED_INTERVAL_SECONDS
            values[row, moving] = rate[moving] * since
        else:
            values[row, moving] = pair.values[0, moving] + rate[moving] * offset
    return Recording(
        times=np.array([start + o for o in offsets], dtype=np.float64),
        series=pair.series,
        values=values,
        present=present,
        types=pair.types,
        sources=tuple(f"bundled {release} +{o:g} s" for o in offsets),
    )


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
