r"""Line-level rules of the Prometheus text exposition format 0.0.4.

Each function here reads one line (as bytes, without its line feed) and either returns
its parts or raises :class:`LineError` with the byte offset of the fault and what was
expected there. The parser turns a fault into a :class:`~kepler_reader.ParseError` with
the line number, or into a skipped-line record in lenient mode.

The grammar, in the format's own terms::

    line        = blank | comment | sample
    comment     = "#" blanks ( "HELP" blanks name [ blanks help ]
                             | "TYPE" blanks name blanks type | any text )
    sample      = name [ blanks ] [ "{" [ labels ] "}" ] blanks value
                  [ blanks timestamp ] [ blanks ] [ exemplar ]
    labels      = label { [ blanks ] "," [ blanks ] label }
                  [ [ blanks ] "," ] [ blanks ]
    label       = label_name [ blanks ] "=" [ blanks ] '"' label_value '"'
    label_value = { any byte but '"', "\\" and LF | "\\\\" | '\\"' | "\\n" }
    name        = [a-zA-Z_:] [a-zA-Z0-9_:]*
    label_name  = [a-zA-Z_] [a-zA-Z0-9_]*
    value       = a Go float: decimal, "NaN", "+Inf", "-Inf" (any case)
    timestamp   = [ "-" ] digit { digit }           (milliseconds)
    blanks      = ( " " | TAB ) { " " | TAB }
"""

from __future__ import annotations

import re

import attrs

__all__ = [
    "LineError",
    "ParsedComment",
    "ParsedSample",
    "parse_comment",
    "parse_sample_line",
    "parse_series_text",
    "parse_value",
]

