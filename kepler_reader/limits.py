"""How much input kepler_reader accepts before it stops reading.

An endpoint can be misconfigured, compromised or simply not Kepler, and a dump can be
corrupt or enormous. :class:`Limits` bounds what one body may cost: its bytes, its
lines, its series and their labels, its metric families. The defaults are far above
what any Kepler exporter prints (a node with thousands of pods prints a few hundred
thousand series in some tens of megabytes, on lines under a kilobyte, with about a
dozen labels each and some thirty families) and low enough that a hostile body cannot
exhaust a machine's memory.

A body over a size or line limit raises :class:`~kepler_reader.LimitExceededError`
in every mode: what is left of it cannot be read. Over a series, label or family
limit, strict mode raises the same error, and lenient mode skips what is over the
limit and says so on the snapshot (a :class:`~kepler_reader.LineProblem` for a line
it skipped, a :class:`~kepler_reader.ParseWarning` for everything past a count).
Every error and message names the limit (the field name below) and its value.
"""

from __future__ import annotations

import attrs

__all__ = ["DEFAULT_LIMITS", "Limits"]


def _positive(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be a positive integer, not {value!r}")


@attrs.frozen(slots=True)
class Limits:
    """The most input one body may hold; every field is a positive integer.

    Attributes:
        max_body_bytes: The largest body, in bytes, both as received or read from
            disk and after gzip is undone (256 MiB). A gzip bomb stops here, not at
            the end of memory; a dump file larger than this is not read at all.
        max_line_bytes: The longest line, in bytes (64 MiB).
        max_series: The most samples (series rows) in one snapshot (2,000,000).
        max_labels_per_series: The most labels on one series, its name not counted
            (128).
        max_label_name_length: The longest label name, in characters (1,024).
        max_label_value_length: The longest label value, in characters, after
            escapes are undone (1,048,576: a whole command line fits).
        max_families: The most metric families in one body, counting those named
            only by HELP, TYPE or UNIT lines (100,000).
        max_problems: The most bad lines recorded on ``Snapshot.errors`` in lenient
            mode (10,000); later bad lines are still skipped, and one warning counts
            them. It bounds the memory a body of nothing but bad lines can take.

    Raises:
        ValueError: A field is not a positive integer.
    """

    max_body_bytes: int = attrs.field(default=256 * 1024 * 1024, validator=_positive)
    max_line_bytes: int = attrs.field(default=64 * 1024 * 1024, validator=_positive)
    max_series: int = attrs.field(default=2_000_000, validator=_positive)
    max_labels_per_series: int = attrs.field(default=128, validator=_positive)
    max_label_name_length: int = attrs.field(default=1024, validator=_positive)
    max_label_value_length: int = attrs.field(default=1024 * 1024, validator=_positive)
    max_families: int = attrs.field(default=100_000, validator=_positive)
    max_problems: int = attrs.field(default=10_000, validator=_positive)


#: The limits used when none are given.
DEFAULT_LIMITS = Limits()
