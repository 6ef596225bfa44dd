"""The Meter against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

import kepler_reader as kr
from kepler_reader.demo import ReplayExporter
from tests.kepler_bodies import FAIL, in_turn, pod_body
from tests.paths import KEPLER
from tests.servers import base_url, serve
from tests.test_expected_deltas import EXPECTED

# Long enough that the background thread never scrapes during a test that wants
# only the scrapes it triggers itself (start, window edges, stop).
NEVER = 600.0


@contextmanager
def exporter(bodies: Sequence[bytes]) -> Iterator[tuple[str, list[int]]]:
    responder, served = in_turn(bodies)
    with serve({"/metrics": responder}) as server:
        yield base_url(server) + "/metrics", served


def wait_for(served: list[int], count: int) -> None:
    """Wait (at most 20 s) until the server has answered ``count`` requests."""
    deadline = time.monotonic() + 20
    while len(served) < count:
        assert time.monotonic() < deadline, f"only {len(served)} requests served"
        time.sleep(0.01)


def meter_threads() -> list[threading.Thread]:
    return [
        t for t in threading.enumerate() if t.name.startswith("kepler-reader-meter")
    ]


def test_v011_pair_gives_the_flux_system_joules_of_expected_md() -> None:
    bodies = [
        (KEPLER / "v0.11-node-a.prom").read_bytes(),
        (KEPLER / "v0.11-node-a.t3.prom").read_bytes(),
    ]
    flux = {k: v for k, v in EXPECTED["v0.11"].items() if k[0] == "flux-system"}
    assert len(flux) == 4
    with (
        ReplayExporter(bodies) as replay,
        kr.Meter(replay.url, namespace="flux-system", interval=0.05) as meter,
    ):
        time.sleep(0.2)
    result = meter.result
    assert result is not None
    got = {(p.namespace, p.pod): p.joules for p in result.pods}
    assert got.keys() == flux.keys()
    for key, (joules, _) in flux.items():
        assert got[key] == pytest.approx(joules, abs=1e-6), key
    namespace = result.namespace("flux-system")
    assert namespace is not None
    assert namespace.joules == pytest.approx(sum(j for j, _ in flux.values()), abs=1e-6)
    assert result.joules == pytest.approx(namespace.joules)
    assert result.node.joules == pytest.approx(157.140318, abs=1e-5)
    assert result.trust.kepler_era == "G"
    assert result.trust.kepler_version == "v0.11.4"
    assert result.trust.zone == "package"
    assert result.trust.scrapes >= 2
    assert result.trust.scrapes_failed == 0
    assert result.trust.refused == ()
    assert result.kwh == pytest.approx(result.joules / 3.6e6)
    assert result.co2e_grams is None
    assert meter_threads() == []


def test_restart_inside_the_window_counts_from_zero() -> None:
    web = ("shop", "web-1")
    bodies = [
        pod_body({web: 100.0}, node_joules=1000.0),
        pod_body({web: 110.0}, node_joules=1040.0),
        pod_body({web: 5.0}, node_joules=20.0),  # the exporter restarted
        pod_body({web: 12.0}, node_joules=50.0),
    ]
    with exporter(bodies) as (url, served), kr.Meter(url, interval=0.02) as meter:
        wait_for(served, 5)
    result = meter.result
    assert result is not None
    row = result.pod(*web)
    assert row is not None
    assert row.joules == pytest.approx(10.0 + 5.0 + 7.0)
    assert row.resets == 1
    assert result.node.joules == pytest.approx(40.0 + 20.0 + 30.0)
    assert result.trust.resets == 2  # the pod's counter and the node's


def test_terminated_and_new_pods_inside_the_window() -> None:
    job, web, late = ("shop", "migrate-1"), ("shop", "web-1"), ("shop", "late-1")
    bodies = [
        pod_body({job: 10.0, web: 100.0}),
        pod_body({job: 16.0, web: 120.0}, states={job: "terminated"}),
        pod_body({web: 150.0}),  # the job's series is gone
        pod_body({web: 170.0, late: 4.0}),  # a pod started inside the window
    ]
    with exporter(bodies) as (url, served), kr.Meter(url, interval=0.02) as meter:
        wait_for(served, 5)
    result = meter.result
    assert result is not None
    joules = {(p.namespace, p.pod): p.joules for p in result.pods}
    assert joules == {
        job: pytest.approx(6.0),
        web: pytest.approx(70.0),
        late: pytest.approx(4.0),
    }
    assert result.trust.series_vanished == 1
    assert result.trust.series_appeared == 1
    namespace = result.namespace("shop")
    assert namespace is not None
    assert namespace.joules == pytest.approx(80.0)
    assert namespace.pods == 3


def test_a_failed_scrape_is_a_gap_bridged_from_the_last_sighting() -> None:
    web = ("shop", "web-1")
    bodies = [pod_body({web: 100.0}), FAIL, pod_body({web: 130.0})]
    with exporter(bodies) as (url, served), kr.Meter(url, interval=0.02) as meter:
        wait_for(served, 4)
    result = meter.result
    assert result is not None
    row = result.pod(*web)
    assert row is not None
    assert row.joules == pytest.approx(30.0)  # not 130 (a reset), not 0
    assert row.resets == 0
    assert result.trust.scrapes_failed == 1
    assert result.trust.resets == 0
    assert result.trust.largest_gap_seconds > 0
    assert any("1 of" in w and "failed" in w for w in result.warnings)


def test_start_and_stop_leave_no_thread_behind() -> None:
    bodies = [pod_body({("a", "p"): 1.0}), pod_body({("a", "p"): 3.5})]
    with exporter(bodies) as (url, _):
        meter = kr.Meter(url, interval=NEVER, power_ceiling_watts=1e15)
        assert meter.start() is meter
        assert [t.name for t in meter_threads()].count("kepler-reader-meter") == 1
        result = meter.stop()
    assert meter_threads() == []
    assert meter.result is result
    assert result.joules == pytest.approx(2.5)
    assert result.trust.scrapes == 2
    with pytest.raises(kr.MeterStateError):
        meter.stop()


def test_the_decorator_measures_each_call() -> None:
    bodies = [pod_body({("a", "p"): float(j)}) for j in (0, 2, 5, 9)]
    with exporter(bodies) as (url, _):
        meter = kr.Meter(url, interval=NEVER, power_ceiling_watts=1e15)

        @meter
        def work(x: int) -> int:
            return x * 2

        assert work(21) == 42
        assert meter.result is not None
        assert meter.result.joules == pytest.approx(2.0)
        assert work(1) == 2
        assert meter.result.joules == pytest.approx(4.0)  # 5 -> 9
    assert getattr(work, "meter", None) is meter
    assert meter_threads() == []


def test_overlapping_windows_each_get_their_own_energy() -> None:
    totals = [0.0, 10.0, 30.0, 60.0, 100.0, 150.0]
    bodies = [pod_body({("a", "p"): j}) for j in totals]
    # Scrapes that follow each other at once: no power ceiling for this test.
    limits = kr.PlausibilityLimits(max_pod_watts=float("inf"))
    with (
        exporter(bodies) as (url, served),
        kr.Meter(url, interval=NEVER, limits=limits) as meter,
    ):
        with meter.window("outer"):  # opens at 10
            with meter.window("inner"):  # opens at 30
                pass  # closes at 60
            assert "inner" in meter.windows
            assert "outer" not in meter.windows  # closes at 100
        with pytest.raises(kr.MeterStateError), meter.window("x"), meter.window("x"):
            pass
    assert meter.windows["inner"].joules == pytest.approx(30.0)
    assert meter.windows["outer"].joules == pytest.approx(90.0)
    assert meter.windows["inner"].name == "inner"
    assert meter.result is not None
    assert meter.result.joules == pytest.approx(150.0)
    assert served[:6] == [0, 1, 2, 3, 4, 5]


def test_windows_need_a_running_meter() -> None:
    meter = kr.Meter("http://127.0.0.1:9/metrics")
    with pytest.raises(kr.MeterStateError, match="not running"), meter.window("w"):
        pass


def test_an_unreachable_endpoint_fails_the_start() -> None:
    from tests.servers import free_port

    meter = kr.Meter(f"http://127.0.0.1:{free_port()}/metrics", timeout=2)
    with pytest.raises(kr.EndpointUnreachableError):
        meter.start()
    assert meter_threads() == []


def test_implausible_values_are_refused_and_listed() -> None:
    web, bad = ("shop", "web-1"), ("shop", "spike-1")
    bodies = [
        pod_body({web: 10.0, bad: 1.0}),
        pod_body({web: 20.0, bad: 9.223372037599701e14}),
        pod_body({web: 30.0, bad: 1.8446744073447457e19}),
    ]
    with exporter(bodies) as (url, served), kr.Meter(url, interval=0.02) as meter:
        wait_for(served, 4)
    result = meter.result
    assert result is not None
    assert result.pod(*web) is not None
    assert result.pod(*bad) is None  # no valid data: not 0 J, not 9e14 J
    assert result.trust.no_valid_data == ("shop/spike-1",)
    assert result.joules == pytest.approx(20.0)
    reasons = {(r.series, r.unit): r for r in result.trust.refused}
    power = reasons["pod shop/spike-1", "watts"]
    assert power.value > 5000
    assert power.reason.startswith("Implausible power:")
    counters = [r for r in result.trust.refused if r.unit == "joules"]
    assert len(counters) == 1
    assert 'pod_name="spike-1"' in counters[0].series
    assert counters[0].value == 1.8446744073447457e19
    assert "2^64" in counters[0].reason
    assert any(w.startswith("Refused pod shop/spike-1") for w in result.warnings)


def test_two_endpoints_are_two_nodes_aggregated() -> None:
    web_a, web_b = ("shop", "web-a"), ("shop", "web-b")
    first = [pod_body({web_a: 1.0}, node="a"), pod_body({web_a: 4.0}, node="a")]
    second = [pod_body({web_b: 2.0}, node="b"), pod_body({web_b: 9.0}, node="b")]
    with (
        exporter(first) as (url_a, _),
        exporter(second) as (url_b, _),
        kr.Meter(
            [url_a, url_b], interval=NEVER, intensity=500.0, power_ceiling_watts=1e15
        ) as meter,
    ):
        pass
    result = meter.result
    assert result is not None
    assert [n.node for n in result.nodes] == [
        url_a.split("/")[2],
        url_b.split("/")[2],
    ]
    assert {(p.pod, p.node): p.joules for p in result.pods} == {
        ("web-a", url_a.split("/")[2]): 3.0,
        ("web-b", url_b.split("/")[2]): 7.0,
    }
    shop = result.namespace("shop")
    assert shop is not None
    assert shop.joules == pytest.approx(10.0)
    assert shop.co2e_grams == pytest.approx(10.0 / 3.6e6 * 500.0)
    assert result.co2e_grams == pytest.approx(10.0 / 3.6e6 * 500.0)


def test_pod_regex_and_namespace_select_rows() -> None:
    rows = {("a", "api-1"): 1.0, ("a", "db-0"): 1.0, ("b", "api-2"): 1.0}
    bodies = [pod_body(rows), pod_body(dict.fromkeys(rows, 3.0))]
    with (
        exporter(bodies) as (url, _),
        kr.Meter(url, pod="^api-", interval=NEVER, power_ceiling_watts=1e15) as meter,
    ):
        pass
    assert meter.result is not None
    assert [(p.namespace, p.pod) for p in meter.result.pods] == [
        ("a", "api-1"),
        ("b", "api-2"),
    ]


def test_scraping_faster_than_the_exporter_refreshes_warns() -> None:
    # The counters change on every fourth request only.
    bodies = [pod_body({("a", "p"): float(i // 4)}) for i in range(40)]
    with exporter(bodies) as (url, served), kr.Meter(url, interval=0.02) as meter:
        wait_for(served, 14)
    result = meter.result
    assert result is not None
    refresh = result.trust.exporter_refresh_seconds
    assert refresh is not None
    assert refresh > 0.02
    assert any("shorter than the exporter's refresh" in w for w in result.warnings)
    assert result.trust.sampling_interval_seconds == 0.02


def test_nothing_measured_when_every_later_scrape_fails() -> None:
    bodies = [pod_body({("a", "p"): 1.0}), FAIL]
    with exporter(bodies) as (url, _):
        meter = kr.Meter(url, interval=NEVER)
        meter.start()
        with pytest.raises(kr.NothingMeasuredError, match="two usable scrapes"):
            meter.stop()
    assert meter_threads() == []


def test_the_default_interval_is_the_exporters_refresh() -> None:
    # Counters change on every second request; the meter probes every 0.5 s until
    # it has seen them change twice, then samples at the interval it estimated.
    bodies = [pod_body({("a", "p"): float(i // 2)}) for i in range(40)]
    with exporter(bodies) as (url, served), kr.Meter(url) as meter:
        wait_for(served, 7)
    result = meter.result
    assert result is not None
    refresh = result.trust.exporter_refresh_seconds
    assert refresh is not None
    assert refresh >= 2 * kr.meter.PROBE_SECONDS * 0.9
    assert result.trust.sampling_interval_seconds == refresh
    assert not any("shorter than" in w for w in result.warnings)


def test_scraper_options_reach_every_scrape(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    responder, _ = in_turn([pod_body({("a", "p"): 1.0}), pod_body({("a", "p"): 2.0})])
    with serve({"/metrics": responder}) as server:
        url = base_url(server) + "/metrics"
        with kr.Meter(
            url, interval=NEVER, bearer_token_file=str(token), retries=0
        ) as meter:
            pass
    assert meter.result is not None
    assert meter.result.joules == 1.0
    assert len(server.requests) == 2
    for _, headers in server.requests:
        assert "authorization: bearer s3cret-token" in headers.lower()


def test_a_window_in_which_no_counter_moved_says_so() -> None:
    body = (KEPLER / "v0.11-node-a.t3.prom").read_bytes()
    with (
        ReplayExporter([body]) as replay,
        kr.Meter(replay.url, interval=0.05) as meter,
    ):
        time.sleep(0.2)
    result = meter.result
    assert result is not None
    assert result.trust.scrapes >= 2
    assert all(p.joules == 0.0 for p in result.pods)
    stale = [w for w in result.warnings if w.startswith("No energy counter of")]
    assert len(stale) == 1
    assert replay.url in stale[0]
    assert "every 0 J here is unmeasured, not idle" in stale[0]


def test_a_window_in_which_counters_moved_has_no_such_warning() -> None:
    bodies = [
        (KEPLER / "v0.11-node-a.prom").read_bytes(),
        (KEPLER / "v0.11-node-a.t3.prom").read_bytes(),
    ]
    with (
        ReplayExporter(bodies) as replay,
        kr.Meter(replay.url, interval=0.05) as meter,
    ):
        time.sleep(0.2)
    assert meter.result is not None
    assert not [w for w in meter.result.warnings if w.startswith("No energy counter")]
