"""Properties over generated input, each checked on a thousand examples or more.

- A parsed snapshot, rendered back to the text format and parsed again, is the same
  snapshot (families, series, value bits, timestamps).
- A body fed in any pieces gives the same snapshot, or the same error, as the body fed
  whole, in strict and lenient mode, valid or damaged.
- Over a sequence of Kepler 0.10+ scrapes with counter resets and pods coming and
  going, the pairwise deltas add up to the energy the counters say was used (a counter
  that went down counts from zero), per pod and for the node; with no reset and no
  churn that is also the delta between the first and the last scrape.

Bodies come from the generators of test_roundtrip_hypothesis.py; snapshots are
compared with the fuzz targets' ``snapshot_key``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kepler_reader as kr
from fuzz.targets import SMALL_LIMITS, outcome, snapshot_key
from tests.test_roundtrip_hypothesis import (
    STYLES,
    Expected,
    families,
    render_ours,
    render_with_prometheus_client,
)

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

# Generating exposition bodies costs more than reading them: a thousand bodies each,
# two thousand Kepler sequences (together about a minute on a loaded 2-core machine).
BODIES = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SEQUENCES = settings(BODIES, max_examples=2000)


# -- parse, render, parse --------------------------------------------------------------


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def render_snapshot(snap: kr.Snapshot) -> bytes:
    """The snapshot in the text format 0.0.4, row by row.

    Each family's HELP and TYPE lines come just before its first row, so the rows
    keep their order (and the families theirs) when the text is parsed again.
    """
    lines: list[str] = []
    stamps = snap.timestamps_ms
    introduced: set[int] = set()
    for row, index in enumerate(snap.family_index.tolist()):
        if index not in introduced:
            introduced.add(index)
            family = snap.families[index]
            if family.help is not None:
                lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
            lines.append(f"# TYPE {family.name} {family.type}")
        series = snap.series[row]
        text = series.name
        if series.labels:
            pairs = ",".join(f'{k}="{_escape_value(v)}"' for k, v in series.labels)
            text += "{" + pairs + "}"
        text += " " + _number(float(snap.values[row]))
        if stamps is not None and stamps[row] != kr.snapshot.NO_TIMESTAMP:
            text += f" {int(stamps[row])}"
        lines.append(text)
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _body(
    drawn: tuple[list[Metric], Expected], style: dict[str, object] | None
) -> bytes:
    metrics, expected = drawn
    if style is None:
        return render_with_prometheus_client(metrics)
    return render_ours(expected, {**style, "openmetrics": False})


@BODIES
@given(families(), st.none() | STYLES)
def test_a_snapshot_rendered_and_parsed_again_is_the_same(
    drawn: tuple[list[Metric], Expected], style: dict[str, object] | None
) -> None:
    snap = kr.parse(_body(drawn, style))
    assert snap.errors == ()
    again = kr.parse(render_snapshot(snap))
    assert again.errors == ()
    # Warnings about the values (old timestamps) come again, on other lines; those
    # about the spelling (CRLF line ends) do not.
    assert [w.message for w in again.warnings] == [
        w.message for w in snap.warnings if not w.message.startswith("CRLF")
    ]
    assert snapshot_key(attrs.evolve(again, warnings=())) == snapshot_key(
        attrs.evolve(snap, warnings=())
    )
    # And the rendering is a fixed point.
    assert render_snapshot(again) == render_snapshot(snap)


# -- chunked feed equals whole feed ----------------------------------------------------


@st.composite
def damaged(draw: st.DrawFn, body: bytes) -> bytes:
    """The body with a few bytes inserted, deleted or replaced, or as it is."""
    data = bytearray(body)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(
            st.binary(max_size=3)
            | st.sampled_from(
                [b"\n", b'"', b"\\", b"{", b"}", b" ", b"\r\n", b"# EOF\n"]
            )
        )
        if action == "insert":
            data[at:at] = piece
        elif action == "delete":
            del data[at : at + len(piece) + 1]
        else:
            data[at : at + len(piece)] = piece
    return bytes(data)


def _fed(
    body: bytes, cuts: Sequence[int], lenient: bool, limits: kr.Limits
) -> kr.Snapshot:
    stream = kr.Parser(limits=limits).stream(lenient=lenient)
    start = 0
    for cut in sorted({c % (len(body) + 1) for c in cuts}):
        stream.feed(body[start:cut])
        start = cut
    stream.feed(body[start:])
    return stream.finish()


@BODIES
@given(
    families()
    .map(lambda drawn: render_with_prometheus_client(drawn[0]))
    .flatmap(damaged),
    st.lists(st.integers(0, 1 << 16), max_size=12),
    st.booleans(),
    st.booleans(),
)
def test_any_split_of_any_body_gives_the_whole_body_result(
    body: bytes, cuts: list[int], lenient: bool, small: bool
) -> None:
    limits = SMALL_LIMITS if small else kr.Limits()
    whole = outcome(kr.parse, body, lenient=lenient, limits=limits)
    assert outcome(_fed, body, cuts, lenient, limits) == whole


# -- Kepler deltas over a sequence -----------------------------------------------------

ZONES = ("package", "dram", "core")
# Counter values are multiples of 1/4 J below 2**31: every difference and sum of them
# is exact in float64, so the properties hold with ==.
QUARTERS = st.integers(0, 1 << 20)


@attrs.frozen
class Counter:
    """One counter's values, scrape by scrape (None where it is absent)."""

    labels: str
    values: tuple[float | None, ...]


