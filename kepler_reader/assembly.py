"""The second phase of parsing: rules that need the format or the whole body.

Once a body has ended, :class:`Assembly` applies what the line loop could not know:
the format's timestamp unit, metric types and ``# EOF``; which family each sample
belongs to (by the body's HELP/TYPE lines, wherever they stand); ``_created`` samples
of OpenMetrics; TYPE lines after their samples; bucket bounds; repeated series.
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING

import attrs
import numpy as np
import numpy.typing as npt

from .grammar import LineError, parse_exemplar, timestamp_ms
from .snapshot import NO_TIMESTAMP, MetricFamily, Series, Snapshot

if TYPE_CHECKING:
    from .parser import StreamParser

__all__ = ["OM_TYPES", "TEXT_TYPES", "Assembly", "Deferred"]

TEXT_TYPES = frozenset(("counter", "gauge", "histogram", "summary", "untyped"))
OM_TYPES = frozenset(
    (
        "counter",
        "gauge",
        "histogram",
        "gaugehistogram",
        "stateset",
        "info",
        "summary",
        "unknown",
    )
)
# The sample-name suffixes each type's family owns, per format.
_TEXT_SUFFIXES = {
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count"),
}
_OM_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("_sum", "_count", "_created"),
    "info": ("_info",),
}
_OM_BARE = frozenset(("gauge", "unknown", "summary", "stateset", "untyped"))
# Timestamps below this (milliseconds, i.e. before March 1973) were probably written in
# seconds.
_IMPLAUSIBLE_TIMESTAMP_MS = 100_000_000_000


@attrs.define(slots=True)
class Deferred:
    """A row detail that needs the format or the whole body: line number and text."""

    row: int
    number: int
    text: bytes
    token: bytes = b""
    offset: int = 0


@attrs.define(slots=True)
class Assembly:
    """Phase 2 for one finished stream: format rules, families, checks."""

    stream: StreamParser
    format: str
    created: dict[Series, float] = attrs.Factory(dict)

    def snapshot(self) -> Snapshot:
        """Apply every whole-body rule and build the snapshot."""
        s = self.stream
        om = self.format == "openmetrics"
        n = len(s._series)
        values = np.concatenate(s._values) if s._values else np.empty(0, np.float64)
        keep = np.ones(n, dtype=np.bool_)
        keep[list(s._dropped)] = False
        self._check_types(om)
        if om:
            self._check_eof(keep)
        stamps = self._timestamps(om, keep)
        self._exemplars(om)

        names, name_ids, order, family_of_name = self._families(om, keep)
        index = {family: i for i, family in enumerate(order)}
        family_index = np.array(
            [index[family_of_name[name]] for name in names], dtype=np.int32
        )[name_ids]
        if len(order) > s._max_families:
            # Families seen only in dropped rows (last in the order) do not count.
            kept = np.bincount(family_index[keep], minlength=len(order)) > 0
            named = np.array([f in s._metadata for f in order], dtype=np.bool_)
            real = int(np.count_nonzero(kept | named))
            if real > s._max_families:
                self._over_family_limit(order, real, family_index, keep)
        self._check_late_types(order, family_index, keep)
        types = {f: self._type(f) for f in order}
        self._check_bounds(names, name_ids, family_of_name, types, values, keep)
        if om:
            self._take_created(names, name_ids, family_of_name, types, values, keep)
        self._check_duplicates(values, keep)

        self._warn_negative_counters(order, types, family_index, values, keep)
        series: list[Series] = s._series
        if not keep.all():
            series = [x for x, k in zip(series, keep.tolist(), strict=True) if k]
            values, family_index = values[keep], family_index[keep]
            stamps = None if stamps is None else stamps[keep]

        # Families without samples are dropped, as Prometheus's own parser does.
        present = np.bincount(family_index, minlength=len(order)) > 0
        if not present.all():
            remap = np.cumsum(present, dtype=np.int32) - 1
            family_index = remap[family_index].astype(np.int32)
            order = [f for f, p in zip(order, present.tolist(), strict=True) if p]
        families = tuple(self._family(f, types[f], om) for f in order)
        s._warn_dropped_problems()
        return Snapshot(
            families=families,
            family_index=family_index,
            series=series,
            values=values,
            timestamps_ms=stamps,
            source=s.source,
            scraped_at=s.scraped_at,
            errors=tuple(
                sorted(s._recorded_problems(), key=lambda e: (e.line, e.column))
            ),
            warnings=tuple(s._warnings),
            truncated=s._truncated,
            format=self.format,
            created_seconds=self.created,
        )

    def _type(self, family: str) -> str:
        meta = self.stream._metadata.get(family)
        return (meta.type if meta is not None and meta.type else None) or "untyped"

    def _family(self, name: str, kind: str, om: bool) -> MetricFamily:
        meta = self.stream._metadata.get(name)
        help_text = meta.help if meta is not None else None
        unit = meta.unit if meta is not None else None
        # An OpenMetrics counter family is named without _total; its samples and the
        # same family in the text format carry it, so the snapshot names it that way.
        if om and kind == "counter" and not name.endswith("_total"):
            name += "_total"
        return MetricFamily(name, kind, help_text, unit)

    def _check_types(self, om: bool) -> None:
        s = self.stream
        allowed = OM_TYPES if om else TEXT_TYPES
        for name, meta in s._metadata.items():
            if meta.type is not None and meta.type not in allowed:
                fmt = "OpenMetrics" if om else "the text format 0.0.4"
                s._fail(
                    meta.type_line,
                    meta.type_text,
                    meta.type_text.find(meta.type.encode()),
                    f"metric type {meta.type!r} of {name} does not exist in {fmt}",
                )
                meta.type = "untyped" if not om else "unknown"

    def _check_eof(self, keep: npt.NDArray[np.bool_]) -> None:
        """OpenMetrics ends with ``# EOF``: nothing after it, and never without it."""
        s = self.stream
        if not s._eof_line:
            s._truncated = True
            s._fail(
                max(s._number, 1),
                b"",
                0,
                "the OpenMetrics body does not end with '# EOF': it is cut off",
            )
            return
        lines = s._row_line_numbers()
        late_rows = np.flatnonzero(lines > s._eof_line)
        keep[late_rows] = False
        late = s._after_eof
        if late_rows.size and (late is None or lines[late_rows[0]] < late.number):
            row = int(late_rows[0])
            text = f"{s._series[row]} ...".encode()
            late = Deferred(row, int(lines[row]), text)
        if late is not None:
            s._fail(
                late.number,
                late.text,
                0,
                "text after '# EOF', which must be the last line of an OpenMetrics "
                "body",
            )

    def _timestamps(
        self, om: bool, keep: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.int64] | None:
        s = self.stream
        if not s._stamps:
            return None
        stamps = np.full(len(s._series), NO_TIMESTAMP, dtype=np.int64)
        odd: list[Deferred] = []
        for item in s._stamps:
            try:
                stamps[item.row] = timestamp_ms(
                    item.token, seconds=om, offset=item.offset
                )
            except LineError as fault:
                text = (
                    item.text
                    or f"{s._series[item.row]} ? {item.token.decode()}".encode()
                )
                s._fail(
                    item.number, text, fault.offset if item.text else 0, fault.reason
                )
                keep[item.row] = False
                continue
            if stamps[item.row] < _IMPLAUSIBLE_TIMESTAMP_MS and len(odd) < 100:
                odd.append(item)
        for item in odd:
            s._warn(
                item.number,
                f"Timestamp {int(stamps[item.row])} ms is implausibly "
                "old; was it written in seconds?",
            )
        return stamps

    def _exemplars(self, om: bool) -> None:
        s = self.stream
        if not s._exemplars:
            return
        if not om:
            s._warn(
                s._exemplars[0].number,
                "An exemplar after a sample value was "
                "dropped (the text format 0.0.4 has no "
                "exemplars).",
            )
            return
        for item in s._exemplars:
            try:
                parse_exemplar(item.text, 0)
            except LineError as fault:
                s._warn(
                    item.number,
                    f"A malformed exemplar was ignored ({fault.reason}); "
                    "the sample was kept.",
                )

    def _resolve(self, name: str, om: bool) -> str:
        metadata = self.stream._metadata
        if om:
            meta = metadata.get(name)
            if meta is not None and (meta.type or "unknown") in _OM_BARE:
                return name
            for kind, suffixes in _OM_SUFFIXES.items():
                for suffix in suffixes:
                    if name.endswith(suffix):
                        base = metadata.get(name[: -len(suffix)])
                        if base is not None and base.type == kind:
                            return name[: -len(suffix)]
            return name
        if name in metadata:
            return name
        for kind, suffixes in _TEXT_SUFFIXES.items():
            for suffix in suffixes:
                if name.endswith(suffix):
                    base = metadata.get(name[: -len(suffix)])
                    if base is not None and base.type == kind:
                        return name[: -len(suffix)]
        return name

    def _families(
        self, om: bool, keep: npt.NDArray[np.bool_]
    ) -> tuple[list[str], npt.NDArray[np.intp], list[str], dict[str, str]]:
        """Resolve every sample name to its family.

        Returns the distinct sample names, the index into them of each row (shape
        ``(n,)``), the family names in order of first appearance (a metadata line or a
        kept sample, whichever came first), and the family of each sample name.
        Families seen only in dropped rows come last: a warm parser keeps rows for
        lines whose value turns out bad (and drops them), where a cold one may reject
        the line at once, so dropped rows must not decide the order.
        """
        s = self.stream
        row_names = list(map(itemgetter(0), s._series))  # Series.name, at C speed
        names = list(dict.fromkeys(row_names))
        number_of = {name: i for i, name in enumerate(names)}
        name_ids = np.fromiter(
            map(number_of.__getitem__, row_names), dtype=np.intp, count=len(row_names)
        )
        # Names are numbered in order of first appearance, so a name's first row is
        # the first row whose number reaches it.
        first_rows = np.searchsorted(
            np.maximum.accumulate(name_ids), np.arange(len(names))
        )
        if not keep.all():
            kept = np.flatnonzero(keep)
            first_rows = np.full(len(names), len(row_names), dtype=np.intp)
            np.minimum.at(first_rows, name_ids[kept], kept)
        family_of: dict[str, str] = {}
        position: dict[str, tuple[int, int, int]] = {
            name: (meta.position, 0, 0) for name, meta in s._metadata.items()
        }
        for index, (name, row) in enumerate(
            zip(names, first_rows.tolist(), strict=True)
        ):
            family = self._resolve(name, om)
            family_of[name] = family
            # Dropped-only names share one row number; their own order breaks ties.
            at = (row, 1, index if row == len(row_names) else 0)
            position[family] = min(position.get(family, at), at)
        order = sorted(position, key=position.__getitem__)
        return names, name_ids, order, family_of

    def _over_family_limit(
        self,
        order: list[str],
        real: int,
        family_index: npt.NDArray[np.int32],
        keep: npt.NDArray[np.bool_],
    ) -> None:
        """Refuse (strict) or drop (lenient) the families past ``max_families``.

        The families kept are the first ones of the body, in order of appearance;
        ``real`` of them have metadata or kept rows (the others come last).
        """
        s = self.stream
        limit = s._max_families
        first = order[limit]
        rows = np.flatnonzero((family_index == limit) & keep)
        number = s._row_line(int(rows[0])) if rows.size else s._number
        if not s.lenient:
            raise s._limit_error(
                number,
                f"family {first[:100]!r} is family number {limit + 1} of the body",
                "max_families",
            )
        over = family_index >= limit
        skipped = int(np.count_nonzero(over & keep))  # rows already dropped aside
        keep[over] = False
        s._warn(
            None,
            f"Families skipped from {first[:100]!r} (line {number}) on: "
            f"{real - limit}, with {skipped} samples; the body names "
            f"more than max_families={limit} families.",
        )

    def _check_late_types(
        self,
        order: list[str],
        family_index: npt.NDArray[np.int32],
        keep: npt.NDArray[np.bool_],
    ) -> None:
        """A TYPE line after samples of its family is an error (strict) or a warning."""
        s = self.stream
        first_row = np.full(len(order), len(family_index), dtype=np.int64)
        # Dropped rows do not count (see _families).
        rows = np.flatnonzero(keep) if not keep.all() else np.arange(len(keep))
        np.minimum.at(first_row, family_index[rows], rows)
        for index, name in enumerate(order):
            meta = s._metadata.get(name)
            if meta is None or meta.type is None or meta.rows_before_type == 0:
                continue
            if first_row[index] < meta.rows_before_type:
                if s.lenient:
                    s._warn(
                        meta.type_line,
                        f"The TYPE line of {name} comes after some "
                        "of its samples; it was applied to all.",
                    )
                else:
                    s._fail(
                        meta.type_line,
                        meta.type_text,
                        0,
                        f"TYPE line for metric family {name} comes after its samples",
                    )

    @staticmethod
    def _rows_named(
        names: list[str], name_ids: npt.NDArray[np.intp], wanted: set[str]
    ) -> list[int]:
        """The rows whose sample name is in ``wanted``, in order."""
        numbers = [i for i, name in enumerate(names) if name in wanted]
        if not numbers:
            return []
        return np.flatnonzero(np.isin(name_ids, numbers)).tolist()

    def _check_bounds(
        self,
        names: list[str],
        name_ids: npt.NDArray[np.intp],
        family_of: dict[str, str],
        types: dict[str, str],
        values: npt.NDArray[np.float64],
        keep: npt.NDArray[np.bool_],
    ) -> None:
        """Buckets need a float ``le``; summary quantiles a float ``quantile``."""
        s = self.stream
        bound_label: dict[str, str] = {}
        for name in names:
            family = family_of[name]
            kind = types[family]
            if kind in ("histogram", "gaugehistogram") and name == family + "_bucket":
                bound_label[name] = "le"
            elif kind == "summary" and name == family:
                bound_label[name] = "quantile"
        for row in self._rows_named(names, name_ids, set(bound_label)):
            series = s._series[row]
            label = bound_label[series.name]
            family = family_of[series.name]
            value = series.get(label)
            suspect = s._suspects.get(row)
            if value is not None and suspect is None:
                continue
            if value is None:
                reason = (
                    f"sample {series.name} of {types[family]} {family} has no "
                    f"{label!r} label"
                )
                text, offset = self._render(row, values), 0
            else:
                assert suspect is not None
                reason = (
                    f"the {label!r} label of {series.name} must be a float, found "
                    f"{value!r}"
                )
                text, offset = suspect.text, max(suspect.offset, 0)
            s._fail(s._row_line(row), text, offset, reason)
            keep[row] = False

    def _render(self, row: int, values: npt.NDArray[np.float64]) -> bytes:
        """The text of a row whose line was not kept (warm rows keep no text)."""
        return f"{self.stream._series[row]} {float(values[row])!r}".encode()

    def _take_created(
        self,
        names: list[str],
        name_ids: npt.NDArray[np.intp],
        family_of: dict[str, str],
        types: dict[str, str],
        values: npt.NDArray[np.float64],
        keep: npt.NDArray[np.bool_],
    ) -> None:
        """Move OpenMetrics ``_created`` samples out of the series, into metadata."""
        s = self.stream
        created = {
            name
            for name in names
            if name == family_of[name] + "_created"
            and types[family_of[name]] in ("counter", "histogram", "summary")
        }
        for row in self._rows_named(names, name_ids, created):
            series = s._series[row]
            family = family_of[series.name]
            keep[row] = False
            owner = family + "_total" if types[family] == "counter" else family
            self.created[Series(owner, series.labels)] = float(values[row])

    def _check_duplicates(
        self, values: npt.NDArray[np.float64], keep: npt.NDArray[np.bool_]
    ) -> None:
        """Keep the first of repeated series (as Prometheus does); report the rest."""
        s = self.stream
        # Series are interned, so equal series are the same object: sorted object
        # ids with no two alike mean no repeats (cheaper than a set of them).
        ids = np.fromiter(map(id, s._series), dtype=np.uint64, count=len(s._series))
        ids.sort()
        if not np.any(ids[1:] == ids[:-1]):
            return
        first: dict[Series, int] = {}
        for row, series in enumerate(s._series):
            if not keep[row]:
                continue
            earlier = first.setdefault(series, row)
            if earlier == row:
                continue
            keep[row] = False
            number, seen = s._row_line(row), s._row_line(earlier)
            a, b = float(values[row]), float(values[earlier])
            if a == b or (a != a and b != b):
                s._warn(
                    number,
                    f"Series {series} repeats line {seen} with the same "
                    "value; the repeat was dropped.",
                )
            else:
                s._warn(
                    number,
                    f"Series {series} repeats line {seen} with another "
                    f"value ({a!r} instead of {b!r}); the first was kept.",
                )

    def _warn_negative_counters(
        self,
        order: list[str],
        types: dict[str, str],
        family_index: npt.NDArray[np.int32],
        values: npt.NDArray[np.float64],
        keep: npt.NDArray[np.bool_],
    ) -> None:
        counters = np.array([types[f] == "counter" for f in order], dtype=np.bool_)
        if not len(values) or not counters.any():
            return
        negative = np.flatnonzero(counters[family_index] & (values < 0) & keep)
        s = self.stream
        for row in negative[:100].tolist():
            s._warn(
                s._row_line(row),
                f"Negative counter value {float(values[row])!r} for {s._series[row]}.",
            )
