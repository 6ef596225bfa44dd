"""What a :class:`~kepler_reader.Meter` measured over a window, and how far to trust it.

A :class:`Measurement` holds joules and watts per pod, per namespace and per node over
the window, the optional conversions (kWh, grams of CO2e for a given grid intensity),
and a :class:`Trust` record: scrapes taken and failed, the largest gap, resets, series
that appeared or vanished, the exporter's refresh interval, and every value the
plausibility checks refused.

Conversions: 1 kWh = 3 600 000 J; CO2e grams = kWh * intensity (gCO2e/kWh).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from .delta import NodeEnergy
from .output import json_value

if TYPE_CHECKING:
    from .kepler import Era
    from .plausibility import Refusal
    from .window import NodeTotals

__all__ = [
    "JOULES_PER_KWH",
    "Measurement",
    "NamespaceMeasurement",
    "NodeMeasurement",
    "PodMeasurement",
    "Trust",
    "co2e_grams",
    "kwh",
    "measurement_to_dict",
]

#: Joules in one kilowatt-hour.
JOULES_PER_KWH = 3.6e6


def kwh(joules: float) -> float:
    """Kilowatt-hours in ``joules`` (1 kWh = 3.6 MJ)."""
    return joules / JOULES_PER_KWH


def co2e_grams(joules: float, intensity: float | None) -> float | None:
    """Grams of CO2e for ``joules`` at ``intensity`` gCO2e/kWh; ``None`` without one."""
    return None if intensity is None else kwh(joules) * intensity


@attrs.frozen(slots=True)
class PodMeasurement:
    """Energy of one pod (or pseudo-pod) over a window, on one node.

    The first ten fields are those of :class:`~kepler_reader.PodEnergy`.

    Attributes:
        namespace: The pod's namespace.
        pod: The pod name.
        pod_uid: The pod UID where the era has one, else ``""``.
        kind: ``"pod"``, ``"pseudo"`` (Kepler's system/kernel buckets) or
            ``"unattributed"``.
        joules: Energy over the window, in joules.
        watts: Mean power over the window, in watts.
        dynamic_joules: The ``mode="dynamic"`` part, or ``None`` when the era has no
            mode label.
        idle_joules: The ``mode="idle"`` part, or ``None``.
        counters: How many counters were summed.
        resets: How many restarts (counters going down) were seen in the window.
        node: The node the pod ran on.
        kwh: Energy in kilowatt-hours.
        co2e_grams: Grams of CO2e at the given grid intensity, or ``None``.
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
    node: str
    kwh: float
    co2e_grams: float | None


@attrs.frozen(slots=True)
class NamespaceMeasurement:
    """Energy of one namespace over a window: the sum of its pods on every node.

    Attributes:
        namespace: The namespace.
        joules: Energy in joules.
        watts: Mean power in watts.
        pods: How many pod rows were summed.
        kwh: Energy in kilowatt-hours.
        co2e_grams: Grams of CO2e, or ``None`` without an intensity.
    """

    namespace: str
    joules: float
    watts: float
    pods: int
    kwh: float
    co2e_grams: float | None


@attrs.frozen(slots=True)
class NodeMeasurement:
    """One endpoint over a window: its node's own counters and its scrapes.

    Attributes:
        node: The node name.
        url: The endpoint (credentials removed).
        joules: The node's own counters for the zone, in joules, or ``None`` when
            the exporter has none.
        watts: Mean power in watts, or ``None``.
        seconds: From the first to the last successful scrape, in seconds.
        scrapes: Successful scrapes.
        scrapes_failed: Failed scrapes (each a gap, bridged).
        kwh: Energy in kilowatt-hours, or ``None``.
        co2e_grams: Grams of CO2e, or ``None``.
    """

    node: str
    url: str
    joules: float | None
    watts: float | None
    seconds: float
    scrapes: int
    scrapes_failed: int
    kwh: float | None
    co2e_grams: float | None


@attrs.frozen(slots=True)
class Trust:
    """How far a measurement can be trusted.

    Attributes:
        scrapes: Successful scrapes, over every endpoint.
        scrapes_failed: Failed scrapes; each is a gap bridged from the last sighting
            of every counter, never a zero or a reset.
        largest_gap_seconds: The longest time between two successful scrapes of one
            endpoint, in seconds.
        resets: Counters seen going down (a restart), each counted from zero.
        wraps_corrected: Decreases read as wraps at a configured range (see
            ``wrap_range_joules`` of :class:`~kepler_reader.Meter`), not resets.
        series_appeared: Counters first seen after the window's first scrape (new
            workloads, counted from zero).
        series_vanished: Counters missing from a scrape after being seen (ended
            workloads keep the energy they spent).
        zone: The zone measured.
        kepler_era: The Kepler era name (``"A"`` to ``"G"``), ``""`` when unknown.
        kepler_version: The version from the build-info metric, or ``""``.
        exporter_refresh_seconds: The exporter's refresh interval as estimated from
            how often its counters changed, in seconds, or ``None`` when too few
            changes were seen.
        sampling_interval_seconds: The interval the meter sampled at, in seconds.
        refused: Every value the plausibility checks refused.
        no_valid_data: Pods (``namespace/pod``) whose every value was refused: they
            are not reported as 0 J, they are not reported at all.
    """

    scrapes: int
    scrapes_failed: int
    largest_gap_seconds: float
    resets: int
    wraps_corrected: int
    series_appeared: int
    series_vanished: int
    zone: str
    kepler_era: str
    kepler_version: str
    exporter_refresh_seconds: float | None
    sampling_interval_seconds: float
    refused: tuple[Refusal, ...]
    no_valid_data: tuple[str, ...]


@attrs.frozen(slots=True)
class Measurement:
    """Energy and power per pod, namespace and node over one window.

    Attributes:
        name: The window's name (``""`` for the meter's whole run).
        zone: The zone measured (``package`` by default); zones are never added.
        era: The Kepler era of the last scrape.
        started_at: When the window opened, in seconds since the epoch.
        stopped_at: When it closed, in seconds since the epoch.
        wall_seconds: ``stopped_at - started_at``.
        interval_seconds: The longest span from first to last successful scrape of
            one endpoint, in seconds: the time the energy covers.
        pods: One row per pod and node, selected by the meter's namespace and pod
            filters, sorted by namespace, pod, node.
        namespaces: One row per namespace of the selected pods.
        node: The nodes' own counters, summed over the nodes that have them.
        nodes: One row per endpoint.
        joules: The selected pods' energy, in joules.
        watts: Their mean power over ``interval_seconds``, in watts.
        kwh: ``joules`` in kilowatt-hours.
        intensity: The grid intensity given, in gCO2e/kWh, or ``None``.
        co2e_grams: Grams of CO2e for ``joules``, or ``None`` without an intensity.
        trust: How far the figures can be trusted.
        warnings: Whole sentences about anything the user must know.
    """

    name: str
    zone: str
    era: Era
    started_at: float
    stopped_at: float
    wall_seconds: float
    interval_seconds: float
    pods: tuple[PodMeasurement, ...]
    namespaces: tuple[NamespaceMeasurement, ...]
    node: NodeEnergy
    nodes: tuple[NodeMeasurement, ...]
    joules: float
    watts: float
    kwh: float
    intensity: float | None
    co2e_grams: float | None
    trust: Trust
    warnings: tuple[str, ...]

    def pod(self, namespace: str, pod: str) -> PodMeasurement | None:
        """The first row of ``namespace``/``pod``, or ``None`` when absent."""
        for row in self.pods:
            if row.namespace == namespace and row.pod == pod:
                return row
        return None

    def namespace(self, name: str) -> NamespaceMeasurement | None:
        """The row of namespace ``name``, or ``None`` when absent."""
        for row in self.namespaces:
            if row.namespace == name:
                return row
        return None


@attrs.frozen(slots=True)
class Selection:
    """Which pods a measurement reports: by namespace and by a pod-name regex."""

    namespaces: frozenset[str] | None = None
    pod: re.Pattern[str] | None = None

    def __call__(self, namespace: str, pod: str) -> bool:
        if self.namespaces is not None and namespace not in self.namespaces:
            return False
        return self.pod is None or self.pod.search(pod) is not None


def build_measurement(
    *,
    name: str,
    zone: str,
    era: Era,
    started_at: float,
    stopped_at: float,
    totals: Sequence[tuple[NodeTotals, list[tuple[str, str, str, str]], str, int, int]],
    selection: Selection,
    intensity: float | None,
    trust: Trust,
    warnings: Sequence[str],
) -> Measurement:
    """Assemble a :class:`Measurement` from each endpoint's window totals.

    Args:
        name: The window's name.
        zone: The zone measured.
        era: The Kepler era of the last scrape.
        started_at: When the window opened, in seconds since the epoch.
        stopped_at: When it closed, in seconds since the epoch.
        totals: Per endpoint: its totals, its registry's pod info, its URL, and its
            successful and failed scrape counts. Endpoints with fewer than two
            successful scrapes measured no interval; they are listed in ``nodes``
            and contribute nothing else.
        selection: Which pods to report.
        intensity: Grid intensity in gCO2e/kWh, or ``None``.
        trust: The trust record.
        warnings: Whole sentences for the user.
    """
    pods: list[PodMeasurement] = []
    nodes: list[NodeMeasurement] = []
    node_joules: list[float] = []
    node_watts: list[float] = []
    node_counters = 0
    span = 0.0
    for node_totals, info, url, scrapes, failed in totals:
        seconds = node_totals.seconds
        measured = seconds > 0
        watts = (
            node_totals.node_joules / seconds
            if measured and node_totals.node_joules is not None
            else None
        )
        nodes.append(
            NodeMeasurement(
                node=node_totals.node,
                url=url,
                joules=node_totals.node_joules if measured else None,
                watts=watts,
                seconds=seconds,
                scrapes=scrapes,
                scrapes_failed=failed,
                kwh=None if watts is None else kwh(node_totals.node_joules or 0.0),
                co2e_grams=None
                if watts is None
                else co2e_grams(node_totals.node_joules or 0.0, intensity),
            )
        )
        if not measured:
            continue
        span = max(span, seconds)
        if node_totals.node_joules is not None and watts is not None:
            node_joules.append(node_totals.node_joules)
            node_watts.append(watts)
            node_counters += node_totals.node_counters
        rows = zip(
            node_totals.groups.tolist(),
            node_totals.joules.tolist(),
            node_totals.dynamic_joules.tolist(),
            node_totals.idle_joules.tolist(),
            node_totals.counters.tolist(),
            node_totals.resets.tolist(),
            strict=True,
        )
        for group, joules, dynamic, idle, counters, resets in rows:
            namespace, pod, uid, kind = info[group]
            if not selection(namespace, pod):
                continue
            pods.append(
                PodMeasurement(
                    namespace=namespace,
                    pod=pod,
                    pod_uid=uid,
                    kind=kind,
                    joules=joules,
                    watts=joules / seconds,
                    dynamic_joules=dynamic if node_totals.has_modes else None,
                    idle_joules=idle if node_totals.has_modes else None,
                    counters=counters,
                    resets=resets,
                    node=node_totals.node,
                    kwh=kwh(joules),
                    co2e_grams=co2e_grams(joules, intensity),
                )
            )
    pods.sort(key=lambda r: (r.namespace, r.pod, r.node, r.pod_uid))
    sums: dict[str, list[float]] = {}
    for row in pods:
        entry = sums.setdefault(row.namespace, [0.0, 0.0])
        entry[0] += row.joules
        entry[1] += 1
    per_second = 1.0 / span if span > 0 else 0.0
    namespaces = tuple(
        NamespaceMeasurement(
            namespace=ns,
            joules=joules,
            watts=joules * per_second,
            pods=int(count),
            kwh=kwh(joules),
            co2e_grams=co2e_grams(joules, intensity),
        )
        for ns, (joules, count) in sorted(sums.items())
    )
    node = (
        NodeEnergy(sum(node_joules), sum(node_watts), node_counters)
        if node_joules
        else NodeEnergy(None, None, 0)
    )
    total = sum(row.joules for row in pods)
    return Measurement(
        name=name,
        zone=zone,
        era=era,
        started_at=started_at,
        stopped_at=stopped_at,
        wall_seconds=stopped_at - started_at,
        interval_seconds=span,
        pods=tuple(pods),
        namespaces=namespaces,
        node=node,
        nodes=tuple(nodes),
        joules=total,
        watts=total * per_second,
        kwh=kwh(total),
        intensity=intensity,
        co2e_grams=co2e_grams(total, intensity),
        trust=trust,
        warnings=tuple(warnings),
    )


def measurement_to_dict(measurement: Measurement) -> dict[str, Any]:
    """The JSON shape of ``measurement``: ``diff``'s, with fields added beside it.

    The keys of ``diff``'s JSON come first and mean the same (``interval_seconds``
    is the time the energy covers); pod, namespace and node objects gain ``kwh`` and
    ``co2e_grams``, pods gain ``node``. Added at the top level: ``window``,
    ``started_at``, ``stopped_at``, ``wall_seconds``, ``joules``, ``watts``,
    ``kwh``, ``intensity_gco2e_per_kwh``, ``co2e_grams``, ``nodes`` and ``trust``
    (see :class:`Trust`; ``refused`` is a list of :class:`Refusal` objects).
    """
    trust = attrs.asdict(measurement.trust, recurse=False)
    trust["refused"] = [
        {**attrs.asdict(r), "value": json_value(r.value)}
        for r in measurement.trust.refused
    ]
    trust["no_valid_data"] = list(measurement.trust.no_valid_data)
    node = measurement.node
    return {
        "interval_seconds": measurement.interval_seconds,
        "zone": measurement.zone,
        "kepler_era": measurement.era.name,
        "kepler_releases": measurement.era.releases,
        "kepler_version": measurement.era.version or None,
        "pods": [attrs.asdict(pod) for pod in measurement.pods],
        "namespaces": [attrs.asdict(ns) for ns in measurement.namespaces],
        "node": {
            "joules": node.joules,
            "watts": node.watts,
            "kwh": None if node.joules is None else kwh(node.joules),
            "co2e_grams": None
            if node.joules is None
            else co2e_grams(node.joules, measurement.intensity),
        },
        "warnings": list(measurement.warnings),
        "window": measurement.name,
        "started_at": measurement.started_at,
        "stopped_at": measurement.stopped_at,
        "wall_seconds": measurement.wall_seconds,
        "joules": measurement.joules,
        "watts": measurement.watts,
        "kwh": measurement.kwh,
        "intensity_gco2e_per_kwh": measurement.intensity,
        "co2e_grams": measurement.co2e_grams,
        "nodes": [attrs.asdict(n) for n in measurement.nodes],
        "trust": trust,
    }
