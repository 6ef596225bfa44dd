"""kepler-reader serve: derived series over HTTP, checked against the library's diff."""

from __future__ import annotations

import logging
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

import kepler_reader as kr
from kepler_reader.cli import main as cli_main
from kepler_reader.demo import ReplayExporter
from kepler_reader.reexport import DerivedCollector, EndpointState, ServeOptions
from kepler_reader.serve import MetricsServer, parse_listen, scrape_round
from tests import servers
from tests.paths import KEPLER, RELEASES

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "kepler_reader"


def bodies(release: str) -> tuple[bytes, bytes]:
    return (
        (KEPLER / f"{release}-node-a.prom").read_bytes(),
        (KEPLER / f"{release}-node-a.t3.prom").read_bytes(),
    )


class Served:
    """One node's state behind a real MetricsServer on 127.0.0.1."""

    def __init__(self, options: ServeOptions, node: str = "node-a") -> None:
        self.lock = threading.Lock()
        self.state = EndpointState(node, options)
        self.collector = DerivedCollector([self.state], options, self.lock)
        self.server = MetricsServer(self.collector, "127.0.0.1", 0)

    def tick(self, scraper: kr.Scraper) -> None:
        scrape_round([scraper], [self.state], self.lock)

    def get(self, path: str) -> requests.Response:
        return requests.get(self.server.url + path, timeout=5)

    def metrics(self) -> kr.Snapshot:
        response = self.get("/metrics")
        assert response.status_code == 200
        return kr.parse(response.content, source="/metrics")


