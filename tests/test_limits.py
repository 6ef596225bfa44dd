"""Limits: each one refuses (strict) or skips and says so (lenient), naming itself."""

from __future__ import annotations

import gzip
from pathlib import Path

import attrs
import pytest

import kepler_reader as kr
from tests.paths import CASES, KEPLER
from tests.servers import base_url, gzipped, response, serve

SMALL = kr.Limits(
    max_series=3,
    max_labels_per_series=2,
    max_label_name_length=5,
    max_label_value_length=6,
    max_families=2,
    max_problems=2,
)


def parse_split(
    body: bytes, parser: kr.Parser, *, lenient: bool, size: int
) -> kr.Snapshot:
    stream = parser.stream(lenient=lenient)
    for start in range(0, len(body), size):
        stream.feed(body[start : start + size])
    return stream.finish()


def every_way(body: bytes, limits: kr.Limits, *, lenient: bool) -> list[kr.Snapshot]:
    """The body parsed cold, warm (a second time), in 7-byte and in 1-byte pieces."""
    warm = kr.Parser(limits=limits, lenient=lenient)
    warm.parse(body)
    return [
        kr.parse(body, lenient=lenient, limits=limits),
        warm.parse(body),
        parse_split(body, kr.Parser(limits=limits), lenient=lenient, size=7),
        parse_split(body, kr.Parser(limits=limits), lenient=lenient, size=1),
    ]


def same(snaps: list[kr.Snapshot]) -> kr.Snapshot:
    first = snaps[0]
    for other in snaps[1:]:
        assert other.series == first.series
        assert other.values.tolist() == first.values.tolist()
        assert other.errors == first.errors
        assert other.warnings == first.warnings
    return first


def test_defaults_are_documented_values() -> None:
    limits = kr.Limits()
    assert attrs.asdict(limits) == {
        "max_body_bytes": 256 * 1024 * 1024,
        "max_line_bytes": 64 * 1024 * 1024,
        "max_series": 2_000_000,
        "max_labels_per_series": 128,
        "max_label_name_length": 1024,
        "max_label_value_length": 1024 * 1024,
        "max_families": 100_000,
        "max_problems": 10_000,
    }
    assert kr.Parser().limits == limits
    assert kr.Scraper("http://127.0.0.1:1/metrics").limits == limits


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_a_limit_must_be_a_positive_integer(bad: object) -> None:
    with pytest.raises(ValueError, match="max_series must be a positive integer"):
        kr.Limits(max_series=bad)  # type: ignore[arg-type]


def test_every_fixture_parses_under_the_default_limits() -> None:
    # The defaults never refuse a real body: case 30's 76 KB label value, case 31's
    # thousands of pods, every Kepler release.
    for path in [*sorted(KEPLER.glob("*.prom")), *sorted(CASES.glob("3[01]-*.prom"))]:
        snap = kr.parse(path.read_bytes(), lenient=True)
        assert not any("limit" in w.message for w in snap.warnings), path
        assert not any("limit" in e.message for e in snap.errors), path


# -- labels per series ---------------------------------------------------------------

LABELS_BODY = b'a{x="1"} 1\na{x="2",y="3",z="4"} 2\na{x="3",y="4"} 3\n'


def test_too_many_labels_strict() -> None:
    with pytest.raises(kr.LimitExceededError) as caught:
        kr.parse(LABELS_BODY, limits=SMALL, source="body.prom")
    assert caught.value.limit == "max_labels_per_series"
    assert caught.value.value == 2
    assert str(caught.value) == (
        "body.prom:2: the series has 3 labels, over the limit max_labels_per_series=2."
    )


def test_too_many_labels_lenient_skips_the_line() -> None:
    snap = same(every_way(LABELS_BODY, SMALL, lenient=True))
    assert snap.values.tolist() == [1.0, 3.0]
    assert snap.errors == (
        kr.LineProblem(
            2,
            1,
            "the series has 3 labels, over the limit max_labels_per_series=2: "
            "the line was skipped",
            'a{x="2",y="3",z="4"} 2',
        ),
    )


def test_too_many_labels_on_the_general_path() -> None:
    # Blanks and an escape send the line through the general rules, not the short path.
    body = b'a { x="1", y="\\"", z="4" } 2\n'
    with pytest.raises(kr.LimitExceededError) as caught:
        kr.parse(body, limits=SMALL)
    assert caught.value.limit == "max_labels_per_series"
    snap = kr.parse(body, limits=SMALL, lenient=True)
    assert len(snap) == 0
    assert [e.line for e in snap.errors] == [1]


# -- label name and value length -----------------------------------------------------


def test_long_label_name() -> None:
    body = b'a{x="1"} 1\nb{longname="1"} 2\n'
    with pytest.raises(kr.LimitExceededError) as caught:
        kr.parse(body, limits=SMALL)
    assert caught.value.limit == "max_label_name_length"
    assert caught.value.value == 5
    assert str(caught.value) == (
        "<input>:2: label name 'longname' is 8 characters long, over the limit "
        "max_label_name_length=5."
    )
    snap = same(every_way(body, SMALL, lenient=True))
    assert snap.values.tolist() == [1.0]
    assert [(e.line, e.column) for e in snap.errors] == [(2, 3)]
    assert "max_label_name_length=5" in snap.errors[0].message


