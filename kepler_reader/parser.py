"""From exposition bytes to a :class:`~kepler_reader.snapshot.Snapshot`.

Strategy. A Kepler endpoint is scraped again and again and its series barely change,
so the parser remembers, for each *series text* it has validated (the bytes of a line
before its last space, e.g. ``kepler_pod_cpu_joules_total{...,zone="package"}``), the
interned :class:`~kepler_reader.snapshot.Series` it stands for. A line whose series text
is known costs one ``rpartition`` and one dictionary lookup; its value token is kept as
bytes and all tokens are converted to float64 in one pass at the end. Every other line
(comments, timestamps, blanks inside braces, escapes, errors) goes through the general
line rules in :mod:`kepler_reader.grammar`, which also produce the error messages.

Families are resolved after the loop, from the HELP/TYPE lines of the whole body, so
TYPE lines grouped ahead of their samples and repeated metadata blocks need no special
handling in the loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import attrs
import numpy as np
import numpy.typing as npt

from .exceptions import ParseError
from .grammar import (
    LineError,
    parse_comment,
    parse_sample_line,
    parse_value,
)
from .snapshot import (
    NO_TIMESTAMP,
    LineProblem,
    MetricFamily,
    ParseWarning,
    Series,
    Snapshot,
)

__all__ = ["Parser", "parse"]

_BOM = b"\xef\xbb\xbf"
# Bytes that never occur in a Go float; a joined token list without them needs no
# per-token check beyond float() itself.
_NOT_FLOAT = re.compile(rb"[^0-9.eE+\-iInNfFaAtTyY]")
_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
_SUMMARY_SUFFIXES = ("_sum", "_count")
# Timestamps below this (milliseconds, i.e. before March 1973) were probably written in
# seconds.
_IMPLAUSIBLE_TIMESTAMP_MS = 100_000_000_000
_MAX_WARNINGS = 1000


@attrs.define(slots=True)
class _Metadata:
    """What the HELP and TYPE lines of one family said."""

    type: str | None = None
    help: str | None = None
    type_line: int = 0
    rows_before_type: int = 0
    position: int = 0


@attrs.define(slots=True)
class _Body:
    """Everything collected from one body before the families are resolved."""

    source: str | None
    lenient: bool
    lines: list[bytes]
    series: list[Series] = attrs.Factory(list)
    tokens: list[bytes] = attrs.Factory(list)
    row_lines: list[int] = attrs.Factory(list)
    stamps: dict[int, int] = attrs.Factory(dict)
    metadata: dict[str, _Metadata] = attrs.Factory(dict)
    errors: list[LineProblem] = attrs.Factory(list)
    warnings: list[ParseWarning] = attrs.Factory(list)
    truncated: bool = False
    exemplar_warned: bool = False

    def warn(self, line: int | None, message: str) -> None:
        if len(self.warnings) < _MAX_WARNINGS:
            self.warnings.append(ParseWarning(line, message))
        elif len(self.warnings) == _MAX_WARNINGS:
            self.warnings.append(ParseWarning(None, "More warnings were dropped."))

    def fail(self, number: int, offset: int, reason: str) -> None:
        """Raise in strict mode; record the line as skipped in lenient mode."""
        raw = self.lines[number - 1]
        text = raw.decode("utf-8", "replace")
        column = len(raw[:offset].decode("utf-8", "replace")) + 1
        if not self.lenient:
            raise ParseError(
                reason, source=self.source, line=number, column=column, text=text
            )
        self.errors.append(LineProblem(number, column, reason, text))


class Parser:
    """A reusable parser for the text exposition format 0.0.4.

    Keep one ``Parser`` per endpoint: it remembers the series it has seen, so the next
    scrape of the same endpoint costs little more than reading the numbers. The result
    is the same as :func:`parse` gives for every body.

    Args:
        lenient: Skip bad lines (recording each on the snapshot) instead of raising.
        max_cached_series: When more series texts than this are remembered, the memory
            is cleared before the next body (bounds memory as pods come and go).
    """

    def __init__(
        self, *, lenient: bool = False, max_cached_series: int = 2_000_000
    ) -> None:
        self.lenient = lenient
        self.max_cached_series = max_cached_series
        self._by_text: dict[bytes, Series] = {}
        self._interned: dict[tuple[str, tuple[tuple[str, str], ...]], Series] = {}
        self._strings: dict[str, str] = {}

    def parse(
        self,
        data: bytes | str,
        *,
        source: str | None = None,
        scraped_at: float | None = None,
        lenient: bool | None = None,
    ) -> Snapshot:
        """Parse one whole body.

        Args:
            data: The body, as bytes (preferred) or text.
            source: The path or URL, used in errors and kept on the snapshot.
            scraped_at: When the body was scraped, in seconds since the epoch.
            lenient: Overrides the parser's own ``lenient`` for this body.

        Returns:
            The snapshot: families, interned series, values as float64.

        Raises:
            ParseError: In strict mode, at the first bad line, with its number, column,
                the line and what was expected.
        """
        if isinstance(data, str):
            data = data.encode("utf-8")
        if len(self._by_text) > self.max_cached_series:
            self._by_text.clear()
            self._interned.clear()
            self._strings.clear()
        body = _Body(source, self.lenient if lenient is None else lenient, [])
        data = self._clean(data, body)
        ends_with_lf = data.endswith(b"\n")
        lines = data.split(b"\n")
        if ends_with_lf or not data:
            lines.pop()
        body.lines = lines
        last = len(lines)

        # Phase 1: one pass over the lines; known series take the short path.
        by_text = self._by_text
        series_append = body.series.append
        token_append = body.tokens.append
        line_append = body.row_lines.append
        for number, line in enumerate(lines, 1):
            if not line:
                continue
            if line[0] != 0x23:  # "#"
                text, _, token = line.rpartition(b" ")
                known = by_text.get(text)
                if known is not None:
                    series_append(known)
                    token_append(token)
                    line_append(number)
                    continue
            self._general_line(body, number, line, number == last and not ends_with_lf)

        if lines and not ends_with_lf and not body.truncated:
            if body.lenient:
                body.warn(
                    last, f"The input does not end with a line feed (line {last})."
                )
            else:
                body.fail(
                    last,
                    len(lines[-1]),
                    "unexpected end of input: the body does not end with a line feed",
                )

        # Phase 2: values, families, checks.
        return _assemble(body, scraped_at)

    # -- the general path ------------------------------------------------------------

    def _clean(self, data: bytes, body: _Body) -> bytes:
        """Drop a leading byte-order mark and the CR of CRLF line ends (warning)."""
        if data.startswith(_BOM):
            data = data[len(_BOM) :]
            body.warn(
                1, "A UTF-8 byte-order mark at the start of the body was dropped."
            )
        if b"\r\n" in data:
            data = data.replace(b"\r\n", b"\n")
            body.warn(
                None,
                "CRLF line ends: the carriage return before each line feed "
                "was dropped.",
            )
        return data

    def _general_line(
        self, body: _Body, number: int, line: bytes, is_cut: bool
    ) -> None:
        """Read a line the short path did not know: comment, new series, fault."""
        stripped = line.lstrip(b" \t")
        indent = len(line) - len(stripped)
        if not stripped:
            return
        try:
            if stripped[0] == 0x23:
                self._comment(body, number, stripped)
                return
            parsed = parse_sample_line(stripped)
        except LineError as fault:
            reason = fault.reason
            if is_cut:
                body.truncated = True
                where = (
                    f"inside the value of label {fault.open_label!r}"
                    if fault.open_label
                    else "in the middle of this line"
                )
                reason = f"unexpected end of input {where}: the body is cut off"
            body.fail(number, fault.offset + indent, reason)
            return

        series = self._intern(parsed.name, parsed.labels)
        row = len(body.series)
        body.series.append(series)
        body.tokens.append(parsed.value)
        body.row_lines.append(number)
        if parsed.timestamp_ms is not None:
            body.stamps[row] = parsed.timestamp_ms
        if parsed.has_exemplar and not body.exemplar_warned:
            body.exemplar_warned = True
            body.warn(
                number,
                "An exemplar after a sample value was dropped (the text "
                "format 0.0.4 has no exemplars).",
            )
        plain = (
            indent == 0
            and parsed.timestamp_ms is None
            and not parsed.has_exemplar
            and parsed.value_start == parsed.series_end + 1
            and parsed.value_start + len(parsed.value) == len(line)
        )
        if plain:
            self._by_text[line[: parsed.series_end]] = series

    def _intern(self, name: str, labels: tuple[tuple[str, str], ...]) -> Series:
        key = (name, tuple(sorted(labels)))
        series = self._interned.get(key)
        if series is None:
            strings = self._strings
            canonical = tuple(
                (strings.setdefault(k, k), strings.setdefault(v, v)) for k, v in key[1]
            )
            series = Series(strings.setdefault(name, name), canonical)
            self._interned[key] = series
        return series

    def _comment(self, body: _Body, number: int, line: bytes) -> None:
        parsed = parse_comment(line)
        if parsed is None:
            return
        meta = body.metadata.get(parsed.name)
        if meta is None:
            meta = _Metadata(position=len(body.series))
            body.metadata[parsed.name] = meta
        if parsed.keyword == "HELP":
            if parsed.help_was_invalid_utf8:
                body.warn(
                    number,
                    f"The help text of {parsed.name} is not valid UTF-8; "
                    "bad bytes were replaced with U+FFFD.",
                )
            if meta.help is None:
                meta.help = parsed.text
                return
            if not body.lenient:
                body.fail(
                    number, 0, f"second HELP line for metric family {parsed.name}"
                )
            elif meta.help != parsed.text:
                body.warn(
                    number,
                    f"A second HELP line for {parsed.name} differs from the "
                    "first; the first was kept.",
                )
            else:
                body.warn(number, f"Repeated HELP line for {parsed.name}.")
            return
        if meta.type is None:
            meta.type = parsed.text
            meta.type_line = number
            meta.rows_before_type = len(body.series)
            return
        if meta.type != parsed.text:
            body.fail(
                number,
                0,
                f"second TYPE line for metric family {parsed.name} "
                f"says {parsed.text!r}, the first said {meta.type!r}",
            )
        elif not body.lenient:
            body.fail(number, 0, f"second TYPE line for metric family {parsed.name}")
        else:
            body.warn(number, f"Repeated TYPE line for {parsed.name}.")


def parse(
    data: bytes | str,
    *,
    source: str | None = None,
    lenient: bool = False,
) -> Snapshot:
    r"""Parse one body of the Prometheus text exposition format 0.0.4.

    Args:
        data: The body, as bytes (preferred: invalid UTF-8 then only affects its line)
            or as text.
        source: The path or URL it came from, named in errors.
        lenient: Skip bad lines, recording each on ``Snapshot.errors``, instead of
            raising at the first one.

    Returns:
        The snapshot. Its ``scraped_at`` is ``None``; see
        :func:`kepler_reader.read_dump` for files that carry a scrape time.

    Raises:
        ParseError: In strict mode, for the first bad line.

    Example:
        >>> snap = parse(b'kepler_pod_cpu_joules_total{zone="package"} 12.5\n')
        >>> float(snap.values[0]), snap.series[0].get("zone")
        (12.5, 'package')
    """
    return Parser(lenient=lenient).parse(data, source=source)


# -- phase 2 ------------------------------------------------------------------------


def _values(body: _Body, keep: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """Convert every value token to float64; check odd tokens one by one."""
    tokens = body.tokens
    if not tokens:
        return np.empty(0, dtype=np.float64)
    if _NOT_FLOAT.search(b"".join(tokens)) is None:
        try:
            return np.fromiter(map(float, tokens), dtype=np.float64, count=len(tokens))
        except ValueError:
            pass
    values = np.empty(len(tokens), dtype=np.float64)
    for row, token in enumerate(tokens):
        try:
            values[row] = float(parse_value(token, 0))
        except LineError as fault:
            number = body.row_lines[row]
            line = body.lines[number - 1]
            offset = line.rfind(b" " + token) + 1 if token else len(line)
            body.fail(number, offset, fault.reason)
            keep[row] = False
            values[row] = np.nan
    return values


def _resolve(name: str, metadata: dict[str, _Metadata]) -> str:
    """The family a sample name belongs to, by the names and types in the body."""
    if name in metadata:
        return name
    for suffix in _HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            meta = metadata.get(name[: -len(suffix)])
            if meta is not None and (
                meta.type == "histogram"
                or (meta.type == "summary" and suffix in _SUMMARY_SUFFIXES)
            ):
                return name[: -len(suffix)]
    return name


def _families(body: _Body) -> tuple[list[str], dict[str, int], list[str]]:
    """Resolve every sample name to its family.

    Returns the family names in order of first appearance (a HELP/TYPE line or a
    sample, whichever came first), their indices, and the family of each row.
    """
    names = [series.name for series in body.series]
    first_of_name: dict[str, int] = {}
    for row, name in enumerate(names):
        first_of_name.setdefault(name, row)
    family_of: dict[str, str] = {}
    position: dict[str, tuple[int, int]] = {
        name: (meta.position, 0) for name, meta in body.metadata.items()
    }
    for name, row in first_of_name.items():
        family = _resolve(name, body.metadata)
        family_of[name] = family
        position[family] = min(position.get(family, (row, 1)), (row, 1))
    order = sorted(position, key=position.__getitem__)
    index = {family: i for i, family in enumerate(order)}
    return order, index, [family_of[name] for name in names]


def _check_late_types(body: _Body, row_family: list[str]) -> None:
    """A TYPE line after samples of its family is an error (strict) or a warning."""
    for name, meta in body.metadata.items():
        if meta.type is None or meta.rows_before_type == 0:
            continue
        if name in row_family[: meta.rows_before_type]:
            if body.lenient:
                body.warn(
                    meta.type_line,
                    f"The TYPE line of {name} comes after some of "
                    "its samples; it was applied to all of them.",
                )
            else:
                body.fail(
                    meta.type_line,
                    0,
                    f"TYPE line for metric family {name} comes after its samples",
                )


def _check_histograms(
    body: _Body,
    row_family: list[str],
    types: dict[str, str],
    keep: npt.NDArray[np.bool_],
) -> None:
    """Buckets need a float ``le``; summary quantiles a float ``quantile``."""
    for row, family in enumerate(row_family):
        kind = types.get(family)
        if kind not in ("histogram", "summary"):
            continue
        series = body.series[row]
        if kind == "histogram" and series.name == family + "_bucket":
            label = "le"
        elif kind == "summary" and series.name == family:
            label = "quantile"
        else:
            continue
        value = series.get(label)
        reason = None
        if value is None:
            reason = f"sample {series.name} of {kind} {family} has no {label!r} label"
        else:
            try:
                float(parse_value(value.encode(), 0))
            except (LineError, UnicodeEncodeError):
                reason = (
                    f"the {label!r} label of {series.name} must be a float, "
                    f"found {value!r}"
                )
        if reason is not None:
            number = body.row_lines[row]
            line = body.lines[number - 1]
            at = line.find(f'{label}="'.encode())
            body.fail(number, max(at, 0), reason)
            keep[row] = False


def _check_duplicates(
    body: _Body, values: npt.NDArray[np.float64], keep: npt.NDArray[np.bool_]
) -> None:
    """Keep the first of repeated series, as Prometheus does, and report the rest."""
    if len(set(body.series)) == len(body.series):
        return
    first: dict[Series, int] = {}
    for row, series in enumerate(body.series):
        if not keep[row]:
            continue
        earlier = first.setdefault(series, row)
        if earlier == row:
            continue
        keep[row] = False
        number, seen = body.row_lines[row], body.row_lines[earlier]
        same = values[row] == values[earlier] or (
            np.isnan(values[row]) and np.isnan(values[earlier])
        )
        if same:
            body.warn(
                number,
                f"Series {series} repeats line {seen} with the same value; "
                "the repeat was dropped.",
            )
        else:
            body.warn(
                number,
                f"Series {series} repeats line {seen} with another value "
                f"({float(values[row])!r} instead of {float(values[earlier])!r}); the "
                "first was kept.",
            )


def _assemble(body: _Body, scraped_at: float | None) -> Snapshot:
    n = len(body.series)
    keep = np.ones(n, dtype=np.bool_)
    values = _values(body, keep)
    order, index, row_family = _families(body)
    _check_late_types(body, row_family)
    types = {
        f: (body.metadata[f].type or "untyped") if f in body.metadata else "untyped"
        for f in order
    }
    _check_histograms(body, row_family, types, keep)
    _check_duplicates(body, values, keep)

    family_index = np.fromiter(
        map(index.__getitem__, row_family), dtype=np.int32, count=n
    )
    counters = np.array([types[f] == "counter" for f in order], dtype=np.bool_)
    if n and counters.any():
        negative = np.flatnonzero(counters[family_index] & (values < 0) & keep)
        for row in negative[:100]:
            body.warn(
                body.row_lines[row],
                f"Negative counter value {float(values[row])!r} for "
                f"{body.series[row]}.",
            )

    stamps: npt.NDArray[np.int64] | None = None
    if body.stamps:
        stamps = np.full(n, NO_TIMESTAMP, dtype=np.int64)
        rows = np.fromiter(body.stamps.keys(), dtype=np.intp, count=len(body.stamps))
        stamps[rows] = np.fromiter(
            body.stamps.values(), dtype=np.int64, count=len(body.stamps)
        )
        odd = rows[stamps[rows] < _IMPLAUSIBLE_TIMESTAMP_MS]
        for row in odd[:100]:
            body.warn(
                body.row_lines[row],
                f"Timestamp {int(stamps[row])} ms is "
                "implausibly old; was it written in seconds?",
            )

    series: list[Series] = body.series
    if not keep.all():
        series = [s for s, k in zip(series, keep.tolist(), strict=True) if k]
        values, family_index = values[keep], family_index[keep]
        stamps = None if stamps is None else stamps[keep]

    # Families without samples are dropped, as Prometheus's own text parser does.
    present = np.bincount(family_index, minlength=len(order)) > 0
    if not present.all():
        remap = np.cumsum(present, dtype=np.int32) - 1
        family_index = remap[family_index].astype(np.int32)
        order = [f for f, p in zip(order, present.tolist(), strict=True) if p]
    families = tuple(
        MetricFamily(f, types[f], body.metadata[f].help if f in body.metadata else None)
        for f in order
    )
    return Snapshot(
        families=families,
        family_index=family_index,
        series=series,
        values=values,
        timestamps_ms=stamps,
        source=body.source,
        scraped_at=scraped_at,
        errors=tuple(body.errors),
        warnings=tuple(body.warnings),
        truncated=body.truncated,
    )


def parse_many(
    bodies: Iterable[bytes],
    *,
    parser: Parser | None = None,
    on_each: Callable[[Snapshot], None] | None = None,
) -> list[Snapshot]:
    """Parse several bodies of one endpoint with one warm parser.

    Args:
        bodies: The bodies, oldest first.
        parser: The parser to use (a new strict one by default).
        on_each: Called with each snapshot as it is made (for progress reports).

    Returns:
        One snapshot per body, in order.

    Raises:
        ParseError: As :meth:`Parser.parse`.
    """
    parser = parser or Parser()
    out = []
    for data in bodies:
        snap = parser.parse(data)
        if on_each is not None:
            on_each(snap)
        out.append(snap)
    return out
