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
from collections.abc import Hashable
from typing import TYPE_CHECKING

import attrs
import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from .snapshot import Series, Snapshot

__all__ = [
    "LEVELS",
    "MODES",
    "PSEUDO_PODS",
    "STATES",
    "Era",
    "KeplerView",
    "Workload",
    "detect_era",
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
        version = f" ({self.version})" if self.version else ""
        return f"{self.name} {self.releases}{version}"


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


@attrs.define(slots=True, eq=False)
class KeplerView:
    """The energy counters of one snapshot in the normalised model.

    All arrays have shape ``(k,)`` for the ``k`` energy rows found.

    Attributes:
        snapshot: The snapshot the rows come from.
        era: Its Kepler era.
        rows: dtype intp: the row of each energy counter in ``snapshot``.
        level: dtype int8: index into :data:`LEVELS`.
        zone: Zone name of each row (``package``, ``core``, ``uncore``, ``dram``,
            ``psys``, ``platform``, ``other``, ``gpu``, or ``total`` for Kepler's own
            sum families). Zones overlap and are never added together.
        mode: dtype int8: index into :data:`MODES`.
        state: dtype int8: index into :data:`STATES`.
        joules: dtype float64: the counter value in joules (millijoules converted).
        workload: Length ``k``: the :class:`Workload` of each row.
        in_total: dtype bool: whether the row is a disjoint part of its workload's
            energy (False for the 0.10+ node active/idle split, which the node's own
            total already contains).
        refused: Whole sentences about counters left out of the view because their
            value cannot be energy (negative or NaN).
    """

    snapshot: Snapshot
    era: Era
    rows: npt.NDArray[np.intp]
    level: npt.NDArray[np.int8]
    zone: tuple[str, ...]
    mode: npt.NDArray[np.int8]
    state: npt.NDArray[np.int8]
    joules: npt.NDArray[np.float64]
    workload: tuple[Workload, ...]
    in_total: npt.NDArray[np.bool_]
    refused: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.rows)

    def identity(self, index: int) -> Hashable:
        """The key that makes row ``index`` the same counter in another snapshot."""
        return (self.workload[index], self.zone[index], int(self.mode[index]))

    @property
    def zones(self) -> tuple[str, ...]:
        """The distinct zones present, in first-seen order."""
        return tuple(dict.fromkeys(self.zone))


# -- era detection -------------------------------------------------------------------


def _label_names(snapshot: Snapshot, family: str) -> set[str]:
    rows = snapshot.rows_of(family)
    names: set[str] = set()
    for row in rows[:50]:
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
        for name in kepler:
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
    for index, family in enumerate(snapshot.families):
        if not family.name.endswith("_joules_total") or family.name == exclude:
            continue
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


def _workload(level: str, series: Series) -> Workload:
    """The workload identity of one series; churning labels are left out."""
    get = series.get
    node = get("node_name") or get("instance") or ""
    if level == "node":
        device = get("package") or get("pkg_id") or get("path") or get("index") or ""
        return Workload("node", node=node, device=device or get("gpu") or "")
    namespace = get("pod_namespace") or get("container_namespace") or ""
    pod = get("pod_name") or ""
    uid = get("pod_id") or ""
    if level == "pod":
        return Workload("pod", node=node, namespace=namespace, pod=pod, pod_uid=uid)
    if level == "container":
        return Workload(
            "container",
            node=node,
            namespace=namespace,
            pod=pod,
            pod_uid=uid,
            container=get("container_name") or "",
            container_id=get("container_id") or "",
        )
    if level == "process":
        return Workload(
            "process",
            node=node,
            container_id=get("container_id") or "",
            pid=get("pid") or "",
            vm=get("vm_id") or "",
        )
    return Workload(
        "vm", node=node, vm=get("vm_id") or get("name") or "", pid=get("pid") or ""
    )


_LEVEL_CODE = {name: code for code, name in enumerate(LEVELS)}
_MODE_CODE = {name: code for code, name in enumerate(MODES)}
_STATE_CODE = {name: code for code, name in enumerate(STATES)}


def kepler_view(snapshot: Snapshot, *, era: Era | None = None) -> KeplerView:
    """Map the energy counters of ``snapshot`` onto the normalised model.

    Args:
        snapshot: A parsed scrape of a Kepler endpoint.
        era: Force an era instead of detecting it.

    Returns:
        The view, with joules (millijoule eras converted) and workload identities.
        A snapshot without Kepler energy families gives an empty view whose era is
        ``"unknown"``.
    """
    era = era or detect_era(snapshot)
    rows: list[npt.NDArray[np.intp]] = []
    levels: list[int] = []
    zones: list[str] = []
    modes: list[int] = []
    states: list[int] = []
    scales: list[float] = []
    workloads: list[Workload] = []
    in_total: list[bool] = []
    for index, family in enumerate(snapshot.families):
        rule = _rule(era, family.name)
        if rule is None:
            continue
        family_rows = np.flatnonzero(snapshot.family_index == index)
        rows.append(family_rows)
        level = _LEVEL_CODE[rule.level]
        for row in family_rows.tolist():
            series = snapshot.series[row]
            zone = rule.zone if rule.zone is not None else (series.get("zone") or "")
            zones.append(_ZONE_ALIASES.get(zone, zone))
            mode = rule.mode if rule.mode is not None else (series.get("mode") or "")
            modes.append(_MODE_CODE.get(mode, 0))
            states.append(_STATE_CODE.get(series.get("state") or "", 0))
            workloads.append(_workload(rule.level, series))
            levels.append(level)
            scales.append(rule.scale)
            in_total.append(rule.in_total)
    all_rows = np.concatenate(rows) if rows else np.empty(0, dtype=np.intp)
    joules = snapshot.values[all_rows] * np.asarray(scales, dtype=np.float64)
    level_codes = np.asarray(levels, dtype=np.int8)
    mode_codes = np.asarray(modes, dtype=np.int8)
    state_codes = np.asarray(states, dtype=np.int8)
    totals = np.asarray(in_total, dtype=np.bool_)

    # An energy counter cannot be negative or NaN; such rows get no delta at all.
    bad = ~(joules >= 0)
    refused = [
        f"{snapshot.series[row]} = {float(snapshot.values[row])!r} is not a valid "
        "energy counter and was left out."
        for row in all_rows[bad][:20].tolist()
    ]
    if bad.any():
        good = ~bad
        all_rows, joules = all_rows[good], joules[good]
        level_codes, mode_codes = level_codes[good], mode_codes[good]
        state_codes, totals = state_codes[good], totals[good]
        zones = [z for z, g in zip(zones, good.tolist(), strict=True) if g]
        workloads = [w for w, g in zip(workloads, good.tolist(), strict=True) if g]
    return KeplerView(
        snapshot=snapshot,
        era=era,
        rows=all_rows,
        level=level_codes,
        zone=tuple(zones),
        mode=mode_codes,
        state=state_codes,
        joules=joules,
        workload=tuple(workloads),
        in_total=totals,
        refused=tuple(refused),
    )
