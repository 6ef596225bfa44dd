"""From exposition bytes to a :class:`~kepler_reader.snapshot.Snapshot`.

Strategy. A Kepler endpoint is scraped again and again and its series barely change,
so the parser remembers, for each *series text* it has validated (the bytes of a line
before its last space, e.g. ``kepler_pod_cpu_joules_total{...,zone="package"}``), the
interned :class:`~kepler_reader.snapshot.Series` it stands for. A line whose series text
is known costs one ``rpartition`` and one dictionary lookup; its value token is kept as
bytes and the tokens of a chunk are converted to float64 in one pass. A chunk of mostly
new series (the first scrape) is first learned a family at a time by
:mod:`kepler_reader.bulk`. A new series in the plainest spelling is learned line by line
by a short path; every other line (comments, timestamps, blanks inside braces, escapes,
errors) goes through the general line rules in :mod:`kepler_reader.grammar`, which also
produce the error messages.

Bodies are read in chunks of whole lines (:class:`StreamParser`), so a body fed whole,
byte by byte or in any other split gives the same snapshot, and memory follows the
snapshot rather than the body. What depends on the format (the unit of timestamps, the
metric types, ``# EOF``, ``_created``) and on the whole body (which family a sample
belongs to, repeated series, TYPE lines after samples) is settled in :meth:`finish`.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from collections.abc import Iterable
from io import BytesIO
from itertools import chain
from sys import intern

import attrs
import numpy as np
import numpy.typing as npt

from .assembly import OM_TYPES, TEXT_TYPES, Assembly, Deferred
from .bulk import MIN_RUN, forget_ahead, learn_runs, mostly_new
from .exceptions import LimitExceededError, ParseError
from .grammar import (
    LineError,
    parse_comment,
    parse_sample_line,
    parse_value,
)
from .limits import DEFAULT_LIMITS, Limits
from .shortcuts import NAME_ONLY, all_unwanted, label_shape, next_comment
from .snapshot import (
    LineProblem,
    ParseWarning,
    Series,
    Snapshot,
)

__all__ = ["FORMATS", "Parser", "StreamParser", "format_of", "parse", "sniff_format"]

#: The formats the parser reads.
FORMATS = ("text", "openmetrics")

_BOM = b"\xef\xbb\xbf"
_SLICE = 1 << 20  # bytes per chunk when a whole body is parsed
# The bytes of Go floats (digits, sign, point, exponent, Inf, NaN): a joined token
# list with nothing else in it needs no per-token check beyond float() itself.
# The line feed that ends a line read with readlines() is blank to float().
_FLOAT_BYTES_OR_LF = b"0123456789.eE+-iInNfFaAtTyY\n"
_MAX_WARNINGS = 1000
_BOM_NOTE = "A UTF-8 byte-order mark at the start of the body was dropped."
# Builds a Series without the Python-level __new__ of a named tuple.
_new_series = tuple.__new__
_CRLF_NOTE = "CRLF line ends: the carriage return before each line feed was dropped."


def sniff_format(data: bytes) -> str:
    """Guess the format of a whole body from its last bytes, without parsing it.

    OpenMetrics when the body ends with the line ``# EOF``, else the text format. The
    parser itself decides by the ``# EOF`` line it reads (which also accepts tabs or
    extra blanks inside it), so use this only as a quick look.
    """
    tail = data[-64:].rstrip(b"\n\r\t ")
    if tail == b"# EOF" or tail.endswith(b"\n# EOF"):
        return "openmetrics"
    return "text"


def format_of(content_type: str) -> str | None:
    """The parser format a ``Content-Type`` names, or ``None`` when it names none.

    ``application/openmetrics-text`` is OpenMetrics; ``text/plain`` is the text format
    0.0.4.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/openmetrics-text":
        return "openmetrics"
    if media == "text/plain":
        return "text"
    return None


@attrs.define(slots=True)
class _Metadata:
    """What the HELP, TYPE and UNIT lines of one family said."""

    type: str | None = None
    help: str | None = None
    unit: str | None = None
    type_line: int = 0
    type_text: bytes = b""
    rows_before_type: int = 0
    position: int = 0


