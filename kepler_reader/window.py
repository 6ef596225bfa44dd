"""Energy over a window of many scrapes of one endpoint.

A :class:`CounterWindow` is fed the Kepler views of one endpoint, one scrape after
another, and keeps, per counter id, the last value seen, when it was seen, and the
joules summed so far. Each new view is one numpy pass over its zone's counters:

- a counter seen before: its delta is ``value - last``; a counter that went down was
  restarted (an exporter restart or a counter reset) and its delta is ``value``;
- a counter not seen before, after the first scrape: a workload that started inside
  the window; Kepler counts it from zero, so its delta is its whole value;
- a counter missing from a scrape (a failed scrape, a vanished series) keeps its
  joules; when it is seen again the delta is taken from its last sighting, so a gap
  is bridged, never read as a zero or a reset;
- values and intervals the plausibility checks refuse are left out and listed.

Windows do not scrape; :class:`~kepler_reader.Meter` scrapes and feeds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs
import numpy as np
import numpy.typing as npt

from .kepler import LEVELS, MODES
from .plausibility import (
    PlausibilityLimits,
    Refusal,
    merge,
    node_power_reason,
    pod_power_reason,
    pods_to_node_reason,
    refuse_counters,
)

if TYPE_CHECKING:
    from .kepler import Era, KeplerView, Registry

__all__ = ["CounterWindow", "NodeTotals"]

_POD = LEVELS.index("pod")
_CONTAINER = LEVELS.index("container")
_NODE = LEVELS.index("node")
_DYNAMIC = MODES.index("dynamic")
_IDLE = MODES.index("idle")


@attrs.frozen(slots=True)
class NodeTotals:
    """What one endpoint's window measured, before formatting.

    Attributes:
        node: The node name.
        groups: Shape ``(p,)``, int64: the pod ids (of the endpoint's registry).
        joules: Shape ``(p,)``, float64: their energy over the window, in joules.
        dynamic_joules: Shape ``(p,)``, float64: the ``mode="dynamic"`` part.
        idle_joules: Shape ``(p,)``, float64: the ``mode="idle"`` part.
        counters: Shape ``(p,)``, int64: counters summed per pod.
        resets: Shape ``(p,)``, int64: restarts seen per pod.
        has_modes: Whether the era labels a mode (dynamic/idle).
        node_joules: The node's own counters over the window, in joules, or
            ``None`` when it has none for the zone.
        node_counters: How many node counters were summed.
        seconds: From the first to the last scrape used, in seconds (0 with fewer
            than two scrapes).
        no_valid_data: Shape ``(q,)``, int64: pods whose every value or interval
            was refused; they are not in ``groups``.
    """

    node: str
    groups: npt.NDArray[np.int64]
    joules: npt.NDArray[np.float64]
    dynamic_joules: npt.NDArray[np.float64]
    idle_joules: npt.NDArray[np.float64]
    counters: npt.NDArray[np.int64]
    resets: npt.NDArray[np.int64]
    has_modes: bool
    node_joules: float | None
    node_counters: int
    seconds: float
    no_valid_data: npt.NDArray[np.int64]


class CounterWindow:
    """The energy of one endpoint's counters (one zone) over a window of scrapes.

    Args:
        node: The node the endpoint reports on (written into refusals).
        zone: The zone summed (``package``, ``core``, ...); zones are never added.
        registry: The registry every view fed to this window was built with.
        limits: The plausibility ceilings.
        wrap_range_joules: Ranges of raw counters that wrap, in joules per family
            name, as for :func:`~kepler_reader.diff`: a decrease from within 1 % of
            the range to below 1 % of it is ``value - last + range``, not a reset.
    """

    def __init__(
        self,
        node: str,
        zone: str,
        registry: Registry,
        limits: PlausibilityLimits,
        wrap_range_joules: Mapping[str, float] | None = None,
    ) -> None:
        self.node = node
        self.zone = zone
        self.registry = registry
        self.limits = limits
        self.wrap_range_joules = dict(wrap_range_joules or {})
        self.wraps = 0
        self.era: Era | None = None
        self.scrapes = 0
        self.failures = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.largest_gap_seconds = 0.0
        self.resets = 0
        self.appeared = 0
        self.vanished = 0
        self.refusals: dict[tuple[str, str, str], Refusal] = {}
        self.warnings: list[str] = []
        size = 0
        self._last = np.full(size, np.nan)
        self._seen_at = np.full(size, np.nan)
        self._changed_at = np.full(size, np.nan)
        self._total = np.zeros(size)
        self._resets = np.zeros(size, dtype=np.int64)
        self._level = np.full(size, -1, dtype=np.int8)
        self._group = np.full(size, -1, dtype=np.int64)
        self._mode = np.zeros(size, dtype=np.int8)
        self._in_total = np.zeros(size, dtype=np.bool_)
        self._present = np.zeros(size, dtype=np.bool_)
        self._valid = np.zeros(size, dtype=np.int64)
        self._refused = np.zeros(size, dtype=np.bool_)

    def _grow(self, size: int) -> None:
        old = len(self._last)
        if size <= old:
            return
        size = max(size, 2 * old, 64)
        extra = size - old
        self._last = np.concatenate([self._last, np.full(extra, np.nan)])
        self._seen_at = np.concatenate([self._seen_at, np.full(extra, np.nan)])
        self._changed_at = np.concatenate([self._changed_at, np.full(extra, np.nan)])
        self._total = np.concatenate([self._total, np.zeros(extra)])
        self._resets = np.concatenate([self._resets, np.zeros(extra, np.int64)])
        self._level = np.concatenate([self._level, np.full(extra, -1, np.int8)])
        self._group = np.concatenate([self._group, np.full(extra, -1, np.int64)])
        self._mode = np.concatenate([self._mode, np.zeros(extra, np.int8)])
        self._in_total = np.concatenate([self._in_total, np.zeros(extra, np.bool_)])
        self._present = np.concatenate([self._present, np.zeros(extra, np.bool_)])
        self._valid = np.concatenate([self._valid, np.zeros(extra, np.int64)])
        self._refused = np.concatenate([self._refused, np.zeros(extra, np.bool_)])

    def fail(self) -> None:
        """Record a failed scrape: a gap, bridged at the next successful one."""
        self.failures += 1

    def add(self, view: KeplerView, at: float) -> None:
        """Feed the next successful scrape of the endpoint.

        Args:
            view: Its Kepler view, built with this window's registry.
            at: When it was scraped, in seconds since the epoch.

        Raises:
            ValueError: ``view`` was built with another registry, or the registry
                was cleared since the window started.
        """
        if view.registry is not self.registry:
            raise ValueError("The view was built with another registry.")
        if self.era is not None and view.era.name != self.era.name:
            self.warnings.append(
                f"The exporter on {self.node} changed from Kepler {self.era} to "
                f"Kepler {view.era} inside the window (an upgrade?); counters of the "
                "two eras cannot be matched, so the new ones are counted from zero."
            )
        self.era = view.era
        first = self.first_at is None
        if self.last_at is not None:
            self.largest_gap_seconds = max(self.largest_gap_seconds, at - self.last_at)
        self.scrapes += 1

        zone_rows = view.zone_slice(self.zone)
        plausible, refused = refuse_counters(
            view, zone_rows.rows, self.limits, node=self.node
        )
        merge(refused, self.refusals)
        self._grow(len(self.registry.counter_info))
        if not plausible.all():
            bad_keys, bad_rows = zone_rows.key[~plausible], zone_rows.rows[~plausible]
            self._refused[bad_keys] = True
            self._level[bad_keys] = view.level[bad_rows]
            self._group[bad_keys] = view.group[bad_rows]
        if len(view.refused_rows):
            self._mark_left_out(view)
        rows = zone_rows.rows[plausible]
        keys = zone_rows.key[plausible]
        values = zone_rows.joules[plausible]
        if not view.unique_keys and len(keys):
            # Counters that share one identity (labels differing only in ignored
            # labels) are one counter: their values are added.
            unique, where, inverse = np.unique(
                keys, return_index=True, return_inverse=True
            )
            keys = unique.astype(np.int64)
            values = np.bincount(inverse, weights=values).astype(np.float64)
            rows = rows[where]
        new = np.isnan(self._last[keys])
        if new.any():
            fresh, fresh_rows = keys[new], rows[new]
            self._level[fresh] = view.level[fresh_rows]
            self._group[fresh] = view.group[fresh_rows]
            self._mode[fresh] = view.mode[fresh_rows]
            self._in_total[fresh] = view.in_total[fresh_rows]

        # Deltas from each counter's last sighting; new counters count from zero.
        delta = values - np.where(new, 0.0, self._last[keys])
        reset = ~new & (delta < 0)
        delta[reset] = values[reset]
        if self.wrap_range_joules and reset.any():
            self._correct_wraps(view, rows, keys, values, delta, reset)
        # The power checks divide by the time since the counter last moved: an
        # exporter refreshes every few seconds, so a scrape soon after a refresh
        # sees seconds' worth of energy that a shorter gap would inflate.
        elapsed = at - np.where(new, np.nan, self._changed_at[keys])
        if first:
            delta[:] = 0.0
        else:
            self.appeared += int(np.count_nonzero(new))
            accepted = self._check_interval(keys, delta, elapsed, reset, at)
            delta = np.where(accepted, delta, 0.0)
            reset &= accepted
            self._valid[keys] += accepted & ~new
            self._refused[keys] |= ~accepted
        present = np.zeros(len(self._present), dtype=np.bool_)
        present[keys] = True
        self.vanished += int(np.count_nonzero(self._present & ~present))
        self._present = present
        self._total[keys] += delta
        self._resets[keys] += reset
        self.resets += int(np.count_nonzero(reset))
        moved = new | (delta != 0) | reset
        self._changed_at[keys[moved]] = at
        self._last[keys] = values
        self._seen_at[keys] = at
        if first:
            self.first_at = at
        self.last_at = at

    def _correct_wraps(
        self,
        view: KeplerView,
        rows: npt.NDArray[np.intp],
        keys: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        delta: npt.NDArray[np.float64],
        reset: npt.NDArray[np.bool_],
    ) -> None:
        """Turn the resets that are wraps at a known range into corrected deltas."""
        snapshot = view.snapshot
        for i in np.flatnonzero(reset).tolist():
            row = int(view.rows[rows[i]])
            family = snapshot.families[int(snapshot.family_index[row])].name
            size = self.wrap_range_joules.get(family)
            before = float(self._last[keys[i]])
            if size and before >= 0.99 * size and values[i] < 0.01 * size:
                delta[i] = values[i] - before + size
                reset[i] = False
                self.wraps += 1

    def _mark_left_out(self, view: KeplerView) -> None:
        """Mark the counters the view left out (NaN, infinite, negative) as refused.

        They are not in the view's arrays; the registry's cache of how each series
        maps onto the model still knows their counter and pod.
        """
        snapshot = view.snapshot
        registry = self.registry
        zone = registry.zones.get(self.zone, -1)
        codes = registry.row_codes()
        for row in view.refused_rows.tolist():
            family = snapshot.families[int(snapshot.family_index[row])].name
            mapped = registry.row_of((view.era.name, family), snapshot.series[row])
            if mapped is None or codes[mapped, 0] != zone:
                continue
            key, group = int(codes[mapped, 3]), int(codes[mapped, 4])
            self._refused[key] = True
            self._level[key] = LEVELS.index(registry.row_workloads[mapped].level)
            self._group[key] = group

    def _check_interval(
        self,
        keys: npt.NDArray[np.int64],
        delta: npt.NDArray[np.float64],
        elapsed: npt.NDArray[np.float64],
        reset: npt.NDArray[np.bool_],
        at: float,
    ) -> npt.NDArray[np.bool_]:
        """Refuse the pods and the node whose power over the interval is implausible."""
        limits = self.limits
        accepted = np.ones(len(keys), dtype=np.bool_)
        level = self._level[keys]
        pod_level = _POD if np.any(self._level == _POD) else _CONTAINER
        is_pod = level == pod_level
        is_node = (level == _NODE) & self._in_total[keys]
        # New counters hold their energy since they started, inside the window:
        # their span is the window so far.
        span = at - self.first_at if self.first_at is not None else 0.0
        elapsed = np.where(np.isnan(elapsed), span, elapsed)
        groups = self._group[keys]
        if is_pod.any():
            size = int(groups[is_pod].max()) + 1
            joules = np.bincount(groups[is_pod], weights=delta[is_pod], minlength=size)
            seconds = np.zeros(size)
            np.maximum.at(seconds, groups[is_pod], elapsed[is_pod])
            with np.errstate(divide="ignore", invalid="ignore"):
                watts = np.where(seconds > 0, joules / seconds, 0.0)
            too_much = np.flatnonzero(watts > limits.max_pod_watts)
            info = self.registry.group_info
            for group in too_much.tolist():
                namespace, pod = info[group][0], info[group][1]
                merge(
                    [
                        Refusal(
                            f"pod {namespace}/{pod}",
                            float(watts[group]),
                            "watts",
                            pod_power_reason(float(watts[group]), limits),
                            node=self.node,
                            scraped_at=at,
                        )
                    ],
                    self.refusals,
                )
            accepted &= ~(is_pod & np.isin(groups, too_much))
        node_joules = float(delta[is_node].sum())
        node_seconds = float(elapsed[is_node].max(initial=0.0))
        if is_node.any() and limits.max_node_watts is not None and node_seconds > 0:
            node_watts = node_joules / node_seconds
            if node_watts > limits.max_node_watts:
                merge(
                    [
                        Refusal(
                            f"node {self.node}",
                            node_watts,
                            "watts",
                            node_power_reason(node_watts, limits),
                            node=self.node,
                            scraped_at=at,
                        )
                    ],
                    self.refusals,
                )
                accepted &= ~is_node
        pods_joules = float(delta[is_pod & accepted].sum())
        # A node counter that went down (Kepler 0.10+ passes the raw RAPL counter
        # through, and it wraps) gives no usable node figure for the comparison.
        if (
            limits.max_pods_to_node is not None
            and is_node.any()
            and not reset[is_node].any()
            and bool(accepted[is_node].all())
            and node_joules > 0
            and pods_joules > limits.max_pods_to_node * node_joules
        ):
            merge(
                [
                    Refusal(
                        f"pods of node {self.node}",
                        pods_joules,
                        "joules",
                        pods_to_node_reason(pods_joules, node_joules, limits),
                        node=self.node,
                        scraped_at=at,
                    )
                ],
                self.refusals,
            )
            accepted &= ~is_pod
        return accepted

    def totals(self) -> NodeTotals:
        """The energy per pod and of the node, summed over the window so far."""
        size = len(self.registry.group_info)
        known = ~np.isnan(self._last) | self._refused
        pod_level = _POD if np.any(self._level == _POD) else _CONTAINER
        chosen = np.flatnonzero(known & (self._level == pod_level))
        groups = self._group[chosen]
        part = self._total[chosen]
        mode = self._mode[chosen]
        present = np.flatnonzero(np.bincount(groups, minlength=size))
        # A pod whose every value or interval was refused has no valid data: it is
        # reported apart, not as 0 J.
        valid = np.bincount(groups, weights=self._valid[chosen], minlength=size)
        refused = np.bincount(groups, weights=self._refused[chosen], minlength=size)
        unmeasured = (valid == 0) & (refused > 0)
        no_data = present[unmeasured[present]]
        present = present[~unmeasured[present]]

        def per_pod(weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            summed = np.bincount(groups, weights=weights, minlength=size)
            return np.asarray(summed[present], dtype=np.float64)

        node = np.flatnonzero(
            ~np.isnan(self._last) & (self._level == _NODE) & self._in_total
        )
        seconds = (
            self.last_at - self.first_at
            if self.first_at is not None and self.last_at is not None
            else 0.0
        )
        return NodeTotals(
            node=self.node,
            groups=present.astype(np.int64),
            joules=per_pod(part),
            dynamic_joules=per_pod(part * (mode == _DYNAMIC)),
            idle_joules=per_pod(part * (mode == _IDLE)),
            counters=np.bincount(groups, minlength=size)[present].astype(np.int64),
            resets=per_pod(self._resets[chosen].astype(np.float64)).astype(np.int64),
            has_modes=bool(np.any(mode != 0)),
            node_joules=float(self._total[node].sum()) if len(node) else None,
            node_counters=len(node),
            seconds=seconds,
            no_valid_data=no_data.astype(np.int64),
        )
