"""Energy between two scrapes: per counter, then per pod, namespace and node.

Two :class:`~kepler_reader.kepler.KeplerView` are aligned by identity (workload, zone,
mode) as integer keys; then ``after - before`` is one numpy subtraction over all
counters, a counter that went down is a reset (its delta is the new value), and the
sums per pod, namespace and node are ``np.bincount`` calls. Counters present in only
one of the two scrapes are reported, never silently dropped, and contribute nothing.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np
import numpy.typing as npt

from .exceptions import DataError, MissingIntervalError
from .kepler import LEVELS, MODES, Era, KeplerView, Workload, kepler_view

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
]

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

    All arrays have shape ``(m,)`` for the ``m`` distinct counters of the zone seen in
    either scrape.

    Attributes:
        workload: The workload of each counter.
        mode: dtype int8: index into :data:`~kepler_reader.kepler.MODES`.
        level: dtype int8: index into :data:`~kepler_reader.kepler.LEVELS`.
        in_total: dtype bool: whether the counter is a disjoint part of its workload.
        before: dtype float64: joules at the first scrape (NaN when absent).
        after: dtype float64: joules at the second scrape (NaN when absent).
        joules: dtype float64: the delta in joules; 0 where not computable.
        valid: dtype bool: both sides present, so ``joules`` is a measurement.
        reset: dtype bool: the counter went down and was treated as restarted.
    """

    workload: tuple[Workload, ...]
    mode: npt.NDArray[np.int8]
    level: npt.NDArray[np.int8]
    in_total: npt.NDArray[np.bool_]
    before: npt.NDArray[np.float64]
    after: npt.NDArray[np.float64]
    joules: npt.NDArray[np.float64]
    valid: npt.NDArray[np.bool_]
    reset: npt.NDArray[np.bool_]


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
        if not interval > 0:
            raise DataError(
                f"The interval must be a positive number of seconds, not {interval!r}."
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
            f"The second scrape ({after.scraped_at:.3f}) is not later than "
            f"the first ({before.scraped_at:.3f})."
        )
    return seconds


def _zone_rows(view: KeplerView, zone: str) -> npt.NDArray[np.intp]:
    return np.flatnonzero(
        np.fromiter(
            (z == zone for z in view.zone), dtype=np.bool_, count=len(view.zone)
        )
    )


def align(
    before: KeplerView, after: KeplerView, zone: str
) -> tuple[CounterDeltas, list[str]]:
    """Align the counters of one zone in two views and take their deltas.

    Counters that appear twice in one view under the same identity (their labels
    differ only in ignored labels) are added together first.

    Returns:
        The per-counter deltas, and warnings about resets and one-sided counters.
    """
    keys: dict[Hashable, int] = {}
    meta: list[tuple[Workload, int, int, bool]] = []
    sides = []
    duplicates = 0
    for view in (before, after):
        rows = _zone_rows(view, zone)
        ids = np.empty(len(rows), dtype=np.intp)
        for i, row in enumerate(rows.tolist()):
            key = view.identity(row)
            found = keys.setdefault(key, len(keys))
            if found == len(meta):
                meta.append(
                    (
                        view.workload[row],
                        int(view.mode[row]),
                        int(view.level[row]),
                        bool(view.in_total[row]),
                    )
                )
            ids[i] = found
        sides.append((ids, view.joules[rows]))
    m = len(keys)
    totals = []
    present = []
    for ids, joules in sides:
        counts = np.bincount(ids, minlength=m)
        duplicates += int(np.count_nonzero(counts > 1))
        totals.append(np.bincount(ids, weights=joules, minlength=m))
        present.append(counts > 0)
    first, second = totals
    valid = present[0] & present[1]
    delta = np.where(valid, second - first, 0.0)
    reset = valid & (delta < 0)
    delta[reset] = second[reset]

    warnings = []
    if duplicates:
        warnings.append(
            f"{duplicates} counters appeared more than once under one "
            "identity (labels differing only in ignored labels such as "
            "command); their values were added."
        )
    resets = int(np.count_nonzero(reset))
    if resets:
        warnings.append(
            f"{resets} counters went down between the scrapes (an exporter "
            "restart); each was counted from zero."
        )
    appeared = int(np.count_nonzero(present[1] & ~present[0]))
    vanished = int(np.count_nonzero(present[0] & ~present[1]))
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
    deltas = CounterDeltas(
        workload=tuple(w for w, _, _, _ in meta),
        mode=np.fromiter((mode for _, mode, _, _ in meta), dtype=np.int8, count=m),
        level=np.fromiter((level for _, _, level, _ in meta), dtype=np.int8, count=m),
        in_total=np.fromiter((t for _, _, _, t in meta), dtype=np.bool_, count=m),
        before=np.where(present[0], first, np.nan),
        after=np.where(present[1], second, np.nan),
        joules=delta,
        valid=valid,
        reset=reset,
    )
    return deltas, warnings


