"""Pictures: power over time from a recording, and bars for a comparison.

matplotlib is an optional extra (``pip install 'kepler-reader[plot]'``) and is imported
only inside the functions that draw. They build a ``matplotlib.figure.Figure`` without
pyplot, so no GUI backend is chosen and no global state changes; saving a PNG goes
through matplotlib's Agg renderer, which needs no display.

:func:`power_over_time` is the numbers behind the power plot and needs no matplotlib:
each pair of consecutive scrapes of a recording is one :func:`~kepler_reader.diff`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np
import numpy.typing as npt

from .delta import diff
from .exceptions import DataError, ExtraMissingError
from .recording import Recording
from .snapshot import MetricFamily, Snapshot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .comparison import Comparison

__all__ = [
    "GAP_FACTOR",
    "PowerSeries",
    "plot_comparison",
    "plot_power",
    "power_over_time",
    "require_matplotlib",
]

#: An interval longer than this many times the median interval is drawn as a gap.
GAP_FACTOR = 1.5


@attrs.frozen(slots=True, eq=False)
class PowerSeries:
    """Mean power per namespace or pod in each interval between consecutive scrapes.

    Attributes:
        edges: Shape ``(k + 1,)``, float64: the scrape times bounding the ``k``
            intervals, in seconds since the epoch.
        names: Length ``m``: the namespaces, or ``namespace/pod`` names.
        watts: Shape ``(k, m)``, float64: each one's mean power in each interval, in
            watts (0 where it was not seen in both scrapes).
        node_watts: Shape ``(k,)``, float64: the node's own power, NaN where the
            scrapes have no node counter for the zone.
        resets: Shape ``(k,)``, bool: some counter went down in the interval.
        gaps: Shape ``(k,)``, bool: the interval is longer than
            :data:`GAP_FACTOR` times the median one, or a failed scrape was
            recorded inside it (missed scrapes).
        zone: The zone of every figure.
        by: ``"namespace"`` or ``"pod"``.
    """

    edges: npt.NDArray[np.float64]
    names: tuple[str, ...]
    watts: npt.NDArray[np.float64]
    node_watts: npt.NDArray[np.float64]
    resets: npt.NDArray[np.bool_]
    gaps: npt.NDArray[np.bool_]
    zone: str
    by: str

    def joules(self) -> npt.NDArray[np.float64]:
        """Shape ``(m,)``, float64: each name's energy over the whole recording (J)."""
        seconds = np.diff(self.edges)
        total: npt.NDArray[np.float64] = (self.watts * seconds[:, None]).sum(axis=0)
        return total


def _row_snapshots(recording: Recording) -> list[Snapshot]:
    """One snapshot per row of ``recording``, from the series present in it.

    Each sample name becomes a family of the column's type. That is exact for Kepler's
    counters and gauges in the text format, where a family and its samples share a
    name; histogram and summary samples become families of their own, which the energy
    code never reads.
    """
    names = sorted({series.name for series in recording.series})
    family_of = {name: i for i, name in enumerate(names)}
    types = {s.name: t for s, t in zip(recording.series, recording.types, strict=True)}
    families = tuple(
        MetricFamily(name, types[name] if types[name] != "" else "untyped", None)
        for name in names
    )
    column_family = np.array(
        [family_of[s.name] for s in recording.series], dtype=np.int32
    )
    snapshots = []
    for row in range(len(recording)):
        columns = np.flatnonzero(recording.present[row])
        snapshots.append(
            Snapshot(
                families=families,
                family_index=column_family[columns],
                series=[recording.series[c] for c in columns.tolist()],
                values=np.array(recording.values[row, columns], dtype=np.float64),
                source=recording.sources[row] or None,
                scraped_at=float(recording.times[row]),
            )
        )
    return snapshots


