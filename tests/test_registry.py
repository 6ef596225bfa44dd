"""The registry maps a series to the same row whether found by identity or by value."""

from __future__ import annotations

import gc
import inspect
import random

import attrs
import numpy as np
import pytest

import kepler_reader as kr
from kepler_reader.kepler import _fields
from tests.paths import FIXTURES

KEPLER = FIXTURES / "kepler"
RELEASES = ("v0.3", "v0.4", "v0.5.5", "v0.7.2", "v0.7.12", "v0.9.0", "v0.11")


def _described(view: kr.KeplerView) -> list[tuple[object, ...]]:
    """Each row of the view in plain values: series, workload, codes, ids, joules."""
    names = view.registry.zone_names
    return [
        (
            view.snapshot.series[row],
            view.workload[i],
            view.workload[i].command,
            names[int(view.zone[i])],
            int(view.mode[i]),
            int(view.state[i]),
            int(view.key[i]),
            int(view.group[i]),
            float(view.joules[i]),
        )
        for i, row in enumerate(view.rows.tolist())
    ]


def _churning_bodies(seed: int, count: int) -> list[bytes]:
    """Kepler 0.11 bodies of one node whose pods start, stop and change state."""
    rng = random.Random(seed)
    live = {f"pod-{i}": rng.uniform(0, 1e4) for i in range(20)}
    bodies = []
    for tick in range(count):
        for name in list(live):
            if rng.random() < 0.15:
                del live[name]
        for extra in range(rng.randint(0, 4)):
            live[f"pod-{tick}-{extra}"] = 0.0
        lines = ["# TYPE kepler_pod_cpu_joules_total counter"]
        for name in sorted(live):
            live[name] += rng.uniform(0, 50)
            state = "terminated" if rng.random() < 0.1 else "running"
            lines.extend(
                "kepler_pod_cpu_joules_total{"
                f'pod_id="uid-{name}",pod_name="{name}",pod_namespace="ns",'
                f'state="{state}",zone="{zone}"}} {live[name]!r}'
                for zone in ("dram", "package")
            )
        bodies.append(("\n".join(lines) + "\n").encode())
    return bodies


@pytest.mark.parametrize("release", RELEASES)
def test_a_warm_parsers_views_equal_views_of_cold_parses(release: str) -> None:
    # Found by object identity (one warm parser) and by value (a new parser per
    # body): the same rows, ids and joules.
    bodies = [
        (KEPLER / f"{release}-node-a.prom").read_bytes(),
        (KEPLER / f"{release}-node-a.t3.prom").read_bytes(),
    ]
    bodies += [*bodies, bodies[0]]
    warm, by_identity, by_value = kr.Parser(), kr.Registry(), kr.Registry()
    for body in bodies:
        first = kr.kepler_view(warm.parse(body), registry=by_identity)
        second = kr.kepler_view(kr.parse(body), registry=by_value)
        assert len(first) > 0
        assert _described(first) == _described(second)


@pytest.mark.parametrize("seed", range(6))
def test_rows_stay_right_as_series_come_and_go(seed: int) -> None:
    bodies = _churning_bodies(seed, 12)
    warm, by_identity, by_value = kr.Parser(), kr.Registry(), kr.Registry()
    for body in bodies:
        first = kr.kepler_view(warm.parse(body), registry=by_identity)
        # Nothing here holds the last cold snapshot any more: its series may die
        # and their ids go to new objects; only the registry's own hold keeps a
        # new series from passing for an old one.
        gc.collect()
        described = _described(kr.kepler_view(kr.parse(body), registry=by_value))
        assert _described(first) == described
    # Each pod's package counter keeps one id through its state flips.
    package = by_identity.zones["package"]
    keys = {
        (w.pod, int(k))
        for w, k, z in zip(first.workload, first.key, first.zone, strict=True)
        if z == package
    }
    assert len(keys) == len({pod for pod, _ in keys})


def test_a_family_in_two_blocks_maps_every_row() -> None:
    body = (
        b'kepler_pod_cpu_joules_total{pod_id="u1",pod_name="a",pod_namespace="n",'
        b'state="running",zone="package"} 5\n'
        b'kepler_node_cpu_joules_total{zone="package"} 100\n'
        b'kepler_pod_cpu_joules_total{pod_id="u2",pod_name="b",pod_namespace="n",'
        b'state="running",zone="package"} 7\n'
    )
    registry = kr.Registry()
    parser = kr.Parser()
    for _ in range(2):
        view = kr.kepler_view(parser.parse(body), registry=registry)
        pods = sorted(
            (w.pod, j) for w, j in zip(view.workload, view.joules.tolist(), strict=True)
        )
        assert pods == [("", 100.0), ("a", 5.0), ("b", 7.0)]
    assert view.rows.tolist() == [0, 2, 1]