def test_long_label_value_counts_characters_after_escapes() -> None:
    # Six characters once '\\"' is undone (seven bytes as printed): within the limit.
    assert kr.parse(b'a{x="12345\\""} 1\n', limits=SMALL).values.tolist() == [1.0]
    # Six two-byte characters: six characters, within the limit.
    assert len(kr.parse('a{x="éééééé"} 1\n'.encode(), limits=SMALL)) == 1
    body = b'a{x="1234567"} 1\nb 2\n'
    with pytest.raises(kr.LimitExceededError) as caught:
        kr.parse(body, limits=SMALL)
    assert caught.value.limit == "max_label_value_length"
    assert "the value of label 'x' is 7 characters long" in str(caught.value)
    snap = same(every_way(body, SMALL, lenient=True))
    assert snap.values.tolist() == [2.0]
    assert [e.line for e in snap.errors] == [1]


def test_case_30_needs_a_value_limit_above_its_76019_characters() -> None:
    body = (CASES / "30-very-long-label-value.prom").read_bytes()
    tight = kr.Limits(max_label_value_length=76_018)
    with pytest.raises(kr.LimitExceededError) as caught:
        kr.parse(body, limits=tight)
    assert "'process_command_line' is 76019 characters long" in str(caught.value)
    snap = kr.parse(body, limits=kr.Limits(max_label_value_length=76_019))
    assert snap.values.tolist() == [1.0, 5.0]


# -- series per snapshot -------------------------------------------------------------

SERIES_BODY = (
    b"# TYPE a counter\na_total 1\nb 2\n# HELP c Third.\nc 3\nd 4\n"
    b"# TYPE e gauge\ne 5\n"
)


def test_too_many_series_strict() -> None:
    limits = attrs.evolve(SMALL, max_families=10)
    with pytest.raises(kr.LimitExceededError) as caught:
        kr.parse(SERIES_BODY, limits=limits, source="s")
    assert caught.value.limit == "max_series"
    assert caught.value.value == 3
    assert str(caught.value) == (
        "s:6: sample number 4 of the body, over the limit max_series=3."
    )


def test_too_many_series_lenient_keeps_the_first_and_the_metadata() -> None:
    limits = attrs.evolve(SMALL, max_families=10)
    snap = same(every_way(SERIES_BODY, limits, lenient=True))
    assert [s.name for s in snap.series] == ["a_total", "b", "c"]
    assert snap.values.tolist() == [1.0, 2.0, 3.0]
    assert snap.warnings == (
        kr.ParseWarning(
            6,
            "Sample lines skipped from line 6 on: 2; the snapshot holds at most "
            "max_series=3 samples.",
        ),
    )
    assert snap.errors == ()


def test_series_limit_in_a_big_body_split_anywhere() -> None:
    body = b"".join(b'm{i="%d"} %d\n' % (i, i) for i in range(5000))
    limits = kr.Limits(max_series=1234)
    whole = kr.parse(body, lenient=True, limits=limits)
    assert len(whole) == 1234
    assert whole.values[-1] == 1233.0
    assert whole.warnings[0].line == 1235
    pieces = parse_split(body, kr.Parser(limits=limits), lenient=True, size=4096)
    assert pieces.series == whole.series
    assert pieces.warnings == whole.warnings


def test_series_limit_with_a_family_filter() -> None:
    body = b"a 1\nother 9\nb 2\nother 9\nc 3\n"
    parser = kr.Parser(families=("a", "b", "c"), limits=kr.Limits(max_series=2))
    snap = parser.parse(body, lenient=True)
    assert snap.values.tolist() == [1.0, 2.0]
    assert snap.warnings[0].message.startswith(
        "Sample lines skipped from line 5 on: 1;"
    )


# -- families per body ---------------------------------------------------------------


def test_too_many_families_strict_from_samples() -> None:
    limits = attrs.evolve(SMALL, max_series=10)
    with pytest.raises(kr.LimitExceededError) as caught:
        kr.parse(b"a 1\nb 2\na 3\nc 4\n", limits=limits)
    assert caught.value.limit == "max_families"
    assert caught.value.value == 2
    assert str(caught.value) == (
        "<input>:4: family 'c' is family number 3 of the body, over the limit "
        "max_families=2."
    )


def test_too_many_families_strict_from_metadata() -> None:
    body = b"# HELP a A.\n# HELP b B.\n# TYPE c counter\n"
    with pytest.raises(kr.LimitExceededError) as caught:
        kr.parse(body, limits=SMALL)
    assert caught.value.limit == "max_families"
    assert str(caught.value).startswith("<input>:3: family 'c' would be family number")


