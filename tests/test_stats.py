"""Student's t distribution and the summaries built on it, against known values."""

from __future__ import annotations

import math

import pytest

from kepler_reader.stats import (
    Summary,
    WelchDifference,
    student_t_cdf,
    student_t_ppf,
    summarise,
)

# Two-sided 95% critical values t(0.975, df), as printed in statistics tables.
TABLE_975 = {
    1: 12.706204736,
    2: 4.302652730,
    3: 3.182446305,
    4: 2.776445105,
    5: 2.570581836,
    10: 2.228138852,
    30: 2.042272456,
    120: 1.979930405,
}


@pytest.mark.parametrize(("df", "expected"), sorted(TABLE_975.items()))
def test_quantile_matches_the_table(df: int, expected: float) -> None:
    assert student_t_ppf(0.975, df) == pytest.approx(expected, abs=1e-8)


def test_quantile_of_infinite_df_is_the_normal_one() -> None:
    assert student_t_ppf(0.975, math.inf) == pytest.approx(1.959963985, abs=1e-8)


@pytest.mark.parametrize("p", [0.6, 0.9, 0.95, 0.975, 0.995, 0.05, 0.3])
def test_closed_forms_for_one_and_two_df(p: float) -> None:
    # df = 1 is the Cauchy distribution: t = tan(pi (p - 1/2)).
    assert student_t_ppf(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)))
    # df = 2: t = (2p - 1) / sqrt(2 p (1 - p)).
    assert student_t_ppf(p, 2) == pytest.approx(
        (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    )


def _pdf(t: float, df: float) -> float:
    log_c = (
        math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    )
    return math.exp(log_c - (df + 1) / 2 * math.log1p(t * t / df))


@pytest.mark.parametrize("df", [0.7, 2.5, 2.941176, 7.3])
def test_cdf_agrees_with_integrating_the_density(df: float) -> None:
    # Simpson's rule from 0 to 2.5 on 2000 panels; the CDF at 0 is 1/2.
    steps, upper = 2000, 2.5
    h = upper / steps
    total = _pdf(0, df) + _pdf(upper, df)
    total += sum((4 if i % 2 else 2) * _pdf(i * h, df) for i in range(1, steps))
    assert student_t_cdf(upper, df) == pytest.approx(0.5 + total * h / 3, abs=1e-9)
    quantile = student_t_ppf(student_t_cdf(upper, df), df)
    assert quantile == pytest.approx(upper, rel=1e-9)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: student_t_ppf(1.0, 3), "A quantile needs 0 < p < 1, not 1.0."),
        (lambda: student_t_ppf(0.5, 0), "Degrees of freedom must be positive, not 0."),
        (
            lambda: student_t_cdf(1.0, -1),
            "Degrees of freedom must be positive, not -1.",
        ),
        (
            lambda: summarise([1.0], confidence=1.5),
            "The confidence must be in (0, 1), not 1.5.",
        ),
    ],
)
def test_bad_arguments(call: object, message: str) -> None:
    with pytest.raises(
        ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"
    ):
        call()  # type: ignore[operator]


def test_summary_of_three() -> None:
    # mean (10 + 12 + 14) / 3 = 12; squares 4 + 0 + 4 = 8 over n - 1 = 2: sd = 2;
    # half-width t(0.975, 2) * 2 / sqrt(3) = 4.302652730 * 1.154700538 = 4.968275.
    s = summarise([10.0, 12.0, 14.0])
    assert (s.n, s.mean, s.sd) == (3, 12.0, 2.0)
    assert s.low == pytest.approx(12.0 - 4.968275, abs=1e-6)
    assert s.high == pytest.approx(12.0 + 4.968275, abs=1e-6)


def test_summary_of_one_and_none() -> None:
    assert summarise([5.0]) == Summary(1, 5.0, None, None, None, (5.0,))
    assert summarise([]) == Summary(0, None, None, None, None, ())


def test_welch_with_equal_spread_has_whole_df() -> None:
    # va = vb = 4 / 3; df = (8/3)^2 / (2 * (4/3)^2 / 2) = 4; se = sqrt(8/3) = 1.632993;
    # half-width 2.776445105 * 1.632993162 = 4.533916; difference 6 - 12 = -6.
    d = WelchDifference.of(summarise([10.0, 12.0, 14.0]), summarise([4.0, 6.0, 8.0]))
    assert d is not None
    assert d.df == pytest.approx(4.0)
    assert d.difference == -6.0
    assert d.low == pytest.approx(-6.0 - 4.533916, abs=1e-6)
    assert d.high == pytest.approx(-6.0 + 4.533916, abs=1e-6)


def test_welch_with_unequal_spread() -> None:
    # va = 4/3, vb = 1/3: df = (5/3)^2 / ((4/3)^2 / 2 + (1/3)^2 / 2) = 50/17.
    d = WelchDifference.of(summarise([10.0, 12.0, 14.0]), summarise([5.0, 6.0, 7.0]))
    assert d is not None
    assert d.df == pytest.approx(50 / 17)
    half = student_t_ppf(0.975, 50 / 17) * math.sqrt(5 / 3)
    assert (d.low, d.high) == pytest.approx((-6.0 - half, -6.0 + half))
    # The quantile lies between the table values for 2 and 3 degrees of freedom.
    assert TABLE_975[3] < student_t_ppf(0.975, 50 / 17) < TABLE_975[2]


def test_welch_without_spread_is_the_point() -> None:
    d = WelchDifference.of(summarise([3.0, 3.0]), summarise([5.0, 5.0, 5.0]))
    assert d == WelchDifference(2.0, 2.0, 2.0, 3.0)
    assert WelchDifference.of(summarise([3.0]), summarise([5.0, 5.0])) is None


def test_values_near_the_float_limit_are_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"too large to summarise .* 1e\+308"):
        summarise([1e308, 1e308, 1e308])
    with pytest.raises(ValueError, match=r"too large to summarise .* 1\.7e\+308"):
        summarise([1.7e308, -1.7e308, 1.7e308])
