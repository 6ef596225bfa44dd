"""Every fixture gives the same snapshot fed whole, split anywhere, or in chunks."""

from __future__ import annotations

from pathlib import Path

import pytest

import kepler_reader as kr
from tests.paths import FIXTURES

BODIES = sorted(FIXTURES.rglob("*.prom"))


def outcome(feed: list[bytes], fmt: str) -> object:
    stream = kr.Parser(lenient=True).stream(format=fmt)
    for piece in feed:
        stream.feed(piece)
    snap = stream.finish()
    return (
        [(s.series, repr(s.value), s.timestamp_ms) for s in snap.samples()],
        snap.families,
        [(p.line, p.column, p.message, p.text) for p in snap.errors],
        [(w.line, w.message) for w in snap.warnings],
        snap.truncated,
        dict(snap.created_seconds),
    )


def growing(data: bytes) -> list[bytes]:
    pieces, start, size = [], 0, 1
    while start < len(data):
        pieces.append(data[start : start + size])
        start += size
        size += 1
    return pieces


@pytest.mark.parametrize("path", BODIES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_chunked_feed_equals_whole_feed(path: Path) -> None:
    data = path.read_bytes()
    fmt = kr.sniff_format(data)
    whole = outcome([data], fmt)
    # Byte by byte for ordinary bodies; the 280 KB real scrape in 7-byte pieces.
    size = 1 if len(data) <= 100_000 else 7
    assert whole == outcome(
        [data[i : i + size] for i in range(0, len(data), size)], fmt
    )
    assert whole == outcome(growing(data), fmt)
    step = max(len(data) // 97, 1)
    for cut in range(0, len(data) + 1, step):
        assert whole == outcome([data[:cut], data[cut:]], fmt), cut


@pytest.mark.parametrize(
    "name",
    [
        "cases/09-bom-and-crlf.prom",
        "cases/01-label-value-escapes.prom",
        "cases/12-truncated-body.prom",
        "cases/36-content-type-and-openmetrics.prom",
    ],
)
def test_every_two_way_split_of_small_bodies(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    fmt = kr.sniff_format(data)
    whole = outcome([data], fmt)
    for cut in range(len(data) + 1):
        assert whole == outcome([data[:cut], data[cut:]], fmt), cut


def test_parse_equals_stream() -> None:
    data = (FIXTURES / "kepler/v0.11-node-a.prom").read_bytes()
    stream = kr.Parser().stream()
    for i in range(0, len(data), 1000):
        stream.feed(data[i : i + 1000])
    streamed = stream.finish()
    assert streamed.values.tolist() == kr.parse(data).values.tolist()


def test_stream_cannot_be_reused() -> None:
    stream = kr.Parser().stream()
    stream.feed(b"a 1\n")
    stream.finish()
    with pytest.raises(RuntimeError):
        stream.feed(b"b 2\n")
    with pytest.raises(RuntimeError):
        stream.finish()


@pytest.mark.parametrize("path", BODIES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_family_filter_keeps_exactly_the_wanted_samples(path: Path) -> None:
    data = path.read_bytes()
    prefixes = ("kepler_pod_", "kepler_node_", "go_gc", "req_")
    full = kr.parse(data, lenient=True)
    wanted = [
        (s.series, repr(s.value), s.timestamp_ms)
        for s in full.samples()
        if s.series.name.startswith(prefixes)
    ]
    filtered = kr.Parser(lenient=True, families=prefixes)
    for _ in range(2):  # cold, then warm
        snap = filtered.parse(data)
        got = [(s.series, repr(s.value), s.timestamp_ms) for s in snap.samples()]
        assert got == wanted
        lines = {w.line for w in full.warnings if w.line is not None}
        assert {w.line for w in snap.warnings if w.line is not None} <= lines
