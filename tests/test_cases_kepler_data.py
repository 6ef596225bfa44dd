"""The public bug-report cases of kind kepler-data.

Each test is named after its case file in fixtures/cases/ and checks what its .md says.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import kepler_reader as kr
from tests.paths import CASES, KEPLER


def case(name: str) -> kr.Snapshot:
    return kr.parse((CASES / name).read_bytes(), source=name)


def zeroed(name: str) -> kr.Snapshot:
    """The scrape ``name`` with every sample value set to 0: a baseline for a diff."""
    text = (CASES / name).read_bytes()
    return kr.parse(re.sub(rb"(?m)^([^#\s][^ ]*(?:\{.*\})?) \S+$", rb"\1 0", text))


def window(
    names: list[str], zone: str, limits: kr.PlausibilityLimits, seconds: float
) -> kr.CounterWindow:
    """Feed the scrapes ``names``, ``seconds`` apart, to one counter window."""
    registry = kr.Registry(max_entries=1 << 62)
    counters = kr.CounterWindow("node-a", zone, registry, limits)
    for i, name in enumerate(names):
        counters.add(kr.kepler_view(case(name), registry=registry), i * seconds)
    return counters


def pods_of(counters: kr.CounterWindow) -> dict[tuple[str, str], float]:
    totals = counters.totals()
    info = counters.registry.group_info
    return {
        (info[g][0], info[g][1]): j
        for g, j in zip(totals.groups.tolist(), totals.joules.tolist(), strict=True)
    }


# -- 21: peta-joule counters, 2^64-sized values, kilowatt spikes ---------------------

SCRAPES_21 = [
    "21-kepler-implausible-values-and-spikes.prom",
    "21-kepler-implausible-values-and-spikes.scrape2.prom",
    "21-kepler-implausible-values-and-spikes.scrape3.prom",
]
LIMITS_21 = kr.PlausibilityLimits(
    max_counter_joules=1e12, max_pod_watts=2000, max_node_watts=2000
)


def test_21_values_parse_exactly() -> None:
    values = {
        s.series.get("container_id"): s.value
        for s in case(SCRAPES_21[1]).samples("kepler_container_joules_total")
    }
    assert values == {
        "c-aaa": 922337203759970.1,
        "c-bbb": 330.0,
        "c-ccc": 1.8446744073447457e19,
    }


def test_21_implausible_counters_give_no_valid_data_not_zero() -> None:
    counters = window(SCRAPES_21, "total", LIMITS_21, 30.0)
    assert pods_of(counters) == {("shop", "web-1"): 60.0}
    totals = counters.totals()
    info = counters.registry.group_info
    missing = {(info[g][0], info[g][1]) for g in totals.no_valid_data.tolist()}
    assert missing == {("kube-flannel", "flannel-ds-1"), ("shop", "web-2")}
    refused = sorted(counters.refusals.values(), key=lambda r: r.value)
    assert [(r.value, r.count) for r in refused] == [
        (922337203759970.1, 2),
        (1.8446744073447457e19, 2),
    ]
    assert 'container_id="c-aaa"' in refused[0].series
    assert refused[0].reason == (
        "Implausible counter value: above max_counter_joules=1e+12 J."
    )
    assert refused[1].reason.startswith("Implausible counter value: near 2^64")


def test_21_web_1_spends_one_watt_in_each_interval() -> None:
    for pair in (SCRAPES_21[:2], SCRAPES_21[1:]):
        delta = kr.diff(case(pair[0]), case(pair[1]), interval=30.0, zone="total")
        checked, _ = kr.check_delta(delta, LIMITS_21)
        web = checked.pod("shop", "web-1")
        assert web is not None
        assert (web.joules, web.watts) == (30.0, 1.0)
        assert checked.pod("shop", "web-2") is None
        assert checked.pod("kube-flannel", "flannel-ds-1") is None


def test_21_node_spike_is_excluded_and_the_next_interval_kept() -> None:
    counters = window(SCRAPES_21, "platform", LIMITS_21, 30.0)
    totals = counters.totals()
    assert totals.node_joules == 600.0
    (refusal,) = counters.refusals.values()
    assert (refusal.series, refusal.value, refusal.unit) == (
        "node node-a",
        9000.0,
        "watts",
    )
    assert "9000 W" in refusal.reason
    first = kr.diff(
        case(SCRAPES_21[0]), case(SCRAPES_21[1]), interval=30, zone="platform"
    )
    checked, refused = kr.check_delta(first, LIMITS_21)
    assert checked.node.joules is None
    assert [r.value for r in refused] == [9000.0]
    second = kr.diff(
        case(SCRAPES_21[1]), case(SCRAPES_21[2]), interval=30, zone="platform"
    )
    checked, refused = kr.check_delta(second, LIMITS_21)
    assert (checked.node.joules, checked.node.watts) == (600.0, 20.0)
    assert refused == ()


def test_21_default_limits_still_refuse_the_corrupt_counters() -> None:
    # No thresholds passed: 2^53 J and 5 kW per pod. The 9.2e14 J value is below
    # 2^53, but the jump to it means 3e13 W: the interval is refused instead.
    counters = window(SCRAPES_21, "total", kr.PlausibilityLimits(), 30.0)
    reasons = {r.series.split("{")[0]: r for r in counters.refusals.values()}
    assert reasons["pod kube-flannel/flannel-ds-1"].unit == "watts"
    assert reasons["pod kube-flannel/flannel-ds-1"].value == pytest.approx(
        (922337203759970.1 - 12.5) / 30
    )
    assert reasons["kepler_container_joules_total"].value == 1.8446744073447457e19
    pods = pods_of(counters)
    assert pods[("shop", "web-1")] == 60.0
    # The second interval is taken from the (refused) spike's level, as float64
    # holds it: the 1.1 J step of the table reads as 1.125 J at this size.
    assert pods[("kube-flannel", "flannel-ds-1")] == (
        9.223372037599712e14 - 9.223372037599701e14
    )
    assert ("shop", "web-2") not in pods


# -- 23: a raw RAPL counter wrapping at its range ------------------------------------

SCRAPES_23 = [
    "23-kepler-rapl-wraparound.prom",
    "23-kepler-rapl-wraparound.scrape2.prom",
    "23-kepler-rapl-wraparound.scrape3.prom",
]
RANGE_23 = {"kepler_node_package_joules_total": 262143.999938}


def test_23_without_a_range_a_decrease_is_an_assumed_reset() -> None:
    delta = kr.diff(case(SCRAPES_23[0]), case(SCRAPES_23[1]), interval=30.0)
    assert delta.node.joules == 56.0
    assert delta.counters.reset.tolist() == [True]
    assert delta.counters.wrapped is None
    assert any("assumed reset" in w for w in delta.warnings)


def test_23_with_a_range_the_wrap_is_corrected() -> None:
    first = kr.diff(
        case(SCRAPES_23[0]),
        case(SCRAPES_23[1]),
        interval=30.0,
        wrap_range_joules=RANGE_23,
    )
    assert first.node.joules == pytest.approx(99.999938, abs=1e-9)
    assert first.node.watts == pytest.approx(3.3333, abs=1e-4)
    assert first.counters.wrapped is not None
    assert first.counters.wrapped.tolist() == [True]
    assert first.counters.reset.tolist() == [False]
    assert any("wrap corrected" in w for w in first.warnings)
    assert not any("assumed reset" in w for w in first.warnings)


def test_23_a_small_decrease_is_not_a_wrap() -> None:
    second = kr.diff(
        case(SCRAPES_23[1]),
        case(SCRAPES_23[2]),
        interval=30.0,
        wrap_range_joules=RANGE_23,
    )
    assert second.node.joules == 20.0  # never 262107.999938
    assert second.counters.reset.tolist() == [True]
    assert any("assumed reset" in w for w in second.warnings)


# -- 24: v0.3's millijoule metrics ---------------------------------------------------

SCRAPES_24 = [
    "24-kepler-legacy-millijoule-metrics.prom",
    "24-kepler-legacy-millijoule-metrics.scrape2.prom",
]


def test_24_era_from_names_alone() -> None:
    snapshot = case(SCRAPES_24[0])
    assert all(f.type == "untyped" for f in snapshot.families)
    era = kr.detect_era(snapshot)
    assert (era.name, era.releases) == ("A", "v0.3")


@pytest.mark.parametrize(
    ("zone", "joules", "watts"), [("package", 30.0, 1.0), ("dram", 1.5, 0.05)]
)
def test_24_totals_are_counters_divided_by_1000(
    zone: str, joules: float, watts: float
) -> None:
    before, after = case(SCRAPES_24[0]), case(SCRAPES_24[1])
    delta = kr.diff(before, after, interval=30.0, zone=zone)
    (pod,) = delta.pods
    assert (pod.namespace, pod.pod, pod.kind) == ("test-1", "nginx-1", "pod")
    assert pod.joules == pytest.approx(joules, abs=1e-12)
    assert pod.watts == pytest.approx(watts, abs=1e-12)
    assert delta.warnings == ()


def test_24_curr_gauges_are_never_differenced() -> None:
    # pod_curr_* is the energy of Kepler's last sampling interval, not a counter:
    # it takes no part in the view, so it is neither differenced nor summed.
    view = kr.kepler_view(case(SCRAPES_24[0]))
    families = {
        view.snapshot.families[int(view.snapshot.family_index[row])].name
        for row in view.rows.tolist()
    }
    assert families == {
        "pod_total_energy_in_dram_millijoule",
        "pod_total_energy_in_pkg_millijoule",
    }
    assert sorted(view.joules.tolist()) == [2.0, 51.0]
    curr = case(SCRAPES_24[0]).samples("pod_curr_energy_in_pkg_millijoule")
    assert [s.value / 1000 for s in curr] == [0.051]


def test_24_command_is_an_attribute_not_part_of_the_key() -> None:
    view = kr.kepler_view(case(SCRAPES_24[0]))
    workload = view.workload[0]
    assert workload.command == "conmon"
    assert workload == kr.Workload(
        "pod", namespace="test-1", pod="nginx-1", command="something else"
    )
    assert len(set(view.key.tolist())) == 2


def test_24_maps_to_the_same_package_quantity_as_v010() -> None:
    modern = kr.parse(
        b'kepler_pod_cpu_joules_total{pod_name="nginx-1",pod_namespace="test-1",'
        b'zone="package"} 51\n'
    )
    old, new = kr.kepler_view(case(SCRAPES_24[0])), kr.kepler_view(modern)
    assert old.zone_of(int(np.flatnonzero(old.joules == 51.0)[0])) == "package"
    assert new.zone_of(0) == "package"
    assert old.workload[0].kind == new.workload[0].kind == "pod"
    assert (old.workload[0].namespace, old.workload[0].pod) == (
        new.workload[0].namespace,
        new.workload[0].pod,
    )


# -- 25: the container total in millijoules ------------------------------------------


def test_25_total_in_millijoules_is_divided_by_1000() -> None:
    name = "25-kepler-total-unit-mismatch.prom"
    delta = kr.diff(zeroed(name), case(name), interval=1.0, zone="total")
    (pod,) = delta.pods
    assert pod.joules == pytest.approx(15.0)
    assert delta.warnings == (
        "kepler_container_joules_total looks like millijoules (it is 1000.0 times "
        "the sum of its parts); it was divided by 1000.",
    )
    package = kr.diff(zeroed(name), case(name), interval=1.0)
    assert package.pods[0].joules == 12.5
    assert package.warnings == ()


def _scrape_25(total: float, *, parts: bool = True) -> kr.Snapshot:
    ids = (
        'container_id="c1",container_name="app",container_namespace="shop",'
        'mode="dynamic",pod_name="web-1"'
    )
    lines = ["# TYPE kepler_container_joules_total counter"]
    lines.append(f"kepler_container_joules_total{{{ids}}} {total}")
    if parts:
        lines += [
            "# TYPE kepler_container_package_joules_total counter",
            f'kepler_container_package_joules_total{{{ids},source="rapl"}} 12.5',
            "# TYPE kepler_container_dram_joules_total counter",
            f'kepler_container_dram_joules_total{{{ids},source="rapl"}} 2.5',
        ]
    return kr.parse("\n".join(lines) + "\n")


def test_25_a_total_that_matches_its_parts_is_used_as_is() -> None:
    assert kr.kepler_view(_scrape_25(15.0)).notes == ()


def test_25_another_ratio_is_kept_with_a_warning() -> None:
    (note,) = kr.kepler_view(_scrape_25(45.0)).notes
    assert note == (
        "total",
        "The total disagrees with components: kepler_container_joules_total is 3 "
        "times the sum of its parts; it is used as published.",
    )


def test_25_without_parts_the_check_is_not_possible() -> None:
    view = kr.kepler_view(_scrape_25(15000.0, parts=False))
    ((zone, note),) = view.notes
    assert zone == "total"
    assert "check not possible" in note
    assert view.joules.tolist() == [15000.0]


# -- 26: v0.10 names, zones and states -----------------------------------------------

NAME_26 = "26-kepler-v010-renames-and-zones.prom"


def test_26_version_and_era() -> None:
    era = kr.detect_era(case(NAME_26))
    assert (era.name, era.releases, era.version) == ("G", "v0.10+", "v0.10.0")


@pytest.mark.parametrize(
    ("zone", "joules"), [("package", 120.0), ("core", 80.0), ("dram", 20.0)]
)
def test_26_zones_are_kept_apart(zone: str, joules: float) -> None:
    delta = kr.diff(zeroed(NAME_26), case(NAME_26), interval=1.0, zone=zone)
    (pod,) = delta.pods
    assert (pod.namespace, pod.pod, pod.pod_uid) == ("shop", "web-1", "uid-1")
    assert pod.joules == joules


def test_26_default_is_package_never_the_sum_of_zones() -> None:
    delta = kr.diff(zeroed(NAME_26), case(NAME_26), interval=1.0)
    assert delta.zone == "package"
    assert delta.pods[0].joules == 120.0  # not 220


def test_26_exporter_power_is_a_gauge_apart() -> None:
    snapshot = case(NAME_26)
    (watts,) = snapshot.samples("kepler_pod_cpu_watts")
    assert watts.value == 4.0
    view = kr.kepler_view(snapshot)
    assert 4.0 not in view.joules.tolist()


def test_26_process_name_from_comm_and_exe_kept() -> None:
    view = kr.kepler_view(case(NAME_26))
    (process,) = [w for w in view.workload if w.level == "process"]
    assert (process.pid, process.command, process.exe) == (
        "4242",
        "nginx",
        "/usr/sbin/nginx",
    )
    assert process.node == "node-a"


def test_26_a_quantity_this_era_does_not_publish_is_an_error() -> None:
    with pytest.raises(kr.DataError) as caught:
        kr.diff(zeroed(NAME_26), case(NAME_26), interval=1.0, zone="total")
    assert str(caught.value) == (
        "Zone 'total' is not published by this exporter (Kepler era G (v0.10+, "
        "v0.10.0)); zones seen: core, dram, package."
    )


def test_26_a_scrape_without_kepler_energy_names_what_it_saw() -> None:
    other = kr.parse(
        b"# TYPE up gauge\nup 1\n# TYPE go_goroutines gauge\ngo_goroutines 12\n",
        source="other.prom",
    )
    with pytest.raises(kr.DataError) as caught:
        kr.diff(other, other, interval=1.0)
    assert str(caught.value) == (
        "No Kepler energy metrics were recognised in other.prom (families seen: "
        "up, go_goroutines)."
    )


# -- 28: pseudo pods, empty ids ------------------------------------------------------

NAME_28 = "28-kepler-pseudo-pods-and-empty-ids.prom"


def test_28_every_workload_and_its_kind() -> None:
    delta = kr.diff(zeroed(NAME_28), case(NAME_28), interval=1.0)
    rows = {(p.namespace, p.pod): (p.kind, p.joules, p.counters) for p in delta.pods}
    assert rows == {
        ("system", "system_processes"): ("pseudo", 1200.0, 2),
        ("kernel", "kernel_processes"): ("pseudo", 40.0, 1),
        ("ci", "runner-abc"): ("pod", 190.24, 2),
        ("ci", "auth-1"): ("pod", 190.24, 1),
        ("", ""): ("unattributed", 9.0, 1),
    }


def test_28_mode_split_per_pod() -> None:
    delta = kr.diff(zeroed(NAME_28), case(NAME_28), interval=1.0)
    runner = delta.pod("ci", "runner-abc")
    assert runner is not None
    assert (runner.dynamic_joules, runner.idle_joules) == (190.24, 0.0)


def test_28_pseudo_pods_count_in_namespaces_and_in_the_meter_window() -> None:
    registry = kr.Registry(max_entries=1 << 62)
    counters = kr.CounterWindow("node-a", "package", registry, kr.PlausibilityLimits())
    counters.add(kr.kepler_view(zeroed(NAME_28), registry=registry), 0.0)
    counters.add(kr.kepler_view(case(NAME_28), registry=registry), 60.0)
    assert pods_of(counters) == {
        ("system", "system_processes"): 1200.0,
        ("kernel", "kernel_processes"): 40.0,
        ("ci", "runner-abc"): 190.24,
        ("ci", "auth-1"): 190.24,
        ("", ""): 9.0,
    }


def test_21_without_refusing_the_numbers_stay_and_are_flagged_suspect() -> None:
    delta = kr.diff(
        case(SCRAPES_21[0]), case(SCRAPES_21[1]), interval=30.0, zone="total"
    )
    flagged, suspects = kr.check_delta(delta, refuse=False)
    assert flagged.pods == delta.pods
    spike = flagged.pod("kube-flannel", "flannel-ds-1")
    assert spike is not None
    assert spike.joules == 922337203759970.1 - 12.5
    assert {r.series.split("{")[0] for r in suspects} == {
        "kepler_container_joules_total",  # c-ccc, near 2^64
        "pod kube-flannel/flannel-ds-1",  # 3e13 W
    }
    suspect = [w for w in flagged.warnings if w.startswith("Suspect")]
    assert len(suspect) == 2
    assert all(w.endswith("The sums include it.") for w in suspect)


def test_23_the_meter_window_corrects_the_wrap_too() -> None:
    registry = kr.Registry(max_entries=1 << 62)
    counters = kr.CounterWindow(
        "node-a",
        "package",
        registry,
        kr.PlausibilityLimits(),
        wrap_range_joules=RANGE_23,
    )
    for i, name in enumerate(SCRAPES_23):
        counters.add(kr.kepler_view(case(name), registry=registry), 30.0 * i)
    assert counters.totals().node_joules == pytest.approx(99.999938 + 20.0, abs=1e-9)
    assert (counters.wraps, counters.resets) == (1, 1)
    plain = window(SCRAPES_23, "package", kr.PlausibilityLimits(), 30.0)
    assert plain.totals().node_joules == 56.0 + 20.0
    assert (plain.wraps, plain.resets) == (0, 2)


def test_24_curr_gauges_are_exposed_as_interval_energy() -> None:
    # The energy of Kepler's last sampling interval, per pod and zone, in joules: as
    # printed (51 mJ, then 49 mJ package), never differenced or summed across scrapes.
    first, second = (kr.interval_energy(case(name)) for name in SCRAPES_24)
    by_zone = {e.zone: e.joules for e in first}
    assert {(e.namespace, e.pod) for e in first} == {("test-1", "nginx-1")}
    assert by_zone["package"] == pytest.approx(0.051)
    assert by_zone["dram"] == pytest.approx(0.001)
    assert by_zone["core"] == 0.0
    assert {e.zone: e.joules for e in second}["package"] == pytest.approx(0.049)
    assert (
        kr.interval_energy(kr.parse((KEPLER / "v0.11-node-a.prom").read_bytes())) == ()
    )
