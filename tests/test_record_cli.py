"""``kepler-reader record`` and ``top``, run for real against exporters on 127.0.0.1."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import kepler_reader as kr
from kepler_reader.cli import main
from kepler_reader.demo import ReplayExporter
from kepler_reader.recorder import Gap, RecordingWarning
from kepler_reader.schedule import Ticker
from tests.paths import KEPLER
from tests.servers import base_url, free_port, response, serve


@pytest.fixture(autouse=True)
def _no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dead endpoint fails at its first attempt, in-process and in subprocesses.

    These tests are about what record and top do with a failed scrape, so the
    scraper's retries (tested with the scraper) would only add time and the count of
    retries to every message.
    """
    monkeypatch.setenv("KEPLER_READER_RETRIES", "0")


V011 = (KEPLER / "v0.11-node-a.prom").read_bytes()
V011_T3 = (KEPLER / "v0.11-node-a.t3.prom").read_bytes()
MARK = re.compile(rb"^kepler_reader_test_body (\d+)$", re.MULTILINE)
# Per-pod package joules of the v0.11 pair (fixtures/kepler/EXPECTED.md).
EXPECTED_JOULES = {
    ("flux-system", "helm-controller-5f7b9c8d6-qv4wn"): 1.452936,
    ("flux-system", "kustomize-controller-7d4c5b6f8-2mzrt"): 2.971915,
    ("flux-system", "notification-controller-84d6b7c9f-hj2ls"): 0.594383,
    ("flux-system", "source-controller-6b9d8f7c5d-x8kqp"): 2.179404,
    ("kepler", "kepler-9xq2c"): 1.849191,
    ("kube-system", "coredns-5dd5756b68-7xk9p"): 0.858553,
    ("kube-system", "kube-proxy-4tqzm"): 0.462297,
    ("shop", "checkout-api-6c8f9d7b5-m2w9x"): 8.453447,
    ("shop", "db-migrate-29138460-vb7qk"): 0.0,
    ("shop", "postgres-0"): 4.689021,
}


def numbered(i: int) -> bytes:
    """A real Kepler body, told apart from the others by one extra sample."""
    return V011 + f"kepler_reader_test_body {i}\n".encode()


@contextmanager
def counting_exporter(count: int) -> Iterator[tuple[str, list[int]]]:
    """Serve ``numbered(0)``, ``numbered(1)`` ... in turn; list each one fully sent."""
    bodies = [numbered(i) for i in range(count)]
    sent: list[int] = []
    lock = threading.Lock()
    taken = iter(range(count))

    def send(conn: socket.socket) -> None:
        with lock:
            index = next(taken, count - 1)
        response("200 OK", bodies[index])(conn)
        with lock:
            sent.append(index)

    with serve({"/metrics": send}) as server:
        yield base_url(server) + "/metrics", sent


def record_process(url: str, path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kepler_reader",
            "-v",
            "record",
            url,
            "-o",
            str(path),
            *extra,
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )


def stop(process: subprocess.Popen[str], signal_number: int) -> str:
    """Send ``signal_number`` and wait for the exit; return stderr.

    The wait is long (an ``fsync`` on a busy disk can take seconds); if it runs out,
    SIGABRT makes the child print every thread's stack, which the failure shows.
    """
    process.send_signal(signal_number)
    try:
        return process.communicate(timeout=60)[1]
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        err = process.communicate(timeout=30)[1]
        raise AssertionError(f"no exit 60 s after the signal:\n{err}") from None


def wait_for_records(path: Path, count: int, process: subprocess.Popen[str]) -> int:
    """Poll the file (bounded to 30 s) until it holds ``count`` records."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        if path.exists():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RecordingWarning)
                found = sum(1 for _ in kr.iter_records(path))
            if found >= count:
                return found
        time.sleep(0.05)
    raise AssertionError(f"{path} did not reach {count} records in 30 s")


def marks(path: Path) -> list[int]:
    """The body numbers recorded, in file order; a torn last record is allowed."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = [int(MARK.findall(r.body)[0]) for r in kr.iter_records(path)]
    for warning in caught:
        assert issubclass(warning.category, RecordingWarning)
        assert "is incomplete" in str(warning.message)
    return found