def power_over_time(
    recording: Recording | Sequence[Snapshot],
    *,
    by: str = "namespace",
    zone: str = "package",
    endpoint: str | None = None,
    failed_at: Sequence[float] = (),
) -> PowerSeries:
    """Mean power per namespace or pod between each pair of consecutive scrapes.

    The scrapes must be of one node: a recording of several endpoints is narrowed to
    one with ``endpoint``.

    Args:
        recording: A recording, or snapshots with scrape times (sorted by time here).
        by: ``"namespace"`` or ``"pod"``.
        zone: The zone to report (``package`` by default); zones are never added.
        endpoint: Keep only the rows whose source is this URL (or path).
        failed_at: Times of scrapes that failed (seconds since the epoch, as a
            recorder notes them); the intervals holding one are gaps.

    Returns:
        The power of each namespace or pod, and the node's, per interval (W).

    Raises:
        DataError: Fewer than two scrapes (of ``endpoint``, when given), ``by`` is
            not ``namespace`` or ``pod``,
            two scrapes share a time, the Kepler era changes, or the zone is not
            published (see :func:`~kepler_reader.diff`).
        MissingIntervalError: A snapshot has no scrape time.
    """
    if by not in ("namespace", "pod"):
        raise DataError(f"Plot by 'namespace' or 'pod', not {by!r}.")
    if not isinstance(recording, Recording):
        from .recording import recording_from_snapshots

        recording = recording_from_snapshots(recording)
    snapshots = _row_snapshots(recording)
    if endpoint is not None:
        snapshots = [s for s in snapshots if s.source == endpoint]
    if len(snapshots) < 2:
        of = "" if endpoint is None else f" of {endpoint}"
        raise DataError(
            f"Power over time needs at least two scrapes{of}; {len(snapshots)} given."
        )
    edges = np.array([s.scraped_at for s in snapshots], dtype=np.float64)
    per_interval: list[dict[str, float]] = []
    node = np.full(len(snapshots) - 1, np.nan)
    resets = np.zeros(len(snapshots) - 1, dtype=np.bool_)
    for i, (before, after) in enumerate(itertools.pairwise(snapshots)):
        delta = diff(before, after, zone=zone, interval=edges[i + 1] - edges[i])
        if by == "namespace":
            power = {ns.namespace: ns.watts for ns in delta.namespaces}
        else:
            power = {f"{p.namespace}/{p.pod}": p.watts for p in delta.pods}
        per_interval.append(power)
        if delta.node.watts is not None:
            node[i] = delta.node.watts
        resets[i] = bool(delta.counters.reset.any())
    names = tuple(sorted({name for power in per_interval for name in power}))
    watts = np.array(
        [[power.get(name, 0.0) for name in names] for power in per_interval],
        dtype=np.float64,
    ).reshape(len(per_interval), len(names))
    seconds = np.diff(edges)
    gaps = seconds > GAP_FACTOR * float(np.median(seconds))
    if len(failed_at):
        # The interval (edges[i], edges[i + 1]] that holds each failed attempt.
        at = np.searchsorted(edges, np.asarray(failed_at, dtype=np.float64)) - 1
        gaps[at[(at >= 0) & (at < len(gaps))]] = True
    return PowerSeries(
        edges=edges,
        names=names,
        watts=watts,
        node_watts=node,
        resets=resets,
        gaps=gaps,
        zone=delta.zone,
        by=by,
    )


def require_matplotlib() -> type[Figure]:
    """Import matplotlib's ``Figure`` class and return it.

    Raises:
        ExtraMissingError: matplotlib is not installed (the ``plot`` extra).
    """
    try:
        from matplotlib.figure import Figure as FigureClass
    except ImportError as error:
        raise ExtraMissingError(
            "Plotting needs matplotlib, which is not installed; install it with "
            "pip install 'kepler-reader[plot]' (from a checkout of the project: "
            "pip install '.[plot]').",
            extra="plot",
        ) from error
    return FigureClass


def _save(figure: Figure, path: str | os.PathLike[str] | None) -> None:
    if path is not None:
        figure.savefig(os.fspath(path), dpi=100)


