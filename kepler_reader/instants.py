"""Values at instants: what an instant selector returns, and measured increases.

:func:`instant` is a PromQL instant selector (lookback and stale markers);
:func:`increase_between` is the growth of counters between two instants from their
samples alone, which is what a measurement wants instead of ``increase()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import numpy as np
import numpy.typing as npt

from .promranges import (
    LOOKBACK_SECONDS,
    Columns,
    Semantics,
    Times,
    Window,
    check_semantics,
    evaluation_ms,
    result_recording,
    to_ms,
)

if TYPE_CHECKING:
    from .recording import Recording

__all__ = ["Increase", "increase_between", "instant"]

_F = npt.NDArray[np.float64]


def instant(
    recording: Recording,
    at: Times,
    *,
    offset: float = 0.0,
    lookback_seconds: float = LOOKBACK_SECONDS,
    semantics: Semantics = "prometheus3",
) -> Recording:
    """What a PromQL instant selector returns: each series' newest sample.

    A series is in the result at time ``t`` when its newest sample at or before ``t``
    is at most ``lookback_seconds`` old (strictly less in ``prometheus3``) and no stale
    marker (see :meth:`Recording.stale_markers`) follows it before ``t``.

    Args:
        recording: The samples.
        at: The evaluation time or times, in seconds since the epoch.
        offset: Look this many seconds further back (PromQL ``offset``).
        lookback_seconds: How old a sample may be, in seconds (Prometheus: 5 min).
        semantics: ``"prometheus3"`` or ``"prometheus2"``.

    Returns:
        One row per evaluation time (ascending), the input's columns and unit.

    Raises:
        ValueError: An unknown ``semantics``.
    """
    check_semantics(semantics)
    seconds, ends = evaluation_ms(at, offset)
    times_ms = to_ms(recording.times)
    present = np.asarray(recording.present, dtype=bool)
    events = present | recording.stale_markers()
    rows = np.arange(len(times_ms), dtype=np.intp)[:, None]
    latest = np.where(events, rows, -1)
    if len(times_ms):
        latest = np.maximum.accumulate(latest, axis=0)
    upto = np.searchsorted(times_ms, ends, side="right") - 1
    columns = np.arange(len(recording.series))
    picked = np.where(upto[:, None] >= 0, latest[np.maximum(upto, 0)], -1)
    safe = np.maximum(picked, 0)
    sample_ms = times_ms[safe] if len(times_ms) else np.zeros_like(safe, np.int64)
    oldest = ends[:, None] - round(lookback_seconds * 1000.0)
    fresh = sample_ms >= oldest if semantics == "prometheus2" else sample_ms > oldest
    has = (picked >= 0) & fresh
    if len(times_ms):
        has &= present[safe, columns]
        values = recording.values[safe, columns]
    else:
        values = np.full(has.shape, np.nan)
    return result_recording(recording, seconds, values, has)


@attrs.frozen(slots=True, eq=False)
class Increase:
    """Each counter's growth between two instants, from its samples only.

    Attributes:
        series: The counters (the recording's columns).
        increase: Shape ``(S,)``, float64: the growth in the counters' unit (joules in,
            joules out), each decrease counted as a reset to zero; NaN where fewer
            than two samples were found.
        first_seconds: Shape ``(S,)``, float64: the time of the sample the growth
            starts from, in seconds since the epoch (NaN where none).
        last_seconds: Shape ``(S,)``, float64: the time of the sample it ends at.
        resets: Shape ``(S,)``, int64: the decreases counted as resets.
    """

    series: tuple[object, ...]
    increase: _F
    first_seconds: _F
    last_seconds: _F
    resets: npt.NDArray[np.int64]

    @property
    def seconds(self) -> _F:
        """Shape ``(S,)``: the span each increase covers, in seconds."""
        span: _F = self.last_seconds - self.first_seconds
        return span

    @property
    def per_second(self) -> _F:
        """Shape ``(S,)``: the increase over its span (joules in, watts out)."""
        with np.errstate(all="ignore"):
            ratio: _F = self.increase / self.seconds
        return ratio


def increase_between(recording: Recording, start: float, end: float) -> Increase:
    """The growth of every counter from ``start`` to ``end``, without extrapolation.

    Each counter starts from its newest sample at or before ``start`` (or, for a
    counter that appears later, its first sample) and ends at its newest sample at
    or before ``end``; consecutive samples are differenced, a decrease counting as a
    reset to zero. This is a measurement: nothing is guessed beyond the samples.

    Args:
        recording: The samples.
        start: The first instant, in seconds since the epoch.
        end: The second instant, in seconds since the epoch.

    Returns:
        The increase per column with the times it spans.

    Raises:
        ValueError: ``end`` is before ``start``.
    """
    if end < start:
        raise ValueError(f"end ({end}) is before start ({start}).")
    columns = Columns.of(recording)
    count = len(recording.series)
    begin_row = int(np.searchsorted(columns.times_ms, to_ms(start), side="right")) - 1
    stop_row = int(np.searchsorted(columns.times_ms, to_ms(end), side="right"))
    picked = np.arange(count)
    if begin_row >= 0:
        lo_rows = columns.previous[begin_row, picked]
        lo_rows = np.where(columns.present[begin_row], begin_row, lo_rows)
    else:
        lo_rows = np.full(count, -1, dtype=np.intp)
    lo = max(begin_row, 0)
    # Rows from the earliest starting sample to the end; columns without a sample at
    # or before ``start`` begin at their first sample after it.
    first = int(lo_rows[lo_rows >= 0].min()) if (lo_rows >= 0).any() else lo
    inside = columns.present[first:stop_row].copy()
    rows = np.arange(first, stop_row)[:, None]
    start_rows = np.where(lo_rows >= 0, lo_rows, lo)
    inside &= rows >= start_rows[None, :]
    win = Window.of(inside, 0, stop_row - first)
    values = columns.values[first:stop_row]
    steps = np.where(inside, values, np.nan)
    total = np.zeros(count)
    previous = np.full(count, np.nan)
    reset_count = np.zeros(count, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        for row in range(steps.shape[0]):
            now = steps[row]
            seen = ~np.isnan(now) & ~np.isnan(previous)
            dropped = seen & (now < previous)
            step = np.where(dropped, now, now - previous)
            total = total + np.where(seen, step, 0.0)
            reset_count += dropped
            previous = np.where(inside[row], now, previous)
    ok = win.count >= 2
    times = columns.times_ms.astype(np.float64) / 1000
    return Increase(
        series=tuple(recording.series),
        increase=np.where(ok, total, np.nan),
        first_seconds=np.where(ok, times[first + win.first_row], np.nan),
        last_seconds=np.where(ok, times[first + win.last_row], np.nan),
        resets=reset_count,
    )
