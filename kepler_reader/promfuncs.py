"""Prometheus's range and instant functions over a :class:`Recording`, vectorised.

Each function evaluates at one or many times and returns a :class:`Recording` with one
row per evaluation time and the input's columns: ``present`` is False where Prometheus
gives no output for that series (fewer than two samples in the window, nothing within
the lookback). Values are in the unit of the input per evaluation (``increase``,
``delta``) or per second (``rate``, ``irate``): joules in, joules or watts out.

Times follow Prometheus: sample and evaluation times are rounded to whole milliseconds,
and spans are computed as integer milliseconds divided by 1000. The arithmetic of
``increase``, ``rate`` and ``delta`` repeats Prometheus's operations in its order, so
the results agree to the last bit, not merely to a tolerance.

Two rule sets (``semantics=``):

``"prometheus3"`` (the default)
    The range ``(t - range, t]`` is open on the left, as is the lookback of instant
    selectors. Extrapolation first caps each edge's gap at half the average interval
    when the gap exceeds 1.1 times that interval, then applies the counter zero floor.

``"prometheus2"``
    Prometheus up to 2.50: the range ``[t - range, t]`` and the lookback are closed.
    The zero floor is applied to the raw gap first, and the 1.1 threshold test after it,
    so a zero point inside the threshold but beyond half an interval still extends the
    range to it.

:func:`increase_between` is the measurement a user usually wants instead: the growth of
each counter between two instants, from samples only, without extrapolation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .instants import Increase, increase_between, instant
from .promranges import (
    LOOKBACK_SECONDS,
    SEMANTICS,
    Columns,
    Semantics,
    Times,
    Window,
    check_semantics,
    evaluation_ms,
    go_seconds,
    range_milliseconds,
    result_recording,
    to_ms,
)

if TYPE_CHECKING:
    from .recording import Recording

__all__ = [
    "LOOKBACK_SECONDS",
    "SEMANTICS",
    "Increase",
    "Semantics",
    "avg_over_time",
    "changes",
    "count_over_time",
    "delta",
    "idelta",
    "increase",
    "increase_between",
    "instant",
    "irate",
    "last_over_time",
    "max_over_time",
    "min_over_time",
    "present_over_time",
    "quantile_over_time",
    "rate",
    "resets",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "to_ms",
]

_F = npt.NDArray[np.float64]
_B = npt.NDArray[np.bool_]


def _extrapolated(
    recording: Recording,
    range_seconds: float,
    at: Times,
    *,
    offset: float,
    semantics: Semantics,
    counter: bool,
    per_second: bool,
) -> Recording:
    # Prometheus's extrapolatedRate, one numpy operation per scalar step of its code
    # so that every rounding happens as it does there.
    check_semantics(semantics)
    range_ms = range_milliseconds(range_seconds)
    columns = Columns.of(recording)
    seconds, ends = evaluation_ms(at, offset)
    out = np.full((len(ends), len(recording.series)), np.nan)
    has = np.zeros(out.shape, dtype=bool)
    for e, end in enumerate(ends.tolist()):
        lo, hi = columns.window(end, range_ms, semantics)
        if hi - lo < 2:
            continue
        win = Window.of(columns.present, lo, hi)
        ok = win.count >= 2
        if not ok.any():
            continue
        picked = np.arange(len(ok))
        v_first = columns.values[win.first_row, picked]
        v_last = columns.values[win.last_row, picked]
        t_first = columns.times_ms[win.first_row]
        t_last = columns.times_ms[win.last_row]
        result = v_last - v_first
        if counter:
            result = _add_resets(columns, lo, hi, result)
        start = end - range_ms
        with np.errstate(all="ignore"):
            to_start = (t_first - start).astype(np.float64) / 1000
            to_end = (end - t_last).astype(np.float64) / 1000
            sampled = (t_last - t_first).astype(np.float64) / 1000
            average = sampled / (win.count - 1).astype(np.float64)
            threshold = average * 1.1
            if semantics == "prometheus2":
                if counter:
                    floor = (result > 0) & (v_first >= 0)
                    to_zero = sampled * (v_first / result)
                    to_start = np.where(floor & (to_zero < to_start), to_zero, to_start)
                span = sampled + np.where(to_start < threshold, to_start, average / 2)
                span = span + np.where(to_end < threshold, to_end, average / 2)
                factor = span / sampled
                if per_second:
                    factor = factor / go_seconds(range_ms)
                result = result * factor
            else:
                to_start = np.where(to_start >= threshold, average / 2, to_start)
                if counter:
                    floor = (result > 0) & (v_first >= 0)
                    to_zero = np.where(floor, sampled * (v_first / result), to_start)
                    to_start = np.where(to_zero < to_start, to_zero, to_start)
                to_end = np.where(to_end >= threshold, average / 2, to_end)
                factor = (sampled + to_start + to_end) / sampled
                if per_second:
                    factor = factor / go_seconds(range_ms)
                result = result * factor
        out[e] = result
        has[e] = ok
    return result_recording(recording, seconds, out, has)


def _add_resets(columns: Columns, lo: int, hi: int, result: _F) -> _F:
    # Every decrease is a reset: add the value before it, one reset at a time and in
    # time order, as Prometheus does (adding 0.0 elsewhere changes nothing).
    inside, earlier = columns.previous_value(lo, hi)
    with np.errstate(invalid="ignore"):
        drops = inside & (columns.values[lo:hi] < earlier)
    for row in np.flatnonzero(drops.any(axis=1)).tolist():
        result = result + np.where(drops[row], earlier[row], 0.0)
    return result


def increase(
    recording: Recording,
    range_seconds: float,
    at: Times,
    *,
    offset: float = 0.0,
    semantics: Semantics = "prometheus3",
) -> Recording:
    """Prometheus's ``increase(x[range])``: the counters' growth, extrapolated.

    Args:
        recording: The samples.
        range_seconds: The range, in seconds.
        at: The evaluation time or times, in seconds since the epoch.
        offset: Shift the range back by this many seconds (PromQL ``offset``).
        semantics: ``"prometheus3"`` or ``"prometheus2"`` (see the module docstring).

    Returns:
        One row per evaluation time (ascending), the input's columns, in the input's
        unit (joules in, joules out); ``present`` False where fewer than two samples
        lie in the range.

    Raises:
        ValueError: A range that is not positive, or an unknown ``semantics``.
    """
    return _extrapolated(
        recording,
        range_seconds,
        at,
        offset=offset,
        semantics=semantics,
        counter=True,
        per_second=False,
    )


def rate(
    recording: Recording,
    range_seconds: float,
    at: Times,
    *,
    offset: float = 0.0,
    semantics: Semantics = "prometheus3",
) -> Recording:
    """Prometheus's ``rate(x[range])``: the extrapolated increase per second.

    Same arguments, errors and shape as :func:`increase`; values are per second
    (joules in, watts out).
    """
    return _extrapolated(
        recording,
        range_seconds,
        at,
        offset=offset,
        semantics=semantics,
        counter=True,
        per_second=True,
    )


def delta(
    recording: Recording,
    range_seconds: float,
    at: Times,
    *,
    offset: float = 0.0,
    semantics: Semantics = "prometheus3",
) -> Recording:
    """Prometheus's ``delta(x[range])``: last minus first for gauges, extrapolated.

    No resets and no zero floor. Same arguments, errors and shape as :func:`increase`.
    """
    return _extrapolated(
        recording,
        range_seconds,
        at,
        offset=offset,
        semantics=semantics,
        counter=False,
        per_second=False,
    )


def _last_pair(
    recording: Recording,
    range_seconds: float,
    at: Times,
    offset: float,
    semantics: Semantics,
    per_second: bool,
) -> Recording:
    # Prometheus's instantValue: the last two samples of the range.
    check_semantics(semantics)
    range_ms = range_milliseconds(range_seconds)
    columns = Columns.of(recording)
    seconds, ends = evaluation_ms(at, offset)
    out = np.full((len(ends), len(recording.series)), np.nan)
    has = np.zeros(out.shape, dtype=bool)
    picked = np.arange(len(recording.series))
    for e, end in enumerate(ends.tolist()):
        lo, hi = columns.window(end, range_ms, semantics)
        if hi - lo < 2:
            continue
        win = Window.of(columns.present, lo, hi)
        before = columns.previous[win.last_row, picked]
        ok = (win.count >= 2) & (before >= lo)
        if not ok.any():
            continue
        before = np.maximum(before, 0)
        last = columns.values[win.last_row, picked]
        prev = columns.values[before, picked]
        gap = columns.times_ms[win.last_row] - columns.times_ms[before]
        ok &= gap != 0
        with np.errstate(all="ignore"):
            if per_second:
                result = np.where(last < prev, last, last - prev)
                result = result / (gap.astype(np.float64) / 1000)
            else:
                result = last - prev
        out[e] = result
        has[e] = ok
    return result_recording(recording, seconds, out, has)


def irate(
    recording: Recording,
    range_seconds: float,
    at: Times,
    *,
    offset: float = 0.0,
    semantics: Semantics = "prometheus3",
) -> Recording:
    """Prometheus's ``irate(x[range])``: per second between the last two samples.

    A decrease between them is a reset (the rate is then the last value over the gap).
    Same arguments, errors and shape as :func:`increase`; values per second.
    """
    return _last_pair(recording, range_seconds, at, offset, semantics, True)


def idelta(
    recording: Recording,
    range_seconds: float,
    at: Times,
    *,
    offset: float = 0.0,
    semantics: Semantics = "prometheus3",
) -> Recording:
    """Prometheus's ``idelta(x[range])``: last minus previous sample, no resets.

    Same arguments, errors and shape as :func:`increase`.
    """
    return _last_pair(recording, range_seconds, at, offset, semantics, False)


Reducer = Callable[[_F, _B], _F]


def _over_time(
    recording: Recording,
    range_seconds: float,
    at: Times,
    offset: float,
    semantics: Semantics,
    reduce: Reducer,
    *,
    pairs: bool = False,
) -> Recording:
    # One reduction over the samples of each window; ``pairs`` hands the reducer a
    # mask of samples that have an earlier one in the window, and that earlier value.
    check_semantics(semantics)
    range_ms = range_milliseconds(range_seconds)
    columns = Columns.of(recording)
    seconds, ends = evaluation_ms(at, offset)
    out = np.full((len(ends), len(recording.series)), np.nan)
    has = np.zeros(out.shape, dtype=bool)
    for e, end in enumerate(ends.tolist()):
        lo, hi = columns.window(end, range_ms, semantics)
        inside = columns.present[lo:hi]
        ok = inside.any(axis=0)
        if not ok.any():
            continue
        with np.errstate(all="ignore"):
            if pairs:
                later, earlier = columns.previous_value(lo, hi)
                values = np.stack([columns.values[lo:hi], earlier])
                out[e] = reduce(values, later)
            else:
                out[e] = reduce(columns.values[lo:hi], inside)
        has[e] = ok
    return result_recording(recording, seconds, out, has)


def _count_resets(values: _F, later: _B) -> _F:
    counted: _F = (later & (values[0] < values[1])).sum(axis=0).astype(np.float64)
    return counted


def _count_changes(values: _F, later: _B) -> _F:
    now, before = values[0], values[1]
    changed = (now != before) & ~(np.isnan(now) & np.isnan(before))
    counted: _F = (later & changed).sum(axis=0).astype(np.float64)
    return counted


def resets(
    recording: Recording,
    range_seconds: float,
    at: Times,
    *,
    offset: float = 0.0,
    semantics: Semantics = "prometheus3",
) -> Recording:
    """Prometheus's ``resets(x[range])``: how many times each counter decreased.

    Output (possibly 0) for every series with at least one sample in the range. Same
    arguments, errors and shape as :func:`increase`.
    """
    return _over_time(
        recording, range_seconds, at, offset, semantics, _count_resets, pairs=True
    )


def changes(
    recording: Recording,
    range_seconds: float,
    at: Times,
    *,
    offset: float = 0.0,
    semantics: Semantics = "prometheus3",
) -> Recording:
    """Prometheus's ``changes(x[range])``: how many times each value changed.

    Two NaN samples in a row are no change. Same as :func:`resets` otherwise.
    """
    return _over_time(
        recording, range_seconds, at, offset, semantics, _count_changes, pairs=True
    )


def _kahan_add(increment: _F, total: _F, compensation: _F) -> tuple[_F, _F]:
    # Neumaier's compensated summation, the variant Prometheus uses: the lost low
    # bits gather in ``compensation``, added to the total at the end.
    new = total + increment
    larger = np.abs(total) >= np.abs(increment)
    lost = np.where(larger, (total - new) + increment, (increment - new) + total)
    return new, compensation + lost


def _sum(values: _F, inside: _B) -> _F:
    total = np.zeros(values.shape[1])
    compensation = np.zeros(values.shape[1])
    for row, here in zip(values, inside, strict=True):
        step, lost = _kahan_add(np.where(here, row, 0.0), total, compensation)
        total = np.where(here, step, total)
        compensation = np.where(here, lost, compensation)
    result: _F = np.where(np.isinf(total), total, total + compensation)
    return result


def _count(values: _F, inside: _B) -> _F:
    counted: _F = inside.sum(axis=0).astype(np.float64)
    return counted


def _avg(values: _F, inside: _B) -> _F:
    # A running mean with compensated steps, as Prometheus computes it; an infinite
    # mean stays as it is unless a sample would change it to NaN.
    mean = np.zeros(values.shape[1])
    compensation = np.zeros(values.shape[1])
    count = np.zeros(values.shape[1])
    for row, here in zip(values, inside, strict=True):
        count = count + here
        keep = np.isinf(mean) & (
            (np.isinf(row) & ((mean > 0) == (row > 0))) | np.isfinite(row)
        )
        use = here & ~keep
        step, lost = _kahan_add(row / count - mean / count, mean, compensation)
        mean = np.where(use, step, mean)
        compensation = np.where(use, lost, compensation)
    result: _F = np.where(np.isinf(mean), mean, mean + compensation)
    return result


def _extreme(pick: Callable[[_F, _F], _F], empty: float) -> Reducer:
    # Prometheus skips NaN samples unless every sample is NaN.
    def reduce(values: _F, inside: _B) -> _F:
        kept = np.where(inside, values, np.nan)
        result = np.full(values.shape[1], empty)
        for row in kept:
            result = pick(result, row)
        all_nan = ~(inside & ~np.isnan(values)).any(axis=0)
        picked: _F = np.where(all_nan, np.nan, result)
        return picked

    return reduce


def _last(values: _F, inside: _B) -> _F:
    rows = values.shape[0] - 1 - np.argmax(inside[::-1], axis=0)
    last: _F = values[rows, np.arange(values.shape[1])]
    return last


def _present(values: _F, inside: _B) -> _F:
    return np.ones(values.shape[1])


def _stdvar(values: _F, inside: _B) -> _F:
    # Welford's running variance with compensated sums, in Prometheus's order.
    shape = values.shape[1]
    count = np.zeros(shape)
    mean, mean_lost = np.zeros(shape), np.zeros(shape)
    aux, aux_lost = np.zeros(shape), np.zeros(shape)
    for row, here in zip(values, inside, strict=True):
        count = count + here
        delta = row - (mean + mean_lost)
        new_mean, new_mean_lost = _kahan_add(delta / count, mean, mean_lost)
        new_aux, new_aux_lost = _kahan_add(
            delta * (row - (new_mean + new_mean_lost)), aux, aux_lost
        )
        mean = np.where(here, new_mean, mean)
        mean_lost = np.where(here, new_mean_lost, mean_lost)
        aux = np.where(here, new_aux, aux)
        aux_lost = np.where(here, new_aux_lost, aux_lost)
    variance: _F = (aux + aux_lost) / count
    return variance


def _stddev(values: _F, inside: _B) -> _F:
    deviation: _F = np.sqrt(_stdvar(values, inside))
    return deviation


_OVER_TIME: dict[str, Reducer] = {
    "avg": _avg,
    "min": _extreme(np.fmin, np.inf),
    "max": _extreme(np.fmax, -np.inf),
    "sum": _sum,
    "count": _count,
    "last": _last,
    "present": _present,
    "stddev": _stddev,
    "stdvar": _stdvar,
}


def _aggregate_over_time(name: str) -> Callable[..., Recording]:
    reduce = _OVER_TIME[name]

    def function(
        recording: Recording,
        range_seconds: float,
        at: Times,
        *,
        offset: float = 0.0,
        semantics: Semantics = "prometheus3",
    ) -> Recording:
        return _over_time(recording, range_seconds, at, offset, semantics, reduce)

    function.__name__ = function.__qualname__ = f"{name}_over_time"
    function.__doc__ = (
        f"Prometheus's ``{name}_over_time(x[range])`` over each series' samples.\n\n"
        "Output for every series with a sample in the range. Same arguments, errors\n"
        "and shape as :func:`increase`; values in the input's unit"
        + (" (a count)." if name in ("count", "present") else ".")
    )
    return function


avg_over_time = _aggregate_over_time("avg")
min_over_time = _aggregate_over_time("min")
max_over_time = _aggregate_over_time("max")
sum_over_time = _aggregate_over_time("sum")
count_over_time = _aggregate_over_time("count")
last_over_time = _aggregate_over_time("last")
present_over_time = _aggregate_over_time("present")
stddev_over_time = _aggregate_over_time("stddev")
stdvar_over_time = _aggregate_over_time("stdvar")


def quantile_over_time(
    quantile: float,
    recording: Recording,
    range_seconds: float,
    at: Times,
    *,
    offset: float = 0.0,
    semantics: Semantics = "prometheus3",
) -> Recording:
    """Prometheus's ``quantile_over_time(q, x[range])``, interpolating linearly.

    ``q`` below 0 gives -Inf and above 1 +Inf, as in Prometheus. Otherwise the same
    as :func:`increase`'s arguments, errors and shape.
    """

    def reduce(values: _F, inside: _B) -> _F:
        if np.isnan(quantile):
            return np.full(values.shape[1], np.nan)
        if quantile < 0 or quantile > 1:
            return np.full(values.shape[1], -np.inf if quantile < 0 else np.inf)
        kept = np.where(inside, values, np.nan)
        # NaN samples sort last in Prometheus too; np.sort puts them at the end.
        ordered = np.sort(kept, axis=0)
        counts = inside.sum(axis=0)
        rank = quantile * (np.maximum(counts, 1) - 1)
        below = np.floor(rank).astype(np.intp)
        above = np.minimum(below + 1, np.maximum(counts - 1, 0))
        weight = rank - below
        columns = np.arange(values.shape[1])
        low = ordered[below, columns]
        high = ordered[above, columns]
        result: _F = low * (1 - weight) + high * weight
        return result

    return _over_time(recording, range_seconds, at, offset, semantics, reduce)
