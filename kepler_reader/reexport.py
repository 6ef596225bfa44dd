"""Derived series to re-export: power per pod and namespace, over windows, quality.

Each Kepler endpoint (one node) has one :class:`EndpointState`, which turns each new
snapshot into an interval of energy, through the same :func:`~kepler_reader.align` and
:func:`~kepler_reader.pod_sums` that :func:`~kepler_reader.diff` uses, and keeps:

- per-pod joules of the last interval and of the recent intervals that make up each
  window, as numpy arrays indexed by the pod's slot in a table of pods;
- per-namespace joules since start, a counter;
- counts of scrapes, failures, counter resets and refused values, and the Kepler era.

:class:`DerivedCollector` renders that state as metric families for
``prometheus_client`` when ``/metrics`` is read: one family per series name, no
``Gauge`` objects and no per-sample registry calls. ``kepler_reader.serve`` does the
scraping and the HTTP.

A failed scrape is a gap: it adds no interval, and the next successful scrape is
compared with the last good one, so its interval spans the gap. Pods and namespaces
that stop appearing are forgotten ``pod_ttl_seconds`` after they were last seen (never
while a window still counts them), so memory follows the pods alive, not every pod the
node ever ran. The parser's and the registry's memories are sized to a few times the
current body and are cleared past that.
"""

from __future__ import annotations

import collections
import logging
import math
import re
import threading
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np
import numpy.typing as npt
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .delta import align, pod_sums
from .exceptions import DataError
from .kepler import LEVELS, Era, KeplerView, Registry, kepler_view
from .parser import Parser
from .scraping import parse_response

if TYPE_CHECKING:
    from .scraping import Response
    from .snapshot import Snapshot

__all__ = [
    "DEFAULT_INTERVAL_SECONDS",
    "DEFAULT_POD_TTL_SECONDS",
    "DEFAULT_PREFIX",
    "DEFAULT_WINDOWS_SECONDS",
    "DerivedCollector",
    "EndpointState",
    "ServeOptions",
]

log = logging.getLogger(__name__)

#: Seconds between two scrapes of each endpoint, unless told otherwise.
DEFAULT_INTERVAL_SECONDS = 10.0
#: The prefix of every served series name.
DEFAULT_PREFIX = "kepler_reader"
#: The windows (seconds) served when none are configured.
DEFAULT_WINDOWS_SECONDS = (60.0, 300.0)
#: Seconds after its last sighting that a pod or namespace is forgotten.
DEFAULT_POD_TTL_SECONDS = 600.0

# The smallest parser and registry memories; above them they follow the body's size.
_MIN_CACHED_SERIES = 10_000
_CACHE_FACTOR = 4
_PREFIX = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_NODE = LEVELS.index("node")


def _ascending(windows: Iterable[float]) -> tuple[float, ...]:
    return tuple(sorted({float(w) for w in windows}))


@attrs.frozen(slots=True)
class ServeOptions:
    """How ``serve`` derives its series.

    Attributes:
        interval_seconds: Seconds between two scrapes of each endpoint.
        windows_seconds: The windows served besides the last interval, in seconds,
            ascending; each is at least ``interval_seconds``.
        prefix: The prefix of every series name (``kepler_reader``).
        zone: The zone reported (``package``); zones are never added together.
        pod_ttl_seconds: Seconds after its last sighting that a pod or namespace is
            forgotten; at least the largest window.

    Raises:
        ValueError: A number is not positive and finite, a window is shorter than
            the interval, the TTL is shorter than a window, or the prefix is not a
            valid metric name.
    """

    interval_seconds: float = DEFAULT_INTERVAL_SECONDS
    windows_seconds: tuple[float, ...] = attrs.field(
        default=DEFAULT_WINDOWS_SECONDS, converter=_ascending
    )
    prefix: str = DEFAULT_PREFIX
    zone: str = "package"
    pod_ttl_seconds: float = DEFAULT_POD_TTL_SECONDS

    def __attrs_post_init__(self) -> None:
        for name, value in (
            ("interval", self.interval_seconds),
            ("pod TTL", self.pod_ttl_seconds),
            *(("window", w) for w in self.windows_seconds),
        ):
            if not 0 < value < math.inf:
                raise ValueError(
                    f"The {name} must be a positive, finite number of seconds, not "
                    f"{value!r}."
                )
        short = [w for w in self.windows_seconds if w < self.interval_seconds]
        if short:
            raise ValueError(
                f"A window of {short[0]:g} s is shorter than the scrape interval "
                f"({self.interval_seconds:g} s), so it could never hold an interval."
            )
        if self.windows_seconds and self.pod_ttl_seconds < self.windows_seconds[-1]:
            raise ValueError(
                f"The pod TTL ({self.pod_ttl_seconds:g} s) is shorter than the "
                f"largest window ({self.windows_seconds[-1]:g} s); pods would be "
                "forgotten while a window still counts them."
            )
        if not _PREFIX.fullmatch(self.prefix):
            raise ValueError(
                f"The prefix {self.prefix!r} is not a valid metric name "
                "([a-zA-Z_][a-zA-Z0-9_]*)."
            )


