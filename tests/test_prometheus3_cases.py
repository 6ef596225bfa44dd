"""The ``prometheus3`` rules on the cases Prometheus 3's own test data pins down.

No Prometheus 3 server is available to run beside us (Debian ships 2.42), so these
are the expected values of the upstream engine tests for rate, increase, irate,
delta, idelta, resets and changes (``promql/promqltest/testdata/functions.test``),
re-created here as series and checked against ``query(..., semantics="prometheus3")``.
Series are written in that notation: ``0+10x3`` is 0 10 20 30, ``_`` a missing
sample, one sample per interval from time 0.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import kepler_reader as kr


def _samples(notation: str) -> list[float | None]:
    """The samples of one series; None where the notation has ``_``."""
    out: list[float | None] = []
    for token in notation.split():
        if "x" in token:
            start, _, rest = token.partition("+")
            step, _, count = rest.partition("x")
            out += [float(start) + float(step) * i for i in range(int(count) + 1)]
        else:
            out.append(None if token == "_" else float(token))
    return out


def _load(interval_minutes: int, series: dict[str, str]) -> kr.Recording:
    """A recording of ``name{labels}`` -> notation, one sample per interval."""
    columns = [_samples(text) for text in series.values()]
    rows = max(len(c) for c in columns)
    values = np.full((rows, len(columns)), np.nan)
    present = np.zeros(values.shape, dtype=bool)
    for k, samples in enumerate(columns):
        for row, sample in enumerate(samples):
            if sample is not None:
                values[row, k] = sample
                present[row, k] = True
    names = []
    for key in series:
        name, _, labels = key.partition("{")
        pairs = [p.split("=") for p in labels.rstrip("}").split(",") if p]
        names.append(
            kr.Series(name, tuple(sorted((a, b.strip('"')) for a, b in pairs)))
        )
    return kr.Recording(
        times=np.arange(rows) * 60.0 * interval_minutes,
        series=tuple(names),
        values=values,
        present=present,
        types=("counter",) * len(names),
        sources=("",) * rows,
        stale=np.zeros(values.shape, dtype=bool),
    )


RESETS = _load(
    5,
    {
        'http_requests{path="/foo"}': "1 2 3 0 1 0 0 1 2 0",
        'http_requests{path="/bar"}': "1 2 3 4 5 1 2 3 4 5",
        'http_requests{path="/biz"}': "0 0 0 0 0 1 1 1 1 1",
    },
)
INCREASE = _load(
    5,
    {
        'http_requests_total{path="/foo"}': "0+10x10",
        'http_requests_total{path="/bar"}': "0+18x5 0+18x5",
        'http_requests_total{path="/dings"}': "10+10x10",
        'http_requests_total{path="/bumms"}': "1+10x10",
    },
)
RATE = _load(
    5,
    {
        "testcounter_reset_middle_total": "0+27x4 0+27x5",
        "testcounter_reset_end_total": "0+10x9 0 10",
        'calculate_rate_offset_total{x="a"}': "0+10x10",
        'calculate_rate_offset_total{x="b"}': "0+20x10",
        "calculate_rate_window_total": "0+80x10",
        'http_requests{path="/foo"}': "0 50 100 150 200",
        'http_requests{path="/bar"}': "200 150 100 50 0",
        'steps{path="/foo"}': "0 50 100 150",
        'steps{path="/bar"}': "0 50 100 50",
        'counts{path="/foo"}': "0 1 2 3 2 3 4",
    },
)
ZERO = _load(
    4,
    {
        f'testcounter_zero_cutoff_total{{start="{m}m"}}': f"{60 * m}+240x10"
        for m in range(6)
    },
)
IRATE = _load(
    5,
    {
        'http_requests_total{path="/foo"}': "0+10x10",
        'http_requests_total{path="/bar"}': "0+10x5 0+10x5",
    },
)

CASES = [
    # (recording, minutes, expression, {label value: expected}); an empty dict is no
    # output. The label is the one the case's series differ by.
    (RESETS, 50, "resets(http_requests[5m])", {}),
    (RESETS, 50, "resets(http_requests[10m])", {"/foo": 0, "/bar": 0, "/biz": 0}),
    (RESETS, 50, "resets(http_requests[20m])", {"/foo": 1, "/bar": 0, "/biz": 0}),
    (RESETS, 50, "resets(http_requests[30m])", {"/foo": 1, "/bar": 0, "/biz": 0}),
    (RESETS, 50, "resets(http_requests[32m])", {"/foo": 2, "/bar": 1, "/biz": 0}),
    (RESETS, 50, "resets(http_requests[50m])", {"/foo": 3, "/bar": 1, "/biz": 0}),
    (RESETS, 50, "changes(http_requests[5m])", {}),
    (RESETS, 50, "changes(http_requests[6m])", {"/foo": 0, "/bar": 0, "/biz": 0}),
    (RESETS, 50, "changes(http_requests[20m])", {"/foo": 2, "/bar": 2, "/biz": 0}),
    (RESETS, 50, "changes(http_requests[30m])", {"/foo": 3, "/bar": 4, "/biz": 0}),
    (RESETS, 50, "changes(http_requests[50m])", {"/foo": 7, "/bar": 8, "/biz": 1}),
    (
        INCREASE,
        50,
        "increase(http_requests_total[50m])",
        {"/foo": 100, "/bar": 160, "/dings": 100, "/bumms": 100},
    ),
    (
        INCREASE,
        50,
        "increase(http_requests_total[100m])",
        {"/foo": 100, "/bar": 162, "/dings": 105, "/bumms": 101},
    ),
    (RATE, 30, "increase(counts[30m])", {"/foo": 7}),
    (RATE, 50, "rate(testcounter_reset_middle_total[50m])", {"": 0.08}),
    (RATE, 50, "rate(testcounter_reset_end_total[5m])", {}),
    (RATE, 50, "rate(testcounter_reset_end_total[6m])", {"": 0}),
    (RATE, 50, "rate(calculate_rate_window_total[50m])", {"": 0.26666666666666666}),
    (
        RATE,
        50,
        "rate(calculate_rate_offset_total[10m] offset 5m)",
        {"a": 0.03333333333333333, "b": 0.06666666666666667},
    ),
    (RATE, 20, "delta(http_requests[20m])", {"/foo": 200, "/bar": -200}),
    (RATE, 20, "idelta(steps[20m])", {"/foo": 50, "/bar": -50}),
    (
        ZERO,
        10,
        "rate(testcounter_zero_cutoff_total[20m])",
        {"0m": 0.5, "1m": 0.55, "2m": 0.6, "3m": 0.6, "4m": 0.6, "5m": 0.6},
    ),
    (
        ZERO,
        50,
        "rate(testcounter_zero_cutoff_total[20m])",
        {f"{m}m": 0.6 for m in range(6)},
    ),
    (
        IRATE,
        50,
        "irate(http_requests_total[50m])",
        {"/foo": 1 / 30, "/bar": 1 / 30},
    ),
    (IRATE, 30, "irate(http_requests_total[50m])", {"/foo": 1 / 30, "/bar": 0}),
]


@pytest.mark.parametrize(
    ("recording", "minutes", "expr", "expected"),
    CASES,
    ids=[f"{c[2]}@{c[1]}m" for c in CASES],
)
def test_prometheus3_engine_cases(
    recording: kr.Recording, minutes: int, expr: str, expected: dict[str, float]
) -> None:
    result = kr.query(recording, expr, at=minutes * 60.0, semantics="prometheus3")
    got = {
        next((v for _, v in labels), ""): value
        for labels, value in result.by_labels().items()
    }
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_nan_samples_in_irate_and_idelta() -> None:
    # 1 NaN NaN 5 11 every 5 m: evaluated at 0, 5, ..., 20 m over [15m1s], the first
    # step has one sample (no output), the next three have NaN in the last pair.
    nan = _load(5, {"http_requests_nan": "1 NaN NaN 5 11"})
    for function, last in (("irate", 0.02), ("idelta", 6.0)):
        result = kr.query(
            nan,
            f"{function}(http_requests_nan[15m1s])",
            start=0,
            end=1200,
            step=300,
            semantics="prometheus3",
        )
        assert result.times[0].tolist() == [300.0, 600.0, 900.0, 1200.0]
        values = result.values[0].tolist()
        assert all(math.isnan(v) for v in values[:3])
        assert values[3] == pytest.approx(last, rel=1e-12)


def test_two_nans_in_a_row_are_no_change() -> None:
    x = _load(5, {'x{a="b"}': "NaN NaN NaN", 'x{a="c"}': "0 NaN 0"})
    result = kr.query(x, "changes(x[20m])", at=900.0, semantics="prometheus3")
    assert result.by_labels() == {(("a", "b"),): 0.0, (("a", "c"),): 2.0}
