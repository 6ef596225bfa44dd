"""A recording: many scrapes of one or more endpoints as one time-by-series matrix.

A :class:`Recording` is what the recorder's files, a sequence of dumps, a federate body
and Prometheus's JSON answers all read into, and what the Prometheus-compatible
functions and ``query`` work on. Its series table is the union of the series of every
scrape; a series absent from a scrape is NaN in that row of :attr:`Recording.values`
and False in :attr:`Recording.present` (a NaN the exporter printed is a value, present
and NaN).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import attrs
import numpy as np
import numpy.typing as npt

from .exceptions import DataError, LimitExceededError, MissingIntervalError

if TYPE_CHECKING:
    from .snapshot import Series, Snapshot

__all__ = [
    "MAX_RECORDING_CELLS",
    "Recording",
    "check_cells",
    "recording_from_snapshots",
    "stale_per_target",
]

#: The most cells (rows x series) a reader builds a recording of by default: 50
#: million, about 400 MB of float64 values plus the masks. A recording is dense, so
#: many series each at its own time would otherwise ask for rows x series floats.
MAX_RECORDING_CELLS = 50_000_000


def check_cells(rows: int, columns: int, source: str, max_cells: int) -> None:
    """Refuse a recording of more than ``max_cells`` cells, before it is allocated.

    Raises:
        LimitExceededError: ``rows * columns > max_cells`` (limit
            ``"max_recording_cells"``); the message names ``source``.
    """
    if rows * columns > max_cells:
        raise LimitExceededError(
            f"{source or 'the input'}: a recording of {rows} times x {columns} series "
            f"is {rows * columns} cells, over the limit of {max_cells} "
            "(max_cells=).",
            limit="max_recording_cells",
            value=max_cells,
        )


def _frozen_array(value: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    value.flags.writeable = False
    return value


@attrs.frozen(slots=True, eq=False)
class Recording:
    """Scrapes over time, as arrays.

    Attributes:
        times: Shape ``(T,)``, float64: the time of each scrape (row), in seconds since
            the epoch, in ascending order.
        series: Length ``S``: the series of each column, in order of first appearance.
        values: Shape ``(T, S)``, float64: each series' value at each scrape, NaN where
            the series was absent.
        present: Shape ``(T, S)``, bool: whether the series was in that scrape.
        types: Length ``S``: each column's metric type (``counter``, ``gauge``,
            ``untyped`` ...), ``"untyped"`` where the source did not say.
        sources: Length ``T``: the URL or path each scrape came from (``""`` unknown).
        stale: Shape ``(T, S)``, bool, or ``None``: where Prometheus would have
            written a stale marker (the series vanished from a scrape of its target,
            or the scrape failed). ``None`` means each row is one scrape of the
            target its source names, so a series missing from a row after an
            earlier row of the same source had it is stale there; see
            :meth:`stale_markers`.

    The arrays are read-only; build a new recording to change one.
    """

    times: npt.NDArray[np.float64] = attrs.field(converter=_frozen_array)
    series: tuple[Series, ...]
    values: npt.NDArray[np.float64] = attrs.field(converter=_frozen_array)
    present: npt.NDArray[np.bool_] = attrs.field(converter=_frozen_array)
    types: tuple[str, ...]
    sources: tuple[str, ...]
    stale: npt.NDArray[np.bool_] | None = attrs.field(
        default=None, converter=attrs.converters.optional(_frozen_array)
    )

    def __attrs_post_init__(self) -> None:
        rows, columns = len(self.times), len(self.series)
        for name in ("values", "present", "stale"):
            if getattr(self, name) is None:
                continue
            shape = getattr(self, name).shape
            if shape != (rows, columns):
                raise ValueError(
                    f"Recording.{name} has shape {shape}, expected {(rows, columns)}."
                )
        if len(self.types) != columns or len(self.sources) != rows:
            raise ValueError("Recording.types and .sources must match the arrays.")
        if rows > 1 and bool(np.any(np.diff(self.times) < 0)):
            raise ValueError("Recording.times must be in ascending order.")

    def __len__(self) -> int:
        """The number of scrapes (rows)."""
        return len(self.times)

    def stale_markers(self) -> npt.NDArray[np.bool_]:
        """Where each series has a stale marker: shape ``(T, S)``, bool.

        The explicit :attr:`stale` when there is one. Otherwise each row is taken
        as one scrape of the target named by its source (rows of one URL are the
        scrapes of one endpoint), and a series is stale in every row of a target
        that lacks it after an earlier row of that target had it.
        """
        if self.stale is not None:
            return self.stale
        return stale_per_target(self.present, self.sources)

    def column(self, series: Series) -> int:
        """The column of ``series``.

        Raises:
            KeyError: The recording has no such series.
        """
        return self.series.index(series)


def stale_per_target(
    present: npt.NDArray[np.bool_], targets: Sequence[str]
) -> npt.NDArray[np.bool_]:
    """Where Prometheus would write stale markers, given which target each row is.

    Args:
        present: Shape ``(T, S)``: whether each series was in each scrape.
        targets: Length ``T``: the target (URL) each row scraped.

    Returns:
        Shape ``(T, S)``, bool: True where a series is missing from a scrape of a
        target after an earlier scrape of that target had it.
    """
    stale = np.zeros(present.shape, dtype=bool)
    names = np.asarray(targets, dtype=object)
    for target in dict.fromkeys(targets):
        rows = np.flatnonzero(names == target)
        mine = present[rows]
        stale[rows] = np.logical_or.accumulate(mine, axis=0) & ~mine
    return stale


def recording_from_snapshots(
    snapshots: Iterable[Snapshot],
    *,
    times: Sequence[float] | None = None,
    max_cells: int = MAX_RECORDING_CELLS,
) -> Recording:
    """Stack snapshots into a :class:`Recording`, one row each.

    Args:
        snapshots: The scrapes, in any order (rows are sorted by time).
        times: Each snapshot's time in seconds since the epoch; by default its
            ``scraped_at``.
        max_cells: The most cells (snapshots x series) to allocate.

    Returns:
        The recording; series are columns in order of first appearance.

    Raises:
        MissingIntervalError: A snapshot has no scrape time and ``times`` was not given.
        DataError: A snapshot holds a series twice, or two snapshots at one time
            (to the millisecond) give a series different values; or a time is not
            finite or beyond 2**53 ms.
        LimitExceededError: More than ``max_cells`` cells.
        ValueError: ``times`` has a different length than ``snapshots``.
    """
    taken = list(snapshots)
    if times is None:
        stamps = []
        for snapshot in taken:
            if snapshot.scraped_at is None:
                raise MissingIntervalError(
                    f"{snapshot.source or 'a snapshot'} has no scrape time; "
                    "pass times= for each snapshot."
                )
            stamps.append(snapshot.scraped_at)
    else:
        stamps = [float(t) for t in times]
        if len(stamps) != len(taken):
            raise ValueError(f"{len(stamps)} times given for {len(taken)} snapshots.")
    for snapshot, stamp in zip(taken, stamps, strict=True):
        # 2**53 ms is the last whole millisecond float64 holds, far inside int64.
        if not math.isfinite(stamp) or abs(stamp) > 2**53 / 1000:
            raise DataError(
                f"{snapshot.source or 'a snapshot'}: the time {stamp!r} must be a "
                "finite time within 2**53 ms of the epoch."
            )
    order = sorted(range(len(taken)), key=stamps.__getitem__)
    column: dict[Series, int] = {}
    kinds: list[str] = []
    placed: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = []
    for row in order:
        snapshot = taken[row]
        family_types = [family.type for family in snapshot.families]
        columns = np.empty(len(snapshot.series), dtype=np.int64)
        for i, series in enumerate(snapshot.series):
            at = column.get(series)
            if at is None:
                at = column[series] = len(column)
                kinds.append(_type_of(family_types, snapshot, i))
            columns[i] = at
        placed.append((columns, snapshot.values))
    check_cells(
        len(taken),
        len(column),
        ", ".join(dict.fromkeys(s.source or "" for s in taken[:3])),
        max_cells,
    )
    values = np.full((len(taken), len(column)), np.nan)
    present = np.zeros((len(taken), len(column)), dtype=bool)
    for row, (columns, row_values) in enumerate(placed):
        if len(np.unique(columns)) != len(columns):
            raise DataError(
                f"{taken[order[row]].source or 'a snapshot'} has a series twice; "
                "a recording holds one value per series and scrape."
            )
        values[row, columns] = row_values
        present[row, columns] = True
    _check_same_times(
        [stamps[i] for i in order], values, present, tuple(column), taken, order
    )
    return Recording(
        times=np.array([stamps[i] for i in order], dtype=np.float64),
        series=tuple(column),
        values=values,
        present=present,
        types=tuple(kinds),
        sources=tuple(taken[i].source or "" for i in order),
    )


def _check_same_times(
    stamps: Sequence[float],
    values: npt.NDArray[np.float64],
    present: npt.NDArray[np.bool_],
    series: Sequence[Series],
    taken: Sequence[Snapshot],
    order: Sequence[int],
) -> None:
    """Refuse two rows at one millisecond that give a series different values."""
    ms = np.round(np.asarray(stamps, dtype=np.float64) * 1000)
    for row in (np.flatnonzero(ms[1:] == ms[:-1]) + 1).tolist():
        both = present[row] & present[row - 1]
        a, b = values[row], values[row - 1]
        differ = both & (a != b) & ~(np.isnan(a) & np.isnan(b))
        if differ.any():
            column = int(np.flatnonzero(differ)[0])
            name = str(series[column]) or "{}"
            raise DataError(
                f"{taken[order[row]].source or 'a snapshot'} and "
                f"{taken[order[row - 1]].source or 'a snapshot'}: {name} has two "
                f"samples at {stamps[row]:.3f} s "
                f"({float(a[column])!r} and {float(b[column])!r})."
            )


def _type_of(family_types: Sequence[str], snapshot: Snapshot, row: int) -> str:
    index = int(snapshot.family_index[row])
    return family_types[index] if 0 <= index < len(family_types) else "untyped"
