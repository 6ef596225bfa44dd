"""Parser rules beyond the bug-report cases: bad input errors, spellings, warm reuse."""

from __future__ import annotations

import math
import pickle

import pytest

import kepler_reader as kr
from tests.paths import FIXTURES, KEPLER, RELEASES

pytestmark = pytest.mark.usefixtures("parse_mode")


@pytest.mark.parametrize(
    ("body", "line", "column", "reason"),
    [
        pytest.param(
            b'a{b="1"} x\n',
            1,
            10,
            "expected a float value, found 'x'",
            id="value-not-a-float",
        ),
        pytest.param(
            b"a 1_000\n",
            1,
            3,
            "expected a float value, found '1_000'",
            id="underscore-in-value",
        ),
        pytest.param(
            b'ok 1\na{b="1"}\n',
            2,
            9,
            "expected a value after the series, found the end of the line",
            id="missing-value",
        ),
        pytest.param(
            b'a{b="1",b="2"} 1\n',
            1,
            9,
            "duplicate label name 'b'",
            id="duplicate-label",
        ),
        pytest.param(
            b'a{1b="x"} 1\n',
            1,
            3,
            "expected a label name or '}', found '1b=\"x\"} 1'",
            id="label-name-starts-with-digit",
        ),
        pytest.param(
            b'a{b "1"} 1\n',
            1,
            5,
            "expected '=' after label name 'b', found '\"1\"} 1'",
            id="missing-equals",
        ),
        pytest.param(
            b"a 1 12x\n",
            1,
            5,
            "expected a timestamp after the value, found '12x'",
            id="bad-timestamp",
        ),
        pytest.param(
            b"a 1 12 13\n",
            1,
            8,
            "unexpected text after the timestamp, found '13'",
            id="text-after-timestamp",
        ),
        pytest.param(
            b"kepler.node.joules 1\n",
            1,
            7,
            "unexpected character after the "
            "metric name 'kepler'; expected '{' or a blank, found "
            "'.node.joules 1' (names with other characters must be quoted)",
            id="dotted-name",
        ),
        pytest.param(
            b"# TYPE a counters\n",
            1,
            10,
            "unknown metric type 'counters' for "
            "a; expected counter, gauge, histogram, summary or untyped",
            id="unknown-type",
        ),
        pytest.param(
            b"# HELP a bad \\t escape\n",
            1,
            14,
            "invalid escape sequence "
            "'\\\\t' in the help text of a; only \\\\, \\n and \\\" are allowed",
            id="help-escape",
        ),
        pytest.param(
            b"# TYPE 9a counter\n",
            1,
            8,
            "expected a metric name after TYPE",
            id="type-bad-name",
        ),
        pytest.param(
            b"a 1\n# TYPE a gauge\n",
            2,
            1,
            "TYPE line for metric family a comes after its samples",
            id="type-after-samples",
        ),
        pytest.param(
            b"# TYPE s summary\ns 1\n",
            2,
            1,
            "sample s of summary s has no 'quantile' label",
            id="summary-without-quantile",
        ),
    ],
)
def test_bad_lines(body: bytes, line: int, column: int, reason: str) -> None:
    with pytest.raises(kr.ParseError) as caught:
        kr.parse(body, source="t.prom")
    error = caught.value
    assert (error.line, error.column, error.reason) == (line, column, reason)
    text = body.split(b"\n")[line - 1].decode()
    if reason.startswith("sample s of summary"):
        # Checked once the whole body is known, when the line itself is gone: the
        # error shows the series as the parser read it.
        text = "s 1.0"
    assert error.text == text
    assert (
        str(error) == f"t.prom:{line}:{column}: {reason}\n    {text}\n"
        f"    {' ' * (column - 1)}^"
    )
    lenient = kr.parse(body, lenient=True)
    assert [(p.line, p.column, p.message) for p in lenient.errors] == [
        (line, column, reason)
    ] or reason.startswith("TYPE line")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("NaN", math.nan),
        ("+Inf", math.inf),
        ("-Inf", -math.inf),
        ("inf", math.inf),
        ("1.234567e+06", 1234567.0),
        ("1e-05", 1e-05),
        ("-0", -0.0),
        (".5", 0.5),
        ("486.63599999999997", 486.63599999999997),
        ("9.223372037599701e+14", 922337203759970.1),
    ],
)
def test_value_spellings(text: str, value: float) -> None:
    (got,) = kr.parse(f"a {text}\n".encode()).values.tolist()
    assert got == value or (math.isnan(got) and math.isnan(value))