def test_sigkill_loses_at_most_the_scrape_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "r.krec"
    with counting_exporter(1000) as (url, sent):
        process = record_process(url, path, "--interval", "0.05")
        try:
            wait_for_records(path, 6, process)
        finally:
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=10)
        time.sleep(0.2)  # let the server thread note the last body it sent
        served = sorted(sent)
    assert process.returncode == -signal.SIGKILL
    recorded = marks(path)
    assert recorded == list(range(len(recorded)))  # each completed scrape, in order
    assert served == list(range(len(served)))
    assert len(served) - 1 <= len(recorded) <= len(served)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecordingWarning)
        recording = kr.read_recording(path, families=["kepler_reader_test_body"])
    assert recording.values[:, 0].tolist() == [float(i) for i in recorded]
    assert bool((recording.times[1:] > recording.times[:-1]).all())


def test_sigterm_stops_cleanly_and_a_restart_resumes(tmp_path: Path) -> None:
    path = tmp_path / "r.krec"
    with counting_exporter(1000) as (url, _):
        for run in range(2):
            process = record_process(url, path, "--interval", "0.05")
            try:
                wait_for_records(path, 3 * (run + 1), process)
                err = stop(process, signal.SIGTERM)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.communicate()
            assert process.returncode == 0, err
            assert "stopped by SIGTERM" in err
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean stop leaves no torn record
        recorded = marks(path)
    assert recorded == list(range(len(recorded)))


def test_sigint_stops_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "r.krec"
    with ReplayExporter([V011]) as exporter:
        process = record_process(exporter.url, path, "--interval", "0.05")
        try:
            wait_for_records(path, 2, process)
            err = stop(process, signal.SIGINT)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, err
    assert "stopped by SIGINT" in err


def test_vanished_folder_stops_with_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    path = folder / "r.krec"
    with ReplayExporter([V011]) as exporter:
        process = record_process(exporter.url, path, "--interval", "0.05")
        try:
            wait_for_records(path, 3, process)
            folder.rename(tmp_path / "moved")
            _, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 4
    found = re.search(r"after its (\d+) records", err)
    assert found is not None, err
    assert f"kepler-reader: error: {path}: the recording is gone from its path" in err
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        records = list(kr.iter_records(tmp_path / "moved" / "r.krec"))
    assert len(records) == int(found.group(1)) >= 3
    assert all(r.body == V011 for r in records)


FULL = (
    "import resource, runpy, signal, sys;"
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (60000, 60000));"
    "sys.argv[0] = 'kepler-reader';"
    "runpy.run_module('kepler_reader', run_name='__main__')"
)


def test_full_disk_exits_4_with_the_records_intact(tmp_path: Path) -> None:
    path = tmp_path / "r.krec"
    with counting_exporter(1000) as (url, _):
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                FULL,
                "record",
                url,
                "--interval",
                "0.02",
                "--duration",
                "30",
                "-o",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 4, done.stderr
    found = re.search(
        r"cannot append a record \(File too large\); the (\d+) records", done.stderr
    )
    assert found is not None, done.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recorded = marks(path)
    assert recorded == list(range(int(found.group(1))))