class Parser:
    """A reusable parser for the text format 0.0.4 and OpenMetrics 1.0 text.

    Keep one ``Parser`` per endpoint: it remembers the series it has seen, so the next
    scrape of the same endpoint costs little more than reading the numbers. The result
    is the same as :func:`parse` gives for every body.

    Args:
        lenient: Skip bad lines (recording each on the snapshot) instead of raising.
        families: Keep only samples whose name starts with one of these prefixes (for
            example ``("kepler_pod_", "kepler_node_")``); other lines are skipped
            without reading their labels. ``None`` keeps everything.
        format: ``"text"``, ``"openmetrics"``, or ``None`` to recognise OpenMetrics by
            its closing ``# EOF``.
        max_cached_series: When more series texts than this are remembered, the memory
            is cleared before the next body (bounds memory as pods come and go).
        limits: The most one body may hold (:class:`~kepler_reader.Limits`; its
            defaults when ``None``). Over a line limit the parser raises
            :class:`~kepler_reader.LimitExceededError`; over a series, label or
            family limit it raises in strict mode and skips, saying so, in lenient
            mode.
        max_line_bytes: Overrides ``limits.max_line_bytes``: the longest line
            accepted, in bytes (64 MiB by default, far above any real label value).

    Raises:
        ValueError: ``format`` is not one of :data:`FORMATS`, or a limit is not a
            positive integer.
    """

    def __init__(
        self,
        *,
        lenient: bool = False,
        families: Iterable[str] | None = None,
        format: str | None = None,
        max_cached_series: int = 2_000_000,
        limits: Limits | None = None,
        max_line_bytes: int | None = None,
    ) -> None:
        if format is not None and format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS} or None, not {format!r}")
        limits = limits or DEFAULT_LIMITS
        if max_line_bytes is not None:
            limits = attrs.evolve(limits, max_line_bytes=max_line_bytes)
        self.lenient = lenient
        self.format = format
        self.max_cached_series = max_cached_series
        self._limits = limits
        self.max_line_bytes = limits.max_line_bytes
        self.prefixes = (
            None if families is None else tuple(f.encode() for f in families)
        )
        self._by_text: dict[bytes, Series] = {}
        self._interned: dict[Series, Series] = {}
        self._names: dict[bytes, str] = {}
        self._pairs: dict[tuple[str, str], tuple[str, str]] = {}
        # The bulk learner's interned pairs: label name -> value -> pair.
        self._label_values: dict[str, dict[str, tuple[str, str]]] = {}
        self._shapes: dict[str, tuple[tuple[str, ...] | None, bool, bool]] = {}

    @property
    def limits(self) -> Limits:
        """The limits each body is held to (read-only: remembered series met them)."""
        return self._limits

    def stream(
        self,
        *,
        source: str | None = None,
        scraped_at: float | None = None,
        lenient: bool | None = None,
        format: str | None = None,
    ) -> StreamParser:
        """Start a body that arrives in chunks; feed them, then call ``finish()``.

        Args:
            source: The path or URL, used in errors and kept on the snapshot.
            scraped_at: When the body was scraped, in seconds since the epoch.
            lenient: Overrides the parser's own ``lenient`` for this body.
            format: Overrides the parser's own ``format`` for this body.
        """
        if format is not None and format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS} or None, not {format!r}")
        if len(self._by_text) > self.max_cached_series:
            self._by_text.clear()
            self._interned.clear()
            self._names.clear()
            self._pairs.clear()
            self._label_values.clear()
            self._shapes.clear()
        return StreamParser(
            self,
            source=source,
            scraped_at=scraped_at,
            lenient=self.lenient if lenient is None else lenient,
            format=format or self.format,
        )

    def parse(
        self,
        data: bytes | str,
        *,
        source: str | None = None,
        scraped_at: float | None = None,
        lenient: bool | None = None,
        format: str | None = None,
    ) -> Snapshot:
        """Parse one whole body.

        Args:
            data: The body, as bytes (preferred) or text.
            source: The path or URL, used in errors and kept on the snapshot.
            scraped_at: When the body was scraped, in seconds since the epoch.
            lenient: Overrides the parser's own ``lenient`` for this body.
            format: ``"text"`` or ``"openmetrics"``; by default the parser's own, or
                recognised from the body (OpenMetrics ends with ``# EOF``).

        Returns:
            The snapshot: families, interned series, values as float64.

        Raises:
            ParseError: In strict mode, at the first bad line, with its number,
                column, the line and what was expected.
            LimitExceededError: A line is longer than ``limits.max_line_bytes``; in
                strict mode also a body over a series, label or family limit.
        """
        if isinstance(data, str):
            # Lone surrogates become invalid UTF-8, an error confined to their line.
            data = data.encode("utf-8", "surrogatepass")
        stream = self.stream(
            source=source, scraped_at=scraped_at, lenient=lenient, format=format
        )
        if self.prefixes is not None:
            # Skipped blocks are never split, so the whole body can go at once.
            stream.feed(data)
            return stream.finish()
        # Pieces that end with a line feed leave nothing pending between them, so
        # each byte is copied once on its way to the line loop.
        start, size = 0, len(data)
        while start < size:
            stop = data.rfind(b"\n", start, start + _SLICE) + 1
            if stop <= start:
                stop = start + _SLICE  # inside a long line: the stream joins it
            stream.feed(data[start:stop])
            start = stop
        return stream.finish()


