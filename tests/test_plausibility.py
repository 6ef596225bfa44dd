"""The plausibility checks: what they refuse, and how they list it."""

from __future__ import annotations

import pytest

import kepler_reader as kr
from tests.kepler_bodies import pod_body


def feed(bodies: list[bytes], limits: kr.Limits, seconds: float) -> kr.CounterWindow:
    registry = kr.Registry(max_entries=1 << 62)
    counters = kr.CounterWindow("node-a", "package", registry, limits)
    for i, body in enumerate(bodies):
        counters.add(kr.kepler_view(kr.parse(body), registry=registry), i * seconds)
    return counters


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_pod_watts", 0.0),
        ("max_counter_joules", -1.0),
        ("max_node_watts", float("nan")),
        ("max_pods_to_node", "2"),
    ],
)
def test_limits_must_be_positive_numbers(field: str, value: object) -> None:
    with pytest.raises(kr.DataError) as caught:
        kr.Limits(**{field: value})  # type: ignore[arg-type]
    assert str(caught.value) == (
        f"The plausibility limit {field} must be a positive number, not {value!r}."
    )


def test_default_limits() -> None:
    limits = kr.Limits()
    assert limits.max_counter_joules == 2.0**53
    assert limits.max_pod_watts == 5000.0
    assert limits.max_node_watts is None
    assert limits.max_pods_to_node == 2.0


def test_nan_and_negative_counters_are_listed_every_scrape() -> None:
    good = pod_body({("a", "ok"): 1.0, ("a", "nan"): 1.0})
    bad = pod_body({("a", "ok"): 3.0, ("a", "nan"): float("nan")})
    counters = feed([good, bad, bad], kr.Limits(), 10.0)
    (refusal,) = counters.refusals.values()
    assert 'pod_name="nan"' in refusal.series
    assert refusal.reason == "Not a number (NaN) cannot be an energy counter."
    assert refusal.count == 2
    totals = counters.totals()
    info = counters.registry.group_info
    assert [info[g][1] for g in totals.groups.tolist()] == ["ok"]
    assert totals.joules.tolist() == [2.0]
    # Its only interval was refused: no valid data, rather than 0 J.
    assert [info[g][1] for g in totals.no_valid_data.tolist()] == ["nan"]


def test_pods_far_above_the_node_are_refused_for_that_interval() -> None:
    pods = {("a", "p"): 0.0, ("a", "q"): 0.0}
    bodies = [
        pod_body(pods, node_joules=0.0),
        pod_body({("a", "p"): 10.0, ("a", "q"): 10.0}, node_joules=30.0),
        pod_body(
            {("a", "p"): 60.0, ("a", "q"): 60.0}, node_joules=40.0
        ),  # 100 J > 2x10
    ]
    counters = feed(bodies, kr.Limits(), 10.0)
    totals = counters.totals()
    assert totals.joules.tolist() == [10.0, 10.0]
    assert totals.node_joules == 40.0
    (refusal,) = counters.refusals.values()
    assert (refusal.series, refusal.value, refusal.unit) == (
        "pods of node node-a",
        100.0,
        "joules",
    )
    assert refusal.reason == (
        "The pods together spent 100 J while the node's own counter says 10 J, more "
        "than max_pods_to_node=2 times as much; the pods' energy of the interval "
        "was refused."
    )


def test_a_wrapping_node_counter_does_not_refuse_the_pods() -> None:
    bodies = [
        pod_body({("a", "p"): 0.0}, node_joules=262000.0),
        pod_body({("a", "p"): 10.0}, node_joules=5.0),  # the RAPL counter wrapped
    ]
    counters = feed(bodies, kr.Limits(), 10.0)
    assert counters.totals().joules.tolist() == [10.0]
    assert counters.refusals == {}
    assert counters.resets == 1


def test_power_is_over_the_time_since_the_counter_last_moved() -> None:
    # An exporter refreshing every 3 s, scraped every second: 3 s of a 2 kW pod
    # arrive in one 1 s gap. Over the time since the last change it is 2 kW.
    values = [0.0, 0.0, 0.0, 6000.0, 6000.0, 6000.0, 12000.0]
    bodies = [pod_body({("a", "gpu"): v}) for v in values]
    counters = feed(bodies, kr.Limits(max_pod_watts=2500.0), 1.0)
    assert counters.refusals == {}
    assert counters.totals().joules.tolist() == [12000.0]


def test_check_delta_leaves_diff_alone_and_lists_refusals() -> None:
    before = kr.parse(pod_body({("a", "p"): 1.0, ("a", "hot"): 1.0}))
    after = kr.parse(pod_body({("a", "p"): 2.0, ("a", "hot"): 90001.0}))
    delta = kr.diff(before, after, interval=10.0)
    checked, refused = kr.check_delta(delta)
    assert [p.pod for p in delta.pods] == ["hot", "p"]
    assert [p.pod for p in checked.pods] == ["p"]
    assert checked.namespaces[0].joules == 1.0
    (refusal,) = refused
    assert (refusal.series, refusal.value, refusal.unit) == (
        "pod a/hot",
        9000.0,
        "watts",
    )
    assert checked.warnings[-1] == (
        "Refused pod a/hot = 9000.0 watts: Implausible power: 9000 W over the "
        "interval, above max_pod_watts=5000 W."
    )
    assert delta.warnings == ()