def test_failed_scrapes_are_gaps_and_settings_come_from_the_environment(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "r.krec"
    dead = f"http://127.0.0.1:{free_port()}/metrics"
    with ReplayExporter([V011, V011_T3]) as exporter:
        monkeypatch.setenv("KEPLER_READER_URL", f"{exporter.url} {dead}")
        monkeypatch.setenv("KEPLER_READER_INTERVAL", "0.1")
        monkeypatch.setenv("KEPLER_READER_DURATION", "0.2")
        monkeypatch.setenv("KEPLER_READER_OUTPUT", str(path))
        monkeypatch.setenv("KEPLER_READER_TIMEOUT", "2")
        assert main(["record"]) == 0
    err = caplog.text
    assert err.count(f"scrape failed, recorded as a gap: {dead} is unreachable") == 1
    items = list(kr.iter_records(path, gaps=True))
    good = [i for i in items if not isinstance(i, Gap)]
    gaps = [i for i in items if isinstance(i, Gap)]
    # Ticks at 0, 0.1 and 0.2 s; a tick the loop was too late for is skipped.
    assert 1 <= len(good) <= 3
    assert 1 <= len(gaps) <= 3
    assert [r.body for r in good] == [V011, V011_T3, V011_T3][: len(good)]
    assert {g.url for g in gaps} == {dead}
    assert all(g.reason == f"{dead} is unreachable (connection refused)." for g in gaps)
    assert {r.url for r in good} == {exporter.url}


def test_record_needs_an_interval_and_an_output(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("URL", "INTERVAL", "DURATION", "OUTPUT"):
        monkeypatch.delenv(f"KEPLER_READER_{name}", raising=False)
    with pytest.raises(SystemExit) as caught:
        main(["record", "http://127.0.0.1:1/metrics"])
    assert caught.value.code == 2
    assert "--interval, -o/--output required" in capsys.readouterr().err


def test_ticker_keeps_a_steady_schedule() -> None:
    ticker = Ticker(10.0, start=100.0)
    assert ticker.due(100.0)
    ticker.advance(100.5)  # a tick taken half a second late
    assert (ticker.next_at, ticker.missed) == (110.0, 0)
    assert not ticker.due(109.9)
    ticker.advance(131.0)  # busy past 120 and 130: both skipped, not bunched up
    assert (ticker.next_at, ticker.missed) == (140.0, 2)


def blocks(out: str) -> list[list[str]]:
    return [block.splitlines() for block in out.strip("\n").split("\n\n")]


def rows_of(block: list[str]) -> dict[tuple[str, str], tuple[float, float]]:
    assert block[2].split() == ["WATTS", "JOULES", "NAMESPACE", "POD"]
    found = {}
    for line in block[3:]:
        watts, joules, namespace, pod = line.split()
        found[namespace, pod] = (float(watts), float(joules))
    return found


def test_top_piped_prints_the_v011_pods(capsys: pytest.CaptureFixture[str]) -> None:
    with ReplayExporter([V011, V011_T3]) as exporter:
        code = main(["top", exporter.url, "--interval", "0.5", "--iterations", "2"])
    assert code == 0
    first, second = blocks(capsys.readouterr().out)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  zone package", first[0])
    status = re.fullmatch(
        r"node 127\.0\.0\.1: interval (\S+) s, node (\S+) W, 10 pods (\S+) W", first[1]
    )
    assert status is not None, first[1]
    interval = float(status.group(1))
    assert float(status.group(2)) == pytest.approx(157.140318 / interval, rel=2e-3)
    rows = rows_of(first)
    assert {key: joules for key, (_, joules) in rows.items()} == EXPECTED_JOULES
    for key, (watts, joules) in rows.items():
        assert watts == pytest.approx(joules / interval, rel=2e-3, abs=1e-3), key
    watts_order = [watts for watts, _ in rows.values()]
    assert watts_order == sorted(watts_order, reverse=True)
    # The exporter repeats its last body: nothing moved in the second interval.
    assert {key: w for key, (w, _) in rows_of(second).items()} == dict.fromkeys(
        EXPECTED_JOULES, 0.0
    )


def test_top_filters_limits_and_shows_failures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/metrics"
    with ReplayExporter([V011, V011_T3]) as exporter:
        code = main(
            [
                "top",
                exporter.url,
                dead,
                "--interval",
                "0.3",
                "--iterations",
                "1",
                "--namespace",
                "flux-system",
                "--limit",
                "2",
                "--timeout",
                "2",
            ]
        )
    assert code == 0
    (block,) = blocks(capsys.readouterr().out)
    assert block[1].startswith(f"node {exporter.url}: interval ")
    assert block[2] == (
        f"node {dead}: scrape failed: {dead} is unreachable (connection refused)."
    )
    assert block[3].split() == ["WATTS", "JOULES", "NAMESPACE", "POD", "NODE"]
    pods = [line.split()[3] for line in block[4:]]
    assert pods == [
        "kustomize-controller-7d4c5b6f8-2mzrt",
        "source-controller-6b9d8f7c5d-x8kqp",
    ]
    assert "4 pods" in block[1]


def test_top_stops_on_sigint(tmp_path: Path) -> None:
    with ReplayExporter([V011, V011_T3]) as exporter:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kepler_reader",
                "top",
                exporter.url,
                "--interval",
                "0.1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"},
        )
        try:
            assert process.stdout is not None
            seen = [process.stdout.readline() for _ in range(4)]
            err = stop(process, signal.SIGINT)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, err
    assert err == ""
    assert "zone package" in seen[0]
    assert "checkout-api-6c8f9d7b5-m2w9x" in seen[3]  # the top row


def read_terminal(fd: int, until: bytes, seconds: float = 30) -> bytes:
    """Read a pseudo-terminal until ``until`` appears (bounded in time)."""
    seen = b""
    deadline = time.monotonic() + seconds
    while until not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:  # the other side closed
                break
    return seen


