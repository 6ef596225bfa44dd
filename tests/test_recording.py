"""Stacking snapshots into a Recording."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

import kepler_reader as kr


def _at(body: bytes, seconds: float) -> kr.Snapshot:
    return attrs.evolve(kr.parse(body), scraped_at=seconds, source=f"t{seconds:g}")


def test_union_of_series_with_absence_marked() -> None:
    first = _at(b'# TYPE e_total counter\ne_total{pod="a"} 1\ng 2\n', 10.0)
    second = _at(b'e_total{pod="a"} 4\nh NaN\n', 20.0)
    recording = kr.recording_from_snapshots([second, first])
    assert recording.times.tolist() == [10.0, 20.0]
    assert [str(s) for s in recording.series] == ['e_total{pod="a"}', "g", "h"]
    assert recording.types == ("counter", "untyped", "untyped")
    assert recording.sources == ("t10", "t20")
    np.testing.assert_array_equal(
        recording.present, [[True, True, False], [True, False, True]]
    )
    assert recording.values[:, 0].tolist() == [1.0, 4.0]
    assert np.isnan(recording.values[1, 1])
    assert not recording.present[1, 1]
    assert np.isnan(recording.values[1, 2])
    assert recording.present[1, 2]
    assert recording.column(kr.Series("h", ())) == 2
    with pytest.raises(ValueError, match="read-only"):
        recording.values[0, 0] = 9.0


def test_times_are_required() -> None:
    with pytest.raises(kr.MissingIntervalError, match="no scrape time"):
        kr.recording_from_snapshots([kr.parse(b"a 1\n")])
    recording = kr.recording_from_snapshots(
        [kr.parse(b"a 1\n"), kr.parse(b"a 2\n")], times=[5.0, 6.5]
    )
    assert recording.values[:, 0].tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="2 times given for 1 snapshots"):
        kr.recording_from_snapshots([kr.parse(b"a 1\n")], times=[1.0, 2.0])


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="shape"):
        kr.Recording(
            times=np.zeros(2),
            series=(kr.Series("a", ()),),
            values=np.zeros((2, 2)),
            present=np.ones((2, 1), dtype=bool),
            types=("gauge",),
            sources=("", ""),
        )