class StreamParser:
    """One body being parsed chunk by chunk (see :meth:`Parser.stream`).

    The snapshot is the same whatever the chunks: whole, byte by byte, or any split.
    """

    def __init__(
        self,
        parser: Parser,
        *,
        source: str | None,
        scraped_at: float | None,
        lenient: bool,
        format: str | None,
    ) -> None:
        self._parser = parser
        self.source = source
        self.scraped_at = scraped_at
        self.lenient = lenient
        self.format = format
        self._pending = b""
        self._started = False
        self._finished = False
        self._number = 0
        self._series: list[Series] = []
        self._values: list[npt.NDArray[np.float64]] = []
        # Which line each row came from, kept per call of _read_lines as (number
        # before its first line, its line count, the numbers of its lines that gave
        # no row), and spelled out only when a message needs it.
        self._row_parts: list[tuple[int, int, list[int]]] = []
        self._part_rows: list[int] = []  # the first row of each part
        self._part_numbers: dict[int, npt.NDArray[np.int64]] = {}
        self._metadata: dict[str, _Metadata] = {}
        self._stamps: list[Deferred] = []
        self._exemplars: list[Deferred] = []
        self._suspects: dict[int, Deferred] = {}
        self._errors: list[LineProblem] = []
        self._warnings: list[ParseWarning] = []
        self._dropped: set[int] = set()
        self._eof_line = 0
        self._after_eof: Deferred | None = None
        self._crlf_warned = False
        self._truncated = False
        self._first_error: ParseError | None = None
        self._faults = 0
        self._pending_size = 0
        self._pending_parts: list[bytes] = []
        limits = parser.limits
        self._max_series = limits.max_series
        self._max_labels = limits.max_labels_per_series
        self._max_name = limits.max_label_name_length
        self._max_value = limits.max_label_value_length
        # A series text no longer than this cannot hold a label name or value over
        # its limit, so new series that short skip the length checks.
        self._short_text = min(self._max_name, self._max_value)
        self._max_families = limits.max_families
        self._max_problems = limits.max_problems
        self._problems_dropped = 0
        self._problem_heap: list[tuple[int, int, int, LineProblem]] = []
        self._series_skipped = 0
        self._first_skipped_line = 0
        self._metadata_skipped = 0

    # -- reporting -------------------------------------------------------------------

    def _warn(self, line: int | None, message: str) -> None:
        if len(self._warnings) < _MAX_WARNINGS:
            self._warnings.append(ParseWarning(line, message))
        elif len(self._warnings) == _MAX_WARNINGS:
            self._warnings.append(ParseWarning(None, "More warnings were dropped."))

    def _fail(self, number: int, raw: bytes, offset: int, reason: str) -> None:
        """Record a bad line: skipped in lenient mode, the error in strict mode.

        In strict mode the error with the smallest line number is raised once the
        body has ended, so the first bad line is reported however the body was split
        (values and some rules are only checked after their line has been read).
        """
        self._faults += 1
        text = raw.decode("utf-8", "replace")
        column = len(raw[:offset].decode("utf-8", "replace")) + 1
        if not self.lenient:
            first = self._first_error
            if first is None or (number, column) < (first.line, first.column):
                self._first_error = ParseError(
                    reason, source=self.source, line=number, column=column, text=text
                )
            return
        problem = LineProblem(number, column, reason, text)
        if len(self._errors) < self._max_problems:
            self._errors.append(problem)
            return
        # Full: keep the problems of the first lines, whatever order they were found
        # in (values are checked a chunk at a time), so that the split of the body
        # into chunks does not change which ones are kept.
        self._problems_dropped += 1
        if not self._problem_heap:
            self._problem_heap = [
                (-p.line, -p.column, i, p) for i, p in enumerate(self._errors)
            ]
            heapq.heapify(self._problem_heap)
        if (-number, -column) > self._problem_heap[0][:2]:
            entry = (
                -number,
                -column,
                self._problems_dropped + len(self._errors),
                problem,
            )
            heapq.heapreplace(self._problem_heap, entry)

    def _recorded_problems(self) -> list[LineProblem]:
        """The bad lines kept for ``Snapshot.errors`` (at most ``max_problems``)."""
        if self._problem_heap:
            return [entry[3] for entry in self._problem_heap]
        return self._errors

    def _limit_error(self, number: int, what: str, limit: str) -> LimitExceededError:
        """The error for line ``number``: ``what`` was found, over ``limit``."""
        value = getattr(self._parser.limits, limit)
        return LimitExceededError(
            f"{self.source or '<input>'}:{number}: {what}, over the limit "
            f"{limit}={value}.",
            limit=limit,
            value=value,
        )

    # -- phase 1: lines as they arrive -----------------------------------------------

    def feed(self, chunk: bytes) -> None:
        """Add the next piece of the body (any size, any split).

        Raises:
            ParseError: In strict mode, for a bad line completed by this chunk.
            LimitExceededError: A line is longer than ``limits.max_line_bytes``; in
                strict mode also a line over a series, label or family limit.
        """
        if self._finished:
            raise RuntimeError("feed() after finish(): start a new stream")
        if self._started and b"\n" not in chunk:
            # Still inside one line: keep the pieces, join them once it ends.
            self._pending_parts.append(chunk)
            self._pending_size += len(chunk)
            if self._pending_size > self._parser.max_line_bytes + 1:
                self._line_too_long()
            return
        if self._pending_parts:
            self._pending = self._pending + b"".join(self._pending_parts)
            self._pending_parts = []
        data = self._pending + chunk if self._pending else chunk
        self._pending_size = 0
        if not self._started:
            if len(data) < len(_BOM) and _BOM.startswith(data):
                self._pending = data
                return
            self._started = True
            if data.startswith(_BOM):
                data = data[len(_BOM) :]
                self._warn(1, _BOM_NOTE)
        cut = data.rfind(b"\n")
        if cut < 0:
            self._pending = data
            self._pending_size = len(data)
            if self._pending_size > self._parser.max_line_bytes + 1:
                self._line_too_long()
            return
        self._pending = data[cut + 1 :]
        self._pending_size = len(self._pending)
        # One-byte search first: memchr runs at memory speed, a two-byte pattern
        # does not, and a body without any CR is the usual case.
        if data.find(b"\r", 0, cut + 1) >= 0 and data.find(b"\r\n", 0, cut + 1) >= 0:
            # The CR of a CRLF pair; a line's other CRs stay (and make it invalid).
            data = data[: cut + 1].replace(b"\r\n", b"\n")
            cut = len(data) - 1
            self._warn_crlf()
        if cut > self._parser.max_line_bytes:
            long_at = self._first_long_line(data, cut)
            if long_at >= 0:
                # The lines before it are read first, as they would be had the body
                # been split just before the long one.
                if long_at:
                    self._complete_lines(data, long_at - 1)
                self._line_too_long()
        self._complete_lines(data, cut)
        if self._pending_size > self._parser.max_line_bytes + 1:
            # The start of the next line is over the limit already, as it would be
            # had it come in pieces of its own.
            self._line_too_long()

    def _complete_lines(self, data: bytes, end: int) -> None:
        """Read the whole lines ``data[:end]`` (``data[end]`` ends the last one)."""
        if self._parser.prefixes is None:
            # readlines() finds line feeds with memchr, several times faster than
            # split(); the lines keep their line feed, which the line loop allows.
            whole = data if end == len(data) - 1 else data[: end + 1]
            self._lines(BytesIO(whole).readlines(), last_is_cut=False)
        else:
            self._filtered(data, end, self._parser.prefixes)

    def _filtered(self, complete: bytes, end: int, prefixes: tuple[bytes, ...]) -> None:
        """Read only the lines of wanted families, skipping the rest unsplit.

        Families come in blocks of sample lines between metadata lines. A block whose
        lines cannot start with a wanted prefix (checked with ``bytes.find``, which
        runs at memory speed) is skipped whole: only its line feeds are counted, for
        the line numbers. Everything else goes through the usual line loop. Only
        ``complete[:end]`` is read (whole lines, without the last line feed).
        """
        pos = 0
        while pos <= end:
            if complete.startswith(b"#", pos):  # metadata and comments: always read
                stop = complete.find(b"\n", pos, end)
                stop = end if stop < 0 else stop
                self._lines([complete[pos:stop]], last_is_cut=False)
                pos = stop + 1
                continue
            stop = next_comment(complete, pos, end)
            breaks = complete.count(b"\n", pos, stop)
            if complete.startswith(prefixes, pos) or not all_unwanted(
                complete, pos, stop, breaks, prefixes
            ):
                self._lines(complete[pos:stop].split(b"\n"), last_is_cut=False)
            else:
                self._number += breaks + 1
            pos = stop + 1

    def _spelled_format(self) -> str:
        """The format a body spells: OpenMetrics when it ends at its ``# EOF`` line.

        For a body read without a format named. Only blank lines may follow that
        line: after a comment or any other line read by the general rules
        (``_after_eof``), or a sample (the last row comes from a later line), the
        body is the text format, where ``# EOF`` is a comment.
        """
        if not self._eof_line or self._after_eof is not None:
            return "text"
        if self._series and self._row_line(len(self._series) - 1) > self._eof_line:
            return "text"
        return "openmetrics"

    def _first_long_line(self, data: bytes, end: int) -> int:
        """The start of the first line in ``data[:end]`` over the limit, or -1."""
        start, limit = 0, self._parser.max_line_bytes
        while start <= end:
            stop = data.find(b"\n", start, end)
            stop = end if stop < 0 else stop
            if stop - start > limit:
                return start
            start = stop + 1
        return -1

    # A line still arriving is measured with one byte to spare: the carriage return
    # of a CRLF line end is not part of the line. Whole lines are measured exactly.

    def _line_too_long(self) -> None:
        limit = self._parser.max_line_bytes
        raise LimitExceededError(
            f"{self.source or '<input>'}:{self._number + 1}: the line is longer than "
            f"max_line_bytes={limit} bytes.",
            limit="max_line_bytes",
            value=limit,
        )

    def _warn_crlf(self) -> None:
        # Said once the body has ended (see finish), so that the order of the
        # warnings does not depend on which chunk held the first CRLF.
        self._crlf_warned = True

    def _lines(self, lines: list[bytes], *, last_is_cut: bool) -> None:
        """Read whole lines, at most ``max_series`` samples in the whole body.

        Each line adds at most one sample, so a chunk with fewer lines than there is
        room left needs no counting inside the loop.
        """
        if len(lines) <= self._max_series - len(self._series):
            self._read_lines(lines, last_is_cut=last_is_cut)
            return
        start = 0
        while start < len(lines):
            room = self._max_series - len(self._series)
            if room <= 0:
                self._over_series_limit(lines[start:], last_is_cut=last_is_cut)
                return
            stop = start + room
            self._read_lines(
                lines[start:stop], last_is_cut=last_is_cut and stop >= len(lines)
            )
            start = stop

    def _over_series_limit(self, lines: list[bytes], *, last_is_cut: bool) -> None:
        """Read the lines after the snapshot is full: metadata only, samples skipped."""
        prefixes = self._parser.prefixes
        last = len(lines) - 1
        for i, line in enumerate(lines):
            line = line.removesuffix(b"\n")
            stripped = line.lstrip(b" \t")
            wanted = prefixes is None or line.startswith(prefixes)
            if not stripped or stripped[0] == 0x23 or not wanted:
                self._read_lines([line], last_is_cut=last_is_cut and i == last)
                continue
            self._number += 1
            if not self.lenient:
                raise self._limit_error(
                    self._number,
                    f"sample number {self._max_series + 1} of the body",
                    "max_series",
                )
            if not self._series_skipped:
                self._first_skipped_line = self._number
            self._series_skipped += 1

    def _read_lines(self, lines: list[bytes], *, last_is_cut: bool) -> None:
        """Read whole lines; known series take the short path.

        A known series text is never empty, never starts with ``#`` and always
        passes the family filter (only such lines were remembered), so the short
        path needs no other test; every other line goes to :meth:`_other_line`.
        A chunk of mostly new series is first learned in bulk (:mod:`.bulk`).
        """
        known = self._parser._by_text
        taught_from, taught = len(known), 0
        if len(lines) >= MIN_RUN and mostly_new(self, lines):
            learn_runs(self, lines)
            taught = len(known) - taught_from
        by_text = known.get
        series_append = self._series.append
        tokens: list[bytes] = []
        token_append = tokens.append
        other = self._other_line
        no_row: list[int] = []
        first_row = len(self._series)
        number = before = self._number
        last = number + len(lines)
        try:
            for line in lines:
                number += 1
                text, _, token = line.rpartition(b" ")
                series = by_text(text)
                if series is not None:
                    series_append(series)
                    token_append(token)
                elif not other(number, line, tokens, last_is_cut and number == last):
                    no_row.append(number)
        except LimitExceededError:
            # Strict mode stops here: the parser must not keep what the bulk
            # learner read ahead, as if the lines after this one had been read.
            if taught:
                forget_ahead(self, lines, number - before - 1, taught_from, taught)
            raise
        self._number = number
        self._row_parts.append((before, len(lines), no_row))
        self._part_rows.append(first_row)
        self._values.append(self._convert(tokens, first_row, lines, last_is_cut))

    def _other_line(
        self, number: int, line: bytes, tokens: list[bytes], is_cut: bool
    ) -> bool:
        """A line whose series text is not known yet: a new series, or anything else.

        Returns whether the line gave a row.
        """
        if line[-1:] == b"\n":
            line = line[:-1]
        if not line:
            return False
        if line[0] != 0x23:  # "#"
            prefixes = self._parser.prefixes
            if prefixes is not None and not line.startswith(prefixes):
                if is_cut:
                    self._cut_unwanted(number, line)
                return False
            text, _, token = line.rpartition(b" ")
            # The same text may have been met earlier in this chunk.
            known = self._parser._by_text.get(text)
            if known is None:
                known = self._new_simple_series(text, token)
            if known is not None:
                self._series.append(known)
                tokens.append(token)
                return True
        return self._general_line(number, line, tokens, is_cut)

    def _cut_unwanted(self, number: int, line: bytes) -> None:
        """The last line of a body without a final line feed, of an unwanted family.

        It gives no row and has no other effect (after ``# EOF`` too, it is not
        reported), but the grammar reads it to tell a body cut in the middle of this
        line (the cut-off error, the snapshot flagged truncated, as without the
        filter) from one that lacks only its final line feed.
        """
        stripped = line.lstrip(b" \t")
        if not stripped or stripped[0] == 0x23:  # an indented comment is skipped
            return
        try:
            parse_sample_line(stripped)
        except LineError as fault:
            offset = fault.offset + len(line) - len(stripped)
            self._fail(number, line, offset, self._cut_reason(fault))

    def _row_line(self, row: int) -> int:
        """The number of the line that row ``row`` was read from."""
        part = bisect_right(self._part_rows, row) - 1
        before, _, no_row = self._row_parts[part]
        offset = row - self._part_rows[part]
        if not no_row:
            return before + 1 + offset
        numbers = self._part_numbers.get(part)
        if numbers is None:
            numbers = self._part_numbers[part] = self._numbers_of(part)
        return int(numbers[offset])

    def _numbers_of(self, part: int) -> npt.NDArray[np.int64]:
        """The line numbers of the rows of one part, in row order."""
        before, count, no_row = self._row_parts[part]
        numbers = np.arange(before + 1, before + count + 1, dtype=np.int64)
        if no_row:
            numbers = np.delete(numbers, np.asarray(no_row) - (before + 1))
        return numbers

    def _row_line_numbers(self) -> npt.NDArray[np.int64]:
        """The line number of every row, in row order."""
        pieces = [self._numbers_of(part) for part in range(len(self._row_parts))]
        return np.concatenate(pieces) if pieces else np.empty(0, dtype=np.int64)

    def _convert(
        self,
        tokens: list[bytes],
        first_row: int,
        lines: list[bytes],
        last_is_cut: bool,
    ) -> npt.NDArray[np.float64]:
        """Convert one chunk's value tokens to float64; check odd ones one by one.

        ``last_is_cut``: the last of ``lines`` ends the body without a line feed.
        """
        if not tokens:
            return np.empty(0, dtype=np.float64)
        if not b"".join(tokens).translate(None, _FLOAT_BYTES_OR_LF):
            try:
                return np.fromiter(
                    map(float, tokens), dtype=np.float64, count=len(tokens)
                )
            except ValueError:
                pass
        values = np.empty(len(tokens), dtype=np.float64)
        base = self._number - len(lines)
        for i, token in enumerate(tokens):
            try:
                values[i] = float(parse_value(token.removesuffix(b"\n"), 0))
            except LineError:
                # The part after the last space is not a plain value: read the whole
                # line by the general rules (a tab before a timestamp, a trailing
                # tab), which also word any error as a first sighting would.
                row = first_row + i
                number = self._row_line(row)
                line = lines[number - base - 1].removesuffix(b"\n")
                is_cut = last_is_cut and number == self._number
                values[i] = self._reread(row, number, line, is_cut)
        return values

    def _reread(self, row: int, number: int, line: bytes, is_cut: bool) -> float:
        try:
            parsed = parse_sample_line(line)
        except LineError as fault:
            reason = self._cut_reason(fault) if is_cut else fault.reason
            self._fail(number, line, fault.offset, reason)
            self._dropped.add(row)
            return math.nan
        if parsed.timestamp is not None:
            at = line.find(parsed.timestamp, parsed.value_start + len(parsed.value))
            self._stamps.append(Deferred(row, number, line, parsed.timestamp, at))
        if parsed.exemplar_start >= 0:
            self._exemplars.append(Deferred(row, number, line[parsed.exemplar_start :]))
        return float(parsed.value)

    def _cut_reason(self, fault: LineError) -> str:
        """The fault of the last line of a body without a final line feed.

        The body was cut off in the middle of that line: the snapshot is flagged
        truncated, and the reason says where the line stopped.
        """
        self._truncated = True
        where = (
            f"inside the value of label {fault.open_label!r}"
            if fault.open_label
            else "in the middle of this line"
        )
        return f"unexpected end of input {where}: the body is cut off"

    def _general_line(
        self, number: int, line: bytes, tokens: list[bytes], is_cut: bool
    ) -> bool:
        """Read a line the short paths did not take: comment, odd spelling, fault.

        Returns whether the line gave a row.
        """
        stripped = line.lstrip(b" \t")
        indent = len(line) - len(stripped)
        if not stripped:
            return False
        if self._eof_line and self._after_eof is None:
            self._after_eof = Deferred(-1, number, line)
        try:
            if stripped[0] == 0x23:
                self._comment(number, stripped, line)
                return False
            parsed = parse_sample_line(stripped)
        except LineError as fault:
            reason = self._cut_reason(fault) if is_cut else fault.reason
            self._fail(number, line, fault.offset + indent, reason)
            return False
        if len(parsed.labels) > self._max_labels or (
            len(line) > self._short_text and self._long_label(parsed.labels)
        ):
            self._over_label_limit(number, line, parsed.labels)
            return False

        series = self._intern(parsed.name, parsed.labels)
        row = len(self._series)
        self._series.append(series)
        tokens.append(parsed.value)
        if parsed.timestamp is not None:
            at = stripped.find(parsed.timestamp, parsed.value_start + len(parsed.value))
            # The line is kept only when the token could be wrong in one of the two
            # formats (not a plain integer), so a federate body of timestamped
            # samples keeps no text.
            plain_integer = parsed.timestamp.isdigit() and len(parsed.timestamp) < 19
            self._stamps.append(
                Deferred(
                    row,
                    number,
                    b"" if plain_integer else line,
                    parsed.timestamp,
                    indent + at,
                )
            )
        if parsed.exemplar_start >= 0:
            self._exemplars.append(
                Deferred(row, number, stripped[parsed.exemplar_start :])
            )
        suspect = self._suspect(series)
        if suspect:
            self._suspects[row] = Deferred(row, number, line, offset=line.find(suspect))
        plain = (
            indent == 0
            and parsed.timestamp is None
            and parsed.exemplar_start < 0
            and parsed.value_start == parsed.series_end + 1
            and parsed.value_start + len(parsed.value) == len(line)
            and not suspect
        )
        if plain:
            self._parser._by_text[line[: parsed.series_end]] = series
        return True

    def _long_label(self, labels: tuple[tuple[str, str], ...]) -> bool:
        """Whether a label name or value is longer than its limit."""
        return any(
            len(name) > self._max_name or len(value) > self._max_value
            for name, value in labels
        )

    def _over_label_limit(
        self, number: int, line: bytes, labels: tuple[tuple[str, str], ...]
    ) -> None:
        """Skip (lenient) or refuse (strict) a series over a label limit."""
        if len(labels) > self._max_labels:
            what = f"the series has {len(labels)} labels"
            limit, offset = "max_labels_per_series", 0
        else:
            name, value = next(
                (n, v)
                for n, v in labels
                if len(n) > self._max_name or len(v) > self._max_value
            )
            if len(name) > self._max_name:
                what = f"label name {name[:100]!r} is {len(name)} characters long"
                limit = "max_label_name_length"
            else:
                what = (
                    f"the value of label {name[:100]!r} is {len(value)} characters long"
                )
                limit = "max_label_value_length"
            found = line.find(name[:100].encode("utf-8", "surrogatepass"))
            offset = max(found, 0)
        if not self.lenient:
            raise self._limit_error(number, what, limit)
        value = getattr(self._parser.limits, limit)
        self._fail(
            number,
            line,
            offset,
            f"{what}, over the limit {limit}={value}: the line was skipped",
        )

    @staticmethod
    def _suspect(series: Series) -> bytes:
        """The ``le=``/``quantile=`` text of a bound that is not a float, or b""."""
        for label in ("le", "quantile"):
            value = series.get(label)
            if value is None:
                continue
            try:
                float(parse_value(value.encode(), 0))
            except (LineError, UnicodeEncodeError):
                return f'{label}="'.encode()
        return b""

    def _new_simple_series(self, text: bytes, token: bytes) -> Series | None:
        """Read a new series in its plainest spelling (as Kepler prints every line).

        ``name{a="x",b="y"} value``: no blanks, escapes or quoted names, no timestamp.
        The series is remembered for the next line or body with the same text.
        Returns None for anything else, which the general rules then read.

        With no backslash in the braces, every quote opens or closes a value, so the
        pieces between values must read ``NAME=`` then ``,NAME=`` ..., with an
        optional trailing comma. A family prints the same label names on every
        line, so that text (the *shape*) is checked once and its verdict kept.
        """
        if not token or b"\t" in token:
            return None
        parser = self._parser
        brace = text.find(b"{")
        if brace < 0:
            name = self._simple_name(text)
            if name is None:
                return None
            pairs: tuple[tuple[str, str], ...] = ()
            bounded = False
        else:
            if text[-1] != 0x7D or b"\\" in text:  # "}", or escapes to undo
                return None
            name = self._simple_name(text[:brace])
            if name is None:
                return None
            try:
                pieces = text[brace + 1 : -1].decode("utf-8").split('"')
            except UnicodeDecodeError:
                return None
            if not len(pieces) & 1:
                return None
            between = "".join(pieces[0::2])
            shape = parser._shapes.get(between)
            if shape is None:
                shape = parser._shapes[between] = self._shape(between)
            names, ordered, bounded = shape
            if names is None or len(pieces) != 2 * len(names) + 1:
                return None
            listed = list(zip(names, pieces[1::2], strict=True))
            if not ordered:
                listed.sort()
            # Label pairs are interned: most (node, zone, state) repeat across series.
            cache = parser._pairs.setdefault
            pairs = tuple(map(cache, listed, listed))
            if len(text) > self._short_text and self._long_label(pairs):
                return None  # the general rules word the error
        key = _new_series(Series, (name, pairs))
        series = parser._interned.setdefault(key, key)
        if bounded and self._suspect(series):
            return None
        parser._by_text[text] = series
        return series

    def _shape(self, between: str) -> tuple[tuple[str, ...] | None, bool, bool]:
        """The verdict on one label shape: names, whether sorted, whether bounded.

        Names are None for a shape the short path does not take: not plain, a name
        repeated, or more labels than ``limits.max_labels_per_series`` (the general
        rules word that error). *Bounded* shapes carry ``le`` or ``quantile``, whose
        values must read as floats.
        """
        names, ordered = label_shape(between)
        if names is None or len(names) > self._max_labels:
            return None, False, False
        bounded = "le" in names or "quantile" in names
        return tuple(names), ordered, bounded

    def _simple_name(self, raw: bytes) -> str | None:
        names = self._parser._names
        name = names.get(raw)
        if name is None and NAME_ONLY.fullmatch(raw) is not None:
            name = names[raw] = intern(raw.decode("ascii"))
        return name

    def _intern(self, name: str, labels: tuple[tuple[str, str], ...]) -> Series:
        # Repeated label names and values are stored once (sys.intern).
        flat = list(map(intern, chain.from_iterable(sorted(labels))))
        key = Series(intern(name), tuple(zip(flat[::2], flat[1::2], strict=True)))
        return self._parser._interned.setdefault(key, key)

    def _comment(self, number: int, stripped: bytes, line: bytes) -> None:
        parsed = parse_comment(stripped)
        if parsed is None:
            return
        if parsed.keyword == "EOF":
            if not self._eof_line:
                self._eof_line = number
            return
        meta = self._metadata.get(parsed.name)
        if meta is None:
            if len(self._metadata) >= self._max_families:
                if not self.lenient:
                    raise self._limit_error(
                        number,
                        f"family {parsed.name[:100]!r} would be family number "
                        f"{self._max_families + 1} of the body",
                        "max_families",
                    )
                self._metadata_skipped += 1
                return
            meta = _Metadata(position=len(self._series))
            self._metadata[parsed.name] = meta
        if parsed.keyword == "UNIT":
            meta.unit = parsed.text
            return
        if parsed.keyword == "HELP":
            self._help(
                meta,
                parsed.name,
                parsed.text,
                number,
                line,
                parsed.help_was_invalid_utf8,
            )
            return
        if parsed.text not in TEXT_TYPES | OM_TYPES:
            self._fail(
                number,
                line,
                line.find(parsed.text.encode()),
                f"unknown metric type {parsed.text!r} for {parsed.name}; "
                "expected counter, gauge, histogram, summary or untyped",
            )
            return
        if meta.type is None:
            meta.type = parsed.text
            meta.type_line = number
            meta.type_text = line
            meta.rows_before_type = len(self._series)
            return
        if meta.type != parsed.text:
            self._fail(
                number,
                line,
                0,
                f"second TYPE line for metric family {parsed.name} says "
                f"{parsed.text!r}, the first said {meta.type!r}",
            )
        elif not self.lenient:
            self._fail(
                number, line, 0, f"second TYPE line for metric family {parsed.name}"
            )
        else:
            self._warn(number, f"Repeated TYPE line for {parsed.name}.")

    def _help(
        self,
        meta: _Metadata,
        name: str,
        text: str,
        number: int,
        line: bytes,
        invalid_utf8: bool,
    ) -> None:
        if invalid_utf8:
            self._warn(
                number,
                f"The help text of {name} is not valid UTF-8; bad bytes "
                "were replaced with U+FFFD.",
            )
        if meta.help is None:
            meta.help = text
        elif not self.lenient:
            self._fail(number, line, 0, f"second HELP line for metric family {name}")
        elif meta.help != text:
            self._warn(
                number,
                f"A second HELP line for {name} differs from the first; "
                "the first was kept.",
            )
        else:
            self._warn(number, f"Repeated HELP line for {name}.")

    def _warn_limits(self) -> None:
        """Say what lenient mode skipped for a limit (one warning per limit)."""
        limits = self._parser.limits
        if self._series_skipped:
            self._warn(
                self._first_skipped_line,
                f"Sample lines skipped from line {self._first_skipped_line} on: "
                f"{self._series_skipped}; the snapshot holds at most "
                f"max_series={limits.max_series} samples.",
            )
        if self._metadata_skipped:
            self._warn(
                None,
                f"HELP, TYPE or UNIT lines skipped: {self._metadata_skipped}; the "
                f"body names more than max_families={limits.max_families} families.",
            )

    def _warn_dropped_problems(self) -> None:
        """Count the bad lines not kept in ``Snapshot.errors`` (called last)."""
        if self._problems_dropped:
            self._warn(
                None,
                f"Bad lines skipped without being recorded: {self._problems_dropped}; "
                f"the first max_problems={self._max_problems} are kept.",
            )

    # -- phase 2: the whole body -------------------------------------------------------

    def finish(self) -> Snapshot:
        """End the body and return its snapshot.

        Raises:
            ParseError: In strict mode, for a bad last line, a cut-off body, or a rule
                that needs the whole body (a TYPE line after its samples, a repeated
                metadata line, a missing ``# EOF`` in OpenMetrics).
            LimitExceededError: As :meth:`feed`, for the last line; in strict mode
                also a body over ``limits.max_families``.
        """
        if self._finished:
            raise RuntimeError("finish() called twice")
        self._finished = True
        if self._pending_parts:
            self._pending = self._pending + b"".join(self._pending_parts)
            self._pending_parts = []
        if self._pending:
            last = self._pending
            if last.endswith(b"\r"):
                last = last[:-1]
            if len(last) > self._parser.max_line_bytes:
                self._line_too_long()
            self._pending = b""
            before = self._faults
            self._lines([last], last_is_cut=True)
            fmt = self.format or ("openmetrics" if self._eof_line else "text")
            ends_at_eof = fmt == "openmetrics" and self._eof_line == self._number
            if self._faults == before and not self._truncated and not ends_at_eof:
                if self.lenient:
                    self._warn(
                        self._number,
                        "The input does not end with a line feed "
                        f"(line {self._number}).",
                    )
                else:
                    self._fail(
                        self._number,
                        last,
                        len(last),
                        "unexpected end of input: "
                        "the body does not end with a line feed",
                    )
        if self._crlf_warned:
            # First, after the byte-order mark's warning (which is always first).
            at = (
                1
                if self._warnings and self._warnings[0].message.startswith(_BOM_NOTE)
                else 0
            )
            self._warnings.insert(at, ParseWarning(None, _CRLF_NOTE))
        self._warn_limits()
        snapshot = Assembly(self, self.format or self._spelled_format()).snapshot()
        if self._first_error is not None:
            raise self._first_error
        return snapshot


