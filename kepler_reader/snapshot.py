"""The parsed form of one scrape: metric families and a columnar series table.

A :class:`Snapshot` holds one value per sample in a float64 numpy array and one
interned :class:`Series` per row. A warm :class:`~kepler_reader.parser.Parser` hands
back the *same* ``Series`` objects for the same series in the next scrape, so building a
snapshot allocates no Python object per sample.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import NamedTuple

import attrs
import numpy as np
import numpy.typing as npt

__all__ = [
    "METRIC_TYPES",
    "NO_TIMESTAMP",
    "LineProblem",
    "MetricFamily",
    "ParseWarning",
    "Sample",
    "Series",
    "Snapshot",
]

#: The metric types of the text format 0.0.4, in the spelling of its ``# TYPE`` lines.
METRIC_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")

#: The value stored in :attr:`Snapshot.timestamps_ms` for a sample printed without one.
NO_TIMESTAMP = np.iinfo(np.int64).min


class Series(NamedTuple):
    """One series: a sample name and its label set.

    Labels are kept sorted by label name, so two spellings of the same label set are
    equal. Instances are interned by the parser and may be used as dictionary keys.
    (A named tuple rather than an attrs class: a cold parse makes one per line, and a
    tuple is several times cheaper to build and hash.)

    Attributes:
        name: The sample name as printed (``kepler_pod_cpu_joules_total``).
        labels: ``(name, value)`` pairs, sorted by name, values unescaped.
    """

    name: str
    labels: tuple[tuple[str, str], ...]

    def get(self, label: str, default: str | None = None) -> str | None:
        """Return the value of ``label``, or ``default`` when the series lacks it."""
        for key, value in self.labels:
            if key == label:
                return value
        return default

    @property
    def labels_dict(self) -> dict[str, str]:
        """The labels as a new ``dict`` (label name to value)."""
        return dict(self.labels)

    def __str__(self) -> str:
        if not self.labels:
            return self.name
        inner = ",".join(f'{k}="{_escape_label_value(v)}"' for k, v in self.labels)
        return f"{self.name}{{{inner}}}"


def _escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@attrs.frozen(slots=True)
class MetricFamily:
    """A metric family: its name, type and help text.

    Attributes:
        name: The family name (for histograms and summaries, without the
            ``_bucket``/``_sum``/``_count`` suffixes of its samples).
        type: One of :data:`METRIC_TYPES`.
        help: The unescaped help text, or ``None`` when the body gave none.
        unit: The unit from an OpenMetrics ``# UNIT`` line, or ``None``.
    """

    name: str
    type: str
    help: str | None
    unit: str | None = None


@attrs.frozen(slots=True)
class LineProblem:
    """A line the parser could not use; in lenient mode it was skipped.

    Attributes:
        line: 1-based line number.
        column: 1-based column of the fault, in characters.
        message: What was wrong and what was expected there.
        text: The line itself (decoded with replacement characters where needed).
    """

    line: int
    column: int
    message: str
    text: str


@attrs.frozen(slots=True)
class ParseWarning:
    """Something the parser carried on past, which a user should know about.

    Attributes:
        line: 1-based line number, or ``None`` for a warning about the whole body.
        message: A whole sentence saying what was found and what was done.
    """

    line: int | None
    message: str


@attrs.frozen(slots=True)
class Sample:
    """One sample, materialised for output or inspection (not used on hot paths).

    Attributes:
        series: The series the value belongs to.
        value: The sample value, in the unit of its family.
        timestamp_ms: Milliseconds since the epoch, or ``None`` when not printed.
    """

    series: Series
    value: float
    timestamp_ms: int | None


@attrs.define(slots=True, eq=False)
class Snapshot:
    """One scrape or dump, parsed.

    Attributes:
        families: Every family of the body, in order of first appearance.
        family_index: Shape ``(n,)``, dtype int32: the index into ``families`` of each
            sample row.
        series: Length ``n``: the interned series of each sample row.
        values: Shape ``(n,)``, dtype float64: the value of each sample row.
        timestamps_ms: Shape ``(n,)``, dtype int64, milliseconds since the epoch, with
            :data:`NO_TIMESTAMP` for rows printed without one; ``None`` when no row
            had a timestamp.
        source: The path or URL the body came from, or ``None``.
        scraped_at: When the scrape's response arrived, in seconds since the epoch, or
            ``None`` when unknown (a file without a scrape-time header).
        errors: Lines skipped in lenient mode, each with its line number and reason.
        warnings: Things the parser carried on past (BOM, CRLF, duplicates ...).
        truncated: True when the body ended in the middle of a line (or, in
            OpenMetrics, without ``# EOF``): the scrape is not complete and must not be
            used as if it were.
        format: ``"text"`` (text format 0.0.4) or ``"openmetrics"``.
        created_seconds: OpenMetrics ``_created`` samples: for each counter series
            (named with ``_total``) or histogram/summary series (named after its
            family), when it was created, in seconds since the epoch. They are kept
            here, never as samples.
    """

    families: tuple[MetricFamily, ...]
    family_index: npt.NDArray[np.int32]
    series: Sequence[Series]
    values: npt.NDArray[np.float64]
    timestamps_ms: npt.NDArray[np.int64] | None = None
    source: str | None = None
    scraped_at: float | None = None
    errors: tuple[LineProblem, ...] = ()
    warnings: tuple[ParseWarning, ...] = ()
    truncated: bool = False
    format: str = "text"
    created_seconds: Mapping[Series, float] = attrs.field(factory=dict)

    def __len__(self) -> int:
        return len(self.series)

    def family(self, name: str) -> MetricFamily | None:
        """Return the family called ``name``, or ``None`` when the body has none."""
        for family in self.families:
            if family.name == name:
                return family
        return None

    def rows_of(self, name: str) -> npt.NDArray[np.intp]:
        """Return the row indices of family ``name``, shape ``(k,)``, dtype intp.

        An unknown family gives an empty array.
        """
        for index, family in enumerate(self.families):
            if family.name == name:
                return np.flatnonzero(self.family_index == index)
        return np.empty(0, dtype=np.intp)

    def samples(self, family: str | None = None) -> Iterator[Sample]:
        """Iterate over the samples, optionally of one family only.

        This materialises one :class:`Sample` per row and is meant for output and
        inspection, not for bulk computation (use :attr:`values` for that).
        """
        rows: Sequence[int] | npt.NDArray[np.intp]
        rows = range(len(self.series)) if family is None else self.rows_of(family)
        stamps = self.timestamps_ms
        for row in rows:
            stamp: int | None = None
            if stamps is not None and stamps[row] != NO_TIMESTAMP:
                stamp = int(stamps[row])
            yield Sample(self.series[row], float(self.values[row]), stamp)

    def with_scrape_time(self, scraped_at: float | None) -> Snapshot:
        """Return a copy whose :attr:`scraped_at` is ``scraped_at`` (seconds)."""
        return attrs.evolve(self, scraped_at=scraped_at)

    def __repr__(self) -> str:
        when = "unknown" if self.scraped_at is None else f"{self.scraped_at:.3f}"
        return (
            f"<Snapshot source={self.source!r} families={len(self.families)} "
            f"samples={len(self.series)} scraped_at={when} errors={len(self.errors)}"
            f"{' truncated' if self.truncated else ''}>"
        )