class _Table:
    """Slots for keys (pods, namespaces), reused once their key is forgotten.

    ``last_seen[slot]`` is the scrape time (seconds since the epoch) of the key's
    last sighting; it is NaN for a free slot.
    """

    def __init__(self) -> None:
        self.index: dict[Hashable, int] = {}
        self.keys: list[Hashable] = []
        self.free: list[int] = []
        self.last_seen: npt.NDArray[np.float64] = np.empty(0)

    def __len__(self) -> int:
        return len(self.index)

    def slot(self, key: Hashable) -> tuple[int, bool]:
        """The slot of ``key``, and whether it was just allocated."""
        found = self.index.get(key)
        if found is not None:
            return found, False
        if self.free:
            slot = self.free.pop()
            self.keys[slot] = key
        else:
            slot = len(self.keys)
            self.keys.append(key)
            if slot >= len(self.last_seen):
                grown = np.full(max(16, 2 * len(self.last_seen)), np.nan)
                grown[: len(self.last_seen)] = self.last_seen
                self.last_seen = grown
        self.index[key] = slot
        return slot, True

    def expire(
        self, before: float, keep: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.intp]:
        """Forget the keys last seen before ``before`` whose slot ``keep`` leaves out.

        Returns:
            The freed slots, shape ``(f,)``, intp.
        """
        seen = self.last_seen[: len(self.keys)]
        stale = np.flatnonzero((seen < before) & ~keep[: len(self.keys)])
        for slot in stale.tolist():
            del self.index[self.keys[slot]]
            self.keys[slot] = None
            self.free.append(slot)
        self.last_seen[stale] = np.nan
        return stale

    @property
    def capacity(self) -> int:
        """The number of slots, used or free."""
        return len(self.keys)


@attrs.define(slots=True)
class _Interval:
    """The energy per pod between two successful scrapes.

    Attributes:
        start: The earlier scrape time, seconds since the epoch.
        end: The later scrape time.
        pods: Shape ``(p,)``, intp: pod slots with at least one measured counter.
        joules: Shape ``(p,)``, float64: their energy, in joules.
        node_joules: The node's own counters over the interval, or NaN.
    """

    start: float
    end: float
    pods: npt.NDArray[np.intp]
    joules: npt.NDArray[np.float64]
    node_joules: float


def _grow(array: npt.NDArray[np.float64], size: int) -> npt.NDArray[np.float64]:
    if size <= len(array):
        return array
    grown = np.zeros(max(size, 2 * len(array), 16))
    grown[: len(array)] = array
    return grown