def parse(
    data: bytes | str,
    *,
    source: str | None = None,
    lenient: bool = False,
    format: str | None = None,
    limits: Limits | None = None,
) -> Snapshot:
    r"""Parse one body of the Prometheus text format 0.0.4 or OpenMetrics 1.0.

    Args:
        data: The body, as bytes (preferred: invalid UTF-8 then only affects its line)
            or as text.
        source: The path or URL it came from, named in errors.
        lenient: Skip bad lines, recording each on ``Snapshot.errors``, instead of
            raising at the first one.
        format: ``"text"`` or ``"openmetrics"``; by default recognised from the body
            (an OpenMetrics body ends with ``# EOF``).
        limits: The most the body may hold (:class:`~kepler_reader.Limits`; its
            defaults when ``None``).

    Returns:
        The snapshot. Its ``scraped_at`` is ``None``; see
        :func:`kepler_reader.read_dump` for files that carry a scrape time.

    Raises:
        ParseError: In strict mode, for the first bad line.
        LimitExceededError: A line is longer than ``limits.max_line_bytes``; in
            strict mode also a body over a series, label or family limit.

    Example:
        >>> snap = parse(b'kepler_pod_cpu_joules_total{zone="package"} 12.5\n')
        >>> float(snap.values[0]), snap.series[0].get("zone")
        (12.5, 'package')
    """
    return Parser(lenient=lenient, limits=limits).parse(
        data, source=source, format=format
    )
