"""Kepler's metrics, every era, mapped onto one model.

Kepler has renamed its energy metrics several times. This module recognises the era of
a snapshot and turns every energy counter of it into a row of a :class:`KeplerView`:
level (node, pod, container, process, vm), workload, zone, mode, state and joules.

The eras (see ``docs/kepler-eras.md``):

====  ===============  ==========================================================
era   releases         energy families
====  ===============  ==========================================================
A     v0.3             ``pod_total_energy_in_<zone>_millijoule`` (millijoules)
B     v0.4             ``kepler_container_<zone>_joules_total``, no ``mode``
C     v0.4.11-v0.5.5   as B with ``mode`` (dynamic/idle) and ``container_id``
D     v0.6-v0.7.2      as C without ``command``
E     v0.7.3-v0.7.12   as D with a constant ``source`` label
F     v0.8-v0.9        as E; ``mode="dynamic"`` carries the whole energy
G     v0.10+           ``kepler_<level>_cpu_joules_total{zone, state}``
====  ===============  ==========================================================

Identity. Two rows of two snapshots are the same counter when their level, workload,
zone and mode agree. ``state`` (running/terminated), ``command``/``comm``, ``source``
and labels that carry measurements are never part of it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import numpy.typing as npt

from .registry import REGISTRY, Registry

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .snapshot import Series, Snapshot

__all__ = [
    "LEVELS",
    "MODES",
    "PSEUDO_PODS",
    "REGISTRY",
    "STATES",
    "Era",
    "IntervalEnergy",
    "KeplerView",
    "Registry",
    "Workload",
    "ZoneSlice",
    "detect_era",
    "interval_energy",
    "kepler_view",
]

#: Workload levels, in the order of their codes in :attr:`KeplerView.level`.
LEVELS = ("node", "pod", "container", "process", "vm")
#: Modes, in code order: none, dynamic/idle (0.4.11-0.9), active/idle (node, 0.10+).
MODES = ("", "dynamic", "idle", "active")
#: States, in code order: none, running, terminated (0.10+).
STATES = ("", "running", "terminated")
#: Kepler's buckets for work that is not in any pod (namespace, pod name).
PSEUDO_PODS = frozenset(
    {("system", "system_processes"), ("kernel", "kernel_processes")}
)

_ZONE_ALIASES = {"pkg": "package", "other_host_components": "other"}


@attrs.frozen(slots=True)
class Era:
    """The Kepler era of a snapshot.

    Attributes:
        name: ``"A"`` to ``"G"`` (see the module docstring), ``"0"`` for v0.1/v0.2, or
            ``"unknown"`` when no Kepler energy family was recognised.
        releases: The releases the era spans, e.g. ``"v0.10+"``.
        version: The version from the build-info metric when it names one, else ``""``.
        evidence: Which part of the body decided the era.
    """

    name: str
    releases: str
    version: str
    evidence: str

    def __str__(self) -> str:
        if self.name == "unknown":
            return "unknown era"
        version = f", {self.version}" if self.version else ""
        return f"era {self.name} ({self.releases}{version})"


@attrs.frozen(slots=True, cache_hash=True)
class Workload:
    """Who spent the energy of one row.

    Fields a level or era does not have are ``""``.

    Attributes:
        level: One of :data:`LEVELS`.
        node: The node name (``node_name`` or ``instance``).
        namespace: The pod's namespace.
        pod: The pod name.
        pod_uid: The pod UID (``pod_id`` in 0.10+).
        container: The container name.
        container_id: The container id.
        pid: The process id, for process rows.
        vm: The VM id or name, for VM rows.
        device: The socket, zone path or GPU index a node row belongs to.
        command: The process or container command (``command`` before 0.10,
            ``comm`` from 0.10). An attribute only: it churns without the workload
            changing, so it takes no part in equality or hashing.
        exe: The executable path of a 0.10+ process row; an attribute only.
    """

    level: str
    node: str = ""
    namespace: str = ""
    pod: str = ""
    pod_uid: str = ""
    container: str = ""
    container_id: str = ""
    pid: str = ""
    vm: str = ""
    device: str = ""
    command: str = attrs.field(default="", eq=False)
    exe: str = attrs.field(default="", eq=False)

    @property
    def kind(self) -> str:
        """``"pod"``, ``"pseudo"`` (system/kernel processes) or ``"unattributed"``."""
        if (self.namespace, self.pod) in PSEUDO_PODS:
            return "pseudo"
        if not self.pod and not self.pod_uid:
            return "unattributed"
        return "pod"


@attrs.frozen(slots=True)
class _Rule:
    """How one family maps onto the model."""

    level: str
    zone: str | None  # None: read from the ``zone`` label
    scale: float  # to joules
    mode: str | None  # None: read from the ``mode`` label
    in_total: bool = True


@attrs.frozen(slots=True, eq=False)
class ZoneSlice:
    """The rows of one zone of a view, as a delta uses them.

    Attributes:
        rows: Shape ``(z,)``, intp: positions in the view.
        key: Shape ``(z,)``, int64: their counter ids.
        joules: Shape ``(z,)``, float64: their values in joules.
        pod_positions: Positions (into ``rows``) of the rows that make up pods: pod
            rows where the era has them, container rows otherwise.
        pod_groups: Shape like ``pod_positions``, int64: their pod ids.
        positions: ``arange(len(rows))``, kept for alignment.
        present_groups: The distinct values of ``pod_groups``, ascending.
    """

    rows: npt.NDArray[np.intp]
    key: npt.NDArray[np.int64]
    joules: npt.NDArray[np.float64]
    pod_positions: npt.NDArray[np.intp]
    pod_groups: npt.NDArray[np.int64]
    positions: npt.NDArray[np.intp]
    present_groups: npt.NDArray[np.intp]


@attrs.define(slots=True, eq=False)
class KeplerView:
    """The energy counters of one snapshot in the normalised model.

    All arrays have shape ``(k,)`` for the ``k`` energy rows found.

    Attributes:
        snapshot: The snapshot the rows come from.
        era: Its Kepler era.
        rows: dtype intp: the row of each energy counter in ``snapshot``.
        level: dtype int8: index into :data:`LEVELS`.
        zone: dtype int32: the zone of each row, an index into ``zone_names``
            (``package``, ``core``, ``uncore``, ``dram``,
            ``psys``, ``platform``, ``other``, ``gpu``, or ``total`` for Kepler's own
            sum families). Zones overlap and are never added together.
        mode: dtype int8: index into :data:`MODES`.
        state: dtype int8: index into :data:`STATES`.
        joules: dtype float64: the counter value in joules (millijoules converted).
        key: dtype int64: the counter identity (workload, zone, mode) as an id of
            ``registry``: equal ids in two views are the same counter.
        group: dtype int64: the pod of pod and container rows as an id of
            ``registry`` (-1 for node, process and VM rows).
        workload: Length ``k``: the :class:`Workload` of each row.
        in_total: dtype bool: whether the row is a disjoint part of its workload's
            energy (False for the 0.10+ node active/idle split, which the node's own
            total already contains).
        registry: The registry the ids belong to.
        generation: The registry's generation when the view was built.
        zone_names: The names the codes of ``zone`` stand for: the registry's list
            of that generation, kept so that the view reads the same after the
            registry is cleared.
        unique_keys: True when no counter id appears twice.
        refused: Whole sentences about counters left out of the view because their
            value cannot be energy (negative or NaN).
        refused_rows: Shape ``(r,)``, intp: the rows of ``snapshot`` behind
            ``refused`` (all of them, where ``refused`` stops at 20 sentences).
        notes: ``(zone, sentence)`` pairs about unit corrections and checks of the
            rows of that zone (Kepler's ``*_joules_total`` sums against their parts).
    """

    snapshot: Snapshot
    era: Era
    rows: npt.NDArray[np.intp]
    level: npt.NDArray[np.int8]
    zone: npt.NDArray[np.int32]
    mode: npt.NDArray[np.int8]
    state: npt.NDArray[np.int8]
    joules: npt.NDArray[np.float64]
    key: npt.NDArray[np.int64]
    group: npt.NDArray[np.int64]
    workload: tuple[Workload, ...]
    in_total: npt.NDArray[np.bool_]
    registry: Registry
    generation: int
    zone_names: Sequence[str]
    unique_keys: bool
    refused: tuple[str, ...] = ()
    refused_rows: npt.NDArray[np.intp] = attrs.field(
        factory=lambda: np.empty(0, dtype=np.intp)
    )
    notes: tuple[tuple[str, str], ...] = ()
    _slices: dict[int, ZoneSlice] = attrs.field(factory=dict, init=False, repr=False)

    def __len__(self) -> int:
        return len(self.rows)

    def zone_slice(self, zone: str) -> ZoneSlice:
        """The rows of one zone, with the arrays a delta needs (computed once)."""
        code = self.zone_names.index(zone) if zone in self.zone_names else -1
        found = self._slices.get(code)
        if found is None:
            rows = np.flatnonzero(self.zone == code)
            level = self.level[rows]
            pod_level = LEVELS.index("pod")
            wanted = (
                pod_level if np.any(level == pod_level) else LEVELS.index("container")
            )
            pods = np.flatnonzero(level == wanted)
            found = self._slices[code] = ZoneSlice(
                rows=rows,
                key=self.key[rows],
                joules=self.joules[rows],
                pod_positions=pods,
                pod_groups=self.group[rows][pods],
                positions=np.arange(len(rows)),
                present_groups=np.flatnonzero(np.bincount(self.group[rows][pods])),
            )
        return found

    @property
    def zones(self) -> tuple[str, ...]:
        """The distinct zone names present, in first-seen order."""
        names = self.zone_names
        present = np.flatnonzero(np.bincount(self.zone, minlength=len(names)))
        first = [int(np.argmax(self.zone == code)) for code in present.tolist()]
        return tuple(names[int(present[i])] for i in np.argsort(first).tolist())

    def zone_of(self, index: int) -> str:
        """The zone name of row ``index``."""
        return self.zone_names[int(self.zone[index])]


# -- era detection -------------------------------------------------------------------


def _label_names(snapshot: Snapshot, family: str) -> set[str]:
    names: set[str] = set()
    for row in snapshot.rows_of(family)[:50].tolist():
        names.update(key for key, _ in snapshot.series[row].labels)
    return names


def _build_version(snapshot: Snapshot, family: str) -> str:
    for row in snapshot.rows_of(family)[:1]:
        return snapshot.series[row].get("version") or ""
    return ""


def detect_era(snapshot: Snapshot) -> Era:
    """Recognise the Kepler era of ``snapshot`` from its build info or metric names.

    Returns:
        The era; ``Era.name == "unknown"`` when no Kepler family was found.
    """
    names = {family.name for family in snapshot.families}
    if (
        "kepler_build_info" in names
        or "kepler_node_cpu_joules_total" in names
        or any(
            re.fullmatch(r"kepler_(pod|container|process|vm)_cpu_joules_total", n)
            for n in names
        )
    ):
        version = _build_version(snapshot, "kepler_build_info")
        return Era("G", "v0.10+", version, "kepler_build_info / *_cpu_joules_total")
    if "pod_total_energy_in_pkg_millijoule" in names or any(
        n.startswith(("pod_total_energy_in_", "pod_curr_energy_in_")) for n in names
    ):
        return Era("A", "v0.3", "", "pod_*_energy_in_*_millijoule")
    if "pod_energy_total" in names:
        return Era("0", "v0.1-v0.2", "", "pod_energy_total")
    kepler = [
        n for n in names if n.startswith("kepler_") and n.endswith("_joules_total")
    ]
    if not kepler:
        return Era("unknown", "", "", "no Kepler energy family")

    build = _label_names(snapshot, "kepler_exporter_build_info")
    version = _build_version(snapshot, "kepler_exporter_build_info")
    container = "kepler_container_package_joules_total"
    labels = _label_names(snapshot, container) if container in names else set()
    if not labels:
        for name in sorted(kepler)[:20]:
            labels |= _label_names(snapshot, name)
    if "arch" in build:
        idle = _has_idle(snapshot, exclude="kepler_container_joules_total")
        if version.startswith(("v0.8", "v0.9")) or (not version and not idle):
            return Era(
                "F", "v0.8-v0.9", version, "build info with arch, no idle series"
            )
        return Era("E", "v0.7.11-v0.7.12", version, "build info with arch")
    if "source" in labels and "container_id" in labels:
        return Era("E", "v0.7.3-v0.7.10", version, "constant source label")
    if "mode" in labels and "command" not in labels and "container_id" in labels:
        return Era("D", "v0.6-v0.7.2", version, "mode without command")
    if "mode" in labels:
        return Era("C", "v0.4.11-v0.5.5", version, "mode label")
    return Era("B", "v0.4", version, "kepler_ names without mode")


def _has_idle(snapshot: Snapshot, *, exclude: str) -> bool:
    energy = [
        (index, family)
        for index, family in enumerate(snapshot.families)
        if family.name.endswith("_joules_total") and family.name != exclude
    ]
    for index, _ in energy[:20]:
        for row in np.flatnonzero(snapshot.family_index == index).tolist():
            if snapshot.series[row].get("mode") == "idle":
                return True
    return False


# -- family rules --------------------------------------------------------------------

_V03_POD = re.compile(
    r"pod_total_energy_in_(pkg|core|uncore|dram|gpu|other)_millijoule"
)
_V04_V09 = re.compile(
    r"kepler_(node|container|process|vm|pod)_"
    r"(package|core|uncore|dram|other_host_components|other|gpu|platform)_joules_total"
)
_V04_V09_TOTAL = re.compile(r"kepler_(container|process|vm)_joules_total")
_V010 = re.compile(r"kepler_(node|pod|container|process|vm)_(cpu|gpu)_joules_total")
_V010_NODE_SPLIT = re.compile(r"kepler_node_(cpu|gpu)_(active|idle)_joules_total")


def _rule(era: Era, family: str) -> _Rule | None:
    """The mapping of ``family`` onto the model in ``era``, or None for non-energy."""
    if era.name == "A":
        if match := _V03_POD.fullmatch(family):
            zone = _ZONE_ALIASES.get(match.group(1), match.group(1))
            return _Rule("pod", zone, 1e-3, "")
        if family == "pod_total_energy_millijoule":
            return _Rule("pod", "total", 1e-3, "")
        if family == "node_package_energy_millijoule":
            # A gauge that holds the raw RAPL package counter, in millijoules.
            return _Rule("node", "package", 1e-3, "")
        if family == "node_hwmon_energy_joule_total":
            return _Rule("node", "platform", 1.0, "")
        return None
    if era.name == "G":
        if match := _V010_NODE_SPLIT.fullmatch(family):
            split_zone = None if match.group(1) == "cpu" else "gpu"
            return _Rule("node", split_zone, 1.0, match.group(2), in_total=False)
        if match := _V010.fullmatch(family):
            level_zone = None if match.group(2) == "cpu" else "gpu"
            return _Rule(match.group(1), level_zone, 1.0, "")
        return None
    if era.name in ("B", "C", "D", "E", "F"):
        if match := _V04_V09.fullmatch(family):
            zone = _ZONE_ALIASES.get(match.group(2), match.group(2))
            return _Rule(match.group(1), zone, 1.0, None)
        if match := _V04_V09_TOTAL.fullmatch(family):
            return _Rule(match.group(1), "total", 1.0, None)
    return None


def _fields(
    level: str,
    node: str = "",
    namespace: str = "",
    pod: str = "",
    pod_uid: str = "",
    container: str = "",
    container_id: str = "",
    pid: str = "",
    vm: str = "",
    device: str = "",
    command: str = "",
    exe: str = "",
) -> tuple[str, ...]:
    """The fields of a :class:`Workload`, in its order: ``Workload(*fields)``."""
    return (
        level,
        node,
        namespace,
        pod,
        pod_uid,
        container,
        container_id,
        pid,
        vm,
        device,
        command,
        exe,
    )


def _workload_fields(level: str, labels: dict[str, str]) -> tuple[str, ...]:
    """The workload fields of a series with ``labels``; churning labels left out."""
    get = labels.get
    node = get("node_name") or get("instance") or ""
    if level == "node":
        device = get("package") or get("pkg_id") or get("path") or get("index") or ""
        return _fields("node", node=node, device=device or get("gpu") or "")
    namespace = get("pod_namespace") or get("container_namespace") or ""
    pod = get("pod_name") or ""
    uid = get("pod_id") or ""
    if level == "pod":
        return _fields(
            "pod",
            node=node,
            namespace=namespace,
            pod=pod,
            pod_uid=uid,
            command=get("command") or "",
        )
    if level == "container":
        return _fields(
            "container",
            node=node,
            namespace=namespace,
            pod=pod,
            pod_uid=uid,
            container=get("container_name") or "",
            container_id=get("container_id") or "",
            command=get("command") or "",
        )
    if level == "process":
        return _fields(
            "process",
            node=node,
            container_id=get("container_id") or "",
            pid=get("pid") or "",
            vm=get("vm_id") or "",
            command=get("comm") or get("command") or "",
            exe=get("exe") or "",
        )
    return _fields(
        "vm", node=node, vm=get("vm_id") or get("name") or "", pid=get("pid") or ""
    )


_LEVEL_CODE = {name: code for code, name in enumerate(LEVELS)}
_MODE_CODE = {name: code for code, name in enumerate(MODES)}
_STATE_CODE = {name: code for code, name in enumerate(STATES)}


def _add_row(
    registry: Registry, family: tuple[str, str], rule: _Rule, series: Series
) -> int:
    """Map ``series`` onto the model by ``rule``, remembering it; its row id."""
    labels = dict(series.labels)
    zone = rule.zone if rule.zone is not None else (labels.get("zone") or "")
    mode = rule.mode if rule.mode is not None else (labels.get("mode") or "")
    return registry.add_row(
        family,
        series,
        _ZONE_ALIASES.get(zone, zone),
        _MODE_CODE.get(mode, 0),
        _STATE_CODE.get(labels.get("state") or "", 0),
        _interned(registry, _workload_fields(rule.level, labels)),
    )


def _interned(registry: Registry, fields: tuple[str, ...]) -> Workload:
    """The registry's one :class:`Workload` with ``fields`` (made on first use).

    The series of one workload (one per zone and mode) share it, so it is built and
    hashed once rather than once a series: a frozen attrs object of twelve fields
    costs more to make than a tuple costs to look up.
    """
    found = registry.workloads.get(fields)
    if found is None:
        found = registry.workloads[fields] = Workload(*fields)
    return found


def kepler_view(
    snapshot: Snapshot, *, era: Era | None = None, registry: Registry | None = None
) -> KeplerView:
    """Map the energy counters of ``snapshot`` onto the normalised model.

    Args:
        snapshot: A parsed scrape of a Kepler endpoint.
        era: Force an era instead of detecting it.
        registry: Where counter, pod and zone ids come from; :data:`REGISTRY` by
            default. Views to be compared must share one.

    Returns:
        The view, with joules (millijoule eras converted) and workload identities.
        A snapshot without Kepler energy families gives an empty view whose era is
        ``"unknown"``.
    """
    era = era or detect_era(snapshot)
    registry = registry or REGISTRY
    registry.clear_if_full()
    parts_rows: list[npt.NDArray[np.intp]] = []
    parts_map: list[npt.NDArray[np.intp]] = []
    parts_level: list[npt.NDArray[np.int8]] = []
    parts_scale: list[npt.NDArray[np.float64]] = []
    parts_total: list[npt.NDArray[np.bool_]] = []
    for index, family in enumerate(snapshot.families):
        rule = _rule(era, family.name)
        if rule is None:
            continue
        family_rows = np.flatnonzero(snapshot.family_index == index)
        count = len(family_rows)
        if not count:
            continue
        first, last = int(family_rows[0]), int(family_rows[-1])
        if last - first + 1 == count:  # the usual block of consecutive rows
            series = snapshot.series[first : last + 1]
        else:
            series = [snapshot.series[row] for row in family_rows.tolist()]
        key = (era.name, family.name)
        row_ids, object_ids = registry.lookup(key, series)
        for i in np.flatnonzero(row_ids < 0).tolist():
            row_ids[i] = _add_row(registry, key, rule, series[i])
        registry.remember(key, series, object_ids, row_ids)
        parts_rows.append(family_rows)
        parts_map.append(row_ids)
        parts_level.append(np.full(count, _LEVEL_CODE[rule.level], dtype=np.int8))
        parts_scale.append(np.full(count, rule.scale))
        parts_total.append(np.full(count, rule.in_total, dtype=np.bool_))
    all_rows = np.concatenate(parts_rows) if parts_rows else np.empty(0, np.intp)
    mapped = np.concatenate(parts_map) if parts_map else np.empty(0, np.intp)
    codes = registry.row_codes()[mapped]
    scale = np.concatenate(parts_scale) if parts_scale else np.empty(0)
    joules = snapshot.values[all_rows] * scale
    fields: dict[str, npt.NDArray[Any]] = {
        "rows": all_rows,
        "level": np.concatenate(parts_level) if parts_level else np.empty(0, np.int8),
        "zone": codes[:, 0].astype(np.int32),
        "mode": codes[:, 1].astype(np.int8),
        "state": codes[:, 2].astype(np.int8),
        "joules": joules,
        "key": codes[:, 3].copy(),
        "group": codes[:, 4].copy(),
        "in_total": np.concatenate(parts_total) if parts_total else np.empty(0, bool),
    }

    # An energy counter cannot be negative, infinite or NaN; such rows get no delta.
    bad = ~((joules >= 0) & (joules < np.inf))
    refused = [
        f"{snapshot.series[row]} = {float(snapshot.values[row])!r} is not a valid "
        "energy counter and was left out."
        for row in all_rows[bad][:20].tolist()
    ]
    if bad.any():
        good = ~bad
        fields = {name: array[good] for name, array in fields.items()}
        mapped = mapped[good]
    workload_rows = tuple(map(registry.row_workloads.__getitem__, mapped.tolist()))
    notes: list[tuple[str, str]] = []
    if era.name in ("B", "C", "D", "E", "F"):
        notes.extend(_check_total_unit(registry, fields, snapshot))
    keys_array = fields["key"]
    return KeplerView(
        snapshot=snapshot,
        era=era,
        workload=workload_rows,
        registry=registry,
        generation=registry.generation,
        zone_names=registry.zone_names,
        unique_keys=not len(keys_array) or int(np.bincount(keys_array).max()) <= 1,
        refused=tuple(refused),
        refused_rows=all_rows[bad],
        notes=tuple(notes),
        **fields,
    )


# Zones whose sum Kepler's all-components total (kepler_container_joules_total) is:
# package (with its core and uncore inside), dram, other and gpu. Core and uncore are
# parts of package; adding them would count them twice.
_TOTAL_PARTS = ("package", "dram", "other", "gpu")


def _check_total_unit(
    registry: Registry, fields: dict[str, npt.NDArray[Any]], snapshot: Snapshot
) -> list[tuple[str, str]]:
    """Check the ``total`` rows against the sum of their parts, fixing millijoules.

    Some builds published ``kepler_container_joules_total`` in millijoules while its
    parts were in joules: the total is then 1000 times their sum. Such a total is
    divided by 1000 in ``fields`` (in place). Returns ``(zone, sentence)`` notes.
    """
    code = registry.zones.get("total", -1)
    zone = fields["zone"]
    is_total = zone == code
    if not is_total.any():
        return []
    parts = np.isin(zone, [registry.zones.get(z, -2) for z in _TOTAL_PARTS])
    if not parts.any():
        return [
            (
                "total",
                f"{snapshot.source or 'This scrape'} has Kepler's all-components "
                "total but none of its parts, so the total's unit could not be "
                "checked (check not possible); it is used as published.",
            )
        ]
    # Totals and parts meet by workload and mode (the counter id without the zone).
    info = registry.counter_info
    workload_mode: dict[tuple[Workload, int], int] = {}
    joined = np.array(
        [
            workload_mode.setdefault((info[k][0], info[k][2]), len(workload_mode))
            for k in fields["key"].tolist()
        ],
        dtype=np.intp,
    )
    size = len(workload_mode)
    joules = fields["joules"]
    totals = np.bincount(joined[is_total], weights=joules[is_total], minlength=size)
    sums = np.bincount(joined[parts], weights=joules[parts], minlength=size)
    with_both = (np.bincount(joined[is_total], minlength=size) > 0) & (
        np.bincount(joined[parts], minlength=size) > 0
    )
    total, part = float(totals[with_both].sum()), float(sums[with_both].sum())
    if not part > 0:
        return []
    ratio = total / part
    if abs(ratio - 1000.0) <= 10.0:
        fields["joules"] = np.where(is_total, joules / 1000.0, joules)
        return [
            (
                "total",
                "kepler_container_joules_total looks like millijoules (it is "
                f"{ratio:.1f} times the sum of its parts); it was divided by 1000.",
            )
        ]
    if abs(ratio - 1.0) <= 0.01:
        return []
    return [
        (
            "total",
            f"The total disagrees with components: kepler_container_joules_total is "
            f"{ratio:.4g} times the sum of its parts; it is used as published.",
        )
    ]


_CURR_FAMILY = re.compile(
    r"pod_curr_energy_in_(pkg|core|uncore|dram|gpu|other)_millijoule"
)


@attrs.frozen(slots=True)
class IntervalEnergy:
    """The energy Kepler v0.3 reports for its own last sampling interval, per pod.

    Kepler v0.3 prints, beside each ``pod_total_energy_in_<zone>_millijoule`` counter,
    a gauge ``pod_curr_energy_in_<zone>_millijoule``: the energy of the exporter's
    last sampling interval. It is shown as it is, never differenced and never added
    across scrapes; :func:`~kepler_reader.diff` uses the counters.

    Attributes:
        namespace: The pod's namespace (``pod_namespace``).
        pod: The pod's name (``pod_name``).
        zone: The zone (``package``, ``core``, ``uncore``, ``dram``, ``gpu``,
            ``other``).
        joules: The energy of that interval, in joules (the gauge ÷ 1000); the sum
            when one pod has several series of the zone (one per ``command``).
    """

    namespace: str
    pod: str
    zone: str
    joules: float


def interval_energy(snapshot: Snapshot) -> tuple[IntervalEnergy, ...]:
    """The per-pod energy of Kepler's last sampling interval, where the era has it.

    Only Kepler v0.3 publishes it (``pod_curr_energy_in_<zone>_millijoule``); other
    eras give an empty tuple. Rows are in order of first appearance.

    Returns:
        One :class:`IntervalEnergy` per (namespace, pod, zone), in joules.
    """
    totals: dict[tuple[str, str, str], float] = {}
    for index, family in enumerate(snapshot.families):
        found = _CURR_FAMILY.fullmatch(family.name)
        if found is None:
            continue
        zone = _ZONE_ALIASES.get(found.group(1), found.group(1))
        for row in np.flatnonzero(snapshot.family_index == index).tolist():
            series = snapshot.series[row]
            key = (
                series.get("pod_namespace") or "",
                series.get("pod_name") or "",
                zone,
            )
            totals[key] = totals.get(key, 0.0) + float(snapshot.values[row]) / 1000.0
    return tuple(
        IntervalEnergy(namespace=ns, pod=pod, zone=zone, joules=joules)
        for (ns, pod, zone), joules in totals.items()
    )
