"""Inputs the fuzzer found, kept in fixtures/fuzz/, each read again the fuzzer's way.

A file's name says its target (``parser-...``, ``dump-...``, ``gzip-...``); the checks
are the fuzz targets' own (fuzz/targets.py): only kepler_reader's errors escape, and
every way of reading the bytes agrees. The tests below pin down each bug on a small
input of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import kepler_reader as kr
from fuzz.targets import TARGETS, check_parser
from tests.paths import FIXTURES

FOUND = sorted((FIXTURES / "fuzz").iterdir())


@pytest.mark.parametrize("path", FOUND, ids=lambda p: p.name)
def test_found_input_passes_its_target(path: Path) -> None:
    target = path.name.split("-", 1)[0]
    TARGETS[target](path.read_bytes())


def feeds(body: bytes, parser: kr.Parser, *, lenient: bool) -> list[tuple[object, ...]]:
    """The outcome of the body fed whole, then byte by byte."""
    results: list[tuple[object, ...]] = []
    for size in (len(body) or 1, 1):
        stream = parser.stream(lenient=lenient)
        try:
            for start in range(0, len(body), size):
                stream.feed(body[start : start + size])
            snap = stream.finish()
        except kr.LimitExceededError as error:
            results.append(("limit", error.limit, str(error)))
            continue
        results.append(
            (snap.values.tolist(), snap.errors, snap.warnings, list(snap.series))
        )
    return results


def test_a_last_line_over_the_line_limit_is_refused_however_it_arrives() -> None:
    # The unfinished last line was measured only when it came in pieces of its own.
    limits = kr.Limits(max_line_bytes=100)
    body = b"a 1\nb" + b"c" * 500
    for lenient in (False, True):
        whole, split = feeds(body, kr.Parser(limits=limits), lenient=lenient)
        message = "<input>:2: the line is longer than max_line_bytes=100 bytes."
        assert whole == ("limit", "max_line_bytes", message)
        assert split == whole


def test_the_crlf_warning_comes_first_whatever_the_split() -> None:
    body = b"# HELP a A.\n# HELP a A.\na 1\r\n"
    whole, split = feeds(body, kr.Parser(), lenient=True)
    assert whole == split
    assert [w.message for w in kr.parse(body, lenient=True).warnings] == [
        "CRLF line ends: the carriage return before each line feed was dropped.",
        "Repeated HELP line for a.",
    ]


def test_the_problems_kept_are_the_first_lines_whatever_the_split() -> None:
    # A bad value is found at the end of its chunk, after the bad lines that follow
    # it in that chunk; the cap still keeps lines 1 to 3.
    body = b"a 1x\n" + b"{bad\n" * 5
    limits = kr.Limits(max_problems=3)
    whole, split = feeds(body, kr.Parser(limits=limits), lenient=True)
    assert whole == split
    snap = kr.parse(body, lenient=True, limits=limits)
    assert [e.line for e in snap.errors] == [1, 2, 3]
    assert snap.warnings[-1].message.startswith(
        "Bad lines skipped without being recorded: 3;"
    )


def test_the_parser_target_accepts_a_plain_body() -> None:
    # The check itself must pass on ordinary input (else every finding is noise).
    check_parser((FIXTURES / "kepler" / "v0.11-node-a.prom").read_bytes())


def test_the_first_limit_met_is_the_one_reported_however_the_body_arrives() -> None:
    # A long line further on was refused before the lines ahead of it were read, when
    # both came in one chunk; read in pieces, a label limit on an earlier line won.
    limits = kr.Limits(max_line_bytes=100, max_label_name_length=5)
    body = b'a 1\nb{longname="1"} 2\nc' + b"c" * 200 + b" 3\n"
    whole, split = feeds(body, kr.Parser(limits=limits), lenient=False)
    assert whole == split
    assert whole[:2] == ("limit", "max_label_name_length")


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b""])
def test_a_line_of_exactly_the_limit_is_accepted_with_any_line_end(
    ending: bytes,
) -> None:
    limits = kr.Limits(max_line_bytes=10)
    fits, over = b"abcdefgh 1", b"abcdefghi 1"
    # Strict mode refuses a body without a final line feed for that reason alone.
    for lenient in (False, True) if ending else (True,):
        whole, split = feeds(
            b"a 1\n" + fits + ending, kr.Parser(limits=limits), lenient=lenient
        )
        assert whole == split
        assert whole[0] == [1.0, 1.0]
        whole, split = feeds(
            b"a 1\n" + over + ending, kr.Parser(limits=limits), lenient=lenient
        )
        assert whole == split
        assert whole[:2] == ("limit", "max_line_bytes")


@pytest.mark.parametrize(
    "body",
    [
        # A TYPE line after a line whose value is bad, then a good sample.
        b'a{x="\\"q\\""} bad\n# TYPE a gauge\na{x="\\"q\\""} 1\n',
        # A family whose first line has a bad value, before another family.
        b'b{x="\\"q\\""} bad\na 1\nb{x="\\"q\\""} 2\n',
    ],
)
def test_a_warm_parser_drops_a_bad_value_line_as_a_cold_one_skips_it(
    body: bytes,
) -> None:
    # Cold, a line with escapes and a bad value is refused whole; warm, its series
    # text is known, so it becomes a row that is dropped when its value fails. The
    # dropped row must not count: no TYPE-after-samples warning, no earlier family.
    cold = kr.parse(body, lenient=True)
    warm = kr.Parser(lenient=True)
    warm.parse(body)
    again = warm.parse(body)
    assert again.warnings == cold.warnings == ()
    assert again.families == cold.families
    assert again.errors == cold.errors
    assert again.values.tolist() == cold.values.tolist()


def test_the_family_limit_warning_counts_only_kept_rows() -> None:
    # Warm, the bad value of the last line is a dropped row of family 'c': the
    # warning counted it (two samples) where a cold parse counted one.
    body = b'a 1\nb 2\nc 3\nc{x="\\"q\\""} bad\nc{x="\\"q\\""} 4\n'
    limits = kr.Limits(max_families=2)
    cold = kr.parse(body, lenient=True, limits=limits)
    warm = kr.Parser(lenient=True, limits=limits)
    warm.parse(body)
    again = warm.parse(body)
    assert again.warnings == cold.warnings
    assert [w.message for w in cold.warnings] == [
        "Families skipped from 'c' (line 3) on: 1, with 2 samples; the body names "
        "more than max_families=2 families."
    ]


def test_a_body_cut_inside_a_skipped_line_is_flagged_truncated() -> None:
    # The family filter left the last line unread, so a cut in it went unnoticed.
    body = b'a 1\nb{x="cut'
    parser = kr.Parser(families=("a",))
    cut = kr.LineProblem(
        2,
        5,
        "unexpected end of input inside the value of label 'x': the body is cut off",
        'b{x="cut',
    )
    whole, split = feeds(body, parser, lenient=True)
    assert whole == ([1.0], (cut,), (), [kr.Series("a", ())])
    assert split == whole
    assert parser.parse(body, lenient=True).truncated
    with pytest.raises(kr.ParseError) as error:
        parser.parse(body)
    assert (error.value.line, error.value.column) == (2, 5)
    assert error.value.reason == cut.message


def test_a_skipped_last_line_without_line_feed_is_not_cut() -> None:
    # Only the line feed is missing: the line stays skipped, the body is not cut.
    parser = kr.Parser(families=("a",))
    snap = parser.parse(b"a 1\nb 2", lenient=True)
    assert not snap.truncated
    assert snap.errors == ()
    missing = kr.ParseWarning(2, "The input does not end with a line feed (line 2).")
    assert snap.warnings == (missing,)
    with pytest.raises(kr.ParseError) as error:
        parser.parse(b"a 1\nb 2")
    assert error.value.line == 2
    assert error.value.reason.startswith("unexpected end of input: the body does not")


@pytest.mark.parametrize(
    "body",
    [b'a 1\nx{y="1"} 1e', b'a 1\nx{y="1" } 1e', b"a 1\nx 1e"],
    ids=["plain", "blank-in-braces", "no-labels"],
)
def test_a_bad_value_on_the_cut_last_line_is_a_cut(body: bytes) -> None:
    # A plainly spelled last line read its bad value as an ordinary fault, so the
    # body was not flagged truncated; any other spelling was.
    snap = kr.parse(body, lenient=True)
    assert snap.truncated
    (problem,) = snap.errors
    assert problem.line == 2
    assert problem.column == body.index(b"1e") - 3
    assert problem.message == (
        "unexpected end of input in the middle of this line: the body is cut off"
    )
    assert feeds(body, kr.Parser(), lenient=True)[1][1] == snap.errors
    with pytest.raises(kr.ParseError, match="the body is cut off"):
        kr.parse(body)
    # With its line feed, the same line is an ordinary fault.
    (whole,) = kr.parse(body + b"\n", lenient=True).errors
    assert whole.message == "expected a float value, found '1e'"


def test_a_cut_skipped_line_after_eof_is_only_a_cut() -> None:
    # Read by the general rules, the cut line also counted as text after '# EOF',
    # which turned the body into the text format (seconds read as milliseconds).
    body = b"a 1 5\n# EOF\nb 3e"
    snap = kr.Parser(families=("a",), lenient=True).parse(body)
    assert snap.format == "openmetrics"
    assert snap.truncated
    assert snap.timestamps_ms is not None
    assert snap.timestamps_ms.tolist() == [5000]
    cut = "unexpected end of input in the middle of this line: the body is cut off"
    assert snap.errors == (kr.LineProblem(3, 3, cut, "b 3e"),)