@pytest.mark.parametrize(
    "line",
    [
        b'a{b="1",} 1',
        b"a{} 1",
        b'a { b = "1" , c="2" } 1',
        b"a\t1",
        b"  a 1",
        b'a{b="x}, #=y"} 1',
        b"a  1  ",
    ],
    ids=[
        "trailing-comma",
        "empty-braces",
        "blanks-inside",
        "tab",
        "indent",
        "specials-in-value",
        "extra-blanks",
    ],
)
def test_legal_spellings(line: bytes) -> None:
    snap = kr.parse(line + b"\n")
    assert snap.values.tolist() == [1.0]
    assert snap.series[0].name == "a"


def test_same_series_in_two_spellings_is_one_object() -> None:
    snap = kr.parse(b'a{x="1",y="2"} 1\n# TYPE b gauge\nb 2\n')
    again = kr.Parser()
    first = again.parse(b'a{x="1",y="2"} 1\n')
    second = again.parse(b'a{ y="2", x="1" } 5\n')
    assert first.series[0] is second.series[0]
    assert snap.series[0] == first.series[0]


def test_duplicate_series_keep_the_first() -> None:
    snap = kr.parse(b'a{x="1"} 1\na{x="1"} 1\na{x="1"} 2\n')
    assert snap.values.tolist() == [1.0]
    assert [w.line for w in snap.warnings] == [2, 3]
    assert "same value" in snap.warnings[0].message
    assert "another value (2.0 instead of 1.0)" in snap.warnings[1].message


def test_empty_body_and_comments_only() -> None:
    assert len(kr.parse(b"")) == 0
    snap = kr.parse(b"# just a comment\n\n# HELP lonely no samples\n")
    assert snap.families == ()


def test_parse_error_survives_pickling() -> None:
    with pytest.raises(kr.ParseError) as caught:
        kr.parse(b"a{\n")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert str(copy) == str(caught.value)


def comparable(snap: kr.Snapshot) -> list[object]:
    return [(s.series, repr(s.value), s.timestamp_ms) for s in snap.samples()] + [
        snap.families,
        [(p.line, p.message) for p in snap.errors],
        [(w.line, w.message) for w in snap.warnings],
        snap.truncated,
    ]


def all_bodies() -> list[bytes]:
    return [p.read_bytes() for p in sorted(FIXTURES.rglob("*.prom"))]


def test_warm_parser_gives_what_a_cold_parse_gives() -> None:
    # One parser fed every fixture, twice, in an order where series come and go.
    warm = kr.Parser(lenient=True)
    bodies = all_bodies()
    for body in bodies + bodies[::-1]:
        assert comparable(warm.parse(body)) == comparable(kr.parse(body, lenient=True))


def test_warm_parser_reuses_series_objects() -> None:
    warm = kr.Parser()
    for release in RELEASES:
        first = warm.parse((KEPLER / f"{release}-node-a.prom").read_bytes())
        second = warm.parse((KEPLER / f"{release}-node-a.t3.prom").read_bytes())
        shared = set(map(id, first.series)) & set(map(id, second.series))
        # v0.3 and v0.4 print measurements as label values, so some series are new
        assert len(shared) >= 0.8 * len(second)


def test_warm_parser_in_strict_mode_still_raises() -> None:
    warm = kr.Parser()
    warm.parse(b'a{x="1"} 1\n')
    with pytest.raises(kr.ParseError):
        warm.parse(b'a{x="1"} oops\n')
    assert warm.parse(b'a{x="1"} 2\n').values.tolist() == [2.0]


def test_warm_cache_is_bounded() -> None:
    warm = kr.Parser(max_cached_series=10)
    for tick in range(5):
        body = "".join(f'a{{pod="p{tick}-{i}"}} {i}\n' for i in range(20)).encode()
        assert len(warm.parse(body)) == 20
    assert len(warm._by_text) <= 40


