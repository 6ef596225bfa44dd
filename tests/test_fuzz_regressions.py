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


def feeds(body: bytes, parser: kr.Parser, *, lenient: bool) -> list[object]:
    """The outcome of the body fed whole, then byte by byte."""
    results: list[object] = []
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
