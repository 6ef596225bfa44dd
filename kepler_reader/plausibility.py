"""Plausibility checks: refuse, and report, what cannot be energy.

Real Kepler deployments have published counters of 9e14 J after an hour, values near
2^64 (an unsigned wrap of a small negative number), and intervals worth kilowatts on
machines with 35 W supplies. Summed with the rest, one such value turns every total
into nonsense. The checks here find them:

- a counter value that is NaN, infinite or negative (:func:`~kepler_reader.kepler_view`
  already leaves those rows out; they are reported here with the others);
- a counter value above :attr:`Limits.max_counter_joules` (2^53 J by default: above
  it a float64 no longer holds every joule, and values near 2^64 are wraps);
- a pod whose energy over one interval means more than :attr:`Limits.max_pod_watts`;
- a node whose energy over one interval means more than :attr:`Limits.max_node_watts`
  (no ceiling by default);
- pods that together spent more than :attr:`Limits.max_pods_to_node` times what the
  node's own counter says over the same interval.

A refused value is excluded from every sum and listed as a :class:`Refusal` with its
series, value and reason; it is never dropped silently and never reported as energy.
The :class:`~kepler_reader.Meter` applies the checks to every interval it measures;
:func:`check_delta` applies them to a :func:`~kepler_reader.diff` result.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs
import numpy as np
import numpy.typing as npt

from .delta import NodeEnergy, _namespaces
from .exceptions import DataError

if TYPE_CHECKING:
    from .delta import EnergyDelta
    from .kepler import KeplerView

__all__ = ["Limits", "Refusal", "check_delta", "refuse_counters"]

#: Above this many joules a float64 counter no longer holds every joule.
FLOAT_EXACT_JOULES = float(2**53)


@attrs.frozen(slots=True)
class Limits:
    """The ceilings above which a value is refused as not energy.

    Attributes:
        max_counter_joules: Largest counter value accepted, in joules (2^53 by
            default, where float64 stops holding every joule; values near 2^64 are
            unsigned wraps).
        max_pod_watts: Largest mean power of one pod over one interval, in watts
            (5000 W by default, well above any real pod).
        max_node_watts: Largest mean power of a node over one interval, in watts,
            or ``None`` for no ceiling (the default).
        max_pods_to_node: Largest ratio of the pods' summed energy to the node's own
            over one interval (2.0 by default), or ``None`` to skip the check. Kepler
            gives pods a share of the node's energy, so their sum should not exceed
            it; when it does, the pods' energy of that interval is refused.

    Raises:
        DataError: A limit is not a positive number.
    """

    max_counter_joules: float = FLOAT_EXACT_JOULES
    max_pod_watts: float = 5000.0
    max_node_watts: float | None = None
    max_pods_to_node: float | None = 2.0

    def __attrs_post_init__(self) -> None:
        for name in attrs.fields_dict(type(self)):
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, int | float) and 0 < value <= math.inf
            ):
                raise DataError(
                    f"The plausibility limit {name} must be a positive number, not "
                    f"{value!r}."
                )


@attrs.frozen(slots=True)
class Refusal:
    """A value refused as not energy, and why.

    Attributes:
        series: The series (name and labels), or what was summed (``"pod shop/web"``,
            ``"node node-a"``, ``"pods of node node-a"``).
        value: The refused value: joules for a counter, watts for a power.
        unit: ``"joules"`` or ``"watts"``.
        reason: A whole sentence saying which check refused it.
        node: The node the value came from (``""`` when unknown).
        scraped_at: When the (later) scrape behind it was taken, in seconds since
            the epoch, or ``None``.
        count: How many scrapes or intervals gave this refusal (the first value is
            kept).
    """

    series: str
    value: float
    unit: str
    reason: str
    node: str = ""
    scraped_at: float | None = None
    count: int = 1


def refuse_counters(
    view: KeplerView, rows: npt.NDArray[np.intp], limits: Limits, *, node: str = ""
) -> tuple[npt.NDArray[np.bool_], list[Refusal]]:
    """Check the counter values at ``rows`` of ``view``, and the rows it left out.

    Args:
        view: A Kepler view.
        rows: Shape ``(z,)``, intp: positions in ``view`` to check (a zone's rows).
        limits: The ceilings.
        node: The node name written into the refusals.

    Returns:
        Shape ``(z,)`` bool: True where the value is accepted; and one refusal per
        refused value, including those ``view`` itself left out (NaN, infinite,
        negative).
    """
    snapshot = view.snapshot
    joules = view.joules[rows]
    accepted = joules <= limits.max_counter_joules
    refusals = [
        Refusal(
            series=str(snapshot.series[int(view.rows[at])]),
            value=float(joules[i]),
            unit="joules",
            reason=_counter_reason(float(joules[i]), limits),
            node=node,
            scraped_at=snapshot.scraped_at,
        )
        for i, at in zip(
            np.flatnonzero(~accepted).tolist(), rows[~accepted].tolist(), strict=True
        )
    ]
    for row in view.refused_rows.tolist():
        value = float(snapshot.values[row])
        refusals.append(
            Refusal(
                series=str(snapshot.series[row]),
                value=value,
                unit="joules",
                reason=_invalid_reason(value),
                node=node,
                scraped_at=snapshot.scraped_at,
            )
        )
    return accepted, refusals


def _counter_reason(joules: float, limits: Limits) -> str:
    if joules >= 0.99 * 2.0**64:
        return (
            "Implausible counter value: near 2^64, an unsigned wrap of a small "
            "negative number."
        )
    return (
        f"Implausible counter value: above max_counter_joules="
        f"{limits.max_counter_joules:.6g} J."
    )


def _invalid_reason(value: float) -> str:
    if math.isnan(value):
        return "Not a number (NaN) cannot be an energy counter."
    if math.isinf(value):
        return "An infinite value cannot be an energy counter."
    return "A negative value cannot be an energy counter."


def pod_power_reason(watts: float, limits: Limits) -> str:
    """The reason written for a pod interval above :attr:`Limits.max_pod_watts`."""
    return (
        f"Implausible power: {watts:.6g} W over the interval, above max_pod_watts="
        f"{limits.max_pod_watts:g} W."
    )


def node_power_reason(watts: float, limits: Limits) -> str:
    """The reason written for a node interval above :attr:`Limits.max_node_watts`."""
    return (
        f"Implausible power: {watts:.6g} W over the interval, above max_node_watts="
        f"{limits.max_node_watts:g} W."
    )


def pods_to_node_reason(pods: float, node: float, limits: Limits) -> str:
    """The reason written when the pods' sum is far above the node's energy."""
    return (
        f"The pods together spent {pods:.6g} J while the node's own counter says "
        f"{node:.6g} J, more than max_pods_to_node={limits.max_pods_to_node:g} "
        "times as much; the pods' energy of the interval was refused."
    )


def merge(
    refusals: Iterable[Refusal], into: dict[tuple[str, str, str], Refusal]
) -> None:
    """Add ``refusals`` to ``into``, counting repeats of one (node, series, check)."""
    for refusal in refusals:
        key = (refusal.node, refusal.series, refusal.reason.split(":", 1)[0])
        known = into.get(key)
        into[key] = (
            refusal if known is None else attrs.evolve(known, count=known.count + 1)
        )


def check_delta(
    delta: EnergyDelta, limits: Limits | None = None, *, refuse: bool = True
) -> tuple[EnergyDelta, tuple[Refusal, ...]]:
    """Apply the checks to a :func:`~kepler_reader.diff` result.

    Counters above the value ceiling, pods above the power ceiling, and (when the
    pods' sum is far above the node) all pods are removed from the pod and namespace
    sums; the node is removed when above its ceiling. Everything removed is listed.
    ``delta`` itself is not changed.

    Args:
        delta: The result of :func:`~kepler_reader.diff`.
        limits: The ceilings; :class:`Limits` defaults when ``None``.
        refuse: With ``False`` nothing is removed: the figures stay as computed and
            each out-of-range value is only flagged, with a "suspect" warning
            saying that the sums include it.

    Returns:
        A copy of ``delta`` without the refused values (one warning per refusal
        added), and the refusals (the suspect values, with ``refuse=False``).
    """
    limits = limits or Limits()
    deltas = delta.counters
    seconds = delta.interval_seconds
    later, earlier = deltas.later, deltas.earlier
    refusals: list[Refusal] = []
    accepted, found = refuse_counters(later, deltas.rows, limits)
    refusals.extend(found)
    too_big_before = deltas.before > limits.max_counter_joules
    refusals.extend(
        Refusal(
            series=str(later.snapshot.series[int(later.rows[deltas.rows[i]])]),
            value=float(deltas.before[i]),
            unit="joules",
            reason=_counter_reason(float(deltas.before[i]), limits),
            scraped_at=earlier.snapshot.scraped_at,
        )
        for i in np.flatnonzero(too_big_before & accepted).tolist()
    )
    accepted &= ~too_big_before
    bad_groups = set(np.unique(deltas.group[~accepted & (deltas.group >= 0)]).tolist())
    pods = []
    for pod in delta.pods:
        group = later.registry.groups.get((pod.namespace, pod.pod, pod.pod_uid), -1)
        name = f"pod {pod.namespace}/{pod.pod}"
        if group in bad_groups:
            continue
        if pod.watts > limits.max_pod_watts:
            refusals.append(
                Refusal(name, pod.watts, "watts", pod_power_reason(pod.watts, limits))
            )
            continue
        pods.append(pod)
    node = delta.node
    if (
        node.watts is not None
        and limits.max_node_watts is not None
        and node.watts > limits.max_node_watts
    ):
        refusals.append(
            Refusal("node", node.watts, "watts", node_power_reason(node.watts, limits))
        )
        node = NodeEnergy(None, None, 0)
    pod_joules = sum(p.joules for p in pods)
    if (
        limits.max_pods_to_node is not None
        and node.joules is not None
        and node.joules > 0
        and pod_joules > limits.max_pods_to_node * node.joules
    ):
        refusals.append(
            Refusal(
                "pods",
                pod_joules,
                "joules",
                pods_to_node_reason(pod_joules, node.joules, limits),
            )
        )
        pods = []
    if not refuse:
        flagged = attrs.evolve(
            delta,
            warnings=(
                *delta.warnings,
                *(
                    f"Suspect {r.series} = {r.value!r} {r.unit}: {r.reason} "
                    "The sums include it."
                    for r in refusals
                ),
            ),
        )
        return flagged, tuple(refusals)
    checked = attrs.evolve(
        delta,
        pods=tuple(pods),
        namespaces=_namespaces(pods, seconds),
        node=node,
        warnings=(
            *delta.warnings,
            *(
                f"Refused {r.series} = {r.value!r} {r.unit}: {r.reason}"
                for r in refusals
            ),
        ),
    )
    return checked, tuple(refusals)