def test_the_row_table_grows_without_losing_rows() -> None:
    registry = kr.Registry()
    parser = kr.Parser()
    views = [
        kr.kepler_view(parser.parse(body), registry=registry)
        for body in _churning_bodies(7, 30)
    ]
    codes = registry.row_codes()
    assert codes.shape == (len(registry.row_workloads), 5)
    for view in views:
        np.testing.assert_array_equal(view.key, codes[_row_ids(registry, view), 3])


def _row_ids(registry: kr.Registry, view: kr.KeplerView) -> list[int]:
    found = [
        registry.row_of(
            (view.era.name, "kepler_pod_cpu_joules_total"), view.snapshot.series[row]
        )
        for row in view.rows.tolist()
    ]
    assert None not in found
    return [row for row in found if row is not None]


def test_a_cleared_registry_forgets_series_seen_by_identity() -> None:
    registry = kr.Registry(max_entries=10)
    parser = kr.Parser()
    body = (KEPLER / "v0.11-node-a.prom").read_bytes()
    first = kr.kepler_view(parser.parse(body), registry=registry)
    second = kr.kepler_view(parser.parse(body), registry=registry)
    assert second.generation == first.generation + 1
    assert _described(second) == _described(
        kr.kepler_view(kr.parse(body), registry=kr.Registry())
    )


def test_a_new_series_never_takes_the_row_of_a_dead_one() -> None:
    # Each body is parsed by a parser of its own and dropped after its view, so
    # the next body's series are allocated where the last one's were. Every body
    # comes twice: the second time its series are found by value, and only the
    # registry's hold on them keeps their ids from passing to the next body's.
    registry = kr.Registry()
    for tick in range(8):
        body = b"".join(
            b'kepler_pod_cpu_joules_total{pod_id="u-%d-%d",pod_name="p-%d-%d",'
            b'pod_namespace="n",state="running",zone="package"} %d\n'
            % (tick, pod, tick, pod, pod)
            for pod in range(50)
        )
        for _ in range(2):
            view = kr.kepler_view(kr.parse(body), registry=registry)
            pods = [
                (w.pod, j)
                for w, j in zip(view.workload, view.joules.tolist(), strict=True)
            ]
            assert pods == [(f"p-{tick}-{pod}", float(pod)) for pod in range(50)]
            del view
            gc.collect()


def test_workload_fields_are_in_the_order_of_the_class() -> None:
    names = [field.name for field in attrs.fields(kr.Workload)]
    assert list(inspect.signature(_fields).parameters) == names
    assert kr.Workload(*_fields("pod", pod="a", command="c")) == kr.Workload(
        "pod", pod="a", command="c"
    )


def test_the_series_of_one_workload_share_its_object() -> None:
    view = kr.kepler_view(
        kr.parse((KEPLER / "v0.11-node-a.prom").read_bytes()), registry=kr.Registry()
    )
    by_workload: dict[kr.Workload, set[int]] = {}
    for workload in view.workload:
        by_workload.setdefault(workload, set()).add(id(workload))
    assert max(len(ids) for ids in by_workload.values()) == 1
    assert len(view.workload) >= 2 * len(by_workload)


def test_a_view_made_before_its_registry_was_cleared_still_diffs() -> None:
    # A small scrape clears the registry (more than ten ids) and gives its zones
    # new codes, dram first. The view from before keeps the names its own codes
    # stand for, and diff across the clearing matches two views of one generation.
    first, second = (
        kr.parse((KEPLER / f"v0.11-node-a{tick}.prom").read_bytes())
        for tick in ("", ".t3")
    )
    small = kr.Registry(max_entries=10)
    before = kr.kepler_view(first, registry=small)
    kr.kepler_view(
        kr.parse(b'kepler_node_cpu_joules_total{zone="dram"} 5\n'), registry=small
    )
    after = kr.kepler_view(second, registry=small)
    assert after.generation == before.generation + 1
    assert small.zone_names[0] == "dram"
    fresh = kr.Registry()
    expected = kr.diff(
        kr.kepler_view(first, registry=fresh),
        kr.kepler_view(second, registry=fresh),
        interval=3.0,
    )
    assert before.zones == ("core", "dram", "package", "uncore")
    result = kr.diff(before, after, interval=3.0)
    assert result.pods == expected.pods
    assert result.node == expected.node
    assert len(result.pods) > 0
