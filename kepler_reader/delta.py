"""Energy between two scrapes: per counter, then per pod, namespace and node.

Two :class:`~kepler_reader.kepler.KeplerView` are aligned by identity (workload, zone,
mode) as integer keys; then ``after - before`` is one numpy subtraction over all
counters, a counter that went down is a reset (its delta is the new value), and the
sums per pod, namespace and node are ``np.bincount`` calls. Counters present in only
one of the two scrapes are reported, never silently dropped, and contribute nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import numpy.typing as npt

from .exceptions import DataError, MissingIntervalError
from .kepler import (
    LEVELS,
    MODES,
    Era,
    KeplerView,
    Registry,
    Workload,
    ZoneSlice,
    kepler_view,
)

if TYPE_CHECKING:
    from .snapshot import Snapshot

__all__ = [
    "CounterDeltas",
    "EnergyDelta",
    "NamespaceEnergy",
    "NodeEnergy",
    "PodEnergy",
    "align",
    "diff",
    "pod_sums",
]

# Spellings of zones that users and older Kepler releases use.
_ZONE_NAMES = {"pkg": "package", "other_host_components": "other"}
_POD = LEVELS.index("pod")
_CONTAINER = LEVELS.index("container")
_NODE = LEVELS.index("node")
_DYNAMIC = MODES.index("dynamic")
_IDLE = MODES.index("idle")


@attrs.frozen(slots=True)
class PodEnergy:
    """Energy of one pod (or pseudo-pod) over the interval.

    Attributes:
        namespace: The pod's namespace.
        pod: The pod name.
        pod_uid: The pod UID where the era has one, else ``""``.
        kind: ``"pod"``, ``"pseudo"`` (Kepler's system/kernel buckets) or
            ``"unattributed"`` (series with no pod).
        joules: Energy over the interval, in joules.
        watts: Mean power over the interval, in watts.
        dynamic_joules: The part labelled ``mode="dynamic"``, or ``None`` when the era
            has no mode label.
        idle_joules: The part labelled ``mode="idle"``, or ``None``.
        counters: How many counters were summed.
        resets: How many of them went down (an exporter restart) in the interval.
    """

    namespace: str
    pod: str
    pod_uid: str
    kind: str
    joules: float
    watts: float
    dynamic_joules: float | None
    idle_joules: float | None
    counters: int
    resets: int


@attrs.frozen(slots=True)
class NamespaceEnergy:
    """Energy of one namespace: the sum of its pods.

    Attributes:
        namespace: The namespace.
        joules: Energy over the interval, in joules.
        watts: Mean power over the interval, in watts.
        pods: How many pods were summed.
    """

    namespace: str
    joules: float
    watts: float
    pods: int


@attrs.frozen(slots=True)
class NodeEnergy:
    """Energy of the node over the interval, from the node's own counters.

    Attributes:
        joules: Energy in joules, or ``None`` when the scrapes have no node counter for
            the zone.
        watts: Mean power in watts, or ``None``.
        counters: How many node counters (sockets, modes) were summed.
    """

    joules: float | None
    watts: float | None
    counters: int


@attrs.define(slots=True, eq=False)
class CounterDeltas:
    """Per-counter deltas of two aligned views (one zone).

    The arrays ``key`` to ``rows`` have shape ``(m,)`` for the ``m`` distinct counters
    of the zone in the later scrape; counters seen only in the earlier one are listed
    apart, in ``vanished_key`` and ``vanished_before``.

    Attributes:
        key: dtype int64: the counter ids (see :class:`~kepler_reader.kepler.Registry`).
        before: dtype float64: joules at the first scrape (NaN when absent).
        after: dtype float64: joules at the second scrape (NaN when absent).
        joules: dtype float64: the delta in joules; 0 where not computable.
        valid: dtype bool: both sides present, so ``joules`` is a measurement.
        reset: dtype bool: the counter went down and was treated as restarted.
        registry: The registry the ids belong to.
        rows: dtype intp: the row of each counter in the later view, where its
            attributes (level, mode, pod) are read.
        earlier: The earlier view.
        later: The later view.
        pod_positions: For views with unique counter ids, the later zone slice's
            pod rows, their pod ids and the pods present (see
            :meth:`KeplerView.zone_slice`), else None.
        vanished_key: dtype int64: counters only in the earlier scrape.
        vanished_before: dtype float64: their last values, in joules.
        wrapped: dtype bool, shape ``(m,)``: the counter went down by wrapping at
            its range (see ``wrap_range_joules`` of :func:`diff`) and its delta was
            corrected; None when no wrap range was given.
    """

    key: npt.NDArray[np.int64]
    before: npt.NDArray[np.float64]
    after: npt.NDArray[np.float64]
    joules: npt.NDArray[np.float64]
    valid: npt.NDArray[np.bool_]
    reset: npt.NDArray[np.bool_]
    registry: Registry
    rows: npt.NDArray[np.intp]
    earlier: KeplerView
    later: KeplerView
    pod_positions: (
        tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.intp]] | None
    ) = None
    vanished_key: npt.NDArray[np.int64] = attrs.field(
        factory=lambda: np.empty(0, dtype=np.int64)
    )
    vanished_before: npt.NDArray[np.float64] = attrs.field(
        factory=lambda: np.empty(0, dtype=np.float64)
    )
    wrapped: npt.NDArray[np.bool_] | None = None

    def _pick(self, field: str) -> npt.NDArray[Any]:
        picked: npt.NDArray[Any] = getattr(self.later, field)[self.rows]
        return picked

    @property
    def group(self) -> npt.NDArray[np.int64]:
        """Dtype int64: the pod id of pod and container counters, else -1."""
        return self._pick("group")

    @property
    def mode(self) -> npt.NDArray[np.int8]:
        """Dtype int8: index into :data:`~kepler_reader.kepler.MODES`."""
        return self._pick("mode")

    @property
    def level(self) -> npt.NDArray[np.int8]:
        """Dtype int8: index into :data:`~kepler_reader.kepler.LEVELS`."""
        return self._pick("level")

    @property
    def in_total(self) -> npt.NDArray[np.bool_]:
        """Dtype bool: whether the counter is a disjoint part of its workload."""
        return self._pick("in_total")

    @property
    def workload(self) -> tuple[Workload, ...]:
        """The workload of each counter (built on demand, one object per counter)."""
        info = self.registry.counter_info
        return tuple(info[k][0] for k in self.key.tolist())


@attrs.define(slots=True, eq=False)
class EnergyDelta:
    """Energy and power between two scrapes of one node, for one zone.

    Attributes:
        interval_seconds: The time between the scrapes, in seconds.
        zone: The zone reported (``package`` by default). Zones are never added.
        era: The Kepler era of the second scrape.
        pods: One row per pod, sorted by namespace then pod name.
        namespaces: One row per namespace, sorted by name.
        node: The node's own counters for the zone.
        counters: The per-counter deltas behind the sums.
        warnings: Whole sentences about resets, vanished or new counters, and eras.
    """

    interval_seconds: float
    zone: str
    era: Era
    pods: tuple[PodEnergy, ...]
    namespaces: tuple[NamespaceEnergy, ...]
    node: NodeEnergy
    counters: CounterDeltas
    warnings: tuple[str, ...]

    def pod(self, namespace: str, pod: str) -> PodEnergy | None:
        """Return the row of ``namespace``/``pod``, or ``None`` when absent."""
        for row in self.pods:
            if row.namespace == namespace and row.pod == pod:
                return row
        return None


def _interval(before: Snapshot, after: Snapshot, interval: float | None) -> float:
    if interval is not None:
        if isinstance(interval, bool) or not isinstance(interval, int | float):
            raise DataError(
                f"The interval must be a number of seconds, not {interval!r}."
            )
        if not 0 < interval < math.inf:
            raise DataError(
                "The interval must be a positive, finite number of seconds, not "
                f"{interval!r}."
            )
        return float(interval)
    if before.scraped_at is None or after.scraped_at is None:
        missing = before.source if before.scraped_at is None else after.source
        raise MissingIntervalError(
            f"{missing or 'A snapshot'} carries no scrape time, so the interval "
            "between the two scrapes is unknown; pass it explicitly (--interval "
            "SECONDS, or interval= in Python)."
        )
    seconds = after.scraped_at - before.scraped_at
    if not seconds > 0:
        raise DataError(
            f"{after.source or 'The second scrape'} (scraped "
            f"{_iso(after.scraped_at)}) is not later than "
            f"{before.source or 'the first'} ({_iso(before.scraped_at)}); are BEFORE "
            "and AFTER swapped?"
        )
    return seconds


def _iso(seconds: float) -> str:
    try:
        stamp = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        return f"{seconds!r} s since the epoch"
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def align(
    before: KeplerView, after: KeplerView, zone: str
) -> tuple[CounterDeltas, list[str]]:
    """Align the counters of one zone in two views and take their deltas.

    The work is numpy over integer counter ids. When both scrapes list the same
    counters in the same order (the common case for a steady node) it is one
    subtraction; otherwise the dense ids are matched with ``np.bincount``. Counters
    that appear twice in one view under one identity (their labels differ only in
    ignored labels) are added together first.

    Returns:
        The per-counter deltas, and warnings about resets and one-sided counters.

    Raises:
        ValueError: The views come from different registries.
    """
    if before.registry is not after.registry:
        raise ValueError(
            "The two views use different registries; build both with the same one."
        )
    if before.generation != after.generation:
        # The registry was cleared between the two views: rebuild both in a registry
        # of their own, which nothing else can clear in between.
        own = Registry(max_entries=1 << 62)
        before = kepler_view(before.snapshot, era=before.era, registry=own)
        after = kepler_view(after.snapshot, era=after.era, registry=own)
    registry = after.registry
    a, b = before.zone_slice(zone), after.zone_slice(zone)
    warnings: list[str] = []
    if before.unique_keys and after.unique_keys and _same_keys(a.key, b.key):
        delta = b.joules - a.joules
        reset = delta < 0
        if reset.any():
            delta[reset] = b.joules[reset]
            warnings.append(_reset_warning(reset))
        everywhere = np.ones(len(b.key), dtype=np.bool_)
        deltas = CounterDeltas(
            key=b.key,
            before=a.joules,
            after=b.joules,
            joules=delta,
            valid=everywhere,
            reset=reset,
            registry=registry,
            rows=b.rows,
            earlier=before,
            later=after,
            pod_positions=(b.pod_positions, b.pod_groups, b.present_groups),
        )
        return deltas, warnings

    # Every id is below the registry's count of counters (views of one generation).
    size = len(registry.counter_info)
    if before.unique_keys and after.unique_keys:
        return _align_unique(before, after, a, b, size, warnings)
    counts_a = np.bincount(a.key, minlength=size)
    counts_b = np.bincount(b.key, minlength=size)
    keys = np.flatnonzero((counts_a > 0) | (counts_b > 0))
    counts_a, counts_b = counts_a[keys], counts_b[keys]
    duplicates = int(np.count_nonzero(counts_a > 1) + np.count_nonzero(counts_b > 1))
    if duplicates:
        warnings.append(
            f"{duplicates} counters appeared more than once under one identity "
            "(labels differing only in ignored labels such as command); their values "
            "were added."
        )
    first = np.asarray(
        np.bincount(a.key, weights=a.joules, minlength=size)[keys], dtype=np.float64
    )
    second = np.asarray(
        np.bincount(b.key, weights=b.joules, minlength=size)[keys], dtype=np.float64
    )
    present_a, present_b = counts_a > 0, counts_b > 0
    valid = present_a & present_b
    delta = np.where(valid, second - first, 0.0)
    reset = valid & (delta < 0)
    if reset.any():
        delta[reset] = second[reset]
        warnings.append(_reset_warning(reset))
    appeared = int(np.count_nonzero(present_b & ~present_a))
    vanished = int(np.count_nonzero(present_a & ~present_b))
    if appeared:
        warnings.append(
            f"{appeared} counters appear only in the second scrape (new "
            "workloads); they have no delta yet."
        )
    if vanished:
        warnings.append(
            f"{vanished} counters appear only in the first scrape (ended "
            "workloads); their last interval is unknown."
        )
    # Attributes come from the later view; vanished counters are listed apart.
    where = np.empty(size, dtype=np.intp)
    where[b.key] = b.rows
    later_only = present_b
    gone = present_a & ~present_b
    deltas = CounterDeltas(
        key=keys[later_only].astype(np.int64),
        before=np.where(present_a, first, np.nan)[later_only],
        after=second[later_only],
        joules=delta[later_only],
        valid=valid[later_only],
        reset=reset[later_only],
        registry=registry,
        rows=where[keys[later_only]],
        earlier=before,
        later=after,
        vanished_key=keys[gone].astype(np.int64),
        vanished_before=first[gone],
    )
    return deltas, warnings


def _align_unique(
    before: KeplerView,
    after: KeplerView,
    a: ZoneSlice,
    b: ZoneSlice,
    size: int,
    warnings: list[str],
) -> tuple[CounterDeltas, list[str]]:
    """Align two zone slices whose ids are unique: one scatter, one gather.

    The later scrape's counters keep their order (so its pod rows still index the
    result), and counters that vanished are appended after them.
    """
    slot, stamp = after.registry.scratch(size)
    slot[a.key] = a.positions + stamp
    # Where each later counter was in the earlier slice; older stamps come out
    # negative, and those unmatched positions are pointed at a spare slot one past
    # the end, so the arrays below need no masks.
    earlier_at = slot[b.key]
    earlier_at -= stamp
    missing = np.flatnonzero(earlier_at < 0)
    earlier_at[missing] = len(a.key)
    first = (
        a.joules.take(earlier_at, mode="clip")
        if len(a.key)
        else np.full(len(b.key), np.nan)
    )
    delta = b.joules - first
    found = np.ones(len(b.key), dtype=np.bool_)
    if missing.size:
        first[missing] = np.nan
        delta[missing] = 0.0
        found[missing] = False
    reset = delta < 0
    if reset.any():
        delta[reset] = b.joules[reset]
        warnings.append(_reset_warning(reset))
    appeared = int(missing.size)
    gone = np.empty(0, dtype=np.intp)
    if len(a.key) > len(b.key) - appeared:
        matched = np.zeros(len(a.key) + 1, dtype=np.bool_)
        matched[earlier_at] = True
        gone = np.flatnonzero(~matched[:-1])
    if appeared:
        warnings.append(
            f"{appeared} counters appear only in the second scrape (new workloads); "
            "they have no delta yet."
        )
    if gone.size:
        warnings.append(
            f"{gone.size} counters appear only in the first scrape (ended workloads); "
            "their last interval is unknown."
        )
    deltas = CounterDeltas(
        key=b.key,
        before=first,
        after=b.joules,
        joules=delta,
        valid=found,
        reset=reset,
        registry=after.registry,
        rows=b.rows,
        earlier=before,
        later=after,
        pod_positions=(b.pod_positions, b.pod_groups, b.present_groups),
        vanished_key=a.key[gone],
        vanished_before=a.joules[gone],
    )
    return deltas, warnings


def _same_keys(first: npt.NDArray[np.int64], second: npt.NDArray[np.int64]) -> bool:
    """Whether two id arrays are equal, looking at a sample before the whole."""
    if len(first) != len(second):
        return False
    step = max(1, len(first) // 256)
    if not np.array_equal(first[::step], second[::step]):
        return False
    return bool(np.array_equal(first, second))


def _correct_wraps(
    deltas: CounterDeltas, ranges: Mapping[str, float], warnings: list[str]
) -> list[str]:
    """Turn the resets that are wraps at a known range into corrected deltas."""
    later = deltas.later
    snapshot = later.snapshot
    wrapped = np.zeros(len(deltas.key), dtype=np.bool_)
    for i in np.flatnonzero(deltas.reset).tolist():
        row = int(later.rows[deltas.rows[i]])
        family = snapshot.families[int(snapshot.family_index[row])].name
        size = ranges.get(family)
        if size is None or not size > 0:
            continue
        before, after = float(deltas.before[i]), float(deltas.after[i])
        if before >= 0.99 * size and after < 0.01 * size:
            deltas.joules[i] = after - before + size
            wrapped[i] = True
    deltas.wrapped = wrapped
    if not wrapped.any():
        return warnings
    deltas.reset &= ~wrapped
    kept = [w for w in warnings if "went down between the scrapes" not in w]
    if deltas.reset.any():
        kept.append(_reset_warning(deltas.reset))
    kept.append(
        f"{int(np.count_nonzero(wrapped))} counters wrapped at their range and were "
        "wrap corrected (delta = after - before + range)."
    )
    return kept


def _reset_warning(reset: npt.NDArray[np.bool_]) -> str:
    return (
        f"{int(np.count_nonzero(reset))} counters went down between the scrapes "
        "(an assumed reset: an exporter restart); each was counted from zero."
    )


def pod_sums(
    deltas: CounterDeltas,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.intp]]:
    """Sum the deltas per pod, with numpy.

    Pod rows are used where the era has them (v0.3, v0.10+), container rows otherwise.

    Returns:
        The pod ids present (shape ``(p,)``, int64, ids of ``deltas.registry``), their
        joules (shape ``(p,)``, float64), and the positions in ``deltas`` of the
        counters summed (shape ``(c,)``, intp).
    """
    size = len(deltas.registry.group_info)
    if deltas.pod_positions is not None:
        chosen, groups, present = deltas.pod_positions
    else:
        level_codes = deltas.level
        level = _POD if np.any(level_codes == _POD) else _CONTAINER
        chosen = np.flatnonzero(level_codes == level)
        groups = deltas.group[chosen]
        present = np.flatnonzero(np.bincount(groups, minlength=size))
    joules = np.bincount(groups, weights=deltas.joules[chosen], minlength=size)
    sums = np.asarray(joules[present], dtype=np.float64)
    return present.astype(np.int64), sums, chosen


def _pods(deltas: CounterDeltas, seconds: float) -> tuple[PodEnergy, ...]:
    """One row per pod, with its mode split, counter and reset counts."""
    ids, joules, chosen = pod_sums(deltas)
    groups = deltas.group[chosen]
    size = len(deltas.registry.group_info)
    mode = deltas.mode[chosen]
    has_dynamic = bool(np.any(mode == _DYNAMIC))
    has_idle = bool(np.any(mode == _IDLE))
    part = deltas.joules[chosen]
    dynamic = np.bincount(groups, weights=part * (mode == _DYNAMIC), minlength=size)
    idle = np.bincount(groups, weights=part * (mode == _IDLE), minlength=size)
    counters = np.bincount(groups, weights=deltas.valid[chosen], minlength=size)
    resets = np.bincount(groups, weights=deltas.reset[chosen], minlength=size)
    info = deltas.registry.group_info
    # Plain lists: indexing numpy arrays one pod at a time would cost more than the
    # rows themselves. Pods are sorted by (namespace, pod, uid) before being built.
    keys = [info[group][:3] for group in ids.tolist()]
    order = sorted(range(len(ids)), key=keys.__getitem__)
    picked = ids[order]
    nothing = [None] * len(picked)
    columns = zip(
        map(info.__getitem__, picked.tolist()),
        joules[order].tolist(),
        dynamic[picked].tolist() if has_dynamic else nothing,
        idle[picked].tolist() if has_idle else nothing,
        counters[picked].astype(np.int64).tolist(),
        resets[picked].astype(np.int64).tolist(),
        strict=True,
    )
    return tuple(
        PodEnergy(
            namespace=namespace,
            pod=pod,
            pod_uid=uid,
            kind=kind,
            joules=total,
            watts=total / seconds,
            dynamic_joules=dyn,
            idle_joules=idl,
            counters=count,
            resets=reset,
        )
        for (namespace, pod, uid, kind), total, dyn, idl, count, reset in columns
    )


def _namespaces(
    pods: Sequence[PodEnergy], seconds: float
) -> tuple[NamespaceEnergy, ...]:
    sums: dict[str, list[float]] = {}
    for row in pods:
        entry = sums.setdefault(row.namespace, [0.0, 0.0])
        entry[0] += row.joules
        entry[1] += 1
    return tuple(
        NamespaceEnergy(ns, joules, joules / seconds, int(count))
        for ns, (joules, count) in sorted(sums.items())
    )


def _node(deltas: CounterDeltas, seconds: float) -> NodeEnergy:
    chosen = (deltas.level == _NODE) & deltas.in_total & deltas.valid
    count = int(np.count_nonzero(chosen))
    if count == 0:
        return NodeEnergy(None, None, 0)
    joules = float(deltas.joules[chosen].sum())
    return NodeEnergy(joules, joules / seconds, count)


def diff(
    before: Snapshot | KeplerView,
    after: Snapshot | KeplerView,
    *,
    zone: str = "package",
    interval: float | None = None,
    allow_truncated: bool = False,
    wrap_range_joules: Mapping[str, float] | None = None,
) -> EnergyDelta:
    """Energy (J) and mean power (W) per pod, namespace and node between two scrapes.

    Args:
        before: The earlier scrape of one node (a snapshot or its Kepler view).
        after: The later scrape of the same node.
        zone: The zone to report; ``package`` by default. Zones overlap (``package``
            contains ``core`` and ``uncore``), so only one is reported at a time.
        interval: Seconds between the scrapes. Required when either snapshot has no
            scrape time (files not written by ``kepler-reader scrape``); when given it
            overrides the scrape times.
        allow_truncated: Accept a snapshot whose body was cut off (parsed leniently);
            its missing counters are then reported as vanished or new.
        wrap_range_joules: For raw hardware counters passed through (RAPL wraps at
            ``max_energy_range_uj``): the range in joules per family name. A counter
            of such a family that went down from within 1 % of its range to below
            1 % of it wrapped: its delta is ``after - before + range``. Any other
            decrease stays a reset. Kepler's own ``*_joules_total`` are summed in
            software and do not wrap, so this is off unless given.

    Returns:
        The per-pod, per-namespace and node energy, with the per-counter deltas.

    Raises:
        MissingIntervalError: No interval given and a snapshot has no scrape time.
        DataError: The interval is not positive, or a snapshot was cut off and
            ``allow_truncated`` is false.
    """
    view_before = before if isinstance(before, KeplerView) else kepler_view(before)
    view_after = after if isinstance(after, KeplerView) else kepler_view(after)
    seconds = _interval(view_before.snapshot, view_after.snapshot, interval)
    warnings: list[str] = []
    for view in (view_before, view_after):
        if view.era.name == "unknown":
            snap = view.snapshot
            seen = ", ".join(f.name for f in snap.families[:5]) or "none"
            raise DataError(
                f"No Kepler energy metrics were recognised in "
                f"{snap.source or 'a scrape'} (families seen: {seen})."
            )
    if view_before.era.name != view_after.era.name:
        raise DataError(
            f"The Kepler {view_before.era} and the Kepler {view_after.era} publish "
            "different metrics, so no counter can be matched between the scrapes (the "
            "exporter was upgraded in between?)."
        )
    for view in (view_before, view_after):
        snap = view.snapshot
        if snap.truncated and not allow_truncated:
            raise DataError(
                f"{snap.source or 'A scrape'} was cut off in the middle of a "
                "line, so some counters may be missing; it is not used for a "
                "delta (pass allow_truncated=True to use it anyway)."
            )
        if snap.truncated:
            warnings.append(
                f"{snap.source or 'A scrape'} was cut off; counters missing "
                "from it are reported as vanished."
            )
        warnings.extend(view.refused)
    zone = _ZONE_NAMES.get(zone.lower(), zone.lower())
    available = set(view_after.zones) | set(view_before.zones)
    if zone not in available:
        raise DataError(
            f"Zone {zone!r} is not published by this exporter (Kepler "
            f"{view_after.era}); zones seen: {', '.join(sorted(available)) or 'none'}."
        )

    for view in (view_before, view_after):
        for note_zone, note in view.notes:
            if note_zone == zone and note not in warnings:
                warnings.append(note)
    deltas, align_warnings = align(view_before, view_after, zone)
    if wrap_range_joules:
        align_warnings = _correct_wraps(deltas, wrap_range_joules, align_warnings)
    warnings.extend(align_warnings)
    measured = int(np.count_nonzero(deltas.valid))
    if measured >= 2 and np.count_nonzero(deltas.reset) >= 0.9 * measured:
        warnings.append(
            "Nearly every counter went down between the scrapes: are BEFORE and "
            "AFTER swapped?"
        )
    pods = _pods(deltas, seconds)
    return EnergyDelta(
        interval_seconds=seconds,
        zone=zone,
        era=view_after.era,
        pods=pods,
        namespaces=_namespaces(pods, seconds),
        node=_node(deltas, seconds),
        counters=deltas,
        warnings=tuple(warnings),
    )
