"""Case 31: tens of thousands of per-process series in one scrape (P = 20000)."""

from __future__ import annotations

import hashlib
import sys

import numpy as np

import kepler_reader as kr
from tests.paths import CASES

ZONES = ("package", "core", "dram", "uncore")
LABELS = "comm, container_id, exe, node_name, pid, state, type, vm_id, zone"


def case31_body(processes: int) -> bytes:
    """The generator of fixtures/cases/31-kepler-high-cardinality.md."""

    def labels(i: int, zone: str | None) -> str:
        name = f"proc-{i % 97}"
        parts = [
            f'comm="{name}"',
            f'container_id="{i % 500:064x}"',
            f'exe="/usr/bin/{name}"',
            'node_name="node-a"',
            f'pid="{10000 + i}"',
        ]
        if zone is not None:
            parts.append('state="running"')
        parts += ['type="container"', 'vm_id=""']
        if zone is not None:
            parts.append(f'zone="{zone}"')
        return "{" + ",".join(parts) + "}"

    out = [
        "# HELP kepler_process_cpu_joules_total Energy consumption of cpu at "
        "process level in joules",
        "# TYPE kepler_process_cpu_joules_total counter",
    ]
    for i in range(processes):
        for z, zone in enumerate(ZONES):
            out.append(
                f"kepler_process_cpu_joules_total{labels(i, zone)} "
                f"{float(i + 0.25 * z)!r}"
            )
    out += [
        "# HELP kepler_process_cpu_watts Power consumption of cpu at process "
        "level in watts",
        "# TYPE kepler_process_cpu_watts gauge",
    ]
    for i in range(processes):
        for zone in ZONES:
            out.append(f"kepler_process_cpu_watts{labels(i, zone)} {(i % 7) * 0.5!r}")
    out += [
        "# HELP kepler_process_cpu_seconds_total Total user and system time of cpu at "
        "process level in seconds",
        "# TYPE kepler_process_cpu_seconds_total counter",
    ]
    out += [
        f"kepler_process_cpu_seconds_total{labels(i, None)} {float(i)!r}"
        for i in range(processes)
    ]
    return ("\n".join(out) + "\n").encode()


def test_generator_matches_the_small_fixture() -> None:
    assert case31_body(3) == (CASES / "31-kepler-high-cardinality.prom").read_bytes()


def test_case31_at_scale() -> None:
    body = case31_body(20_000)
    assert len(body) == 42_647_600
    assert body.count(b"\n") == 180_006
    assert hashlib.sha256(body).hexdigest() == (
        "65b53b978b822f14c21bfa15a331e61a44ad7a6e33d300834f9f3ac6cd9cfccd"
    )
    snap = kr.parse(body)
    assert [f.name for f in snap.families] == [
        "kepler_process_cpu_joules_total",
        "kepler_process_cpu_watts",
        "kepler_process_cpu_seconds_total",
    ]
    assert len(snap) == 180_000
    joules = snap.rows_of("kepler_process_cpu_joules_total")
    assert len(joules) == 80_000
    assert len(snap.rows_of("kepler_process_cpu_watts")) == 80_000
    assert float(snap.values[joules].sum()) == 799_990_000.0
    package = [r for r in joules.tolist() if snap.series[r].get("zone") == "package"]
    assert float(snap.values[package].sum()) == 199_990_000.0
    watts = snap.rows_of("kepler_process_cpu_watts")
    assert float(snap.values[watts].sum()) == 119_994.0
    assert len({s.get("pid") for s in snap.series}) == 20_000
    ids = {s.get("container_id") for s in snap.series}
    assert len(ids) == 500
    # Repeated label values are stored once: as many distinct string objects as
    # distinct values.
    objects = {
        id(value)
        for s in snap.series
        for key, value in s.labels
        if key == "container_id"
    }
    assert len(objects) == 500
    assert len({id(s.get("comm")) for s in snap.series}) == 97
    # The same values as parsing each line on its own.
    lines = body.split(b"\n")
    for step in range(0, 180_000, 9_973):
        line = [x for x in lines if x and not x.startswith(b"#")][step]
        alone = kr.parse(line + b"\n")
        assert alone.series[0] == snap.series[step]
        assert alone.values.tolist() == [float(snap.values[step])]


def test_sums_per_container_need_no_python_loop_per_sample() -> None:
    snap = kr.parse(case31_body(300))
    view = kr.kepler_view(snap)
    assert view.era.name == "G"
    package = view.zone_slice("package")
    assert len(package.rows) == 300
    assert float(np.sum(package.joules)) == sum(range(300))
    assert sys.getrefcount(snap.series[0]) > 1
