"""Our parse agrees with prometheus_client's text parser on every valid fixture.

Compared: every sample's name, labels and value (and timestamp, in seconds). Where
prometheus_client is known to read the format wrongly, the test normalises or skips
that part, and each exception below says why.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

import kepler_reader as kr
from tests.paths import FIXTURES

Sample = tuple[str, tuple[tuple[str, str], ...], float, float | None]

# Bodies prometheus_client cannot read or reads wrongly, and why.
KNOWN_DIFFERENCES = {
    # Malformed on purpose; it raises without a line number, we raise with one.
    "cases/02-unescaped-quote-in-label-value.prom": "malformed",
    "cases/04-raw-newline-in-label-value.prom": "malformed",
    "cases/12-truncated-body.prom": "malformed (cut off)",
    # It keeps "\u" and "\t" as literal text; the format has no such escapes.
    "cases/05-invalid-escape-sequence.prom": "accepts invalid escapes",
    # Repeated HELP lines are an error in the format (and for us in strict mode).
    "cases/07-repeated-metric-family-blocks.prom": "accepts repeated HELP",
    # It needs str; the BOM makes its first line an invalid metric name.
    "cases/09-bom-and-crlf.prom": "rejects a leading BOM",
    # No final line feed is an error for Prometheus and for us in strict mode.
    "cases/11-missing-final-newline.prom": "accepts a missing final LF",
    # Its OpenMetrics parser rejects the whole body for one exemplar without braces;
    # we keep the sample and warn (case 18).
    "cases/18-exemplars.prom": "rejects a body for one malformed exemplar",
    # The caller must decode to str first, which fails on the bad byte.
    "cases/20-invalid-utf8-bytes.prom": "needs valid UTF-8 for the whole body",
}


def bodies() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*.prom"))


def theirs(text: str) -> list[Sample]:
    if kr.sniff_format(text.encode()) == "openmetrics":
        # Its OpenMetrics parser, as Kepler serves OpenMetrics when asked; _created
        # samples are metadata for us (Snapshot.created_seconds), not samples.
        return [
            (
                s.name,
                tuple(sorted(s.labels.items())),
                float(s.value),
                None if s.timestamp is None else float(s.timestamp),
            )
            for family in openmetrics_families(text)  # type: ignore[no-untyped-call]
            for s in family.samples
            if not s.name.endswith("_created")
        ]
    return [
        (
            s.name,
            tuple(sorted(s.labels.items())),
            float(s.value),
            None if s.timestamp is None else float(s.timestamp),
        )
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def ours(data: bytes) -> list[Sample]:
    out: list[Sample] = []
    for sample in kr.parse(data).samples():
        stamp = None if sample.timestamp_ms is None else sample.timestamp_ms / 1000
        out.append((sample.series.name, sample.series.labels, sample.value, stamp))
    return out


def normalise_total(samples: list[Sample], names: set[str]) -> list[Sample]:
    """Undo prometheus_client's _total renaming for names the body never printed.

    It appends ``_total`` to counter samples printed without it (Kepler's v0.3
    ``pod_total_*_millijoule`` counters, for example); the body says otherwise.
    """
    fixed = []
    for name, labels, value, stamp in samples:
        if name.endswith("_total") and name not in names and name[:-6] in names:
            name = name[:-6]
        fixed.append((name, labels, value, stamp))
    return fixed


def same(a: Sample, b: Sample) -> bool:
    values_equal = a[2] == b[2] or (math.isnan(a[2]) and math.isnan(b[2]))
    stamps_equal = a[3] == b[3] or (
        a[3] is not None and b[3] is not None and abs(a[3] - b[3]) < 1e-9
    )
    return a[:2] == b[:2] and values_equal and stamps_equal


@pytest.mark.parametrize("path", bodies(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_agrees_with_prometheus_client(path: Path) -> None:
    name = str(path.relative_to(FIXTURES))
    if name in KNOWN_DIFFERENCES:
        pytest.skip(KNOWN_DIFFERENCES[name])
    data = path.read_bytes()
    mine = ours(data)
    printed = {s[0] for s in mine}
    peer = normalise_total(theirs(data.decode("utf-8")), printed)
    assert len(mine) == len(peer)
    key = repr
    for a, b in zip(sorted(mine, key=key), sorted(peer, key=key), strict=True):
        assert same(a, b), (a, b)


@pytest.mark.parametrize("name", sorted(KNOWN_DIFFERENCES))
def test_every_known_difference_still_exists(name: str) -> None:
    # A listed file that prometheus_client now reads as we do should leave the list.
    data = (FIXTURES / name).read_bytes()
    try:
        peer: list[Sample] | None = theirs(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        peer = None
    try:
        mine: list[Sample] | None = ours(data)
    except kr.ParseError:
        mine = None
    if KNOWN_DIFFERENCES[name].startswith("malformed"):
        assert mine is None
        assert peer is None
    else:
        assert (
            mine is None
            or peer is None
            or sorted(map(repr, mine)) != sorted(map(repr, peer))
        )


def test_fixture_set_is_complete() -> None:
    # The Kepler eras, the real Kepler fragments and the real Prometheus bodies.
    names = {str(p.relative_to(FIXTURES)) for p in bodies()}
    assert {
        "kepler/v0.3-node-a.prom",
        "kepler/v0.11-node-a.t3.prom",
        "kepler/real/ISSUE-kepler-897.prom",
        "kepler/real-full/v0.7.11-minikube-full.prom",
        "real/node_exporter.prom",
        "real/prometheus-self.prom",
        "real/federate.prom",
    } <= names
    assert len(names) >= 50
