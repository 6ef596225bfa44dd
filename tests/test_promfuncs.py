"""Prometheus's functions on small series whose answers are worked out by hand."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

import kepler_reader as kr
from kepler_reader import promfuncs as pf

NAN = math.nan


def _recording(times: Sequence[float], *columns: Sequence[float]) -> kr.Recording:
    """One counter per column; NaN marks a missing sample."""
    values = np.array(columns, dtype=np.float64).T.reshape(len(times), len(columns))
    return kr.Recording(
        times=np.array(times, dtype=np.float64),
        series=tuple(kr.Series(f"c{i}", ()) for i in range(len(columns))),
        values=values,
        present=~np.isnan(values),
        types=("counter",) * len(columns),
        sources=("",) * len(times),
    )


def _one(result: kr.Recording) -> float | None:
    """The single value of a one-row, one-column result; None for no output."""
    assert result.values.shape == (1, 1)
    return float(result.values[0, 0]) if result.present[0, 0] else None


# A counter that starts late: 50, 100, 150, 200 at 7, 8, 9 and 10 minutes.
LATE = _recording([420, 480, 540, 600], [50, 100, 150, 200])


def test_the_two_extrapolation_orders() -> None:
    # increase(x[5m]) at 10 m: the range starts 120 s before the first sample.
    # Prometheus 2: the zero point (180 s * 50/150 = 60 s back) is inside the
    # 1.1 * 60 s threshold, so the range extends by all 60 s: 150 * 240/180 = 200.
    assert _one(pf.increase(LATE, 300, 600, semantics="prometheus2")) == 200.0
    # Prometheus 3: 120 s exceeds the threshold, so half an interval (30 s) first;
    # the zero point at 60 s does not shorten it: 150 * 210/180 = 175.
    assert _one(pf.increase(LATE, 300, 600, semantics="prometheus3")) == 175.0
    # rate is the same divided by the 300 s range.
    assert _one(pf.rate(LATE, 300, 600, semantics="prometheus3")) == 175.0 / 300


RESET = _recording([0, 1, 2, 3], [10, 20, 5, 15])


def test_a_reset_and_the_left_edge() -> None:
    # [0 s, 3 s] holds all four samples in Prometheus 2: 15 - 10 + 20 = 25, with no
    # gap at either edge.
    assert _one(pf.increase(RESET, 3, 3, semantics="prometheus2")) == 25.0
    assert _one(pf.resets(RESET, 3, 3, semantics="prometheus2")) == 1.0
    # (0 s, 3 s] drops the sample at 0: 15 - 20 + 20 = 15 over 2 s, extended by the
    # 1 s gap to the edge (below 1.1 s; the zero point 2.67 s back is further):
    # 15 * 3/2 = 22.5.
    assert _one(pf.increase(RESET, 3, 3, semantics="prometheus3")) == 22.5
    assert _one(pf.count_over_time(RESET, 3, 3, semantics="prometheus2")) == 4.0
    assert _one(pf.count_over_time(RESET, 3, 3, semantics="prometheus3")) == 3.0


def test_the_zero_floor_and_gauges() -> None:
    # A counter seen first at 0.5 J, then +10 J a second: 3 s of samples in a 10 s
    # range ending 0.5 s after the last. The start is floored where the counter
    # would reach 0: 3 s * 0.5/30 = 0.05 s. 30 * (3 + 0.05 + 0.5)/3 = 35.5.
    new = _recording([7, 8, 9, 10], [0.5, 10.5, 20.5, 30.5])
    for semantics in pf.SEMANTICS:
        assert _one(pf.increase(new, 10, 10.5, semantics=semantics)) == 35.5
    # delta() has no zero floor: 30 * (3 + 0.5 + 0.5)/3 = 40 (half an interval at
    # the start, 3.5 s being past the threshold).
    assert _one(pf.delta(new, 10, 10.5)) == 40.0
    falling = _recording([0, 1, 2], [9, 6, 3])
    assert _one(pf.delta(falling, 2, 2, semantics="prometheus2")) == -6.0


def test_the_last_two_samples() -> None:
    # irate over a reset: the counter restarted from 0 and reached 5 in 1 s.
    assert _one(pf.irate(RESET, 3, 2)) == 5.0
    assert _one(pf.idelta(RESET, 3, 2)) == -15.0
    assert _one(pf.irate(RESET, 3, 3)) == 10.0
    # One sample in the range: no output from any of them; resets says 0.
    for function in (pf.increase, pf.rate, pf.delta, pf.irate, pf.idelta):
        assert _one(function(RESET, 0.5, 3)) is None
    assert _one(pf.resets(RESET, 0.5, 3)) == 0.0
    assert _one(pf.resets(RESET, 0.5, 10)) is None


def test_over_time() -> None:
    gauge = _recording([0, 1, 2, 3, 4], [4, NAN, 1, 3, 2])
    at = 4
    assert _one(pf.sum_over_time(gauge, 10, at)) == 10.0
    assert _one(pf.count_over_time(gauge, 10, at)) == 4.0
    assert _one(pf.avg_over_time(gauge, 10, at)) == 2.5
    assert _one(pf.min_over_time(gauge, 10, at)) == 1.0
    assert _one(pf.max_over_time(gauge, 10, at)) == 4.0
    assert _one(pf.last_over_time(gauge, 10, at)) == 2.0
    assert _one(pf.present_over_time(gauge, 10, at)) == 1.0
    assert _one(pf.stdvar_over_time(gauge, 10, at)) == 1.25
    assert _one(pf.stddev_over_time(gauge, 10, at)) == math.sqrt(1.25)
    assert _one(pf.changes(gauge, 10, at)) == 3.0
    # Sorted 1, 2, 3, 4: the median lies halfway between 2 and 3.
    assert _one(pf.quantile_over_time(0.5, gauge, 10, at)) == 2.5
    assert _one(pf.quantile_over_time(0.25, gauge, 10, at)) == 1.75
    assert _one(pf.quantile_over_time(-1, gauge, 10, at)) == -math.inf
    assert _one(pf.quantile_over_time(2, gauge, 10, at)) == math.inf


def test_nan_samples() -> None:
    # A NaN printed by the exporter is a sample: min and max skip it unless every
    # sample is NaN; two NaNs in a row are no change.
    values = np.array([[NAN, 1.0], [2.0, NAN], [NAN, NAN]])
    recording = kr.Recording(
        times=np.array([0.0, 1.0, 2.0]),
        series=(kr.Series("a", ()), kr.Series("b", ())),
        values=values,
        present=np.ones((3, 2), dtype=bool),
        types=("gauge", "gauge"),
        sources=("", "", ""),
    )
    assert pf.max_over_time(recording, 5, 2).values.tolist() == [[2.0, 1.0]]
    assert pf.changes(recording, 5, 2).values.tolist() == [[2.0, 1.0]]
    only_nan = pf.min_over_time(recording, 1.5, 2)
    assert np.isnan(only_nan.values[0, 1])
    assert only_nan.present[0, 1]


def test_many_evaluation_times_and_offset() -> None:
    result = pf.increase(RESET, 1, [1, 2, 3], semantics="prometheus2")
    # [0, 1]: 20 - 10; [1, 2]: a reset, 5 - 20 + 20; [2, 3]: 15 - 5.
    assert result.values[:, 0].tolist() == [10.0, 5.0, 10.0]
    shifted = pf.increase(RESET, 1, [2, 3, 4], offset=1, semantics="prometheus2")
    assert shifted.values[:, 0].tolist() == [10.0, 5.0, 10.0]
    assert shifted.times.tolist() == [2.0, 3.0, 4.0]


def test_instant_selectors_look_back_and_respect_stale_markers() -> None:
    recording = _recording([0, 100, 200], [1, 2, NAN])
    # Absent after it appeared: stale at 200 s, so nothing from then on.
    found = pf.instant(recording, [0, 150, 199.999, 200, 250])
    assert found.present[:, 0].tolist() == [True, True, True, False, False]
    assert found.values[:2, 0].tolist() == [1.0, 2.0]
    # Without stale markers, the sample at 100 s is visible for 300 s: through
    # exactly 400 s in Prometheus 2, strictly before it in Prometheus 3.
    unmarked = kr.Recording(
        times=recording.times,
        series=recording.series,
        values=recording.values,
        present=recording.present,
        types=recording.types,
        sources=recording.sources,
        stale=np.zeros((3, 1), dtype=bool),
    )
    for semantics, visible in (("prometheus2", True), ("prometheus3", False)):
        at_400 = pf.instant(unmarked, 400, semantics=semantics)  # type: ignore[arg-type]
        assert bool(at_400.present[0, 0]) is visible
    assert not pf.instant(unmarked, 400.001, semantics="prometheus2").present[0, 0]


def test_increase_between_measures_without_extrapolation() -> None:
    measured = kr.increase_between(RESET, 0.5, 3)
    # From the sample at 0 s (the newest at or before 0.5 s) to 3 s: +10, then a
    # reset to 5, then +10.
    assert measured.increase.tolist() == [25.0]
    assert measured.resets.tolist() == [1]
    assert (measured.first_seconds.tolist(), measured.last_seconds.tolist()) == (
        [0.0],
        [3.0],
    )
    assert measured.per_second.tolist() == [25.0 / 3]
    # A counter that appears later counts from its first sample.
    late = kr.increase_between(LATE, 0, 540)
    assert late.increase.tolist() == [100.0]
    assert late.first_seconds.tolist() == [420.0]
    assert np.isnan(kr.increase_between(LATE, 0, 420).increase[0])
    with pytest.raises(ValueError, match=r"end \(1\) is before start \(2\)"):
        kr.increase_between(LATE, 2, 1)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="the range must be positive, not 0 s"):
        pf.rate(RESET, 0, 3)
    with pytest.raises(ValueError, match="semantics must be one of"):
        pf.rate(RESET, 1, 3, semantics="prometheus1")  # type: ignore[arg-type]