class EndpointState:
    """What ``serve`` knows about one Kepler endpoint (one node).

    Feed it with :meth:`observe` (a snapshot) and :meth:`failed` (a scrape that gave
    none); :class:`DerivedCollector` reads it. It does no I/O of its own.

    Args:
        node: The value of the ``node`` label on this endpoint's series.
        options: How series are derived.
    """

    def __init__(self, node: str, options: ServeOptions) -> None:
        self.node = node
        self.options = options
        self.parser = Parser(max_cached_series=_MIN_CACHED_SERIES)
        self.registry = Registry(max_entries=_MIN_CACHED_SERIES)
        self.view: KeplerView | None = None
        self.era: Era | None = None
        self.scrapes = 0
        self.failures = 0
        self.resets = 0
        self.refused = 0
        self.up = False
        self.scrape_seconds = math.nan
        self.last_error = ""
        self.pods = _Table()
        self.namespaces = _Table()
        self.pod_namespace: npt.NDArray[np.intp] = np.empty(0, dtype=np.intp)
        self.namespace_joules: npt.NDArray[np.float64] = np.empty(0)
        self.intervals: collections.deque[_Interval] = collections.deque()
        self._group_slot: npt.NDArray[np.intp] = np.empty(0, dtype=np.intp)
        # The registry (kept alive, so never mistaken for a new one) and generation
        # that _group_slot maps from.
        self._mapped: tuple[Registry | None, int] = (None, -1)

    @property
    def last(self) -> _Interval | None:
        """The most recent interval, or None before the first delta."""
        return self.intervals[-1] if self.intervals else None

    def parse(self, response: Response) -> Snapshot:
        """Parse a fetched body with this endpoint's warm parser.

        Raises:
            ParseError: The body is not valid exposition text.
        """
        return parse_response(response, self.parser)

    def failed(self, error: BaseException, seconds: float = math.nan) -> None:
        """Count a scrape that gave no usable snapshot; it leaves a gap, not a zero."""
        self.scrapes += 1
        self.failures += 1
        self.up = False
        self.scrape_seconds = seconds
        self.last_error = str(error).splitlines()[0] if str(error) else repr(error)

    def observe(self, snapshot: Snapshot, seconds: float = math.nan) -> None:
        """Take in one successful scrape: the interval since the last good one.

        Args:
            snapshot: The scrape, with its ``scraped_at``.
            seconds: How long the scrape took, in seconds (NaN when unknown).

        Raises:
            DataError: The snapshot has no scrape time, no Kepler energy metrics, or
                not the configured zone. It is then counted as a failure.
        """
        self.scrapes += 1
        self.scrape_seconds = seconds
        try:
            self._observe(snapshot)
        except DataError as error:
            self.scrapes -= 1
            self.failed(error, seconds)
            raise
        self.up = True
        self.last_error = ""

    def _observe(self, snapshot: Snapshot) -> None:
        source = snapshot.source or "a scrape"
        if snapshot.scraped_at is None:
            raise DataError(f"{source} has no scrape time, so it gives no interval.")
        view = kepler_view(snapshot, registry=self.registry)
        self.refused += len(view.refused_rows)
        if view.era.name == "unknown":
            raise DataError(f"No Kepler energy metrics were recognised in {source}.")
        if self.options.zone not in view.zones:
            raise DataError(
                f"Zone {self.options.zone!r} is not published by {source} (zones "
                f"seen: {', '.join(view.zones) or 'none'})."
            )
        # Later scrapes stay warm while old pods' entries are cleared out in time.
        floor = max(_MIN_CACHED_SERIES, _CACHE_FACTOR * len(snapshot.series))
        self.parser.max_cached_series = floor
        self.registry.max_entries = max(_MIN_CACHED_SERIES, _CACHE_FACTOR * len(view))
        before, self.view = self.view, view
        if before is None or before.era.name != view.era.name:
            if before is not None:
                log.warning(
                    "%s: Kepler changed from %s to %s; starting afresh here.",
                    source,
                    before.era,
                    view.era,
                )
            self.era = view.era
            return
        self.era = view.era
        start = before.snapshot.scraped_at
        assert start is not None  # only snapshots with a scrape time are kept
        end = snapshot.scraped_at
        if not end > start:
            log.warning("%s is not later than the scrape before it; skipped.", source)
            return
        self._add_interval(before, view, start, end)

    def _add_interval(
        self, before: KeplerView, after: KeplerView, start: float, end: float
    ) -> None:
        deltas, _ = align(before, after, self.options.zone)
        ids, joules, chosen = pod_sums(deltas)
        size = len(deltas.registry.group_info)
        measured = np.bincount(
            deltas.group[chosen], weights=deltas.valid[chosen], minlength=size
        )[ids]
        # A pod with no counter in both scrapes has no measured interval yet.
        keep = measured > 0
        ids, joules = ids[keep], joules[keep]
        pods = self._pod_slots(deltas.registry, ids)
        node = (deltas.level == _NODE) & deltas.in_total & deltas.valid
        node_joules = float(deltas.joules[node].sum()) if node.any() else math.nan
        self.resets += int(np.count_nonzero(deltas.reset))

        self.pods.last_seen[pods] = end
        namespaces = self.pod_namespace[pods]
        self.namespaces.last_seen[namespaces] = end
        self.namespace_joules = _grow(self.namespace_joules, self.namespaces.capacity)
        self.namespace_joules[: self.namespaces.capacity] += np.bincount(
            namespaces, weights=joules, minlength=self.namespaces.capacity
        )
        self.intervals.append(_Interval(start, end, pods, joules, node_joules))
        self._forget(end)

    def _pod_slots(
        self, registry: Registry, ids: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.intp]:
        """The pod slots of registry pod ids, allocating slots for new pods."""
        mapped, generation = self._mapped
        if mapped is not registry or generation != registry.generation:
            self._group_slot = np.empty(0, dtype=np.intp)
            self._mapped = (registry, registry.generation)
        size = len(registry.group_info)
        if len(self._group_slot) < size:
            grown = np.full(max(size, 2 * len(self._group_slot)), -1, dtype=np.intp)
            grown[: len(self._group_slot)] = self._group_slot
            self._group_slot = grown
        slots = self._group_slot[ids]
        for position in np.flatnonzero(slots < 0).tolist():
            group = int(ids[position])
            namespace, pod, uid, _ = registry.group_info[group]
            slot, new = self.pods.slot((namespace, pod, uid))
            if new:
                ns_slot, ns_new = self.namespaces.slot(namespace)
                if ns_new:
                    self.namespace_joules = _grow(self.namespace_joules, ns_slot + 1)
                    self.namespace_joules[ns_slot] = 0.0
                if slot >= len(self.pod_namespace):
                    grown = np.zeros(max(16, 2 * slot), dtype=np.intp)
                    grown[: len(self.pod_namespace)] = self.pod_namespace
                    self.pod_namespace = grown
                self.pod_namespace[slot] = ns_slot
            slots[position] = self._group_slot[group] = slot
        return slots

    def _forget(self, now: float) -> None:
        """Drop intervals no window needs, then pods and namespaces past their TTL."""
        longest = (
            self.options.windows_seconds[-1] if self.options.windows_seconds else 0
        )
        oldest = now - longest - _slack(self.intervals[-1])
        while len(self.intervals) > 1 and self.intervals[0].start < oldest:
            self.intervals.popleft()
        held = np.zeros(self.pods.capacity, dtype=np.bool_)
        for interval in self.intervals:
            held[interval.pods] = True
        before = now - self.options.pod_ttl_seconds
        freed = self.pods.expire(before, held)
        if len(freed):
            # Registry ids of forgotten pods must not find their old slots again.
            self._group_slot[np.isin(self._group_slot, freed)] = -1
        ns_held = np.zeros(self.namespaces.capacity, dtype=np.bool_)
        live = np.fromiter(
            self.pods.index.values(), dtype=np.intp, count=len(self.pods)
        )
        ns_held[self.pod_namespace[live]] = True
        self.namespaces.expire(before, ns_held)

    def window(
        self, seconds: float
    ) -> tuple[float, npt.NDArray[np.intp], npt.NDArray[np.float64], float] | None:
        """The energy of the intervals that make up the last ``seconds`` seconds.

        The window holds the consecutive intervals that end at the last scrape and
        start no earlier than ``seconds`` (plus a tenth of the last interval, for
        scrape jitter) before it. An interval that spans a gap longer than that is
        never part of it, so a window over a gap is absent, not zero.

        Returns:
            The seconds covered, the pod slots (shape ``(p,)``, intp), their joules
            (shape ``(p,)``, float64) and the node's joules (NaN when unknown); or
            None when no interval fits.
        """
        last = self.last
        if last is None:
            return None
        oldest = last.end - seconds - _slack(last)
        chosen = [i for i in self.intervals if i.start >= oldest]
        if not chosen:
            return None
        covered = last.end - chosen[0].start
        pods = np.concatenate([i.pods for i in chosen])
        joules = np.concatenate([i.joules for i in chosen])
        size = self.pods.capacity
        sums = np.asarray(
            np.bincount(pods, weights=joules, minlength=size), dtype=np.float64
        )
        present = np.flatnonzero(np.bincount(pods, minlength=size))
        node = [i.node_joules for i in chosen]
        return covered, present.astype(np.intp), sums[present], math.fsum(node)