@contextmanager
def served(options: ServeOptions) -> Iterator[Served]:
    box = Served(options)
    thread = threading.Thread(target=box.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        box.server.shutdown()
        box.server.server_close()
        thread.join(timeout=5)


def values(
    snapshot: kr.Snapshot, name: str
) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for row in snapshot.rows_of(name).tolist():
        series = snapshot.series[row]
        found[series.labels] = float(snapshot.values[row])
    return found


def one(snapshot: kr.Snapshot, name: str) -> float:
    (value,) = values(snapshot, name).values()
    return value


def pod_key(
    pod: kr.PodEnergy, extra: Sequence[tuple[str, str]] = ()
) -> tuple[tuple[str, str], ...]:
    labels = {
        "node": "node-a",
        "namespace": pod.namespace,
        "pod": pod.pod,
        "pod_uid": pod.pod_uid,
        "zone": "package",
        **dict(extra),
    }
    return tuple(sorted(labels.items()))


def ns_key(
    namespace: str, extra: Sequence[tuple[str, str]] = ()
) -> tuple[tuple[str, str], ...]:
    labels = {"node": "node-a", "namespace": namespace, "zone": "package"}
    return tuple(sorted({**labels, **dict(extra)}.items()))


OPTIONS = ServeOptions(
    interval_seconds=1.0, windows_seconds=(3600.0,), pod_ttl_seconds=3600.0
)


@pytest.mark.parametrize("release", RELEASES)
def test_served_power_and_energy_match_diff(release: str) -> None:
    first, second = bodies(release)
    with ReplayExporter([first, second]) as exporter, served(OPTIONS) as box:
        scraper = kr.Scraper(exporter.url)
        box.tick(scraper)
        box.tick(scraper)
        metrics = box.metrics()

    interval = one(metrics, f"{PREFIX}_interval_seconds")
    expected = kr.diff(kr.parse(first), kr.parse(second), interval=interval)
    measured = [p for p in expected.pods if p.counters > 0]
    assert measured
    pod_watts = values(metrics, f"{PREFIX}_pod_power_watts")
    assert pod_watts == pytest.approx(
        {pod_key(p): p.watts for p in measured}, rel=1e-12, abs=1e-12
    )
    window = values(metrics, f"{PREFIX}_pod_window_power_watts")
    assert window == pytest.approx(
        {pod_key(p, [("window", "3600s")]): p.watts for p in measured},
        rel=1e-12,
        abs=1e-12,
    )
    ns_watts = values(metrics, f"{PREFIX}_namespace_power_watts")
    assert ns_watts == pytest.approx(
        {ns_key(n.namespace): n.watts for n in expected.namespaces}, rel=1e-12
    )
    ns_joules = values(metrics, f"{PREFIX}_namespace_energy_joules_total")
    assert ns_joules == pytest.approx(
        {ns_key(n.namespace): n.joules for n in expected.namespaces}, rel=1e-12
    )
    if expected.node.watts is not None:
        node = one(metrics, f"{PREFIX}_node_power_watts")
        assert node == pytest.approx(expected.node.watts, rel=1e-12)
    assert one(metrics, f"{PREFIX}_scrapes_total") == 2
    assert one(metrics, f"{PREFIX}_scrape_failures_total") == 0
    assert one(metrics, f"{PREFIX}_scrape_up") == 1
    assert one(metrics, f"{PREFIX}_pods_tracked") == len(measured)
    (info,) = values(metrics, f"{PREFIX}_kepler_info")
    assert dict(info)["era"] == expected.era.name
    assert dict(info)["version"] == expected.era.version


def test_v011_namespace_power_is_the_known_sum() -> None:
    # fixtures/kepler/EXPECTED.md: the four Flux controllers' package joules over 3 s.
    first, second = bodies("v0.11")
    with ReplayExporter([first, second]) as exporter, served(OPTIONS) as box:
        scraper = kr.Scraper(exporter.url)
        box.tick(scraper)
        box.tick(scraper)
        metrics = box.metrics()
    expected = kr.diff(kr.parse(first), kr.parse(second), interval=3.0)
    flux = next(n for n in expected.namespaces if n.namespace == "flux-system")
    joules = values(metrics, f"{PREFIX}_namespace_energy_joules_total")
    assert joules[ns_key("flux-system")] == pytest.approx(flux.joules, rel=1e-12)
    # The Job pod that terminated between the scrapes still has its last interval.
    pods = values(metrics, f"{PREFIX}_pod_power_watts")
    assert any(dict(k)["pod"].startswith("db-migrate-") for k in pods)


def test_energy_accumulates_and_a_reset_is_counted() -> None:
    first, second = bodies("v0.11")
    replay = ReplayExporter([first, second, first, second])
    with replay as exporter, served(OPTIONS) as box:
        scraper = kr.Scraper(exporter.url)
        for _ in range(4):
            box.tick(scraper)
        metrics = box.metrics()
    one_step = kr.diff(kr.parse(first), kr.parse(second), interval=3.0)
    back = kr.diff(kr.parse(second), kr.parse(first), interval=3.0)
    joules = values(metrics, f"{PREFIX}_namespace_energy_joules_total")
    for ns in one_step.namespaces:
        restarted = next(n for n in back.namespaces if n.namespace == ns.namespace)
        total = 2 * ns.joules + restarted.joules
        assert joules[ns_key(ns.namespace)] == pytest.approx(total, rel=1e-12)
    resets = int(one(metrics, f"{PREFIX}_energy_resets_total"))
    assert resets == int(back.counters.reset.sum())
    assert resets > 0


def test_a_failed_scrape_is_a_gap_not_a_zero() -> None:
    first, second = bodies("v0.11")
    down = {"/metrics": servers.response("503 Service Unavailable", b"restarting\n")}
    with (
        ReplayExporter([first, second]) as exporter,
        servers.serve(down) as broken,
        served(OPTIONS) as box,
    ):
        live = kr.Scraper(exporter.url)
        dead = kr.Scraper(servers.base_url(broken) + "/metrics")
        box.tick(live)
        box.tick(dead)
        during = box.metrics()
        box.tick(live)
        after = box.metrics()

    assert one(during, f"{PREFIX}_scrape_up") == 0
    assert one(during, f"{PREFIX}_scrape_failures_total") == 1
    assert values(during, f"{PREFIX}_pod_power_watts") == {}
    assert values(during, f"{PREFIX}_interval_seconds") == {}
    # The next good scrape is compared with the last good one, across the gap.
    interval = one(after, f"{PREFIX}_interval_seconds")
    expected = kr.diff(kr.parse(first), kr.parse(second), interval=interval)
    pod_watts = values(after, f"{PREFIX}_pod_power_watts")
    assert pod_watts == pytest.approx(
        {pod_key(p): p.watts for p in expected.pods if p.counters > 0}, rel=1e-12
    )
    assert one(after, f"{PREFIX}_scrapes_total") == 3
    assert one(after, f"{PREFIX}_scrape_up") == 1


def test_readyz_waits_for_the_first_interval() -> None:
    first, second = bodies("v0.11")
    with ReplayExporter([first, second]) as exporter, served(OPTIONS) as box:
        scraper = kr.Scraper(exporter.url)
        assert box.get("/healthz").status_code == 200
        assert box.get("/readyz").status_code == 503
        box.tick(scraper)
        assert box.get("/readyz").status_code == 503
        box.tick(scraper)
        ready = box.get("/readyz")
        assert (ready.status_code, ready.text) == (200, "ready\n")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "HEAD"])
