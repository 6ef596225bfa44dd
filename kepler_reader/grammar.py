r"""Line-level rules of the Prometheus text format 0.0.4 and OpenMetrics 1.0 text.

Each function here reads one line (as bytes, without its line feed) and either returns
its parts or raises :class:`LineError` with the byte offset of the fault and what was
expected there. The parser turns a fault into a :class:`~kepler_reader.ParseError` with
the line number, or into a skipped-line record in lenient mode.

The two formats share one grammar for sample lines; what differs (the unit of the
timestamp, the metric types, ``# EOF``, exemplars) is decided by the parser once it
knows the format. The grammar, in the formats' own terms::

    line        = blank | comment | sample
    comment     = "#" blanks ( "HELP" blanks fname [ blanks help ]
                             | "TYPE" blanks fname blanks type
                             | "UNIT" blanks fname [ blanks unit ]
                             | "EOF" | any other text )
    sample      = series blanks value [ blanks timestamp ] [ blanks ] [ exemplar ]
    series      = name [ blanks ] [ "{" [ labels ] "}" ]
                | "{" [ blanks ] quoted [ [ blanks ] "," [ labels ] ] "}"
    labels      = label { [ blanks ] "," [ blanks ] label }
                  [ [ blanks ] "," ] [ blanks ]
    label       = ( label_name | quoted ) [ blanks ] "=" [ blanks ] quoted
    quoted      = '"' { any byte but '"', "\\" and LF | "\\\\" | '\\"' | "\\n" } '"'
    exemplar    = "#" blanks "{" [ labels ] "}" blanks value [ blanks timestamp ]
    fname       = name | quoted
    name        = [a-zA-Z_:] [a-zA-Z0-9_:]*
    label_name  = [a-zA-Z_] [a-zA-Z0-9_]*
    value       = a Go float: decimal, "NaN", "+Inf", "-Inf" (any case)
    timestamp   = [ "-" ] digit { digit }           text 0.0.4: milliseconds
                | a decimal number                  OpenMetrics: seconds
    blanks      = ( " " | TAB ) { " " | TAB }

A quoted metric or label name (Prometheus 3's UTF-8 names) may hold any character; a
quoted classic name is the same name as the unquoted one.
"""

from __future__ import annotations

import re

import attrs

__all__ = [
    "LineError",
    "ParsedComment",
    "ParsedSample",
    "parse_comment",
    "parse_exemplar",
    "parse_sample_line",
    "parse_value",
]

