"""``align`` and ``pod_sums`` against a plain-Python reference on churning pods."""

from __future__ import annotations

import random

import numpy as np
import pytest

import kepler_reader as kr
from kepler_reader.delta import align, pod_sums

ZONES = ("package", "core", "dram", "uncore")


def _body(pods: dict[str, float], order: list[str]) -> bytes:
    lines = ["# TYPE kepler_pod_cpu_joules_total counter"]
    for name in order:
        for zone_index, zone in enumerate(ZONES):
            lines.append(
                "kepler_pod_cpu_joules_total{"
                f'pod_id="uid-{name}",pod_name="{name}",pod_namespace="ns-{name[-1]}",'
                f'state="running",zone="{zone}"}} {pods[name] * (zone_index + 1)!r}'
            )
    return ("\n".join(lines) + "\n").encode()


def _expected(
    before: dict[str, float], after: dict[str, float]
) -> tuple[dict[str, float], int, int, int]:
    """Per-pod package joules, and the counts of appeared, vanished and reset."""
    joules: dict[str, float] = {}
    resets = 0
    for name, value in after.items():
        if name not in before:
            joules[name] = 0.0
        elif value < before[name]:
            joules[name] = value
            resets += 1
        else:
            joules[name] = value - before[name]
    appeared = sum(name not in before for name in after)
    vanished = sum(name not in after for name in before)
    return joules, appeared, vanished, resets


@pytest.mark.parametrize("seed", range(25))
def test_align_matches_reference_under_churn(seed: int) -> None:
    rng = random.Random(seed)
    registry = kr.Registry()
    names = [f"pod-{i}" for i in range(rng.randint(0, 60))]
    before = {name: rng.uniform(0, 1e6) for name in names}
    after: dict[str, float] = {}
    for name in names:
        fate = rng.random()
        if fate < 0.15:
            continue  # vanished
        if fate < 0.25:
            after[name] = rng.uniform(0, before[name])  # reset
        else:
            after[name] = before[name] + rng.uniform(0, 500)
    for i in range(rng.randint(0, 10)):
        after[f"new-{seed}-{i}"] = rng.uniform(0, 100)
    order_before = list(before)
    order_after = list(after)
    rng.shuffle(order_after)
    first = kr.kepler_view(kr.parse(_body(before, order_before)), registry=registry)
    second = kr.kepler_view(kr.parse(_body(after, order_after)), registry=registry)

    deltas, warnings = align(first, second, "package")
    joules, appeared, vanished, resets = _expected(before, after)
    assert int(np.count_nonzero(~deltas.valid)) == appeared
    assert len(deltas.vanished_key) == vanished
    assert sorted(deltas.vanished_before.tolist()) == sorted(
        before[name] for name in before if name not in after
    )
    assert int(np.count_nonzero(deltas.reset)) == resets
    assert any("went down" in w for w in warnings) == (resets > 0)

    ids, sums, _ = pod_sums(deltas)
    got = {
        registry.group_info[int(i)][1]: float(s) for i, s in zip(ids, sums, strict=True)
    }
    assert got.keys() == joules.keys()
    for name, value in joules.items():
        assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-9)


def test_align_same_order_takes_plain_subtraction() -> None:
    registry = kr.Registry()
    pods = {f"p{i}": float(i * 10) for i in range(300)}
    later = {name: value + 2.5 for name, value in pods.items()}
    later["p7"] = 1.0  # one restarted counter
    first = kr.kepler_view(kr.parse(_body(pods, list(pods))), registry=registry)
    second = kr.kepler_view(kr.parse(_body(later, list(later))), registry=registry)
    deltas, _ = align(first, second, "dram")
    # dram is the third zone: values are three times the pod's number.
    assert deltas.joules[7] == 3.0
    assert np.count_nonzero(deltas.reset) == 1
    assert np.allclose(np.delete(deltas.joules, 7), 7.5)
    assert deltas.valid.all()
    assert len(deltas.vanished_key) == 0