@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/readyz"])
def test_only_get_is_answered(method: str, path: str) -> None:
    with served(OPTIONS) as box:
        response = requests.request(method, box.server.url + path, timeout=5)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


def test_other_paths_are_not_found() -> None:
    with served(OPTIONS) as box:
        assert box.get("/").status_code == 404
        assert box.get("/metrics/extra").status_code == 404
        assert requests.post(box.server.url + "/nope", timeout=5).status_code == 404


def _promtool() -> Path:
    folder = os.environ.get("KEPLER_READER_PROMETHEUS_BIN")
    if not folder:
        found = subprocess.run(
            ["bash", str(ROOT / ".ci" / "install-prometheus")],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        folder = found.stdout.strip() if found.returncode == 0 else ""
    tool = Path(folder) / "promtool" if folder else None
    if tool is None or not tool.is_file():
        pytest.skip(
            "promtool unavailable: KEPLER_READER_PROMETHEUS_BIN is unset and "
            ".ci/install-prometheus could not unpack Debian's prometheus package"
        )
    return tool


@pytest.mark.parametrize("release", ["v0.3", "v0.9.0", "v0.11"])
def test_metrics_pass_promtool_lint(release: str) -> None:
    promtool = _promtool()
    first, second = bodies(release)
    options = ServeOptions(interval_seconds=1.0, windows_seconds=(60.0, 300.0))
    with ReplayExporter([first, second, first]) as exporter, served(options) as box:
        scraper = kr.Scraper(exporter.url)
        for _ in range(3):
            box.tick(scraper)
        body = box.get("/metrics").content
    checked = subprocess.run(
        [str(promtool), "check", "metrics"],
        input=body,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert (checked.returncode, checked.stderr.decode()) == (0, "")
    assert b"kepler_reader_pod_window_power_watts{" in body
    assert b"kepler_reader_energy_resets_total{" in body


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:9333") == ("127.0.0.1", 9333)
    assert parse_listen("0.0.0.0:0") == ("0.0.0.0", 0)
    assert parse_listen("[::1]:9333") == ("::1", 9333)
    assert parse_listen(":9333") == ("127.0.0.1", 9333)
    for bad in ("9333", "host:", "host:http", "host:70000"):
        with pytest.raises(ValueError, match="Expected HOST:PORT"):
            parse_listen(bad)


def test_listen_error_names_the_address() -> None:
    with served(OPTIONS) as box:
        port = box.server.server_address[1]
        with pytest.raises(kr.ListenError, match=f"Cannot listen on 127.0.0.1:{port}"):
            MetricsServer(box.collector, "127.0.0.1", port)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"interval_seconds": 10.0, "windows_seconds": (5.0,)},
            "A window of 5 s is shorter than the scrape interval (10 s), so it "
            "could never hold an interval.",
            id="window-below-interval",
        ),
        pytest.param(
            {"windows_seconds": (60.0, 900.0), "pod_ttl_seconds": 600.0},
            "The pod TTL (600 s) is shorter than the largest window (900 s); pods "
            "would be forgotten while a window still counts them.",
            id="ttl-below-window",
        ),
        pytest.param(
            {"prefix": "kepler-reader"},
            "The prefix 'kepler-reader' is not a valid metric name "
            "([a-zA-Z_][a-zA-Z0-9_]*).",
            id="prefix",
        ),
        pytest.param(
            {"interval_seconds": math.inf},
            "The interval must be a positive, finite number of seconds, not inf.",
            id="interval",
        ),
    ],
)
def test_options_refuse_contradictions(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ServeOptions(**kwargs)  # type: ignore[arg-type]


def test_cli_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    url = "http://127.0.0.1:1/metrics"
    code = cli_main(["serve", url, "--interval", "10", "--window", "5"])
    assert code == 2
    assert "shorter than the scrape interval" in capsys.readouterr().err
    code = cli_main(["serve", url, "--node", "a", "--node", "b"])
    assert code == 2
    assert "2 --node names for 1 URLs" in capsys.readouterr().err
    other = "http://127.0.0.1:2/metrics"
    assert cli_main(["serve", url, other]) == 2
    assert (
        "Two URLs would serve as node '127.0.0.1'; name each with --node."
        in capsys.readouterr().err
    )


def test_sigterm_stops_serve_with_exit_0() -> None:
    first, second = bodies("v0.11")
    port = servers.free_port()
    with ReplayExporter([first, second]) as exporter:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kepler_reader",
                "serve",
                exporter.url,
                "--interval",
                "0.2",
                "--window",
                "1",
                "--listen",
                f"127.0.0.1:{port}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            status = 0
            give_up = time.monotonic() + 20
            while time.monotonic() < give_up and process.poll() is None:
                try:
                    status = requests.get(
                        f"http://127.0.0.1:{port}/readyz", timeout=1
                    ).status_code
                except requests.ConnectionError:
                    status = 0
                if status == 200:
                    break
                time.sleep(0.05)
            assert status == 200
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=5)
    assert process.returncode == 0, err.decode()
    assert out == b""