def on_terminal(args: list[str], stream: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start kepler-reader with ``stream`` ("stdout" or "stderr") on a pty."""
    parent, child = pty.openpty()
    where = {stream: child}
    process = subprocess.Popen(
        [sys.executable, "-m", "kepler_reader", *args],
        stdin=subprocess.DEVNULL,
        stdout=where.get("stdout", subprocess.DEVNULL),
        stderr=where.get("stderr", subprocess.DEVNULL),
    )
    os.close(child)
    return process, parent


def test_record_shows_progress_on_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "r.krec"
    dead = f"http://127.0.0.1:{free_port()}/metrics"
    with ReplayExporter([V011]) as exporter:
        process, terminal = on_terminal(
            ["record", exporter.url, dead, "--interval", "0.05", "--timeout", "2",
             "-o", str(path)],
            "stderr",
        )  # fmt: skip
        try:
            shown = read_terminal(terminal, b" 3 scrapes")
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=60) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
            os.close(terminal)
    line = shown.rsplit(b"\r\x1b[K", 1)[-1].decode()
    assert re.match(
        r"kepler-reader record: \d+ scrapes, \d+ gaps, \d+\.\d MB to ", line
    )
    assert f"last error: {dead} is unreachable" in shown.decode()


def test_top_redraws_in_place_on_a_terminal() -> None:
    with ReplayExporter([V011, V011_T3]) as exporter:
        process, terminal = on_terminal(
            ["top", exporter.url, "--interval", "0.1", "--iterations", "2"], "stdout"
        )
        try:
            assert process.wait(timeout=60) == 0
            shown = read_terminal(terminal, b"never", seconds=1).decode()
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
            os.close(terminal)
    screens = shown.split("\x1b[H\x1b[2J")
    assert screens[0] == ""
    assert len(screens) == 3
    assert "checkout-api-6c8f9d7b5-m2w9x" in screens[1]


def test_top_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEPLER_READER_INTERVAL", "0.2")
    monkeypatch.setenv("KEPLER_READER_NAMESPACE", "kube-system")
    monkeypatch.setenv("KEPLER_READER_ZONE", "dram")
    with ReplayExporter([V011, V011_T3]) as exporter:
        assert main(["top", exporter.url, "--iterations", "1"]) == 0
    (block,) = blocks(capsys.readouterr().out)
    assert block[0].endswith("  zone dram")
    assert sorted(line.split()[3] for line in block[3:]) == [
        "coredns-5dd5756b68-7xk9p",
        "kube-proxy-4tqzm",
    ]


def test_a_bad_environment_value_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KEPLER_READER_INTERVAL", "soon")
    with pytest.raises(SystemExit) as caught:
        main(["record", "http://127.0.0.1:1/metrics", "-o", "unused.krec"])
    assert caught.value.code == 2
    assert "argument --interval: not a number of seconds: 'soon'" in (
        capsys.readouterr().err
    )


def test_a_restart_after_sigkill_appends_after_the_last_complete_record(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.krec"
    with counting_exporter(1000) as (url, sent):
        first = record_process(url, path, "--interval", "0.05")
        try:
            wait_for_records(path, 4, first)
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=10)
        before = marks(path)
        # A torn record, as a kill in the middle of a large write leaves one.
        torn = path.read_bytes()[:300]
        with path.open("ab") as handle:
            handle.write(torn)
        second = record_process(url, path, "--interval", "0.05")
        try:
            wait_for_records(path, len(before) + 3, second)
            err = stop(second, signal.SIGTERM)
        finally:
            if second.poll() is None:
                second.kill()
            second.communicate()
        served = len(sent)
    assert second.returncode == 0, err
    assert "cut off an incomplete last record (300 bytes" in err
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the torn record is gone, nothing else is
        after = marks(path)
    assert after[: len(before)] == before
    resumed = after[len(before) :]
    # The body sent while the first recorder died may be missing; no other is.
    assert resumed[0] in (len(before), len(before) + 1)
    assert resumed == list(range(resumed[0], resumed[0] + len(resumed)))
    assert resumed[-1] < served


def test_record_refuses_a_malformed_url_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "z.krec"
    code = main(
        [
            "record",
            "http://[::1",
            "--interval",
            "1",
            "--duration",
            "1",
            "-o",
            str(output),
        ]
    )
    assert code == 3
    assert capsys.readouterr().err == (
        "kepler-reader: error: http://[::1: not a valid URL (Invalid IPv6 URL).\n"
    )
    assert not output.exists()
