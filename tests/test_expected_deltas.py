"""Per-pod package joules and watts for every bundled Kepler release (EXPECTED.md)."""

from __future__ import annotations

import json
import re

import pytest

import kepler_reader as kr
from kepler_reader.cli import main
from tests.paths import KEPLER, RELEASES

_SECTION = re.compile(r"^## (v[0-9.]+) ", re.M)


def expected_rows() -> dict[str, dict[tuple[str, str], tuple[float, float]]]:
    """Read the per-pod tables of EXPECTED.md: the last two numbers are ΔJ and W."""
    text = (KEPLER / "EXPECTED.md").read_text()
    starts = [(m.group(1), m.end()) for m in _SECTION.finditer(text)]
    tables: dict[str, dict[tuple[str, str], tuple[float, float]]] = {}
    for i, (release, start) in enumerate(starts):
        end = starts[i + 1][1] if i + 1 < len(starts) else len(text)
        rows = {}
        for line in text[start:end].splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if (
                len(cells) < 4
                or cells[0] in ("namespace", "**sum**")
                or "---" in cells[0]
            ):
                continue
            rows[(cells[0], cells[1])] = (float(cells[-2]), float(cells[-1]))
        tables[release] = rows
    return tables


EXPECTED = expected_rows()


def test_expected_md_has_every_release() -> None:
    assert sorted(EXPECTED) == sorted(RELEASES)
    assert all(len(rows) >= 10 for rows in EXPECTED.values())


def pair(release: str) -> tuple[kr.Snapshot, kr.Snapshot]:
    before = kr.parse((KEPLER / f"{release}-node-a.prom").read_bytes())
    after = kr.parse((KEPLER / f"{release}-node-a.t3.prom").read_bytes())
    return before, after


@pytest.mark.parametrize("release", RELEASES)
def test_diff_reproduces_expected_rows(release: str) -> None:
    result = kr.diff(*pair(release), interval=3.0)
    got = {(p.namespace, p.pod): p for p in result.pods}
    assert set(got) == set(EXPECTED[release])
    for key, (joules, watts) in EXPECTED[release].items():
        assert got[key].joules == pytest.approx(joules, abs=1e-6), key
        assert got[key].watts == pytest.approx(watts, abs=1e-6), key
    assert result.warnings == ()


@pytest.mark.parametrize("release", RELEASES)
def test_cli_diff_json_reproduces_expected_rows(
    release: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "diff",
            str(KEPLER / f"{release}-node-a.prom"),
            str(KEPLER / f"{release}-node-a.t3.prom"),
            "--interval",
            "3",
            "--format",
            "json",
        ]
    )
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["interval_seconds"] == 3.0
    assert document["zone"] == "package"
    rows = {
        (p["namespace"], p["pod"]): (p["joules"], p["watts"]) for p in document["pods"]
    }
    assert rows.keys() == EXPECTED[release].keys()
    for key, (joules, watts) in EXPECTED[release].items():
        assert rows[key][0] == pytest.approx(joules, abs=1e-6)
        assert rows[key][1] == pytest.approx(watts, abs=1e-6)


def test_spot_values_written_out() -> None:
    # Two rows from EXPECTED.md, written here so that a broken table reader cannot
    # make the parametrised tests pass vacuously.
    v03 = kr.diff(*pair("v0.3"), interval=3.0)
    row = v03.pod("shop", "checkout-api-6c8f9d7b5-m2w9x")
    assert row is not None
    assert row.joules == pytest.approx(27.028, abs=1e-6)
    v011 = kr.diff(*pair("v0.11"), interval=3.0)
    row = v011.pod("flux-system", "kustomize-controller-7d4c5b6f8-2mzrt")
    assert row is not None
    assert row.watts == pytest.approx(0.990638, abs=1e-6)


@pytest.mark.parametrize(
    ("release", "node_joules"),
    [
        ("v0.3", 157.14),
        ("v0.4", 157.14),
        ("v0.5.5", 157.14),
        ("v0.7.2", 157.14),
        ("v0.7.12", 157.14),
        ("v0.9.0", 157.14),
        ("v0.11", 157.140318),
    ],
)
def test_node_package_energy(release: str, node_joules: float) -> None:
    result = kr.diff(*pair(release), interval=3.0)
    assert result.node.joules == pytest.approx(node_joules, abs=1e-5)
    assert result.node.watts == pytest.approx(node_joules / 3, abs=1e-5)


def test_mode_split_is_kept_per_pod() -> None:
    result = kr.diff(*pair("v0.5.5"), interval=3.0)
    helm = result.pod("flux-system", "helm-controller-5f7b9c8d6-qv4wn")
    assert helm is not None
    assert helm.dynamic_joules == pytest.approx(1.996, abs=1e-6)
    assert helm.idle_joules == pytest.approx(2.718, abs=1e-6)


def test_terminated_pod_is_the_same_pod() -> None:
    # db-migrate is running at t0 and terminated at t3 with frozen totals.
    result = kr.diff(*pair("v0.11"), interval=3.0)
    migrate = result.pod("shop", "db-migrate-29138460-vb7qk")
    assert migrate is not None
    assert migrate.joules == 0.0
    assert migrate.counters == 1
    assert not any("appear only" in w for w in result.warnings)


def test_changing_command_label_does_not_split_a_pod() -> None:
    result = kr.diff(*pair("v0.3"), interval=3.0)
    system = result.pod("system", "system_processes")
    assert system is not None
    assert system.kind == "pseudo"
    assert system.joules == pytest.approx(81.712, abs=1e-6)
    assert system.counters == 1


def test_namespaces_sum_their_pods() -> None:
    result = kr.diff(*pair("v0.11"), interval=3.0)
    flux = next(ns for ns in result.namespaces if ns.namespace == "flux-system")
    assert flux.pods == 4
    assert flux.joules == pytest.approx(
        1.452936 + 2.971915 + 0.594383 + 2.179404, abs=1e-6
    )


@pytest.mark.parametrize("zone", ["core", "dram", "uncore"])
def test_other_zones_are_reported_alone(zone: str) -> None:
    before, after = pair("v0.11")
    package = kr.diff(before, after, interval=3.0)
    other = kr.diff(before, after, interval=3.0, zone=zone)
    assert other.zone == zone
    assert 0 < sum(p.joules for p in other.pods) < sum(p.joules for p in package.pods)


def test_a_registry_cleared_between_two_views_still_gives_right_deltas() -> None:
    registry = kr.Registry(max_entries=100)
    before, after = pair("v0.11")
    first = kr.kepler_view(before, registry=registry)
    second = kr.kepler_view(after, registry=registry)  # clears: > 100 ids
    assert first.generation != second.generation
    result = kr.diff(first, second, interval=3.0)
    for key, (joules, _) in EXPECTED["v0.11"].items():
        row = result.pod(*key)
        assert row is not None
        assert row.joules == pytest.approx(joules, abs=1e-6)
    assert not any("went down" in w for w in result.warnings)
