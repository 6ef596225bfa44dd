"""Histograms assembled from the raw ``_bucket``, ``_sum`` and ``_count`` samples.

Exporters may print a histogram's lines interleaved across series and with buckets out
of order; the snapshot keeps them as printed, and :func:`histograms` groups them by
their labels without ``le`` and sorts the buckets numerically.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import attrs
import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from .snapshot import Snapshot

__all__ = ["Histogram", "histograms"]


@attrs.define(slots=True, eq=False)
class Histogram:
    """One histogram series.

    Attributes:
        labels: The series' labels without ``le``, sorted by name.
        upper_bounds: Shape ``(k,)``, float64: the buckets' ``le``, ascending.
        cumulative_counts: Shape ``(k,)``, float64: the count of each bucket.
        sum: The ``_sum`` sample, or NaN when absent.
        count: The ``_count`` sample, or NaN when absent.
        problems: Whole sentences about failed consistency checks (counts that
            decrease, a ``+Inf`` bucket that differs from ``_count``).
    """

    labels: tuple[tuple[str, str], ...]
    upper_bounds: npt.NDArray[np.float64]
    cumulative_counts: npt.NDArray[np.float64]
    sum: float
    count: float
    problems: tuple[str, ...]


def histograms(snapshot: Snapshot, family: str) -> tuple[Histogram, ...]:
    """Group the samples of histogram ``family`` into one :class:`Histogram` per series.

    Returns:
        The series in order of first appearance; empty when the family is absent.
    """
    parts: dict[tuple[tuple[str, str], ...], dict[str, object]] = {}
    for row in snapshot.rows_of(family).tolist():
        series = snapshot.series[row]
        key = tuple(pair for pair in series.labels if pair[0] != "le")
        entry = parts.setdefault(
            key, {"buckets": [], "sum": math.nan, "count": math.nan}
        )
        value = float(snapshot.values[row])
        if series.name == family + "_bucket":
            bound = series.get("le")
            if bound is not None:
                buckets = entry["buckets"]
                assert isinstance(buckets, list)
                buckets.append((float(bound), value))
        elif series.name == family + "_sum":
            entry["sum"] = value
        elif series.name == family + "_count":
            entry["count"] = value
    out = []
    for labels, entry in parts.items():
        buckets = entry["buckets"]
        assert isinstance(buckets, list)
        buckets.sort()
        bounds = np.array([b for b, _ in buckets], dtype=np.float64)
        counts = np.array([c for _, c in buckets], dtype=np.float64)
        total, count = entry["sum"], entry["count"]
        assert isinstance(total, float)
        assert isinstance(count, float)
        problems = []
        if counts.size and np.any(np.diff(counts) < 0):
            problems.append(
                f"The bucket counts of {family} {dict(labels)} decrease with le."
            )
        if (
            bounds.size
            and bounds[-1] == math.inf
            and not math.isnan(count)
            and (counts[-1] != count)
        ):
            problems.append(
                f"The +Inf bucket of {family} {dict(labels)} is "
                f"{counts[-1]!r} but _count is {count!r}."
            )
        out.append(Histogram(labels, bounds, counts, total, count, tuple(problems)))
    return tuple(out)