def test_openmetrics_is_served_when_asked_for() -> None:
    first, second = bodies("v0.11")
    with ReplayExporter([first, second]) as exporter, served(OPTIONS) as box:
        scraper = kr.Scraper(exporter.url)
        box.tick(scraper)
        box.tick(scraper)
        text = box.metrics()
        response = requests.get(
            box.server.url + "/metrics",
            headers={"Accept": "application/openmetrics-text; version=1.0.0"},
            timeout=5,
        )
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.endswith(b"# EOF\n")
    om = kr.parse(response.content, format="openmetrics")
    name = f"{PREFIX}_namespace_energy_joules_total"
    assert values(om, name) == values(text, name)
    assert values(om, f"{PREFIX}_pod_power_watts") == values(
        text, f"{PREFIX}_pod_power_watts"
    )


def _closed_by_server(url: str, partial: bytes) -> bytes:
    """Send ``partial`` and read until the server closes; what it sent back."""
    host, port = url.removeprefix("http://").split("/")[0].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(partial)
        received = b""
        # Far longer than the server's timeout: a recv that times out here means the
        # server kept the half-sent request open.
        conn.settimeout(10)
        while chunk := conn.recv(4096):
            received += chunk
        return received


@pytest.mark.parametrize(
    "partial", [b"", b"GET /metrics HTTP/1.1\r\n", b"GET /metrics HTTP/1.1\r\nHost: x"]
)
def test_a_silent_or_half_sent_request_is_closed(partial: bytes) -> None:
    box = Served(OPTIONS)
    box.server.server_close()
    box.server = MetricsServer(box.collector, "127.0.0.1", 0, request_timeout=0.3)
    thread = threading.Thread(target=box.server.serve_forever, daemon=True)
    thread.start()
    try:
        assert _closed_by_server(box.server.url, partial) == b""
        assert box.get("/healthz").text == "ok\n"
    finally:
        box.server.shutdown()
        box.server.server_close()
        thread.join(timeout=5)


def test_replay_closes_a_half_sent_request() -> None:
    with ReplayExporter([b"a 1\n"], request_timeout=0.3) as exporter:
        assert _closed_by_server(exporter.url, b"GET /metrics HTTP/1.1\r\n") == b""
        assert requests.get(exporter.url, timeout=5).content == b"a 1\n"


def test_request_timeout_must_be_positive() -> None:
    box = Served(OPTIONS)
    box.server.server_close()
    with pytest.raises(ValueError, match="request_timeout must be positive"):
        MetricsServer(box.collector, request_timeout=0)
    with pytest.raises(ValueError, match="request_timeout must be positive"):
        ReplayExporter([b"a 1\n"], request_timeout=float("nan"))


@pytest.mark.parametrize(
    "error",
    [
        BrokenPipeError(32, "Broken pipe"),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
)
def test_a_client_hanging_up_is_one_debug_line(
    error: OSError,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    box = Served(OPTIONS)
    try:
        with caplog.at_level(logging.DEBUG, logger="kepler_reader.serve"):
            try:
                raise error
            except OSError:
                box.server.handle_error(None, ("127.0.0.1", 40000))
            try:
                raise RuntimeError("a real bug")
            except RuntimeError:
                box.server.handle_error(None, ("127.0.0.1", 40001))
    finally:
        box.server.server_close()
    assert [r.getMessage() for r in caplog.records] == [
        f"client ('127.0.0.1', 40000) hung up early: {error}"
    ]
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert "RuntimeError: a real bug" in err
    assert type(error).__name__ not in err