@pytest.mark.parametrize(
    ("body", "line", "column", "reason"),
    [
        pytest.param(
            b'a{"x"} 1\n',
            1,
            6,
            "expected '=' after label name 'x', found '} 1'",
            id="quoted-label-without-value",
        ),
        pytest.param(
            b"a{e=} 1\n",
            1,
            5,
            "the value of label 'e' must start with '\"'",
            id="label-without-value",
        ),
        pytest.param(
            b"a 1 1e306\n# EOF\n",
            1,
            5,
            "the timestamp does not fit in 64 bits",
            id="huge-openmetrics-timestamp",
        ),
        pytest.param(
            b"a 1 " + b"1" * 4301 + b"\n",
            1,
            5,
            "the timestamp does not fit in 64 bits",
            id="thousands-of-digits",
        ),
        pytest.param(
            b"a xyz\n{\n",
            1,
            3,
            "expected a float value, found 'xyz'",
            id="first-bad-line-wins",
        ),
        pytest.param(
            b"a 1\r\r\nb 2\n",
            1,
            3,
            "expected a float value, found '1\\r'",
            id="extra-carriage-return",
        ),
    ],
)
def test_found_by_breaking(body: bytes, line: int, column: int, reason: str) -> None:
    # Each of these once escaped as a plain Python exception, or was reported on
    # another line depending on how the body was split.
    with pytest.raises(kr.ParseError) as caught:
        kr.parse(body)
    assert (caught.value.line, caught.value.column, caught.value.reason) == (
        line,
        column,
        reason,
    )
    stream = kr.Parser().stream()
    for byte in body:
        stream.feed(bytes([byte]))
    with pytest.raises(kr.ParseError) as again:
        stream.finish()
    assert (again.value.line, again.value.column) == (line, column)
    lenient = kr.parse(body, lenient=True)
    assert lenient.errors[0].line == line


def test_quoted_name_alone_parses() -> None:
    snap = kr.parse(b'{"kepler.node.joules"} 1\n{"a"} 2\n')
    assert [s.name for s in snap.series] == ["kepler.node.joules", "a"]


def test_lone_surrogate_in_text_input_is_a_line_error() -> None:
    snap = kr.parse('ok 1\nbad{x="\ud800"} 1\n', lenient=True)
    assert [e.line for e in snap.errors] == [2]
    assert snap.values.tolist() == [1.0]


def test_trailing_tab_is_the_same_warm_or_cold() -> None:
    warm = kr.Parser()
    warm.parse(b"a 1\n")
    assert warm.parse(b"a 2\t\n").values.tolist() == [2.0]
    stamped = warm.parse(b"a 2\t5\n")
    assert stamped.timestamps_ms is not None
    assert stamped.timestamps_ms.tolist() == [5]


def test_a_line_longer_than_the_limit() -> None:
    parser = kr.Parser(max_line_bytes=1000)
    with pytest.raises(kr.LimitExceededError) as caught:
        parser.parse(b"ok 1\nx" + b"y" * 5000 + b" 1\n")
    assert caught.value.limit == "max_line_bytes"
    assert ":2:" in str(caught.value)


def test_long_quoted_value_on_the_general_path_is_linear() -> None:
    value = b"y" * 2_000_000
    roomy = kr.Limits(max_label_value_length=4_000_000)
    snap = kr.Parser(limits=roomy).parse(b'a {x="' + value + b'"} 1\n')
    assert len(snap.series[0].labels[0][1]) == 2_000_000


def test_openmetrics_samples_after_eof_are_dropped() -> None:
    snap = kr.parse(b"a 1\n# EOF\nb 2\n", format="openmetrics", lenient=True)
    assert [s.name for s in snap.series] == ["a"]
    assert [e.line for e in snap.errors] == [3]


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format must be one of"):
        kr.parse(b"a 1\n", format="bogus")


def test_warm_errors_name_their_lines_among_comments_and_blanks() -> None:
    # Row line numbers are worked out from the lines that gave no row: comments,
    # blanks and a bad new series here, in a body long enough for several chunks.
    known = "".join(f'a_total{{pod="p{i}"}} {i}\n' for i in range(30_000)).encode()
    warm = kr.Parser(lenient=True)
    warm.parse(known)
    lines = [f'a_total{{pod="p{i}"}} {i}' for i in range(30_000)]
    for at in (5, 900, 17_000, 29_000):
        lines[at] = f'a_total{{pod="p{at}"}} x{at}'
    lines.insert(8_000, "# HELP a_total Joules.")
    lines.insert(8_001, "")
    lines.insert(20_000, 'b{pod="q"} oops')
    snap = warm.parse(("\n".join(lines) + "\n").encode())
    expected = sorted(
        i + 1 for i, line in enumerate(lines) if " x" in line or line.endswith("oops")
    )
    assert [e.line for e in snap.errors] == expected
    assert all(e.text == lines[e.line - 1] for e in snap.errors)
    assert len(snap) == 30_000 - 4
