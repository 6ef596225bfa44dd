"""Generated expositions read back exactly as they were rendered.

Bodies are rendered by prometheus_client's own exposition code (the peer every Python
user has) and, for spellings it never produces (blanks inside braces, trailing commas,
tabs, CRLF, quoted names, OpenMetrics), by a small renderer written here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample as PeerSample

import kepler_reader as kr

NAMES = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,20}", fullmatch=True).filter(
    lambda n: (
        not n.startswith("__")
        and not n.endswith(("_total", "_bucket", "_sum", "_count", "_created"))
    )
)
LABEL_NAMES = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,12}", fullmatch=True).filter(
    lambda n: not n.startswith("__") and n not in ("le", "quantile")
)
LABEL_VALUES = st.text(
    st.characters(exclude_categories=["Cs"]), max_size=12
) | st.sampled_from(['"', "\\", "\n", "}", ",", "#", "=", " ", '\\"', "\\n", ""])
VALUES = st.floats(allow_nan=True, allow_infinity=True) | st.integers(
    -(2**53), 2**53
).map(float)
TIMESTAMPS = st.none() | st.integers(0, 4_000_000_000_000)
LABELSETS = st.dictionaries(LABEL_NAMES, LABEL_VALUES, max_size=4)

Expected = list[tuple[str, dict[str, str], float, int | None]]


@st.composite
def families(draw: st.DrawFn) -> tuple[list[Metric], Expected]:
    metrics: list[Metric] = []
    expected: Expected = []
    used: set[str] = set()
    for _ in range(draw(st.integers(1, 4))):
        name = draw(NAMES.filter(lambda n: n not in used))
        kind = draw(st.sampled_from(["gauge", "counter", "untyped", "histogram"]))
        used.update(
            {name, name + "_total", name + "_bucket", name + "_sum", name + "_count"}
        )
        metric = Metric(name, draw(st.text(max_size=20)), kind)
        labelsets = draw(
            st.lists(
                LABELSETS,
                min_size=1,
                max_size=3,
                unique_by=lambda d: tuple(sorted(d.items())),
            )
        )
        for labels in labelsets:
            drawn_stamp = draw(TIMESTAMPS)
            seconds = None if drawn_stamp is None else drawn_stamp / 1000
            # What prometheus_client prints: it truncates seconds * 1000.
            stamp = None if seconds is None else int(seconds * 1000)
            if kind == "histogram":
                bounds = sorted(
                    set(
                        draw(
                            st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=3)
                        )
                    )
                )
                counts = sorted(
                    draw(
                        st.lists(
                            st.integers(0, 1000),
                            min_size=len(bounds) + 1,
                            max_size=len(bounds) + 1,
                        )
                    )
                )
                for bound, count in zip([*bounds, math.inf], counts, strict=True):
                    le = "+Inf" if bound == math.inf else repr(bound)
                    row = {**labels, "le": le}
                    metric.samples.append(
                        PeerSample(name + "_bucket", row, count, seconds)
                    )
                    expected.append((name + "_bucket", row, float(count), stamp))
                total = draw(VALUES)
                for suffix, value in (("_sum", total), ("_count", float(counts[-1]))):
                    metric.samples.append(
                        PeerSample(name + suffix, labels, value, seconds)
                    )
                    expected.append((name + suffix, labels, value, stamp))
                continue
            sample_name = name + "_total" if kind == "counter" else name
            value = draw(VALUES)
            metric.samples.append(PeerSample(sample_name, labels, value, seconds))
            expected.append((sample_name, labels, value, stamp))
        metrics.append(metric)
    return metrics, expected


class _Fixed:
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self.metrics


def render_with_prometheus_client(metrics: list[Metric]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(metrics))
    return generate_latest(registry)


def got(snap: kr.Snapshot) -> Expected:
    return [
        (s.series.name, s.series.labels_dict, s.value, s.timestamp_ms)
        for s in snap.samples()
    ]


def same(a: Expected, b: Expected) -> bool:
    if len(a) != len(b):
        return False
    for (n1, l1, v1, t1), (n2, l2, v2, t2) in zip(a, b, strict=True):
        equal = v1 == v2 or (math.isnan(v1) and math.isnan(v2))
        if (n1, l1, t1) != (n2, l2, t2) or not equal:
            return False
    return True


def key(row: tuple[str, dict[str, str], float, int | None]) -> str:
    return repr((row[0], sorted(row[1].items())))


@settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(families())
def test_prometheus_client_rendering_reads_back_exactly(
    drawn: tuple[list[Metric], Expected],
) -> None:
    metrics, expected = drawn
    body = render_with_prometheus_client(metrics)
    snap = kr.parse(body)
    assert snap.errors == ()
    assert same(sorted(got(snap), key=key), sorted(expected, key=key))
    # A warm parser reading the same body again gives the same answer.
    warm = kr.Parser()
    warm.parse(body)
    assert same(got(warm.parse(body)), got(snap))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def render_ours(expected: Expected, style: dict[str, Any]) -> bytes:
    """Spellings prometheus_client never writes, all legal."""
    lines = []
    om = style["openmetrics"]
    for name, labels, value, stamp in expected:
        pairs = [
            f'{k}{style["around"]}={style["around"]}"{_escape(v)}"'
            for k, v in labels.items()
        ]
        if style["quote_name"]:
            inner = ", ".join([f'"{name}"', *pairs]) + ("," if style["comma"] else "")
            series = "{" + inner + "}"
        elif pairs or style["empty_braces"]:
            series = (
                name
                + "{"
                + ",".join(pairs)
                + ("," if style["comma"] and pairs else "")
                + "}"
            )
        else:
            series = name
        line = series + style["blank"] + _value(value)
        if stamp is not None:
            line += style["blank"] + (f"{stamp / 1000!r}" if om else str(stamp))
        lines.append(line + style["trailing"])
    if om:
        lines.append("# EOF")
    text: str = style["newline"].join(lines) + style["newline"]
    return text.encode()


STYLES = st.fixed_dictionaries(
    {
        "around": st.sampled_from(["", " ", "\t"]),
        "blank": st.sampled_from([" ", "  ", "\t", " \t"]),
        "trailing": st.sampled_from(["", " ", "\t"]),
        "comma": st.booleans(),
        "empty_braces": st.booleans(),
        "quote_name": st.booleans(),
        "newline": st.sampled_from(["\n", "\r\n"]),
        "openmetrics": st.booleans(),
    }
)


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(families(), STYLES)
def test_our_renderer_reads_back_exactly(
    drawn: tuple[list[Metric], Expected], style: dict[str, Any]
) -> None:
    _, expected = drawn
    if style["openmetrics"]:
        # OpenMetrics timestamps are seconds: keep ones a float prints exactly.
        expected = [
            (n, labels, v, None if t is None else t - t % 1000)
            for n, labels, v, t in expected
        ]
    body = render_ours(expected, style)
    snap = kr.parse(body, format="openmetrics" if style["openmetrics"] else "text")
    assert snap.errors == ()
    assert same(got(snap), expected)
