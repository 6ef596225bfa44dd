"""Measure the energy of pods while something happens: :class:`Meter`.

::

    with Meter("http://127.0.0.1:28282/metrics", namespace="flux-system") as m:
        reconcile()
    print(m.result.joules, m.result.watts)

A meter scrapes every endpoint once when it starts, then in a background thread at an
interval, then once more when it stops. Each scrape is fed to every open window (the
meter's own and any named sub-window, see :meth:`Meter.window`); a window sums the
deltas of consecutive scrapes per counter (see :mod:`kepler_reader.window`), so an
exporter restart, a pod that ends, a series that vanishes and a failed scrape inside
the window are all handled, and values the plausibility checks refuse are listed.

The default interval is the exporter's own refresh interval, estimated from how often
its counters change: until two changes have been seen the meter samples every
:data:`PROBE_SECONDS`. Scraping faster than the exporter refreshes gains nothing; the
meter warns when told to.
"""

from __future__ import annotations

import functools
import logging
import re
import statistics
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import attrs
import numpy as np

from .dumps import redact_url
from .exceptions import (
    DataError,
    KeplerReaderError,
    MeterStateError,
    NothingMeasuredError,
)
from .kepler import Era, KeplerView, Registry, kepler_view
from .measurement import Measurement, Selection, Trust, build_measurement
from .plausibility import PlausibilityLimits, Refusal
from .scraping import DEFAULT_TIMEOUT_SECONDS, Scraper
from .window import CounterWindow