def _pods(deltas: CounterDeltas, seconds: float) -> tuple[PodEnergy, ...]:
    """Sum pod rows when the era has them, else container rows, per pod."""
    level = _POD if np.any(deltas.level == _POD) else _CONTAINER
    chosen = np.flatnonzero(deltas.level == level)
    has_mode = bool(np.isin(deltas.mode[chosen], (_DYNAMIC, _IDLE)).any())
    groups: dict[tuple[str, str, str], int] = {}
    group_of = np.empty(len(chosen), dtype=np.intp)
    names: list[tuple[str, str, str, str]] = []
    for i, index in enumerate(chosen.tolist()):
        work = deltas.workload[index]
        key = (work.namespace, work.pod, work.pod_uid)
        found = groups.setdefault(key, len(groups))
        if found == len(names):
            names.append((work.namespace, work.pod, work.pod_uid, work.kind))
        group_of[i] = found
    g = len(groups)
    joules = np.bincount(group_of, weights=deltas.joules[chosen], minlength=g)
    mode = deltas.mode[chosen]
    dynamic = np.bincount(
        group_of, weights=deltas.joules[chosen] * (mode == _DYNAMIC), minlength=g
    )
    idle = np.bincount(
        group_of, weights=deltas.joules[chosen] * (mode == _IDLE), minlength=g
    )
    counters = np.bincount(group_of, weights=deltas.valid[chosen], minlength=g)
    resets = np.bincount(group_of, weights=deltas.reset[chosen], minlength=g)
    rows = [
        PodEnergy(
            namespace=ns,
            pod=pod,
            pod_uid=uid,
            kind=kind,
            joules=float(joules[i]),
            watts=float(joules[i] / seconds),
            dynamic_joules=float(dynamic[i]) if has_mode else None,
            idle_joules=float(idle[i]) if has_mode else None,
            counters=int(counters[i]),
            resets=int(resets[i]),
        )
        for i, (ns, pod, uid, kind) in enumerate(names)
    ]
    return tuple(sorted(rows, key=lambda r: (r.namespace, r.pod, r.pod_uid)))


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
    if view_after.era.name == "unknown":
        seen = ", ".join(f.name for f in view_after.snapshot.families[:5]) or "none"
        warnings.append(
            f"No Kepler energy metrics were recognised in "
            f"{view_after.snapshot.source or 'the second scrape'} (families "
            f"seen: {seen})."
        )
    elif view_before.era.name != view_after.era.name:
        warnings.append(
            f"The Kepler era changed between the scrapes ({view_before.era} "
            f"to {view_after.era}): the exporter was upgraded, and counters "
            "cannot be matched across eras."
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
    available = set(view_after.zone) | set(view_before.zone)
    if available and zone not in available:
        warnings.append(
            f"Zone {zone!r} is not published by this exporter (zones seen: "
            f"{', '.join(sorted(available))})."
        )

    deltas, align_warnings = align(view_before, view_after, zone)
    warnings.extend(align_warnings)
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
