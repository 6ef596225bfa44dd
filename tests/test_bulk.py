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
    return b"\n".join(lines) + b"\n"


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(runs(), st.booleans(), st.booleans())
def test_generated_runs_read_the_same_with_and_without_bulk_learning(
    body: bytes, lenient: bool, small: bool
) -> None:
    limits = SMALL_LIMITS if small else kr.Limits()
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


def _learned(body: bytes, limits: kr.Limits) -> dict[bytes, kr.Series]:
    parser = kr.Parser(limits=limits, lenient=True)
    parser.parse(body)
    return dict(parser._by_text)