def test_too_many_families_lenient_keeps_the_first() -> None:
    limits = attrs.evolve(SMALL, max_series=10)
    body = b"# TYPE a gauge\na 1\nb 2\n# TYPE c gauge\n# HELP d D.\nc 3\nd 4\ne 5\n"
    snap = same(every_way(body, limits, lenient=True))
    assert [f.name for f in snap.families] == ["a", "b"]
    assert snap.values.tolist() == [1.0, 2.0]
    messages = [w.message for w in snap.warnings]
    assert messages == [
        # The third family's metadata line is the first one over the limit...
        "HELP, TYPE or UNIT lines skipped: 1; the body names more than "
        "max_families=2 families.",
        # ... and in order of appearance c (its TYPE line), d and e are over it.
        "Families skipped from 'c' (line 6) on: 3, with 3 samples; the body "
        "names more than max_families=2 families.",
    ]
    assert snap.errors == ()


# -- bad lines recorded --------------------------------------------------------------


def test_recorded_problems_are_capped() -> None:
    body = b"ok 1\n" + b"bad line\n" * 50 + b"ok2 2\n"
    snap = kr.parse(body, lenient=True, limits=kr.Limits(max_problems=10))
    assert snap.values.tolist() == [1.0, 2.0]
    assert [e.line for e in snap.errors] == list(range(2, 12))
    assert snap.warnings == (
        kr.ParseWarning(
            None,
            "Bad lines skipped without being recorded: 40; the first "
            "max_problems=10 are kept.",
        ),
    )


# -- line length and body size -------------------------------------------------------


def test_line_limit_through_limits() -> None:
    limits = kr.Limits(max_line_bytes=100)
    body = b"ok 1\nx" + b"y" * 500 + b" 1\n"
    for lenient in (False, True):
        with pytest.raises(kr.LimitExceededError) as caught:
            kr.parse(body, limits=limits, lenient=lenient)
        assert caught.value.limit == "max_line_bytes"
        assert caught.value.value == 100
        assert ":2:" in str(caught.value)
    # The keyword of the same name overrides the Limits field.
    assert kr.Parser(limits=limits, max_line_bytes=1000).parse(body).values[1] == 1.0


def test_dump_larger_than_the_body_limit_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "big.prom"
    path.write_bytes(b"".join(b"a%03d 1\n" % i for i in range(1000)))
    assert path.stat().st_size == 7000
    with pytest.raises(kr.LimitExceededError) as caught:
        kr.read_dump(path, limits=kr.Limits(max_body_bytes=6999))
    assert caught.value.limit == "max_body_bytes"
    assert caught.value.value == 6999
    assert str(caught.value) == (
        f"{path}: the file is 7000 bytes long, over the limit max_body_bytes=6999."
    )
    assert len(kr.read_dump(path, limits=kr.Limits(max_body_bytes=7000))) == 1000


def test_gzip_dump_stops_at_the_body_limit(tmp_path: Path) -> None:
    path = tmp_path / "bomb.prom.gz"
    path.write_bytes(gzip.compress(b"a 1\n" * 100_000))
    with pytest.raises(kr.LimitExceededError) as caught:
        kr.read_dump(path, limits=kr.Limits(max_body_bytes=50_000))
    assert caught.value.limit == "max_body_bytes"
    assert "decompresses to more bytes" in str(caught.value)


def test_read_dump_passes_parse_limits(tmp_path: Path) -> None:
    path = tmp_path / "d.prom"
    path.write_bytes(b'a{x="1",y="2",z="3"} 1\nb 2\n')
    with pytest.raises(kr.LimitExceededError) as caught:
        kr.read_dump(path, limits=SMALL)
    assert caught.value.limit == "max_labels_per_series"
    snap = kr.read_dump(path, limits=SMALL, lenient=True)
    assert snap.values.tolist() == [2.0]


def test_scraper_limits_cover_download_and_parse() -> None:
    body = (KEPLER / "v0.11-node-a.prom").read_bytes()
    routes = {"/plain": response("200 OK", body), "/gzip": gzipped(body)}
    with serve(routes) as running:
        for path in ("/plain", "/gzip"):
            url = base_url(running) + path
            small = kr.Limits(max_body_bytes=len(body) - 1)
            with kr.Scraper(url, limits=small) as scraper:
                with pytest.raises(kr.LimitExceededError) as caught:
                    scraper.scrape()
                assert caught.value.limit == "max_body_bytes"
                with pytest.raises(kr.LimitExceededError):
                    scraper.fetch()
            with kr.Scraper(url, limits=kr.Limits(max_series=10)) as scraper:
                with pytest.raises(kr.LimitExceededError) as caught:
                    scraper.scrape()
                assert caught.value.limit == "max_series"
            with kr.Scraper(url, limits=kr.Limits(max_series=10), lenient=True) as s:
                snap = s.scrape()
                assert len(snap) == 10
                assert "max_series=10" in snap.warnings[-1].message
            with pytest.raises(kr.LimitExceededError):
                kr.scrape(url, limits=kr.Limits(max_labels_per_series=1))