def _slack(interval: _Interval) -> float:
    return 0.1 * (interval.end - interval.start)


def _seconds_label(seconds: float) -> str:
    return f"{seconds:g}s"


class DerivedCollector:
    """A ``prometheus_client`` collector over the state of every endpoint.

    Register it on a :class:`prometheus_client.registry.CollectorRegistry`; each
    ``collect()`` builds the families from the arrays under the state lock.

    Args:
        endpoints: One state per scraped endpoint.
        options: The options the states were built with (prefix, zone, windows).
        lock: Held while the states change and while they are read.
    """

    def __init__(
        self,
        endpoints: Sequence[EndpointState],
        options: ServeOptions,
        lock: threading.Lock | None = None,
    ) -> None:
        self.endpoints = tuple(endpoints)
        self.options = options
        self.lock = lock or threading.Lock()

    @property
    def ready(self) -> bool:
        """True once every endpoint has produced at least one interval."""
        with self.lock:
            return all(e.last is not None for e in self.endpoints)

    def describe(self) -> list[Metric]:
        """Nothing up front: the families depend on what has been scraped."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The derived families, in a fixed order (see ``docs/deploy.md``)."""
        with self.lock:
            families = self._families()
        yield from families

    def _families(self) -> list[Metric]:
        p, zone = self.options.prefix, self.options.zone
        pod_labels = ["node", "namespace", "pod", "pod_uid", "zone"]
        ns_labels = ["node", "namespace", "zone"]
        windowed = ["window"]

        def gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{p}_{name}", doc, labels=labels)

        def counter(name: str, doc: str, labels: list[str]) -> CounterMetricFamily:
            return CounterMetricFamily(f"{p}_{name}", doc, labels=labels)

        pod_watts = gauge(
            "pod_power_watts",
            "Mean power of each pod over the last scrape interval, in watts.",
            pod_labels,
        )
        pod_window = gauge(
            "pod_window_power_watts",
            "Mean power of each pod over the window, in watts.",
            pod_labels + windowed,
        )
        ns_watts = gauge(
            "namespace_power_watts",
            "Mean power of each namespace over the last scrape interval, in watts.",
            ns_labels,
        )
        ns_window = gauge(
            "namespace_window_power_watts",
            "Mean power of each namespace over the window, in watts.",
            ns_labels + windowed,
        )
        ns_joules = counter(
            "namespace_energy_joules",
            "Energy of each namespace since serve started, in joules.",
            ns_labels,
        )
        node_watts = gauge(
            "node_power_watts",
            "Mean power of the node from its own counters over the last scrape "
            "interval, in watts.",
            ["node", "zone"],
        )
        node_window = gauge(
            "node_window_power_watts",
            "Mean power of the node from its own counters over the window, in watts.",
            ["node", "zone", "window"],
        )
        interval = gauge(
            "interval_seconds",
            "Seconds between the two scrapes of the last interval.",
            ["node"],
        )
        covered = gauge(
            "window_covered_seconds",
            "Seconds the intervals of each window cover (at most the window plus a "
            "tenth of an interval).",
            ["node", "window"],
        )
        duration = gauge(
            "scrape_duration_seconds",
            "How long the last scrape of the Kepler endpoint took, in seconds.",
            ["node"],
        )
        up = gauge(
            "scrape_up",
            "1 when the last scrape of the Kepler endpoint gave a usable body, else 0.",
            ["node"],
        )
        scrapes = counter(
            "scrapes", "Scrapes of the Kepler endpoint attempted.", ["node"]
        )
        failures = counter(
            "scrape_failures",
            "Scrapes of the Kepler endpoint that gave no usable body (each a gap).",
            ["node"],
        )
        resets = counter(
            "energy_resets",
            "Kepler energy counters seen going down (counted from zero again).",
            ["node"],
        )
        refused = counter(
            "refused_values",
            "Kepler energy values refused as impossible (negative, infinite, NaN).",
            ["node"],
        )
        pods_held = gauge(
            "pods_tracked",
            "Pods held in memory (seen within the pod TTL).",
            ["node"],
        )
        era = gauge(
            "kepler_info",
            "The Kepler era and version of the last usable scrape; always 1.",
            ["node", "era", "releases", "version"],
        )
        for state in self.endpoints:
            node = state.node
            self._namespace_totals(state, ns_joules)
            last = state.last
            # While the endpoint fails, its power is unknown: a gap, never a zero.
            if last is not None and state.up:
                watts = last.joules / (last.end - last.start)
                _add_pods(state, pod_watts, last.pods, watts, [])
                _add_namespaces(state, ns_watts, last.pods, watts, [])
                interval.add_metric([node], last.end - last.start)
                if not math.isnan(last.node_joules):
                    node_watts.add_metric(
                        [node, zone], last.node_joules / (last.end - last.start)
                    )
            for window in self.options.windows_seconds if state.up else ():
                found = state.window(window)
                if found is None:
                    continue
                seconds, slots, joules, node_joules = found
                label = _seconds_label(window)
                covered.add_metric([node, label], seconds)
                if not math.isnan(node_joules):
                    node_window.add_metric([node, zone, label], node_joules / seconds)
                _add_pods(state, pod_window, slots, joules / seconds, [label])
                _add_namespaces(state, ns_window, slots, joules / seconds, [label])
            if not math.isnan(state.scrape_seconds):
                duration.add_metric([node], state.scrape_seconds)
            up.add_metric([node], 1.0 if state.up else 0.0)
            scrapes.add_metric([node], state.scrapes)
            failures.add_metric([node], state.failures)
            resets.add_metric([node], state.resets)
            refused.add_metric([node], state.refused)
            pods_held.add_metric([node], len(state.pods))
            if state.era is not None:
                e = state.era
                era.add_metric([node, e.name, e.releases, e.version], 1.0)
        return [
            pod_watts,
            pod_window,
            ns_watts,
            ns_window,
            ns_joules,
            node_watts,
            node_window,
            interval,
            covered,
            duration,
            up,
            scrapes,
            failures,
            resets,
            refused,
            pods_held,
            era,
        ]

    def _namespace_totals(
        self, state: EndpointState, family: CounterMetricFamily
    ) -> None:
        zone = self.options.zone
        for slot, namespace in enumerate(state.namespaces.keys):
            if namespace is not None:
                family.add_metric(
                    [state.node, str(namespace), zone],
                    float(state.namespace_joules[slot]),
                )


def _add_pods(
    state: EndpointState,
    family: GaugeMetricFamily,
    slots: npt.NDArray[np.intp],
    values: npt.NDArray[np.float64],
    extra: list[str],
) -> None:
    keys, node, zone = state.pods.keys, state.node, state.options.zone
    for slot, value in zip(slots.tolist(), values.tolist(), strict=True):
        namespace, pod, uid = keys[slot]
        family.add_metric([node, namespace, pod, uid, zone, *extra], value)


def _add_namespaces(
    state: EndpointState,
    family: GaugeMetricFamily,
    slots: npt.NDArray[np.intp],
    values: npt.NDArray[np.float64],
    extra: list[str],
) -> None:
    size = state.namespaces.capacity
    namespaces = state.pod_namespace[slots]
    sums = np.bincount(namespaces, weights=values, minlength=size)
    names = state.namespaces.keys
    for slot in np.flatnonzero(np.bincount(namespaces, minlength=size)).tolist():
        family.add_metric(
            [state.node, str(names[slot]), state.options.zone, *extra],
            float(sums[slot]),
        )