__all__ = ["PROBE_SECONDS", "Meter"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

#: Seconds between scrapes while the exporter's refresh interval is not yet known.
PROBE_SECONDS = 0.5
#: Seconds between scrapes when no refresh interval could be estimated after
#: :data:`PROBE_LIMIT` probes (an idle exporter whose counters do not move).
FALLBACK_SECONDS = 5.0
#: Probes taken at most before falling back to :data:`FALLBACK_SECONDS`.
PROBE_LIMIT = 60
# Most endpoints scraped at once.
_MAX_WORKERS = 16


class _Endpoint:
    """One endpoint: its scraper, its registry, and what its scrapes looked like."""

    def __init__(self, scraper: Scraper, node: str) -> None:
        self.scraper = scraper
        self.node = node
        self.url = redact_url(scraper.url)
        # Counter ids must stay valid for the whole window, so the registry is never
        # cleared; it grows with the series churn of one window only.
        self.registry = Registry(max_entries=1 << 62)
        self.signature: tuple[int, float] | None = None
        self.changes: list[float] = []
        self.zones: set[str] = set()
        self.era: Era | None = None
        self.last_error = ""

    def refresh_seconds(self) -> float | None:
        """The median time between two changes of the counters, or ``None``."""
        if len(self.changes) < 2:
            return None
        gaps = [b - a for a, b in zip(self.changes, self.changes[1:], strict=False)]
        return float(statistics.median(gaps))

    def observe(self, view: KeplerView, at: float) -> None:
        signature = (len(view), float(view.joules.sum()))
        if self.signature is not None and signature != self.signature:
            self.changes.append(at)
        self.signature = signature
        self.zones.update(view.zones)
        self.era = view.era


@attrs.define(slots=True)
class _Window:
    name: str
    started_at: float
    parts: list[CounterWindow]


class Meter:
    """Energy per pod, namespace and node while a block, a function or a span runs.

    Use it as a context manager (``with Meter(url) as m: ...``, then ``m.result``),
    as a decorator (``@Meter(url)``; each call is measured, the last result is
    ``meter.result``), or with :meth:`start` and :meth:`stop`. Named sub-windows,
    which may overlap, come from :meth:`window`.

    Args:
        url_or_urls: The metrics URL of one Kepler, or one per node.
        namespace: Report only pods of this namespace (or of these namespaces).
        pod: Report only pods whose name this regular expression matches
            (``re.search``).
        zone: The zone to measure: ``package`` (default), ``core``, ``uncore``,
            ``dram``, ... Zones are never added together.
        interval: Seconds between scrapes; by default the exporter's own refresh
            interval, estimated from the data.
        intensity: Grid carbon intensity in gCO2e/kWh, for the CO2e figures.
        power_ceiling_watts: A pod whose power over one interval is above this is
            refused (see :mod:`kepler_reader.plausibility`).
        limits: All plausibility ceilings at once (overrides
            ``power_ceiling_watts``).
        nodes: A node name per URL (default: the URL's host, or host and port when
            two URLs share a host).
        timeout: Connect and read timeout per scrape, in seconds.
        lenient: Skip bad lines in the bodies instead of failing the scrape.
        openmetrics: Ask for OpenMetrics instead of the text format 0.0.4.
        scraper_factory: Builds the scraper of one URL; by default
            ``Scraper(url, timeout=, lenient=, openmetrics=, **scraper_options)``.
            The meter closes the scrapers when it stops.
        wrap_range_joules: Ranges of raw counters that wrap (joules per family
            name), as for :func:`~kepler_reader.diff`; off by default.
        scraper_options: More keyword arguments of :class:`~kepler_reader.Scraper`
            (``retries``, ``bearer_token_file``, ``ca_file``, ...).

    Raises:
        DataError: A plausibility limit is not a positive number.
        ValueError: No URL, a bad ``interval``, ``nodes`` of the wrong length, or a
            bad ``pod`` regular expression.
    """

    def __init__(
        self,
        url_or_urls: str | Sequence[str],
        *,
        namespace: str | Sequence[str] | None = None,
        pod: str | None = None,
        zone: str = "package",
        interval: float | None = None,
        intensity: float | None = None,
        power_ceiling_watts: float = 5000.0,
        limits: PlausibilityLimits | None = None,
        nodes: Sequence[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        lenient: bool = False,
        openmetrics: bool = False,
        scraper_factory: Callable[[str], Scraper] | None = None,
        wrap_range_joules: Mapping[str, float] | None = None,
        **scraper_options: Any,
    ) -> None:
        urls = [url_or_urls] if isinstance(url_or_urls, str) else list(url_or_urls)
        if not urls:
            raise ValueError("A Meter needs at least one metrics URL.")
        if interval is not None and not 0 < interval < float("inf"):
            raise ValueError(
                f"interval must be a positive number of seconds, not {interval!r}."
            )
        if nodes is not None and len(nodes) != len(urls):
            raise ValueError(
                f"{len(nodes)} node names were given for {len(urls)} URLs."
            )
        self.urls = urls
        self.zone = {"pkg": "package"}.get(zone.lower(), zone.lower())
        self.interval = interval
        self.intensity = intensity
        self.limits = limits or PlausibilityLimits(max_pod_watts=power_ceiling_watts)
        self.wrap_range_joules = dict(wrap_range_joules or {})
        namespaces = [namespace] if isinstance(namespace, str) else namespace
        self.selection = Selection(
            namespaces=None if namespaces is None else frozenset(namespaces),
            pod=None if pod is None else re.compile(pod),
        )
        self._nodes = list(nodes) if nodes is not None else None
        self._factory = scraper_factory or (
            lambda url: Scraper(
                url,
                timeout=timeout,
                lenient=lenient,
                openmetrics=openmetrics,
                **scraper_options,
            )
        )
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._endpoints: list[_Endpoint] = []
        self._open: dict[str, _Window] = {}
        self._main: _Window | None = None
        self._warnings: list[str] = []
        self._probes = 0
        self._warned_interval = False
        self.result: Measurement | None = None
        """The last finished measurement of the whole run, or ``None``."""
        self.windows: dict[str, Measurement] = {}
        """The finished named windows of the last run, by name."""

    # -- the three ways in -----------------------------------------------------------

    def __enter__(self) -> Meter:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None:
            self.stop()
            return
        # The block raised: stop cleanly, and let its error be the one that shows.
        try:
            self.stop()
        except KeplerReaderError as error:
            log.warning("the measurement ended without a result: %s", error)

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        """Measure every call of ``func``; the last one's result is :attr:`result`."""

        @functools.wraps(func)
        def measured(*args: P.args, **kwargs: P.kwargs) -> R:
            with self:
                return func(*args, **kwargs)

        measured.meter = self  # type: ignore[attr-defined]
        return measured

    def start(self) -> Meter:
        """Scrape every endpoint once and start sampling in a background thread.

        Returns:
            The meter itself.

        Raises:
            MeterStateError: The meter is already running.
            ScrapeError: Every endpoint failed its first scrape (the error of the
                first endpoint; the others are logged).
            DataError: Every endpoint answered, but without Kepler energy metrics.
        """
        with self._lock:
            if self._main is not None:
                raise MeterStateError("This Meter is already running; stop it first.")
            self._endpoints = self._make_endpoints()
            self._pool = ThreadPoolExecutor(
                max_workers=min(len(self._endpoints), _MAX_WORKERS),
                thread_name_prefix="kepler-reader-meter-scrape",
            )
            self._warnings = []
            self._probes = 0
            self._warned_interval = False
            self.windows = {}
            self._stop.clear()
            self._main = self._open[""] = self._open_window("")
            errors = self._sample()
            if len(errors) == len(self._endpoints):
                self._close_all()
                self._open.clear()
                self._main = None
                raise errors[0]
            self._thread = threading.Thread(
                target=self._run, name="kepler-reader-meter", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> Measurement:
        """Scrape once more, stop the thread (joined), and return the measurement.

        Sub-windows still open are closed at the same time, with a warning.

        Returns:
            The measurement of the whole run (also kept as :attr:`result`).

        Raises:
            MeterStateError: The meter is not running.
            NothingMeasuredError: No endpoint had two successful scrapes.
        """
        thread = self._thread
        if self._main is None:
            raise MeterStateError("This Meter is not running; start it first.")
        self._stop.set()
        if thread is not None:
            thread.join()
        self._thread = None
        with self._lock:
            try:
                self._sample()
                for name in list(self._open):
                    if name:
                        self._warnings.append(
                            f"The window {name!r} was still open when the meter "
                            "stopped; it was closed with it."
                        )
                        self.windows[name] = self._finish(self._open.pop(name))
                result = self._finish(self._open.pop(""))
            finally:
                self._open.clear()
                self._main = None
                self._close_all()
        self.result = result
        if result.interval_seconds <= 0:
            raise NothingMeasuredError(
                "No endpoint gave two usable scrapes between the start and the stop "
                f"of the meter ({self._failure_summary()}); no energy can be given."
            )
        return result

    @contextmanager
    def window(self, name: str) -> Iterator[None]:
        """Measure a named sub-window; windows may overlap and nest.

        The window scrapes every endpoint when it opens and when it closes; its
        result is ``meter.windows[name]`` afterwards (a later window of the same name
        replaces it).

        Raises:
            MeterStateError: The meter is not running, or a window of this name is
                already open.
        """
        with self._lock:
            if self._main is None:
                raise MeterStateError(
                    f"Window {name!r}: the meter is not running; start it first."
                )
            if not name or name in self._open:
                raise MeterStateError(
                    f"A window named {name!r} is already open (names must be unique "
                    "and not empty)."
                )
            self._open[name] = self._open_window(name)
            self._sample()
        try:
            yield
        finally:
            with self._lock:
                if name in self._open:
                    self._sample()
                    self.windows[name] = self._finish(self._open.pop(name))

    # -- sampling --------------------------------------------------------------------

    def _make_endpoints(self) -> list[_Endpoint]:
        scrapers = [self._factory(url) for url in self.urls]
        if self._nodes is not None:
            names = list(self._nodes)
        else:
            names = [s.node for s in scrapers]
            if len(set(names)) < len(names):
                names = [urllib.parse.urlsplit(s.url).netloc or s.url for s in scrapers]
        return [_Endpoint(s, n) for s, n in zip(scrapers, names, strict=True)]

    def _open_window(self, name: str) -> _Window:
        parts = [
            CounterWindow(
                e.node, self.zone, e.registry, self.limits, self.wrap_range_joules
            )
            for e in self._endpoints
        ]
        return _Window(name, time.time(), parts)

    def _scrape(
        self, endpoint: _Endpoint
    ) -> tuple[KeplerView | None, float, KeplerReaderError | None]:
        try:
            snapshot = endpoint.scraper.scrape()
        except KeplerReaderError as error:
            return None, time.time(), error
        view = kepler_view(snapshot, registry=endpoint.registry)
        at = snapshot.scraped_at or time.time()
        if view.era.name == "unknown":
            seen = ", ".join(f.name for f in snapshot.families[:5]) or "none"
            return (
                None,
                at,
                DataError(
                    f"No Kepler energy metrics were recognised in {endpoint.url} "
                    f"(families seen: {seen})."
                ),
            )
        return view, at, None

    def _sample(self) -> list[KeplerReaderError]:
        """Scrape every endpoint (at once) and feed each open window; under the lock."""
        assert self._pool is not None
        errors: list[KeplerReaderError] = []
        results = list(self._pool.map(self._scrape, self._endpoints))
        for index, (endpoint, (view, at, problem)) in enumerate(
            zip(self._endpoints, results, strict=True)
        ):
            if view is None:
                endpoint.last_error = str(problem)
                log.warning("scrape failed, a gap in the measurement: %s", problem)
                if problem is not None:
                    errors.append(problem)
                for window in self._open.values():
                    window.parts[index].fail()
                continue
            endpoint.observe(view, at)
            for window in self._open.values():
                window.parts[index].add(view, at)
        self._check_interval()
        return errors

    def _refresh_seconds(self) -> float | None:
        found = [e.refresh_seconds() for e in self._endpoints]
        known = [s for s in found if s is not None]
        return min(known) if known else None

    def _check_interval(self) -> None:
        refresh = self._refresh_seconds()
        if (
            self.interval is None
            or refresh is None
            or self._warned_interval
            or self.interval >= 0.75 * refresh
        ):
            return
        self._warned_interval = True
        message = (
            f"The sampling interval ({self.interval:g} s) is shorter than the "
            f"exporter's refresh interval (about {refresh:.3g} s): scrapes between "
            "two refreshes see the same counters and add nothing."
        )
        log.warning("%s", message)
        self._warnings.append(message)

    def _next_wait(self) -> float:
        if self.interval is not None:
            return self.interval
        refresh = self._refresh_seconds()
        if refresh is not None:
            return refresh
        self._probes += 1
        return PROBE_SECONDS if self._probes <= PROBE_LIMIT else FALLBACK_SECONDS

    def _sampling_seconds(self) -> float:
        if self.interval is not None:
            return self.interval
        return self._refresh_seconds() or PROBE_SECONDS

    def _run(self) -> None:
        # Each pass waits, then scrapes; stop() sets the event, which ends the wait
        # at once, and the loop never outlives the meter.
        while not self._stop.wait(self._next_wait()):
            with self._lock:
                if self._stop.is_set():
                    return
                self._sample()

    def _close_all(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for endpoint in self._endpoints:
            endpoint.scraper.close()

    def _failure_summary(self) -> str:
        problems = [e.last_error for e in self._endpoints if e.last_error]
        return f"last error: {problems[-1]}" if problems else "no scrape failed"

    # -- results ---------------------------------------------------------------------

    def _finish(self, window: _Window) -> Measurement:
        stopped = time.time()
        warnings = list(self._warnings)
        refusals: list[Refusal] = []
        no_data: list[str] = []
        totals = []
        era: Era | None = None
        for endpoint, part in zip(self._endpoints, window.parts, strict=True):
            warnings.extend(part.warnings)
            refusals.extend(part.refusals.values())
            node_totals = part.totals()
            info = endpoint.registry.group_info
            no_data.extend(
                f"{info[g][0]}/{info[g][1]}" for g in node_totals.no_valid_data.tolist()
            )
            totals.append(
                (node_totals, info, endpoint.url, part.scrapes, part.failures)
            )
            era = part.era or era
            if part.failures:
                warnings.append(
                    f"{part.failures} of {part.scrapes + part.failures} scrapes of "
                    f"{endpoint.url} failed; each was bridged from the last "
                    f"successful one (last error: {endpoint.last_error})."
                )
            moved = bool(np.any(node_totals.joules)) or bool(node_totals.node_joules)
            if part.scrapes >= 2 and node_totals.seconds > 0 and not moved:
                warnings.append(
                    f"No energy counter of {endpoint.url} moved in "
                    f"{node_totals.seconds:.3g} s: the window may be shorter than the "
                    "exporter's refresh interval, or the exporter serves a stale "
                    "body; every 0 J here is unmeasured, not idle."
                )
            if part.scrapes and self.zone not in endpoint.zones:
                warnings.append(
                    f"Zone {self.zone!r} is not published by {endpoint.url} (Kepler "
                    f"{endpoint.era}); zones seen: "
                    f"{', '.join(sorted(endpoint.zones)) or 'none'}."
                )
        warnings.extend(
            f"Refused {refusal.series} = {refusal.value!r} {refusal.unit} on "
            f"{refusal.node or 'its node'}: {refusal.reason}"
            for refusal in refusals
        )
        parts = window.parts
        era = era or Era("unknown", "", "", "no successful scrape")
        trust = Trust(
            scrapes=sum(p.scrapes for p in parts),
            scrapes_failed=sum(p.failures for p in parts),
            largest_gap_seconds=max(p.largest_gap_seconds for p in parts),
            resets=sum(p.resets for p in parts),
            wraps_corrected=sum(p.wraps for p in parts),
            series_appeared=sum(p.appeared for p in parts),
            series_vanished=sum(p.vanished for p in parts),
            zone=self.zone,
            kepler_era=era.name if era.name != "unknown" else "",
            kepler_version=era.version,
            exporter_refresh_seconds=self._refresh_seconds(),
            sampling_interval_seconds=self._sampling_seconds(),
            refused=tuple(refusals),
            no_valid_data=tuple(no_data),
        )
        return build_measurement(
            name=window.name,
            zone=self.zone,
            era=era,
            started_at=window.started_at,
            stopped_at=stopped,
            totals=totals,
            selection=self.selection,
            intensity=self.intensity,
            trust=trust,
            warnings=warnings,
        )