def _stamp(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def plot_power(
    power: PowerSeries | Recording | Sequence[Snapshot],
    *,
    top: int = 8,
    by: str = "namespace",
    zone: str = "package",
    endpoint: str | None = None,
    failed_at: Sequence[float] = (),
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Draw power over time, stacked per namespace or pod, with the node as a line.

    The ``top`` namespaces or pods with the most energy get a layer each; the rest are
    summed into one ``other (N)`` layer. Intervals longer than :data:`GAP_FACTOR`
    times the median are shaded and labelled ``gap``; intervals in which a counter
    went down carry a dashed ``reset`` line at their end (the scrape that saw it).

    Args:
        power: Figures from :func:`power_over_time`, or the recording (or snapshots)
            to compute them from with ``by`` and ``zone``.
        top: How many layers to draw before lumping the rest (at least 1).
        by: ``"namespace"`` or ``"pod"``, when ``power`` is not yet computed.
        zone: The zone, when ``power`` is not yet computed.
        endpoint: The one endpoint to draw of a recording of several.
        failed_at: Times of failed scrapes, drawn as gaps (see
            :func:`power_over_time`).
        path: Where to save the image (PNG, or any format matplotlib knows from the
            name); nothing is saved when ``None``.
        title: The figure title; by default the zone and the time of the first scrape.

    Returns:
        The matplotlib figure, 10 by 5 inches at 100 dpi; its legend labels are the
        layers (largest first), ``node``, and ``gap``/``reset`` where drawn.

    Raises:
        ExtraMissingError: matplotlib is not installed.
        DataError: As :func:`power_over_time`, or ``top`` is below 1.
    """
    if top < 1:
        raise DataError(f"--top must be at least 1, not {top!r}.")
    figure_class = require_matplotlib()
    if not isinstance(power, PowerSeries):
        power = power_over_time(
            power, by=by, zone=zone, endpoint=endpoint, failed_at=failed_at
        )
    energy = power.joules()
    order = np.argsort(-energy, kind="stable")
    kept = order[:top]
    rest = order[top:]
    layers = [(power.names[i], power.watts[:, i]) for i in kept.tolist()]
    if len(rest):
        layers.append((f"other ({len(rest)})", power.watts[:, rest].sum(axis=1)))
    x = power.edges - power.edges[0]

    figure = figure_class(figsize=(10, 5), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    bottom = np.zeros(len(x) - 1)
    for name, watts in layers:
        axes.stairs(bottom + watts, x, baseline=bottom, fill=True, label=name)
        bottom = bottom + watts
    if np.isfinite(power.node_watts).any():
        axes.stairs(
            power.node_watts,
            x,
            baseline=None,
            color="black",
            linewidth=1.5,
            label="node",
        )
    for i, start, end in zip(range(len(x) - 1), x[:-1], x[1:], strict=True):
        if power.gaps[i]:
            axes.axvspan(
                start,
                end,
                facecolor="none",
                edgecolor="grey",
                hatch="//",
                label="gap" if not power.gaps[:i].any() else None,
            )
        if power.resets[i]:
            axes.axvline(
                end,
                color="red",
                linestyle="--",
                label="reset" if not power.resets[:i].any() else None,
            )
    axes.set_xlabel(f"seconds since {_stamp(float(power.edges[0]))}")
    axes.set_ylabel(f"power, zone {power.zone} (W)")
    axes.set_xlim(float(x[0]), float(x[-1]))
    axes.set_ylim(bottom=0)
    axes.set_title(title or f"Power per {power.by}, Kepler zone {power.zone}")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    _save(figure, path)
    return figure


def plot_comparison(
    comparison: Comparison,
    *,
    node: bool = False,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Draw a comparison as bars: each side's mean joules with its 95% interval.

    Each namespace or pod gets one bar per setup, its error bar the Student t interval
    of the mean (none where a side has fewer than two repeats), and the verdict
    written above the pair.

    Args:
        comparison: What :func:`~kepler_reader.compare` returned.
        node: Draw the node's own energy as one more pair (it dwarfs the pods).
        path: Where to save the image; nothing is saved when ``None``.
        title: The figure title; by default what is compared.

    Returns:
        The matplotlib figure; its legend labels are the two setups' names.

    Raises:
        ExtraMissingError: matplotlib is not installed.
        DataError: The comparison has no rows to draw.
    """
    figure_class = require_matplotlib()
    rows = list(comparison.rows)
    if node and comparison.node is not None:
        rows.append(comparison.node)
    if not rows:
        raise DataError("The comparison has no namespace or pod to draw.")
    names = [
        "(node)"
        if row.namespace is None
        else (row.namespace if row.pod is None else f"{row.namespace}/{row.pod}")
        for row in rows
    ]
    x = np.arange(len(rows), dtype=np.float64)
    width = 0.38
    figure = figure_class(
        figsize=(max(6.0, 1.2 * len(rows) + 2.0), 5), dpi=100, layout="constrained"
    )
    axes = figure.add_subplot()
    tops = np.zeros(len(rows))
    for offset, side, label in (
        (-width / 2, "a", comparison.labels[0]),
        (width / 2, "b", comparison.labels[1]),
    ):
        summaries = [getattr(row, side) for row in rows]
        means = np.array([s.mean if s.mean is not None else np.nan for s in summaries])
        low = np.array(
            [s.mean - s.low if s.low is not None else 0.0 for s in summaries]
        )
        high = np.array(
            [s.high - s.mean if s.high is not None else 0.0 for s in summaries]
        )
        axes.bar(
            x + offset,
            np.nan_to_num(means),
            width,
            yerr=np.vstack([low, high]),
            capsize=4,
            label=label,
        )
        tops = np.maximum(tops, np.nan_to_num(means) + high)
    for i, row in enumerate(rows):
        axes.annotate(
            row.verdict,
            (x[i], tops[i]),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            fontsize="x-small",
        )
    tilted = len(rows) > 4
    axes.set_xticks(
        x, names, rotation=30 if tilted else 0, ha="right" if tilted else "center"
    )
    axes.set_ylabel("energy per run (J), mean with 95% interval")
    axes.set_ylim(0, float(tops.max()) * 1.15 or 1.0)
    axes.set_title(
        title
        or f"{comparison.labels[1]} against {comparison.labels[0]}, per {comparison.by}"
    )
    axes.legend()
    _save(figure, path)
    return figure
