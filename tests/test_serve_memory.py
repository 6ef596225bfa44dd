"""serve's state under pod churn: bounded memory, and windows that match known power.

Generated Kepler 0.10+ bodies drive :class:`EndpointState` directly, with scrape times
set by the test (no sleeping): every pod draws a constant power, so the energy it
shows at any scrape is known exactly.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import kepler_reader as kr
from kepler_reader.reexport import DerivedCollector, EndpointState, ServeOptions

INTERVAL = 10.0
T0 = 1_796_000_000.0


def body(pods: range, t: float, watts: np.ndarray, born: np.ndarray) -> bytes:
    """One scrape: pod ``i`` has drawn ``watts[i]`` since ``born[i]``."""
    lines = [
        "# TYPE kepler_build_info gauge",
        'kepler_build_info{version="v0.11.4"} 1',
        "# TYPE kepler_node_cpu_joules_total counter",
        'kepler_node_cpu_joules_total{node_name="n",path="rapl:0",zone="package"} '
        f"{100.0 * (t - T0) + 1.0!r}",
        "# TYPE kepler_pod_cpu_joules_total counter",
    ]
    for i in pods:
        joules = float(watts[i] * (t - born[i]))
        lines.append(
            f'kepler_pod_cpu_joules_total{{node_name="n",pod_id="uid-{i}",'
            f'pod_name="pod-{i}",pod_namespace="ns-{i % 37}",state="running",'
            f'zone="package"}} {joules!r}'
        )
    return ("\n".join(lines) + "\n").encode()


def churn(live: int, per_interval: int, intervals: int) -> list[tuple[range, float]]:
    """The pods alive at each scrape: ``per_interval`` end and as many start."""
    return [
        (range(k * per_interval, k * per_interval + live), T0 + k * INTERVAL)
        for k in range(intervals)
    ]


def test_windows_are_the_known_mean_power() -> None:
    options = ServeOptions(
        interval_seconds=INTERVAL, windows_seconds=(30.0, 60.0), pod_ttl_seconds=60.0
    )
    state = EndpointState("n", options)
    parser = kr.Parser()
    scrapes = churn(live=20, per_interval=2, intervals=12)
    watts = np.linspace(0.5, 7.5, 50)
    born = np.full(50, T0 - 5.0)
    for pods, t in scrapes:
        state.observe(parser.parse(body(pods, t, watts, born), scraped_at=t))

    for window in options.windows_seconds:
        found = state.window(window)
        assert found is not None
        covered, slots, joules, node_joules = found
        assert covered == window
        assert node_joules == pytest.approx(100.0 * window, rel=1e-12)
        shown = {
            state.pods.keys[s]: j / covered
            for s, j in zip(slots.tolist(), joules.tolist(), strict=True)
        }
        # A pod's energy in the window is its power times the intervals it was seen
        # at both ends of, averaged over the whole window.
        steps = int(window / INTERVAL)
        expected: dict[tuple[str, str, str], float] = {}
        for (before, _), (after, _) in zip(
            scrapes[-steps - 1 : -1], scrapes[-steps:], strict=True
        ):
            for i in set(before) & set(after):
                key = (f"ns-{i % 37}", f"pod-{i}", f"uid-{i}")
                expected[key] = expected.get(key, 0.0) + watts[i] * INTERVAL / window
        assert shown == pytest.approx(expected, rel=1e-9)
        assert len(expected) > 20  # pods that ended inside the window are counted


def test_held_pods_and_memory_stay_bounded_under_churn() -> None:
    live, per_interval, intervals = 2000, 200, 150
    ttl = 120.0
    options = ServeOptions(
        interval_seconds=INTERVAL, windows_seconds=(60.0, ttl), pod_ttl_seconds=ttl
    )
    state = EndpointState("n", options)
    collector = DerivedCollector([state], options)
    total = live + per_interval * intervals
    watts = np.full(total, 2.0)
    born = np.array(
        [T0 + max(i - live, 0) // per_interval * INTERVAL for i in range(total)]
    )
    # At most the live pods, plus those ended within the TTL (and one interval's slack).
    bound = live + per_interval * (int(ttl / INTERVAL) + 2)

    tracemalloc.start()
    try:
        samples = []
        for k, (pods, t) in enumerate(churn(live, per_interval, intervals)):
            data = body(pods, t, watts, born)
            state.observe(state.parser.parse(data, scraped_at=t))
            del data
            assert len(state.pods) <= bound
            if k % 10 == 9:
                families = list(collector.collect())
                del families
            if k >= 30:
                samples.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()

    half = len(samples) // 2
    early, late = max(samples[:half]), max(samples[half:])
    assert late <= early * 1.10 + 1_000_000, (early, late)
    assert late < 64 * 1024 * 1024
    assert len(state.pods) <= bound
    assert len(state.namespaces) == 37
    assert state.pods.capacity <= bound
    # The registry was cleared on the way (its ids follow the live pods), and the
    # served families still name only held pods.
    assert state.registry.generation > 0
    names = {
        s.labels["pod"]
        for f in collector.collect()
        if f.name == "kepler_reader_pod_power_watts"
        for s in f.samples
    }
    assert len(names) == live - per_interval
    print(
        f"held pods {len(state.pods)} (bound {bound}); traced peak early "
        f"{early / 2**20:.1f} MiB, late {late / 2**20:.1f} MiB"
    )


def test_a_window_over_a_long_gap_is_absent_not_zero() -> None:
    options = ServeOptions(
        interval_seconds=INTERVAL, windows_seconds=(60.0,), pod_ttl_seconds=600.0
    )
    state = EndpointState("n", options)
    parser = kr.Parser()
    watts, born = np.full(5, 3.0), np.full(5, T0 - 5.0)
    for t in (T0, T0 + INTERVAL):
        state.observe(parser.parse(body(range(5), t, watts, born), scraped_at=t))
    assert state.window(60.0) is not None
    # Scrapes fail for three minutes; the next good one spans the gap.
    state.failed(kr.EndpointUnreachableError("refused", url="http://127.0.0.1:1/"))
    t = T0 + 200.0
    state.observe(parser.parse(body(range(5), t, watts, born), scraped_at=t))
    assert state.window(60.0) is None
    last = state.last
    assert last is not None
    assert (last.start, last.end) == (T0 + INTERVAL, t)
    assert last.joules.tolist() == pytest.approx([3.0 * 190.0] * 5, rel=1e-12)
    assert (state.scrapes, state.failures, state.up) == (4, 1, True)
