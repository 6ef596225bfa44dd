"""The kepler-reader command: shapes of its outputs, exit codes and error lines."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import kepler_reader as kr
from kepler_reader.cli import main
from tests.paths import CASES, KEPLER
from tests.servers import base_url, response, serve

V011 = KEPLER / "v0.11-node-a.prom"
V011_T3 = KEPLER / "v0.11-node-a.t3.prom"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_parse_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["parse", str(CASES / "15-timestamps.prom"), "--format", "json"], capsys
    )
    assert code == 0
    document = json.loads(out)
    assert set(document) == {"families", "errors", "warnings"}
    first = document["families"][0]
    assert first == {
        "name": "media_count01",
        "type": "untyped",
        "help": None,
        "samples": [
            {
                "name": "media_count01",
                "labels": {},
                "value": 1.0,
                "timestamp_ms": 1654964761,
            }
        ],
    }
    lag = document["families"][2]["samples"]
    assert [s["timestamp_ms"] for s in lag] == [-1, None]


def test_parse_json_spells_special_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dump = tmp_path / "special.prom"
    dump.write_bytes(b"a NaN\nb +Inf\nc -Inf\nd 1.234567e+06\n")
    _, out, _ = run(["parse", str(dump), "--format", "json"], capsys)
    values = [f["samples"][0]["value"] for f in json.loads(out)["families"]]
    assert values == ["NaN", "+Inf", "-Inf", 1234567.0]


def test_parse_error_exit_code_and_message(capsys: pytest.CaptureFixture[str]) -> None:
    path = CASES / "02-unescaped-quote-in-label-value.prom"
    code, out, err = run(["parse", str(path)], capsys)
    assert code == 1
    assert out == ""
    assert err.startswith(f"kepler-reader: error: {path}:3:39: expected ',' or '}}'")


def test_parse_lenient_lists_skipped_lines(capsys: pytest.CaptureFixture[str]) -> None:
    path = CASES / "02-unescaped-quote-in-label-value.prom"
    code, out, err = run(["parse", str(path), "--lenient", "--format", "json"], capsys)
    assert code == 0
    document = json.loads(out)
    assert [e["line"] for e in document["errors"]] == [3]
    assert f"{path}:3:39: skipped:" in err


def test_parse_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["parse", str(V011)], capsys)
    assert code == 0
    assert any(
        line.split() == ["kepler_pod_cpu_joules_total", "counter", "40"]
        for line in out.splitlines()
    )
    assert out.rstrip().endswith("46 families, 383 samples")


def test_diff_without_interval_is_a_clear_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(["diff", str(V011), str(V011_T3)], capsys)
    assert code == 1
    assert out == ""
    assert "carries no scrape time" in err
    assert "--interval" in err


def test_diff_csv(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["diff", str(V011), str(V011_T3), "--interval", "3", "--format", "csv"], capsys
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 10
    checkout = next(r for r in rows if r["pod"] == "checkout-api-6c8f9d7b5-m2w9x")
    assert float(checkout["joules"]) == pytest.approx(8.453447, abs=1e-6)
    assert float(checkout["watts"]) == pytest.approx(2.817816, abs=1e-6)
    assert checkout["dynamic_joules"] == ""


def test_diff_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        [
            "diff",
            str(KEPLER / "v0.7.12-node-a.prom"),
            str(KEPLER / "v0.7.12-node-a.t3.prom"),
            "--interval",
            "3",
        ],
        capsys,
    )
    assert code == 0
    assert out.startswith(
        "Kepler era E (v0.7.11-v0.7.12, v0.7.12), zone package, interval 3.000 s"
    )
    assert "kernel_processes (pseudo)" in out
    assert "node: 157.140000 J, 52.380000 W" in out


def test_diff_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(
        [
            "diff",
            str(V011),
            str(V011_T3),
            "--interval",
            "3",
            "--format",
            "json",
            "--zone",
            "dram",
        ],
        capsys,
    )
    document = json.loads(out)
    assert {
        "interval_seconds",
        "zone",
        "kepler_era",
        "pods",
        "namespaces",
        "node",
        "warnings",
    } <= set(document)
    assert document["zone"] == "dram"
    assert document["kepler_era"] == "G"
    assert document["kepler_releases"] == "v0.10+"
    assert document["kepler_version"] == "v0.11.4"
    assert {"namespace", "pod", "joules", "watts"} <= set(document["pods"][0])
    assert set(document["namespaces"][0]) == {"namespace", "joules", "watts", "pods"}
    assert set(document["node"]) == {"joules", "watts"}


def test_scrape_to_dumps_then_diff_reads_their_interval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bodies = iter([V011.read_bytes(), V011_T3.read_bytes()])

    def send(conn: object) -> None:
        response("200 OK", next(bodies))(conn)  # type: ignore[arg-type]

    with serve({"/metrics": send}) as running:
        url = base_url(running) + "/metrics"
        assert run(["scrape", url, "-o", str(tmp_path / "a.prom")], capsys)[0] == 0
        assert run(["scrape", url, "-o", str(tmp_path / "b.prom.gz")], capsys)[0] == 0
    first = (tmp_path / "a.prom").read_bytes()
    assert first.startswith(b"# kepler-reader scraped_at=")
    assert f" url={url}\n".encode() in first.split(b"\n", 1)[0] + b"\n"
    before = kr.read_dump(tmp_path / "a.prom")
    after = kr.read_dump(tmp_path / "b.prom.gz")
    assert before.scraped_at is not None
    assert after.scraped_at is not None
    code, out, _ = run(
        [
            "diff",
            str(tmp_path / "a.prom"),
            str(tmp_path / "b.prom.gz"),
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0
    document = json.loads(out)
    assert document["interval_seconds"] == pytest.approx(
        after.scraped_at - before.scraped_at, abs=1e-3
    )
    checkout = next(p for p in document["pods"] if p["pod"].startswith("checkout"))
    assert checkout["joules"] == pytest.approx(8.453447, abs=1e-6)


def test_scrape_to_stdout_writes_a_dump(
    capfdbinary: pytest.CaptureFixture[bytes],
) -> None:
    with serve({"/metrics": response("200 OK", b"up 1\n")}) as running:
        code = main(["scrape", base_url(running) + "/metrics"])
    out = capfdbinary.readouterr().out
    assert code == 0
    header, body = out.split(b"\n", 1)
    assert header.startswith(b"# kepler-reader scraped_at=")
    assert body == b"up 1\n"


def test_scrape_failure_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with serve(
        {"/metrics": response("500 Internal Server Error", b"boom\n")}
    ) as running:
        code, _, err = run(["scrape", base_url(running) + "/metrics"], capsys)
    assert code == 3
    assert err.strip().endswith("answered HTTP 500 after 2 retries: boom")
    assert len(running.requests) == 3


def test_missing_file_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["parse", str(tmp_path / "nope.prom")], capsys)
    assert code == 4
    assert "cannot read the file" in err


@pytest.mark.parametrize("release", ["v0.3", "v0.11"])
def test_demo_without_waiting(release: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["demo", "--no-wait", "--release", release, "--format", "json"], capsys
    )
    assert code == 0
    document = json.loads(out)
    assert document["interval_seconds"] == 3.0
    flux = {
        p["pod"].split("-")[0]: p["watts"]
        for p in document["pods"]
        if p["namespace"] == "flux-system"
    }
    assert set(flux) == {"helm", "kustomize", "notification", "source"}
    expected = {"v0.3": 3.142667, "v0.11": 0.990638}[release]
    assert flux["kustomize"] == pytest.approx(expected, abs=1e-6)


def test_demo_waits_and_measures_the_interval() -> None:
    # The README's first command, run as a user would: a real process, real HTTP.
    done = subprocess.run(
        [sys.executable, "-m", "kepler_reader", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "kustomize-controller-7d4c5b6f8-2mzrt" in done.stdout
    interval = float(done.stdout.split("interval ")[1].split(" s")[0])
    assert 3.0 <= interval < 4.0


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for command in ("parse", "scrape", "diff", "demo"):
        assert command in out


def test_bad_interval_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["diff", str(V011), str(V011_T3), "--interval", "-3"])
    assert caught.value.code == 2
    assert "must be a positive, finite number of seconds" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--zone", "nonsense"], "Zone 'nonsense' is not published by this exporter"),
        ([], "publish different metrics"),
    ],
    ids=["unknown-zone", "different-eras"],
)
def test_diff_that_cannot_be_answered_fails(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    old = str(KEPLER / "v0.3-node-a.prom") if not args else str(V011)
    code, out, err = run(["diff", old, str(V011_T3), "--interval", "3", *args], capsys)
    assert code == 1
    assert out == ""
    assert message in err


def test_zone_names_ignore_case(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        [
            "diff",
            str(V011),
            str(V011_T3),
            "--interval",
            "3",
            "--zone",
            "DRAM",
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0
    assert json.loads(out)["zone"] == "dram"


def test_no_kepler_metrics_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "up.prom"
    empty.write_bytes(b"up 1\n")
    code, _, err = run(["diff", str(empty), str(empty), "--interval", "3"], capsys)
    assert code == 1
    assert "No Kepler energy metrics were recognised" in err
    assert "families seen: up" in err


def test_swapped_files_get_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["diff", str(V011_T3), str(V011), "--interval", "3"], capsys)
    assert code == 0
    assert "are BEFORE and AFTER swapped?" in out


@pytest.mark.parametrize("interval", ["inf", "nan", "0"])
def test_interval_must_be_finite_and_positive(
    interval: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["diff", str(V011), str(V011_T3), "--interval", interval])
    assert caught.value.code == 2
    assert "positive, finite number of seconds" in capsys.readouterr().err


def test_parse_reads_standard_input_and_process_substitution(tmp_path: Path) -> None:
    """``parse -`` and ``parse /dev/fd/N`` read the stream once; a FIFO is refused."""
    import os

    dump = KEPLER / "v0.11-node-a.prom"
    body = dump.read_bytes()
    command = [sys.executable, "-m", "kepler_reader", "parse", "--format", "json"]
    whole = subprocess.run(
        [*command, str(dump)], capture_output=True, check=True, timeout=60
    )
    piped = subprocess.run(
        [*command, "-"], input=body, capture_output=True, check=True, timeout=60
    )
    assert piped.stdout == whole.stdout
    # Process substitution hands over an open pipe as /dev/fd/N.
    with subprocess.Popen(["cat", str(dump)], stdout=subprocess.PIPE) as cat:
        assert cat.stdout is not None
        handle = cat.stdout.fileno()
        through_fd = subprocess.run(
            [*command, f"/dev/fd/{handle}"],
            capture_output=True,
            check=True,
            timeout=60,
            pass_fds=(handle,),
        )
    assert through_fd.stdout == whole.stdout
    fifo = tmp_path / "dump.fifo"
    os.mkfifo(fifo)
    refused = subprocess.run(
        [*command, str(fifo)], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 4
    assert "a pipe or FIFO" in refused.stderr