_NAME = re.compile(rb"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(rb"[a-zA-Z_][a-zA-Z0-9_]*")
_BLANKS = re.compile(rb"[ \t]*")
_TOKEN = re.compile(rb"[^ \t]*")
# A quoted string up to its closing quote; escapes are checked after the match.
# Written as runs of plain bytes between escapes, so that a long value costs no
# backtracking state per byte.
_QUOTED = re.compile(rb'([^"\\]*(?:\\.[^"\\]*)*)"', re.DOTALL)
_ESCAPE = re.compile(rb"\\(.?)", re.DOTALL)
_INTEGER = re.compile(rb"[-+]?[0-9]+")
_DECIMAL = re.compile(rb"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
# Characters a Go float may contain; Python's float() accepts more (``_``, spaces).
_FLOAT = re.compile(
    rb"[0-9.eE+\-]+|[+-]?(?:[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])"
)
_UNESCAPE = {b"\\": "\\", b'"': '"', b"n": "\n"}


class LineError(Exception):
    """A fault inside one line: where (byte offset) and what was expected there."""

    def __init__(
        self, offset: int, reason: str, *, open_label: str | None = None
    ) -> None:
        self.offset = offset
        self.reason = reason
        #: The label whose quoted value the line ended inside, if that was the fault.
        self.open_label = open_label
        super().__init__(reason)


@attrs.frozen(slots=True)
class ParsedComment:
    """A ``# HELP``, ``# TYPE``, ``# UNIT`` or ``# EOF`` line.

    Attributes:
        keyword: ``"HELP"``, ``"TYPE"``, ``"UNIT"`` or ``"EOF"``.
        name: The family name (``""`` for ``EOF``).
        text: The unescaped help text, the type as written, or the unit.
        help_was_invalid_utf8: True when the help text had to be decoded with
            replacement characters.
    """

    keyword: str
    name: str
    text: str
    help_was_invalid_utf8: bool = False


@attrs.frozen(slots=True)
class ParsedSample:
    """The parts of one sample line.

    Attributes:
        name: The sample name (unquoted).
        labels: ``(name, value)`` pairs in printed order, values unescaped.
        value: The value token, validated (convert with ``float``).
        timestamp: The timestamp token (an integer, or a decimal number), or ``None``.
        series_end: Byte offset just past the series text (name and labels).
        value_start: Byte offset of the value token.
        exemplar_start: Byte offset of the ``#`` that starts an exemplar, or -1.
    """

    name: str
    labels: tuple[tuple[str, str], ...]
    value: bytes
    timestamp: bytes | None
    series_end: int
    value_start: int
    exemplar_start: int


def _found(line: bytes, pos: int) -> str:
    """A short quote of what stands at ``pos``, for error messages."""
    if pos >= len(line):
        return ", found the end of the line"
    fragment = line[pos : pos + 16].decode("utf-8", "replace")
    return f", found {fragment!r}" + ("..." if len(line) > pos + 16 else "")


def _decode(raw: bytes, offset: int, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise LineError(offset + error.start, f"{what} is not valid UTF-8") from None


def _unescape(raw: bytes, offset: int, what: str) -> str:
    r"""Rule ``quoted``: ``\\\\``, ``\\"`` and ``\\n`` are the only escapes."""
    if b"\\" not in raw:
        return _decode(raw, offset, what)

    def replace(match: re.Match[bytes]) -> bytes:
        char = match.group(1)
        if char not in _UNESCAPE:
            shown = "\\" + char.decode("utf-8", "replace")
            raise LineError(
                offset + match.start(),
                f"invalid escape sequence {shown!r} in {what}; "
                'only \\\\, \\" and \\n are allowed',
            )
        return _UNESCAPE[char].encode()

    return _decode(_ESCAPE.sub(replace, raw), offset, what)


def _quoted(line: bytes, pos: int, what: str, label: str | None) -> tuple[str, int]:
    """Rule ``quoted`` at ``pos`` (just after the opening quote)."""
    match = _QUOTED.match(line, pos)
    if match is None:
        raise LineError(
            pos - 1,
            f"{what} contains an unescaped line feed (the line ends inside the quoted "
            "value)",
            open_label=label,
        )
    return _unescape(match.group(1), pos, what), match.end()


def _skip(line: bytes, pos: int) -> int:
    return _BLANKS.match(line, pos).end()  # type: ignore[union-attr]


def _labels(
    line: bytes, pos: int, pairs: list[tuple[str, str]]
) -> tuple[tuple[tuple[str, str], ...], int]:
    """Rule ``labels``, from just after ``{`` (or after a quoted name and ``,``).

    Returns the pairs and the offset just past the closing ``}``.
    """
    seen = {key for key, _ in pairs}
    end = len(line)
    while True:
        pos = _skip(line, pos)
        if pos < end and line[pos] == 0x7D:  # "}"
            return tuple(pairs), pos + 1
        if pos < end and line[pos] == 0x22:  # a quoted (UTF-8) label name
            label, after = _quoted(line, pos + 1, "a quoted label name", None)
        else:
            match = _LABEL_NAME.match(line, pos)
            if match is None:
                raise LineError(
                    pos, f"expected a label name or '}}'{_found(line, pos)}"
                )
            label, after = match.group().decode("ascii"), match.end()
        if label in seen:
            raise LineError(pos, f"duplicate label name {label!r}")
        seen.add(label)
        pos = _skip(line, after)
        if pos >= end or line[pos] != 0x3D:  # "="
            raise LineError(
                pos, f"expected '=' after label name {label!r}{_found(line, pos)}"
            )
        pos = _skip(line, pos + 1)
        if pos >= end or line[pos] != 0x22:  # '"'
            raise LineError(pos, f"the value of label {label!r} must start with '\"'")
        value, pos = _quoted(line, pos + 1, f"the value of label {label!r}", label)
        pairs.append((label, value))
        pos = _skip(line, pos)
        if pos < end and line[pos] == 0x2C:  # ","
            pos += 1
            continue
        if pos < end and line[pos] == 0x7D:
            return tuple(pairs), pos + 1
        raise LineError(
            pos,
            f"expected ',' or '}}' after the value of label {label!r}"
            f"{_found(line, pos)}",
        )


def parse_value(token: bytes, offset: int) -> bytes:
    """Rule ``value``: check that ``token`` is a float as Go prints and reads them.

    Returns the token unchanged; raises :class:`LineError` when it is not a float.
    """
    if _FLOAT.fullmatch(token) is not None:
        try:
            float(token)
        except ValueError:
            pass
        else:
            return token
    shown = token[:40].decode("utf-8", "replace")
    raise LineError(offset, f"expected a float value, found {shown!r}")


def _series(line: bytes) -> tuple[str, tuple[tuple[str, str], ...], int]:
    """Rule ``series``: the name and labels, and the offset just past them."""
    end = len(line)
    if line[:1] == b"{":
        pos = _skip(line, 1)
        if pos >= end or line[pos] != 0x22:
            raise LineError(
                pos, f"expected a quoted metric name after '{{'{_found(line, pos)}"
            )
        name, pos = _quoted(line, pos + 1, "the quoted metric name", None)
        after = _skip(line, pos)
        if after < end and line[after] == 0x3D:  # '=': a label, not a name
            raise LineError(pos, "expected a quoted metric name before the labels")
        if after < end and line[after] == 0x2C:
            labels, pos = _labels(line, after + 1, [])
        elif after < end and line[after] == 0x7D:
            labels, pos = (), after + 1
        else:
            raise LineError(
                after,
                f"expected ',' or '}}' after the metric name{_found(line, after)}",
            )
        return name, labels, pos
    match = _NAME.match(line)
    if match is None:
        raise LineError(
            0,
            f"expected a metric name or '#' at the start of the line{_found(line, 0)}",
        )
    name = match.group().decode("ascii")
    pos = match.end()
    after = _skip(line, pos)
    if after < end and line[after] == 0x7B:  # "{"
        labels, pos = _labels(line, after + 1, [])
        return name, labels, pos
    if after < end and pos == after:
        raise LineError(
            pos,
            f"unexpected character after the metric name {name!r}; expected '{{' or a "
            f"blank{_found(line, pos)} (names with other characters must be quoted)",
        )
    return name, (), pos


def parse_sample_line(line: bytes) -> ParsedSample:
    """Rule ``sample``: read a whole sample line in any legal spelling.

    Raises:
        LineError: At the first byte that breaks the rule, saying what was expected.
    """
    end = len(line)
    name, labels, series_end = _series(line)

    # The value, then an optional timestamp, then an optional exemplar.
    value_start = _skip(line, series_end)
    if value_start >= end:
        raise LineError(
            value_start, "expected a value after the series, found the end of the line"
        )
    if value_start == series_end:
        raise LineError(
            series_end,
            f"expected a blank and a value after the series{_found(line, series_end)}",
        )
    value_end = _TOKEN.match(line, value_start).end()  # type: ignore[union-attr]
    value = parse_value(line[value_start:value_end], value_start)
    pos = _skip(line, value_end)
    timestamp: bytes | None = None
    if pos < end and line[pos] != 0x23:  # not "#"
        stamp_end = _TOKEN.match(line, pos).end()  # type: ignore[union-attr]
        timestamp = line[pos:stamp_end]
        if _DECIMAL.fullmatch(timestamp) is None:
            shown = timestamp[:40].decode("utf-8", "replace")
            raise LineError(
                pos, f"expected a timestamp after the value, found {shown!r}"
            )
        pos = _skip(line, stamp_end)
    exemplar_start = -1
    if pos < end:
        if line[pos] != 0x23:
            raise LineError(
                pos, f"unexpected text after the timestamp{_found(line, pos)}"
            )
        exemplar_start = pos
    return ParsedSample(
        name, labels, value, timestamp, series_end, value_start, exemplar_start
    )


def timestamp_ms(token: bytes, *, seconds: bool, offset: int) -> int:
    """Convert a timestamp token to integer milliseconds since the epoch.

    Args:
        token: The token as printed.
        seconds: True for OpenMetrics (seconds, possibly fractional), False for the
            text format 0.0.4 (integer milliseconds).
        offset: The token's byte offset, for the error.

    Raises:
        LineError: The token does not fit the format's rule or 64 bits.
    """
    if len(token) > 40:
        raise LineError(offset, "the timestamp does not fit in 64 bits")
    if seconds:
        try:
            stamp = round(float(token) * 1000)
        except (OverflowError, ValueError):
            raise LineError(offset, "the timestamp does not fit in 64 bits") from None
    else:
        if _INTEGER.fullmatch(token) is None:
            shown = token[:40].decode("utf-8", "replace")
            raise LineError(
                offset,
                f"expected an integer timestamp (milliseconds) after the value, found "
                f"{shown!r}",
            )
        stamp = int(token)
    if not -(2**63) <= stamp < 2**63:
        raise LineError(offset, "the timestamp does not fit in 64 bits")
    return stamp


def parse_exemplar(line: bytes, pos: int) -> None:
    """Rule ``exemplar``, from the ``#`` at ``pos``.

    Raises:
        LineError: The exemplar is malformed (the caller keeps the sample anyway).
    """
    pos = _skip(line, pos + 1)
    if pos >= len(line) or line[pos] != 0x7B:
        raise LineError(pos, f"an exemplar must start with '{{'{_found(line, pos)}")
    _, pos = _labels(line, pos + 1, [])
    value_start = _skip(line, pos)
    value_end = _TOKEN.match(line, value_start).end()  # type: ignore[union-attr]
    parse_value(line[value_start:value_end], value_start)
    pos = _skip(line, value_end)
    if pos < len(line):
        stamp_end = _TOKEN.match(line, pos).end()  # type: ignore[union-attr]
        if _DECIMAL.fullmatch(line[pos:stamp_end]) is None or _skip(
            line, stamp_end
        ) < len(line):
            raise LineError(pos, f"unexpected text in the exemplar{_found(line, pos)}")


def parse_comment(line: bytes) -> ParsedComment | None:
    """Rule ``comment``: read a ``# HELP``, ``# TYPE``, ``# UNIT`` or ``# EOF`` line.

    Returns ``None`` for any other comment (which the formats ignore).

    Raises:
        LineError: For a HELP, TYPE or UNIT line with a bad name or escape.
    """
    pos = _skip(line, 1)
    keyword_end = _TOKEN.match(line, pos).end()  # type: ignore[union-attr]
    keyword = line[pos:keyword_end]
    if keyword == b"EOF" and _skip(line, keyword_end) == len(line):
        return ParsedComment("EOF", "", "")
    if keyword not in (b"HELP", b"TYPE", b"UNIT") or keyword_end >= len(line):
        return None
    pos = _skip(line, keyword_end)
    if pos >= len(line):
        return None
    word = keyword.decode()
    if line[pos] == 0x22:
        name, name_end = _quoted(line, pos + 1, "the quoted metric name", None)
    else:
        match = _NAME.match(line, pos)
        if match is None:
            raise LineError(pos, f"expected a metric name after {word}")
        name, name_end = match.group().decode("ascii"), match.end()
    if name_end < len(line) and line[name_end] not in b" \t":
        raise LineError(pos, f"expected a metric name after {word}")
    text_start = _skip(line, name_end)
    rest = line[text_start:]
    if keyword == b"HELP":
        return _help(name, rest, text_start)
    text = rest.rstrip(b" \t").decode("utf-8", "replace")
    return ParsedComment(word, name, text)


def _help(name: str, raw: bytes, offset: int) -> ParsedComment:
    r"""Rule ``help``: ``\\\\`` and ``\\n`` are escapes (and ``\\"`` in OpenMetrics)."""
    if b"\\" in raw:

        def replace(match: re.Match[bytes]) -> bytes:
            char = match.group(1)
            if char in _UNESCAPE:
                return _UNESCAPE[char].encode()
            shown = "\\" + char.decode("utf-8", "replace")
            raise LineError(
                offset + match.start(),
                f"invalid escape sequence {shown!r} in the help text of {name}; only "
                '\\\\, \\n and \\" are allowed',
            )

        raw = _ESCAPE.sub(replace, raw)
    try:
        return ParsedComment("HELP", name, raw.decode("utf-8"))
    except UnicodeDecodeError:
        return ParsedComment("HELP", name, raw.decode("utf-8", "replace"), True)
