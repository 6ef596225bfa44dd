"""Small-sample statistics for comparing repeated energy measurements.

Student's t distribution is computed here rather than taken from scipy, which the
core does not depend on: the cumulative distribution comes from the regularised
incomplete beta function (evaluated by its continued fraction with the modified Lentz
method), and a quantile is found by bisection on that distribution. Both work for any
positive, not necessarily whole, number of degrees of freedom, as the Welch interval
needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs

__all__ = ["Summary", "WelchDifference", "student_t_cdf", "student_t_ppf", "summarise"]

_TINY = 1e-300
_EPSILON = 1e-15


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function, by modified Lentz.

    Converges quickly for ``x < (a + 1) / (a + b + 2)``; callers use the symmetry
    ``I_x(a, b) = 1 - I_{1-x}(b, a)`` for larger ``x``.
    """
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    result = d
    for m in range(1, 10_000):
        # The even step of the fraction, then the odd one.
        even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1.0 + even * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + even / c
        c = c if abs(c) > _TINY else _TINY
        result *= d * c
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 + odd * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + odd / c
        c = c if abs(c) > _TINY else _TINY
        step = d * c
        result *= step
        if abs(step - 1.0) < _EPSILON:
            break
    return result


def _regularised_beta(a: float, b: float, x: float) -> float:
    """``I_x(a, b)``, the regularised incomplete beta function, for ``0 <= x <= 1``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b)
        - math.lgamma(a)
        - math.lgamma(b)
        + a * math.log(x)
        + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def student_t_cdf(t: float, df: float) -> float:
    """The probability that Student's t with ``df`` degrees of freedom is at most ``t``.

    Args:
        t: The point (any real number).
        df: Degrees of freedom, positive (need not be whole).

    Raises:
        ValueError: ``df`` is not positive.

    >>> round(student_t_cdf(2.0, 3), 6)
    0.930337
    """
    if not df > 0:
        raise ValueError(f"Degrees of freedom must be positive, not {df!r}.")
    if t == 0:
        return 0.5
    if math.isinf(df):
        return 0.5 * math.erfc(-t / math.sqrt(2.0))
    tail = 0.5 * _regularised_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def student_t_ppf(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom.

    Found by bisection on :func:`student_t_cdf` to about 1e-12 relative precision.

    Args:
        p: A probability, strictly between 0 and 1.
        df: Degrees of freedom, positive (need not be whole; ``math.inf`` gives the
            normal distribution).

    Raises:
        ValueError: ``p`` is not in (0, 1) or ``df`` is not positive.

    >>> round(student_t_ppf(0.975, 4), 6)
    2.776445
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"A quantile needs 0 < p < 1, not {p!r}.")
    if not df > 0:
        raise ValueError(f"Degrees of freedom must be positive, not {df!r}.")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -student_t_ppf(1.0 - p, df)
    low, high = 0.0, 1.0
    while student_t_cdf(high, df) < p:
        low, high = high, high * 2.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        if student_t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * high:
            break
    return 0.5 * (low + high)


@attrs.frozen(slots=True)
class Summary:
    """The mean of repeated measurements with its confidence interval.

    Attributes:
        n: How many measurements.
        mean: Their mean (in their unit, joules here), or ``None`` when ``n == 0``.
        sd: The sample standard deviation (``n - 1`` in the denominator), or ``None``
            when ``n < 2``.
        low: The lower end of the confidence interval of the mean, or ``None`` when
            ``n < 2``.
        high: The upper end, or ``None``.
        values: The measurements, in the order given.
    """

    n: int
    mean: float | None
    sd: float | None
    low: float | None
    high: float | None
    values: tuple[float, ...]


def summarise(values: Sequence[float], *, confidence: float = 0.95) -> Summary:
    """Mean, standard deviation and Student t interval of ``values``.

    The interval is ``mean ± t(1 - (1 - confidence) / 2, n - 1) · sd / √n``.

    Args:
        values: The measurements (joules, or any one unit).
        confidence: The confidence level of the interval, in (0, 1).

    Raises:
        ValueError: ``confidence`` is not in (0, 1), or the values are so large
            (near 1e308) that their sum or spread overflows a float.

    >>> s = summarise([10.0, 12.0, 14.0])
    >>> s.mean, s.sd, round(s.high - s.mean, 4)
    (12.0, 2.0, 4.9683)
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"The confidence must be in (0, 1), not {confidence!r}.")
    taken = tuple(float(v) for v in values)
    n = len(taken)
    if n == 0:
        return Summary(0, None, None, None, None, taken)
    try:
        mean = math.fsum(taken) / n
        if n < 2:
            return Summary(n, mean, None, None, None, taken)
        sd = math.sqrt(math.fsum((v - mean) ** 2 for v in taken) / (n - 1))
    except OverflowError as error:
        raise ValueError(
            f"The values are too large to summarise in floats ({error}); the "
            f"largest is {max(abs(v) for v in taken)!r}."
        ) from error
    half = student_t_ppf(1.0 - (1.0 - confidence) / 2.0, n - 1) * sd / math.sqrt(n)
    return Summary(n, mean, sd, mean - half, mean + half, taken)


@attrs.frozen(slots=True)
class WelchDifference:
    """The difference of two means (second minus first) with Welch's interval.

    Attributes:
        difference: ``mean(b) - mean(a)``.
        low: The lower end of the confidence interval of the difference.
        high: The upper end.
        df: The Welch-Satterthwaite degrees of freedom (``n_a + n_b - 2`` when both
            samples have no spread, and the interval is then the point itself).
    """

    difference: float
    low: float
    high: float
    df: float

    @classmethod
    def of(
        cls, a: Summary, b: Summary, *, confidence: float = 0.95
    ) -> WelchDifference | None:
        """Welch's interval for ``b.mean - a.mean``; ``None`` when a side has n < 2.

        With ``va = sd_a² / n_a`` and ``vb = sd_b² / n_b`` the standard error is
        ``√(va + vb)`` and the degrees of freedom
        ``(va + vb)² / (va² / (n_a - 1) + vb² / (n_b - 1))``.
        """
        if a.sd is None or b.sd is None or a.mean is None or b.mean is None:
            return None
        va = a.sd**2 / a.n
        vb = b.sd**2 / b.n
        difference = b.mean - a.mean
        if va + vb == 0.0:
            return cls(difference, difference, difference, float(a.n + b.n - 2))
        df = (va + vb) ** 2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1))
        half = student_t_ppf(1.0 - (1.0 - confidence) / 2.0, df) * math.sqrt(va + vb)
        return cls(difference, difference - half, difference + half, df)