_NAME = re.compile(rb"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(rb"[a-zA-Z_][a-zA-Z0-9_]*")
_BLANKS = re.compile(rb"[ \t]*")
_TOKEN = re.compile(rb"[^ \t]*")
# A label value up to its closing quote; escapes are checked after the match.
_LABEL_VALUE = re.compile(rb'((?:[^"\\]|\\.)*)"', re.DOTALL)
_ESCAPE = re.compile(rb"\\(.?)", re.DOTALL)
_TIMESTAMP = re.compile(rb"-?[0-9]+")
# The common case: no blanks, no escapes. Anything else takes the general scanner.
_SIMPLE_SERIES = re.compile(
    rb"([a-zA-Z_:][a-zA-Z0-9_:]*)"
    rb'(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"'
    rb'(?:,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*,?)?)\})?'
)
_SIMPLE_PAIR = re.compile(rb'([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*)"')
# Characters a Go float may contain; Python's float() accepts more (``_``, spaces).
_FLOAT_CHARS = re.compile(
    rb"[0-9.eE+\-]+|[+-]?(?:[iI][nN][fF](?:[iI][nN][iI][tT][yY])?"
    rb"|[nN][aA][nN])"
)
_UNESCAPE = {b"\\": "\\", b'"': '"', b"n": "\n"}

_TYPES = frozenset(("counter", "gauge", "histogram", "summary", "untyped"))


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
    """A ``# HELP`` or ``# TYPE`` line.

    Attributes:
        keyword: ``"HELP"`` or ``"TYPE"``.
        name: The family name.
        text: The unescaped help text, or the type.
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
        name: The sample name.
        labels: ``(name, value)`` pairs in printed order, values unescaped.
        value: The value token, validated (convert with ``float``).
        timestamp_ms: The timestamp in milliseconds, or ``None``.
        series_end: Byte offset just past the series text (name and labels).
        value_start: Byte offset of the value token.
        has_exemplar: True when an exemplar (`` # {...} v``) followed the value.
    """

    name: str
    labels: tuple[tuple[str, str], ...]
    value: bytes
    timestamp_ms: int | None
    series_end: int
    value_start: int
    has_exemplar: bool


def _found(line: bytes, pos: int) -> str:
    """A short quote of what stands at ``pos``, for error messages."""
    fragment = line[pos : pos + 16].decode("utf-8", "replace")
    return f", found {fragment!r}" + ("..." if len(line) > pos + 16 else "")


def _decode(raw: bytes, offset: int, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise LineError(offset + error.start, f"{what} is not valid UTF-8") from None


def _unescape_label_value(raw: bytes, offset: int, label: str) -> str:
    r"""Rule ``label_value``: ``\\\\``, ``\\"`` and ``\\n`` are the only escapes."""
    if b"\\" not in raw:
        return _decode(raw, offset, f"the value of label {label!r}")

    def replace(match: re.Match[bytes]) -> bytes:
        char = match.group(1)
        if char not in _UNESCAPE:
            shown = "\\" + char.decode("utf-8", "replace")
            raise LineError(
                offset + match.start(),
                f"invalid escape sequence {shown!r} in the value of label {label!r}; "
                'only \\\\, \\" and \\n are allowed',
            )
        return _UNESCAPE[char].encode()

    return _decode(_ESCAPE.sub(replace, raw), offset, f"the value of label {label!r}")


def parse_series_text(text: bytes) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """Read ``text`` as exactly ``name [ "{" labels "}" ]`` in its simplest spelling.

    Returns ``(name, labels)`` when all of ``text`` is a series without blanks or
    escapes, and ``None`` otherwise (the caller then uses :func:`parse_sample_line`,
    which accepts every spelling and reports faults).
    """
    match = _SIMPLE_SERIES.fullmatch(text)
    if match is None:
        return None
    name = match.group(1).decode("ascii")
    block = match.group(2)
    if not block:
        return name, ()
    pairs = _SIMPLE_PAIR.findall(block)
    try:
        labels = tuple(
            (key.decode("ascii"), value.decode("utf-8")) for key, value in pairs
        )
    except UnicodeDecodeError:
        return None
    if len({key for key, _ in labels}) != len(labels):
        return None
    return name, labels


def _labels(line: bytes, pos: int) -> tuple[tuple[tuple[str, str], ...], int]:
    """Rule ``labels``, from just after ``{``.

    Returns the pairs and the offset just past the closing ``}``.
    """
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    end = len(line)
    while True:
        pos = _BLANKS.match(line, pos).end()  # type: ignore[union-attr]
        if pos < end and line[pos] == 0x7D:  # "}"
            return tuple(pairs), pos + 1
        match = _LABEL_NAME.match(line, pos)
        if match is None:
            if pos >= end:
                raise LineError(
                    pos,
                    "unexpected end of line inside the label set; "
                    "expected a label name or '}'",
                )
            raise LineError(pos, f"expected a label name or '}}'{_found(line, pos)}")
        label = match.group().decode("ascii")
        if label in seen:
            raise LineError(pos, f"duplicate label name {label!r}")
        seen.add(label)
        pos = _BLANKS.match(line, match.end()).end()  # type: ignore[union-attr]
        if pos >= end or line[pos] != 0x3D:  # "="
            raise LineError(
                pos, f"expected '=' after label name {label!r}{_found(line, pos)}"
            )
        pos = _BLANKS.match(line, pos + 1).end()  # type: ignore[union-attr]
        if pos >= end or line[pos] != 0x22:  # '"'
            raise LineError(pos, f"the value of label {label!r} must start with '\"'")
        value_match = _LABEL_VALUE.match(line, pos + 1)
        if value_match is None:
            raise LineError(
                pos,
                f"the value of label {label!r} contains an unescaped "
                "line feed (the line ends inside the quoted value)",
                open_label=label,
            )
        value = _unescape_label_value(value_match.group(1), pos + 1, label)
        pairs.append((label, value))
        pos = _BLANKS.match(line, value_match.end()).end()  # type: ignore[union-attr]
        if pos < end and line[pos] == 0x2C:  # ","
            pos += 1
            continue
        if pos < end and line[pos] == 0x7D:
            return tuple(pairs), pos + 1
        if pos >= end:
            raise LineError(
                pos,
                f"unexpected end of line after the value of label "
                f"{label!r}; expected ',' or '}}'",
            )
        raise LineError(
            pos,
            f"expected ',' or '}}' after the value of label {label!r}"
            f"{_found(line, pos)}",
        )


def parse_value(token: bytes, offset: int) -> bytes:
    """Rule ``value``: check that ``token`` is a float as Go prints and reads them.

    Returns the token unchanged; raises :class:`LineError` when it is not a float.
    """
    if _FLOAT_CHARS.fullmatch(token) is not None:
        try:
            float(token)
        except ValueError:
            pass
        else:
            return token
    shown = token[:40].decode("utf-8", "replace")
    raise LineError(offset, f"expected a float value, found {shown!r}")


def parse_sample_line(line: bytes) -> ParsedSample:
    """Rule ``sample``: read a whole sample line in any legal spelling.

    Raises:
        LineError: At the first byte that breaks the rule, saying what was expected.
    """
    end = len(line)
    match = _NAME.match(line)
    if match is None:
        raise LineError(
            0,
            f"expected a metric name or '#' at the start of the line{_found(line, 0)}",
        )
    name = match.group().decode("ascii")
    pos = match.end()
    after_name = _BLANKS.match(line, pos).end()  # type: ignore[union-attr]
    labels: tuple[tuple[str, str], ...] = ()
    if after_name < end and line[after_name] == 0x7B:  # "{"
        labels, pos = _labels(line, after_name + 1)
    elif after_name < end and pos == after_name:
        raise LineError(
            pos,
            f"unexpected character after the metric name {name!r}; "
            f"expected '{{' or a blank{_found(line, pos)}",
        )
    series_end = pos

    # The value, then an optional timestamp, then an optional exemplar.
    value_start = _BLANKS.match(line, pos).end()  # type: ignore[union-attr]
    if value_start == pos:
        if pos >= end:
            raise LineError(
                pos, "expected a value after the series, found the end of the line"
            )
        raise LineError(pos, "expected a blank and a value after the series")
    if value_start >= end:
        raise LineError(
            value_start, "expected a value after the series, found the end of the line"
        )
    value_end = _TOKEN.match(line, value_start).end()  # type: ignore[union-attr]
    value = parse_value(line[value_start:value_end], value_start)
    pos = _BLANKS.match(line, value_end).end()  # type: ignore[union-attr]
    timestamp: int | None = None
    has_exemplar = False
    if pos < end and line[pos] != 0x23:  # not "#"
        stamp_end = _TOKEN.match(line, pos).end()  # type: ignore[union-attr]
        token = line[pos:stamp_end]
        if _TIMESTAMP.fullmatch(token) is None:
            shown = token[:40].decode("utf-8", "replace")
            raise LineError(
                pos,
                f"expected an integer timestamp (milliseconds) after "
                f"the value, found {shown!r}",
            )
        timestamp = int(token)
        if not -(2**63) <= timestamp < 2**63:
            raise LineError(pos, "the timestamp does not fit in 64 bits")
        pos = _BLANKS.match(line, stamp_end).end()  # type: ignore[union-attr]
    if pos < end:
        if line[pos] != 0x23:
            raise LineError(
                pos, f"unexpected text after the timestamp{_found(line, pos)}"
            )
        has_exemplar = True
    return ParsedSample(
        name, labels, value, timestamp, series_end, value_start, has_exemplar
    )


def parse_comment(line: bytes) -> ParsedComment | None:
    """Rule ``comment``: read a ``# HELP`` or ``# TYPE`` line.

    Returns ``None`` for any other comment (which the format ignores).

    Raises:
        LineError: For a HELP or TYPE line with a bad name, type or escape.
    """
    pos = _BLANKS.match(line, 1).end()  # type: ignore[union-attr]
    keyword_end = _TOKEN.match(line, pos).end()  # type: ignore[union-attr]
    keyword = line[pos:keyword_end]
    if keyword not in (b"HELP", b"TYPE") or keyword_end >= len(line):
        return None
    pos = _BLANKS.match(line, keyword_end).end()  # type: ignore[union-attr]
    if pos >= len(line):
        return None
    match = _NAME.match(line, pos)
    name_end = match.end() if match is not None else pos
    if match is None or (name_end < len(line) and line[name_end] not in b" \t"):
        raise LineError(pos, f"expected a metric name after {keyword.decode()}")
    name = match.group().decode("ascii")
    text_start = _BLANKS.match(line, name_end).end()  # type: ignore[union-attr]
    rest = line[text_start:]
    if keyword == b"TYPE":
        kind = rest.rstrip(b" \t").decode("utf-8", "replace")
        if kind not in _TYPES:
            raise LineError(
                text_start,
                f"unknown metric type {kind!r} for {name}; "
                "expected counter, gauge, histogram, summary "
                "or untyped",
            )
        return ParsedComment("TYPE", name, kind)
    return _help(name, rest, text_start)


def _help(name: str, raw: bytes, offset: int) -> ParsedComment:
    r"""Rule ``help``: ``\\\\`` and ``\\n`` are the only escapes in help text."""
    if b"\\" in raw:

        def replace(match: re.Match[bytes]) -> bytes:
            char = match.group(1)
            if char == b"\\":
                return b"\\"
            if char == b"n":
                return b"\n"
            shown = "\\" + char.decode("utf-8", "replace")
            raise LineError(
                offset + match.start(),
                f"invalid escape sequence {shown!r} in the help text of "
                f"{name}; only \\\\ and \\n are allowed",
            )

        raw = _ESCAPE.sub(replace, raw)
    try:
        return ParsedComment("HELP", name, raw.decode("utf-8"))
    except UnicodeDecodeError:
        return ParsedComment("HELP", name, raw.decode("utf-8", "replace"), True)
