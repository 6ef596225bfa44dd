"""``kepler-reader measure`` against real servers on 127.0.0.1."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

from kepler_reader.cli import main
from kepler_reader.demo import ReplayExporter
from kepler_reader.measure_cli import split_command
from tests.kepler_bodies import pod_body
from tests.paths import KEPLER
from tests.servers import free_port
from tests.test_expected_deltas import EXPECTED
from tests.test_meter import exporter

PAIR = [
    (KEPLER / "v0.11-node-a.prom").read_bytes(),
    (KEPLER / "v0.11-node-a.t3.prom").read_bytes(),
]
# A command that takes a little while, so that the energy of a pod over the
# interval stays under the power ceiling however fast the scrapes follow.
SLEEP = [sys.executable, "-c", "import time; time.sleep(0.3)"]


def test_json_reports_the_flux_system_joules_of_expected_md(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with ReplayExporter(PAIR) as replay:
        code = main(
            [
                "measure",
                replay.url,
                "--namespace",
                "flux-system",
                "--interval",
                "0.05",
                "--format",
                "json",
                "--",
                *SLEEP,
            ]
        )
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    expected = {k: v for k, v in EXPECTED["v0.11"].items() if k[0] == "flux-system"}
    rows = {(p["namespace"], p["pod"]): p["joules"] for p in document["pods"]}
    assert rows.keys() == expected.keys()
    for key, (joules, _) in expected.items():
        assert rows[key] == pytest.approx(joules, abs=1e-6)
    (namespace,) = document["namespaces"]
    assert namespace["namespace"] == "flux-system"
    assert namespace["joules"] == pytest.approx(sum(j for j, _ in expected.values()))
    # diff's keys, then the added ones beside them.
    assert list(document)[:9] == [
        "interval_seconds",
        "zone",
        "kepler_era",
        "kepler_releases",
        "kepler_version",
        "pods",
        "namespaces",
        "node",
        "warnings",
    ]
    assert document["kepler_era"] == "G"
    assert document["node"]["joules"] == pytest.approx(157.140318, abs=1e-5)
    assert document["command"] == SLEEP
    assert document["exit_status"] == 0
    assert (document["run"], document["runs"]) == (1, 1)
    assert document["kwh"] == pytest.approx(document["joules"] / 3.6e6)
    assert document["co2e_grams"] is None
    trust = document["trust"]
    assert trust["scrapes_failed"] == 0
    assert trust["zone"] == "package"
    assert trust["refused"] == []
    assert set(trust) >= {
        "scrapes",
        "largest_gap_seconds",
        "resets",
        "series_appeared",
        "series_vanished",
        "kepler_era",
        "exporter_refresh_seconds",
        "sampling_interval_seconds",
        "no_valid_data",
    }
    pod = document["pods"][0]
    assert set(pod) == {
        "namespace",
        "pod",
        "pod_uid",
        "kind",
        "joules",
        "watts",
        "dynamic_joules",
        "idle_joules",
        "counters",
        "resets",
        "node",
        "kwh",
        "co2e_grams",
    }


def test_exit_status_of_the_command_passes_through(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with ReplayExporter(PAIR) as replay:
        code = main(
            [
                "measure",
                replay.url,
                "--interval",
                "0.05",
                "--",
                sys.executable,
                "-c",
                "import sys, time; time.sleep(0.3); sys.exit(3)",
            ]
        )
    assert code == 3
    out = capsys.readouterr().out
    assert "command exit status: 3" in out
    assert "flux-system" in out


def test_a_missing_command_is_127(capsys: pytest.CaptureFixture[str]) -> None:
    with ReplayExporter(PAIR) as replay:
        code = main(["measure", replay.url, "--", "/nonexistent/kepler-reader-cmd"])
    assert code == 127
    assert "command not found" in capsys.readouterr().err


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["measure", "http://127.0.0.1:9/metrics"]) == 2
    assert "no command given" in capsys.readouterr().err


def test_an_unreachable_endpoint_is_exit_3_and_the_command_does_not_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "ran"
    code = main(
        [
            "measure",
            f"http://127.0.0.1:{free_port()}/metrics",
            "--timeout",
            "2",
            "--",
            sys.executable,
            "-c",
            f"open({str(marker)!r}, 'w').close()",
        ]
    )
    assert code == 3
    assert not marker.exists()
    assert "unreachable" in capsys.readouterr().err


def test_repeat_prints_a_json_array_with_each_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    web = ("shop", "web-1")
    bodies = [pod_body({web: float(j)}) for j in (0, 5, 5, 12)]
    with exporter(bodies) as (url, _):
        code = main(
            [
                "measure",
                url,
                "--interval",
                "600",
                "--repeat",
                "2",
                "--pause",
                "0",
                "--intensity",
                "360",
                "--format",
                "json",
                "--",
                *SLEEP,
            ]
        )
    assert code == 0
    documents = json.loads(capsys.readouterr().out)
    assert [d["run"] for d in documents] == [1, 2]
    assert [d["runs"] for d in documents] == [2, 2]
    assert [d["joules"] for d in documents] == [5.0, 7.0]
    assert documents[1]["co2e_grams"] == pytest.approx(7.0 / 3.6e6 * 360)
    assert documents[1]["pods"][0]["co2e_grams"] == pytest.approx(7.0 / 3.6e6 * 360)
    assert documents[0]["intensity_gco2e_per_kwh"] == 360.0


def test_csv_has_diffs_columns_then_the_added_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bodies = [pod_body({("a", "p"): 1.0}), pod_body({("a", "p"): 2.5})]
    with exporter(bodies) as (url, _):
        assert (
            main(["measure", url, "--interval", "600", "--format", "csv", "--", *SLEEP])
            == 0
        )
    (row,) = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert (row["namespace"], row["pod"], row["joules"]) == ("a", "p", "1.5")
    assert (row["run"], row["exit_status"], row["co2e_grams"]) == ("1", "0", "")


def test_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEPLER_READER_NAMESPACE", "b,c")
    monkeypatch.setenv("KEPLER_READER_FORMAT", "json")
    monkeypatch.setenv("KEPLER_READER_INTERVAL", "600")
    rows = {("a", "p"): 1.0, ("b", "q"): 1.0, ("c", "r"): 1.0}
    bodies = [pod_body(rows), pod_body(dict.fromkeys(rows, 2.0))]
    with exporter(bodies) as (url, _):
        assert main(["measure", url, "--", *SLEEP]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [n["namespace"] for n in document["namespaces"]] == ["b", "c"]
    assert document["trust"]["sampling_interval_seconds"] == 600.0


def test_split_command_only_splits_measure() -> None:
    assert split_command(["measure", "U", "--", "ls", "--", "-l"]) == (
        ["measure", "U"],
        ["ls", "--", "-l"],
    )
    assert split_command(["-v", "measure", "U", "--", "ls"]) == (
        ["-v", "measure", "U"],
        ["ls"],
    )
    assert split_command(["diff", "a", "--", "b"]) == (["diff", "a", "--", "b"], [])


def test_a_command_ended_by_a_signal_is_128_plus_n(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bodies = [pod_body({("a", "p"): 1.0}), pod_body({("a", "p"): 2.0})]
    kill = (
        "import os, signal, time; time.sleep(0.3); os.kill(os.getpid(), signal.SIGTERM)"
    )
    with exporter(bodies) as (url, _):
        code = main(
            ["measure", url, "--interval", "600", "--", sys.executable, "-c", kill]
        )
    assert code == 128 + 15
    assert "command exit status: 143" in capsys.readouterr().out
