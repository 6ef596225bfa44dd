"""Learning new series in bulk changes nothing but the speed.

Every body is parsed twice, once as usual (runs of new series learned in bulk) and
once with the bulk learner switched off (every new series learned line by line); the
snapshots, or the errors, must be the same. The bulk learner must also really learn
the plain runs and leave alone every run it cannot read exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kepler_reader as kr
from fuzz.targets import SMALL_LIMITS, outcome
from kepler_reader import bulk
from tests.paths import FIXTURES

# Where the parser looks up the bulk learner's trigger.
_SWITCH = "kepler_reader.parser.mostly_new"
BODIES = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".prom", ".txt"))


@pytest.fixture
def line_by_line(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """A switch that turns the bulk learner off for the rest of the test."""

    def off() -> None:
        monkeypatch.setattr(_SWITCH, lambda stream, lines: False)

    return off


def both_ways(
    line_by_line: Callable[[], None], body: bytes, *, lenient: bool
) -> tuple[object, object]:
    """The outcomes of a cold and a warm parse, with bulk learning, then without."""

    def run() -> object:
        warm = kr.Parser(lenient=lenient)

        def twice(data: bytes) -> kr.Snapshot:
            warm.parse(data)
            return warm.parse(data)

        return outcome(kr.Parser(lenient=lenient).parse, body), outcome(twice, body)

    with_bulk = run()
    line_by_line()
    return with_bulk, run()


def plain_run(count: int, name: str = "kepler_pod_cpu_joules_total") -> list[bytes]:
    return [
        f'{name}{{node_name="n",pod_name="p{i}",zone="package"}} {i}.5'.encode()
        for i in range(count)
    ]


@pytest.mark.parametrize("path", BODIES, ids=lambda p: str(p.relative_to(FIXTURES)))
@pytest.mark.parametrize("lenient", [False, True])
def test_every_fixture_reads_the_same_with_and_without_bulk_learning(
    path: Path, lenient: bool, line_by_line: Callable[[], None]
) -> None:
    with_bulk, without = both_ways(line_by_line, path.read_bytes(), lenient=lenient)
    assert with_bulk == without


def test_a_plain_run_is_learned_whole() -> None:
    stream = kr.Parser().stream()
    lines = plain_run(40)
    assert bulk.mostly_new(stream, lines)
    bulk.learn_runs(stream, lines)
    known = stream._parser._by_text
    assert len(known) == 40
    series = known[lines[7].rpartition(b" ")[0]]
    assert series == kr.Series(
        "kepler_pod_cpu_joules_total",
        (("node_name", "n"), ("pod_name", "p7"), ("zone", "package")),
    )
    # Repeated label pairs are one object, as the line-by-line path makes them.
    other = known[lines[8].rpartition(b" ")[0]]
    assert series.labels[0] is other.labels[0]


def test_a_known_body_is_not_learned_again() -> None:
    parser = kr.Parser()
    body = b"\n".join(plain_run(200)) + b"\n"
    parser.parse(body)
    assert not bulk.mostly_new(parser.stream(), body.split(b"\n")[:-1])


@pytest.mark.parametrize(
    "odd",
    [
        b'kepler_pod_cpu_joules_total{node_name="n",pod_name="q",zone="package",} 1',
        b'kepler_pod_cpu_joules_total{node_name="n",pod_name="a\\"b",zone="package"} 1',
        b'kepler_pod_cpu_joules_total{node_name="n",pod_name="q",zone="package"} 1 17',
        b'kepler_pod_cpu_joules_total{pod_name="q",node_name="n",zone="package"} 1',
        b'kepler_pod_cpu_joules_total{node_name="n",pod_name="q",zone="package"} 1\t',
        b'kepler_pod_cpu_joules_total{node_name="n", pod_name="q",zone="package"} 1',
        b'kepler_pod_cpu_joules_total{node_name="n",pod_name="\xff",zone="package"} 1',
        b'kepler_pod_cpu_joules_total{node_name="n",pod_name="q"} 1',
        b'kepler_pod_cpu_joules_total{node_name="n",pod_name="q",zone="package"}',
        b'kepler_pod_cpu_joules_total{node_name="n",pod_name="q",zone="package"}} 1',
        b'kepler_pod_cpu_joules_total{node_name="n",pod_name="q",zone="package"',
    ],
)
@pytest.mark.parametrize("lenient", [False, True])
def test_a_run_with_one_odd_line_is_left_to_the_line_rules(
    odd: bytes, lenient: bool, line_by_line: Callable[[], None]
) -> None:
    lines = plain_run(30)
    lines.insert(17, odd)
    stream = kr.Parser().stream()
    bulk.learn_runs(stream, lines)
    if b" " in odd:
        # Same name: one run, refused whole.
        assert stream._parser._by_text == {}
    else:
        # No value: the odd line ends the run of the 17 before it.
        assert len(stream._parser._by_text) == 17
    body = b"# TYPE kepler_pod_cpu_joules_total counter\n" + b"\n".join(lines) + b"\n"
    with_bulk, without = both_ways(line_by_line, body, lenient=lenient)
    assert with_bulk == without


def test_bounded_and_long_labels_are_left_to_the_line_rules() -> None:
    buckets = [f'h_bucket{{le="{i}"}} {i}'.encode() for i in range(20)]
    stream = kr.Parser().stream()
    bulk.learn_runs(stream, buckets)
    assert stream._parser._by_text == {}
    limits = kr.Limits(max_label_value_length=8)
    stream = kr.Parser(limits=limits).stream()
    bulk.learn_runs(stream, plain_run(20))
    assert stream._parser._by_text == {}


def test_a_family_filter_is_kept() -> None:
    stream = kr.Parser(families=["kepler_node_"]).stream()
    bulk.learn_runs(stream, plain_run(20) + plain_run(20, "kepler_node_cpu_joules"))
    assert {s.name for s in stream._parser._by_text.values()} == {
        "kepler_node_cpu_joules"
    }


LABEL = st.sampled_from(["a", "b", "zone", "pod_name", "le", "x_1"])
VALUE = st.text(st.sampled_from("ab1 .é-"), max_size=4)


@st.composite
def runs(draw: st.DrawFn) -> bytes:
    """A family of 16 to 40 lines, mostly plain, a few of them spelled oddly."""
    names = draw(st.lists(LABEL, min_size=1, max_size=4, unique=True))
    lines = []
    for i in range(draw(st.integers(bulk.MIN_RUN, 40))):
        values = draw(st.lists(VALUE, min_size=len(names), max_size=len(names)))
        pairs = ",".join(f'{n}="{v}"' for n, v in zip(names, values, strict=True))
        lines.append(f"m{{{pairs}}} {i}".encode())
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        line = bytearray(lines[at])
        pos = draw(st.integers(0, len(line)))
        line[pos:pos] = draw(st.sampled_from([b",", b" ", b"}", b'"', b"\\", b"\xff"]))
        lines[at] = bytes(line)
    if draw(st.booleans()):
        # The text of a later line, earlier, with an odd value, then another name.
        text = lines[draw(st.integers(0, len(lines) - 1))].rpartition(b" ")[0]
        odd = draw(st.sampled_from([b"", b"1\t", b"1\t5", b"\t"]))
        lines[:0] = [text + b" " + odd, draw(st.sampled_from([b"x 1", b"x 1\t123"]))]
    head = draw(st.sampled_from([b"", b"# EOF\n", b"# TYPE m summary\n"]))
    return head + b"\n".join(lines) + b"\n"


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(runs(), st.booleans(), st.sampled_from(["default", "small", "series"]))
def test_generated_runs_read_the_same_with_and_without_bulk_learning(
    body: bytes, lenient: bool, limit: str
) -> None:
    # "series": room for one sample fewer than the body's lines.
    limits = {
        "default": kr.Limits(),
        "small": SMALL_LIMITS,
        "series": kr.Limits(max_series=max(1, body.count(b"\n") - 2)),
    }[limit]
    with_bulk = (
        outcome(kr.Parser(limits=limits).parse, body, lenient=lenient),
        _learned(body, limits),
    )
    with mock.patch(_SWITCH, return_value=False):
        without = (
            outcome(kr.Parser(limits=limits).parse, body, lenient=lenient),
            _learned(body, limits),
        )
    assert with_bulk[0] == without[0]
    # The bulk learner learns nothing the line-by-line path would not.
    assert with_bulk[1] == without[1]
    # Nor does the result depend on where the chunks split.
    assert _in_two(body, limits, lenient) == with_bulk[0]


def _in_two(body: bytes, limits: kr.Limits, lenient: bool) -> tuple[str, object]:
    def read() -> kr.Snapshot:
        stream = kr.Parser(limits=limits).stream(lenient=lenient)
        # Just after the first sample line: the bulk learner meets the rest alone.
        cut = body.find(b"\n") + 1
        if body.startswith(b"#"):
            cut = body.find(b"\n", cut) + 1
        stream.feed(body[:cut])
        stream.feed(body[cut:])
        return stream.finish()

    return outcome(read)


def _learned(body: bytes, limits: kr.Limits) -> dict[bytes, kr.Series]:
    parser = kr.Parser(limits=limits, lenient=True)
    parser.parse(body)
    return dict(parser._by_text)


RUN16 = b"".join(b'm{a="%d"} %d\n' % (i, i) for i in range(16))
RUN17 = b"".join(b'm{a="%d"} %d\n' % (i, i) for i in range(17))

# A line whose text a later run prints plainly, but whose value is empty or holds a
# tab: read line by line it meets that text unknown, so the bulk learner must not
# have learned it ahead.
EARLY_ODD_LINES = [
    (b'm{a="0"} \nx 1\n' + RUN17, {"limits": kr.Limits(max_series=18)}),
    (b'# EOF\nm{a="0"} 1\t\nx 1\n' + RUN16, {}),
    (b'# EOF\nm{a="0"} 1\t\nx 1\n' + RUN16, {"format": "openmetrics"}),
    (b'# TYPE m summary\nm{a="0"} \nx 1\n' + RUN16, {}),
    (b'm{a="0"} 1\t123\nx 1\t123\n' + RUN16, {}),
]


@pytest.mark.parametrize(("body", "options"), EARLY_ODD_LINES)
@pytest.mark.parametrize("lenient", [False, True])
def test_a_text_on_an_earlier_odd_line_is_not_learned_ahead(
    body: bytes, options: dict[str, object], lenient: bool
) -> None:
    def whole() -> tuple[str, object]:
        parser = kr.Parser(lenient=lenient, **options)  # type: ignore[arg-type]
        return outcome(parser.parse, body)

    def fed_after_the_odd_line() -> tuple[str, object]:
        def read() -> kr.Snapshot:
            stream = kr.Parser(lenient=lenient, **options).stream()  # type: ignore[arg-type]
            cut = body.index(b"\nx 1") + 1
            stream.feed(body[:cut])
            stream.feed(body[cut:])
            return stream.finish()

        return outcome(read)

    with_bulk = whole()
    with mock.patch(_SWITCH, return_value=False):
        assert whole() == with_bulk
    assert fed_after_the_odd_line() == with_bulk


def test_an_early_line_with_an_empty_value_keeps_its_own_error() -> None:
    with pytest.raises(kr.ParseError) as caught:
        kr.Parser(limits=kr.Limits(max_series=18)).parse(b'm{a="0"} \nx 1\n' + RUN17)
    assert (caught.value.line, caught.value.column) == (1, 10)
    lenient = kr.Parser(lenient=True, limits=kr.Limits(max_series=18))
    snap = lenient.parse(b'm{a="0"} \nx 1\n' + RUN17)
    assert len(snap) == 18
    assert [(e.line, e.column) for e in snap.errors] == [(1, 10)]


# A strict parse stopped by a limit mid-chunk, then the same parser on another body
# whose odd line carries a text the stopped chunk printed after the limit.
AFTER_A_LIMIT = [
    (
        kr.Limits(max_labels_per_series=2),
        b'big{a="1",b="2",c="3"} 1\n' + RUN16,
        [
            b'# EOF\nm{a="3"} 1\t\n',
            b'# EOF\nm{a="3"} 1\t123\nx 1\n',
            b'# EOF\nm{a="3"} \nx 1\n',
            b'# TYPE m summary\nm{a="3"} \nx 1\n',
        ],
    ),
    (
        kr.Limits(max_families=1),
        b"# TYPE a gauge\n# TYPE b gauge\n" + RUN16,
        [b'# EOF\nm{a="3"} 1\t\nx 1\n'],
    ),
]


@pytest.mark.parametrize(
    ("limits", "stopped", "after"),
    [
        (limits, stopped, body)
        for limits, stopped, bodies in AFTER_A_LIMIT
        for body in bodies
    ],
)
def test_a_parse_stopped_by_a_limit_keeps_nothing_it_read_ahead(
    limits: kr.Limits, stopped: bytes, after: bytes
) -> None:
    def both() -> tuple[tuple[str, object], tuple[str, object]]:
        parser = kr.Parser(limits=limits)
        return outcome(parser.parse, stopped), outcome(parser.parse, after)

    with_bulk = both()
    assert with_bulk[0][0] == "LimitExceededError"
    with mock.patch(_SWITCH, return_value=False):
        assert both() == with_bulk


def test_what_a_stopped_parse_read_before_the_limit_stays_known() -> None:
    parser = kr.Parser(limits=kr.Limits(max_labels_per_series=2))
    body = RUN16 + b'big{a="1",b="2",c="3"} 1\n' + RUN17.replace(b"m{", b"n{")
    with pytest.raises(kr.LimitExceededError):
        parser.parse(body)
    known = {text.decode() for text in parser._by_text}
    assert {f'm{{a="{i}"}}' for i in range(16)} <= known
    assert not any(text.startswith("n{") for text in known)
