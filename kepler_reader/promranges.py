"""The machinery Prometheus's functions share: times in milliseconds, ranges, rows.

:mod:`kepler_reader.promfuncs` and :mod:`kepler_reader.instants` evaluate over these;
the rules themselves are described there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import attrs
import numpy as np
import numpy.typing as npt

from .recording import Recording

__all__ = [
    "LOOKBACK_SECONDS",
    "SEMANTICS",
    "Columns",
    "Semantics",
    "Times",
    "Window",
    "check_semantics",
    "evaluation_ms",
    "go_seconds",
    "range_milliseconds",
    "result_recording",
    "to_ms",
]

Semantics = Literal["prometheus3", "prometheus2"]

#: The rule sets a function can follow.
SEMANTICS: tuple[Semantics, ...] = ("prometheus3", "prometheus2")

#: Prometheus's default lookback of instant selectors, in seconds.
LOOKBACK_SECONDS = 300.0

Times = float | Sequence[float] | npt.NDArray[np.float64]
_F = npt.NDArray[np.float64]
_B = npt.NDArray[np.bool_]
_I = npt.NDArray[np.int64]


def to_ms(seconds: npt.ArrayLike) -> _I:
    """Seconds since the epoch as whole milliseconds (int64), as Prometheus keeps."""
    scaled = np.round(np.asarray(seconds, dtype=np.float64) * 1000.0)
    return np.asarray(scaled).astype(np.int64)


def go_seconds(milliseconds: int) -> float:
    """A range in seconds as Go's ``Duration.Seconds()`` gives it.

    Whole seconds plus the remainder in nanoseconds over 1e9, which can differ in the
    last bit from ``milliseconds / 1000``.
    """
    whole, rest = divmod(milliseconds, 1000)
    return float(whole) + float(rest * 1_000_000) / 1e9


def check_semantics(semantics: str) -> None:
    """Refuse an unknown rule set.

    Raises:
        ValueError: ``semantics`` is not one of :data:`SEMANTICS`.
    """
    if semantics not in SEMANTICS:
        raise ValueError(
            f"semantics must be one of {', '.join(SEMANTICS)}, not {semantics!r}."
        )


@attrs.frozen(slots=True, eq=False)
class Columns:
    """A recording's samples prepared once for many windows."""

    times_ms: _I
    values: _F
    present: _B
    # For each row and column, the row of the column's previous sample (-1: none).
    previous: npt.NDArray[np.intp]

    @classmethod
    def of(cls, recording: Recording) -> Columns:
        """Prepare ``recording``'s arrays (times in ms, previous-sample rows)."""
        rows = np.arange(len(recording.times), dtype=np.intp)[:, None]
        last = np.where(recording.present, rows, -1)
        seen = np.maximum.accumulate(last, axis=0) if len(rows) else last
        previous = np.full_like(seen, -1)
        previous[1:] = seen[:-1]
        return cls(
            times_ms=to_ms(recording.times),
            values=np.asarray(recording.values, dtype=np.float64),
            present=np.asarray(recording.present, dtype=bool),
            previous=previous,
        )

    def window(
        self, end_ms: int, range_ms: int, semantics: Semantics
    ) -> tuple[int, int]:
        """The rows ``lo:hi`` inside the range that ends at ``end_ms``."""
        side: Literal["left", "right"] = (
            "left" if semantics == "prometheus2" else "right"
        )
        lo = int(np.searchsorted(self.times_ms, end_ms - range_ms, side=side))
        hi = int(np.searchsorted(self.times_ms, end_ms, side="right"))
        return lo, hi

    def previous_value(self, lo: int, hi: int) -> tuple[_B, _F]:
        """Whether each sample of rows ``lo:hi`` has an earlier one in the window.

        Returns the mask and those earlier values, both of shape ``(hi - lo, S)``.
        """
        before = self.previous[lo:hi]
        inside = self.present[lo:hi] & (before >= lo)
        columns = np.arange(self.values.shape[1])[None, :]
        earlier = self.values[np.maximum(before, 0), columns]
        return inside, earlier


@attrs.frozen(slots=True, eq=False)
class Window:
    """The samples of every column inside one range: counts, first and last."""

    count: npt.NDArray[np.int64]
    first_row: npt.NDArray[np.intp]
    last_row: npt.NDArray[np.intp]

    @classmethod
    def of(cls, present: _B, lo: int, hi: int) -> Window:
        """Count and locate each column's samples among rows ``lo:hi``."""
        inside = present[lo:hi]
        count = inside.sum(axis=0, dtype=np.int64)
        if hi <= lo:
            empty = np.zeros(present.shape[1], dtype=np.intp)
            return cls(count=count, first_row=empty, last_row=empty)
        first = lo + np.argmax(inside, axis=0)
        last = hi - 1 - np.argmax(inside[::-1], axis=0)
        return cls(count=count, first_row=first, last_row=last)


def evaluation_ms(at: Times, offset: float) -> tuple[_F, _I]:
    """The evaluation times in seconds, and the ends of their ranges in ms.

    Raises:
        ValueError: ``at`` is not one time or a flat sequence of times.
    """
    seconds = np.atleast_1d(np.asarray(at, dtype=np.float64))
    if seconds.ndim != 1:
        raise ValueError("at must be one time or a one-dimensional sequence of times.")
    return seconds, to_ms(seconds) - round(offset * 1000.0)


def result_recording(
    recording: Recording, seconds: _F, values: _F, present: _B
) -> Recording:
    """A function's answer: one row per evaluation time, in ascending order."""
    order = np.argsort(seconds, kind="stable")
    return Recording(
        times=seconds[order],
        series=recording.series,
        values=np.where(present, values, np.nan)[order],
        present=present[order],
        types=recording.types,
        sources=("",) * len(seconds),
        stale=np.zeros(present.shape, dtype=bool),
    )


def range_milliseconds(range_seconds: float) -> int:
    """A range in whole milliseconds.

    Raises:
        ValueError: The range is not positive.
    """
    milliseconds = round(range_seconds * 1000.0)
    if milliseconds <= 0:
        raise ValueError(f"the range must be positive, not {range_seconds} s.")
    return milliseconds