@attrs.frozen
class Node:
    pods: tuple[tuple[str, str, str], ...]
    zones: tuple[str, ...]
    pod_counters: dict[tuple[str, str], tuple[float | None, ...]]
    node_counters: dict[str, tuple[float, ...]]
    scrapes: int
    resets: bool
    churn: bool


@st.composite
def trajectory(
    draw: st.DrawFn, scrapes: int, start: int, stop: int
) -> tuple[float | None, ...]:
    """Counter values over ``scrapes``: present from ``start`` to ``stop``, growing,
    sometimes restarting from a small value."""
    values: list[float | None] = []
    current = draw(QUARTERS) / 4
    for tick in range(scrapes):
        if not start <= tick < stop:
            values.append(None)
            continue
        if tick > start:
            if draw(st.integers(0, 9)) == 0:
                current = draw(st.integers(0, 1 << 12)) / 4  # a restart
            else:
                current += draw(st.integers(0, 1 << 16)) / 4
        values.append(current)
    return tuple(values)


@st.composite
def kepler_nodes(draw: st.DrawFn) -> Node:
    scrapes = draw(st.integers(2, 6))
    count = draw(st.integers(1, 6))
    pods = tuple(
        (
            draw(st.sampled_from(["default", "kube-system", "monitoring"])),
            f"pod-{i}",
            f"uid-{i}",
        )
        for i in range(count)
    )
    zones = ("package", *draw(st.lists(st.sampled_from(ZONES[1:]), unique=True)))
    pod_counters: dict[tuple[str, str], tuple[float | None, ...]] = {}
    for _, _, uid in pods:
        start = draw(st.integers(0, scrapes - 1))
        stop = draw(st.integers(start + 1, scrapes))
        for zone in zones:
            pod_counters[uid, zone] = draw(trajectory(scrapes, start, stop))
    node_counters = {
        zone: tuple(v or 0.0 for v in draw(trajectory(scrapes, 0, scrapes)))
        for zone in zones
    }
    every = [*pod_counters.values(), *node_counters.values()]
    resets = any(
        a is not None and b is not None and b < a
        for values in every
        for a, b in itertools.pairwise(values)
    )
    churn = any(None in values for values in pod_counters.values())
    return Node(pods, zones, pod_counters, node_counters, scrapes, resets, churn)


def kepler_body(node: Node, tick: int) -> bytes:
    lines = [
        "# HELP kepler_node_cpu_joules_total Energy consumption of cpu at node level",
        "# TYPE kepler_node_cpu_joules_total counter",
    ]
    lines.extend(
        f'kepler_node_cpu_joules_total{{node_name="node-a",path="/rapl/{zone}",'
        f'zone="{zone}"}} {node.node_counters[zone][tick]!r}'
        for zone in node.zones
    )
    lines += [
        "# HELP kepler_pod_cpu_joules_total Energy consumption of cpu at pod level",
        "# TYPE kepler_pod_cpu_joules_total counter",
    ]
    for namespace, name, uid in node.pods:
        for zone in node.zones:
            value = node.pod_counters[uid, zone][tick]
            if value is None:
                continue
            lines.append(
                f'kepler_pod_cpu_joules_total{{node_name="node-a",pod_id="{uid}",'
                f'pod_name="{name}",pod_namespace="{namespace}",state="running",'
                f'zone="{zone}"}} {value!r}'
            )
    return ("\n".join(lines) + "\n").encode()


def used(values: Sequence[float | None]) -> float:
    """The energy a counter says was used: its rises, and its value after a restart."""
    total = 0.0
    for before, after in itertools.pairwise(values):
        if before is None or after is None:
            continue
        total += after - before if after >= before else after
    return total


@SEQUENCES
@given(kepler_nodes(), st.sampled_from(ZONES))
def test_pairwise_deltas_add_up_to_the_energy_used(node: Node, zone: str) -> None:
    if zone not in node.zones:
        zone = "package"
    snaps = [
        kr.parse(kepler_body(node, tick)).with_scrape_time(3.0 * tick)
        for tick in range(node.scrapes)
    ]
    expected = {
        (namespace, name): used(node.pod_counters[uid, zone])
        for namespace, name, uid in node.pods
    }
    got = dict.fromkeys(expected, 0.0)
    node_joules = 0.0
    registry = kr.Registry()
    views = [kr.kepler_view(s, registry=registry) for s in snaps]
    by_align = dict.fromkeys(expected, 0.0)
    for i in range(node.scrapes - 1):
        delta = kr.diff(views[i], views[i + 1], zone=zone)
        assert delta.interval_seconds == 3.0
        for row in delta.pods:
            got[row.namespace, row.pod] += row.joules
            assert row.watts == row.joules / 3.0
        node_joules += delta.node.joules or 0.0
        deltas, _ = kr.align(views[i], views[i + 1], zone)
        ids, joules, _ = kr.pod_sums(deltas)
        for group, value in zip(ids.tolist(), joules.tolist(), strict=True):
            namespace, pod, _, _ = registry.group_info[group]
            by_align[namespace, pod] += value
    assert got == expected
    assert by_align == expected
    assert node_joules == used(node.node_counters[zone])
    if not node.resets and not node.churn:
        # Nothing restarted and nothing came or went: the sum telescopes.
        whole = kr.diff(snaps[0], snaps[-1], zone=zone)
        assert {(r.namespace, r.pod): r.joules for r in whole.pods} == expected
        assert whole.interval_seconds == 3.0 * (node.scrapes - 1)
