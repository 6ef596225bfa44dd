"""The replay exporter, each of its options, and the TLS kinds of authentication."""

from __future__ import annotations

import gzip
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import kepler_reader as kr
from kepler_reader.demo import ReplayExporter as FromDemo
from kepler_reader.dumps import write_dump
from kepler_reader.replay import ReplayExporter, ReplayTLS, load_dump_body
from tests.certs import Certificates, make_certificates
from tests.paths import KEPLER

FIRST = (KEPLER / "v0.11-node-a.prom").read_bytes()
SECOND = (KEPLER / "v0.11-node-a.t3.prom").read_bytes()
A = b"a 1\n"
B = b"a 2\n"
C = b"a 3\n"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


def _values(scraper: kr.Scraper, times: int) -> list[float | str]:
    seen: list[float | str] = []
    for _ in range(times):
        try:
            seen.append(scraper.scrape().values[0])
        except kr.HTTPStatusError as error:
            seen.append(error.status)
    return seen


def test_bodies_in_turn_then_the_last_repeats() -> None:
    with (
        ReplayExporter([A, B, C]) as exporter,
        kr.Scraper(exporter.url) as scraper,
    ):
        assert _values(scraper, 5) == [1, 2, 3, 3, 3]
        assert exporter.requests_served == 5
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/metrics", exporter.url)
    assert FromDemo is ReplayExporter


def test_loop_starts_over() -> None:
    with ReplayExporter([A, B], loop=True) as exporter, kr.Scraper(exporter.url) as s:
        assert _values(s, 5) == [1, 2, 1, 2, 1]


def test_a_real_pair_gives_the_fixture_joules() -> None:
    with ReplayExporter([FIRST, SECOND]) as exporter, kr.Scraper(exporter.url) as s:
        before, after = s.scrape(), s.scrape()
    result = kr.diff(before, after, interval=3.0)
    direct = kr.diff(kr.parse(FIRST), kr.parse(SECOND), interval=3.0)
    assert [p.joules for p in result.pods] == [p.joules for p in direct.pods]
    assert result.pods[1].joules == pytest.approx(2.971915, abs=1e-6)


def test_failures_do_not_use_up_a_body() -> None:
    with (
        ReplayExporter([A, B, C], fail_at=[2, 3]) as exporter,
        kr.Scraper(exporter.url, retries=0) as scraper,
    ):
        assert _values(scraper, 5) == [1, 500, 500, 2, 3]
        assert (exporter.requests_served, exporter.bodies_served) == (5, 3)


def test_fail_every_and_the_error_body() -> None:
    with (
        ReplayExporter([A, B, C], fail_every=2) as exporter,
        kr.Scraper(exporter.url, retries=0) as scraper,
    ):
        assert _values(scraper, 5) == [1, 500, 2, 500, 3]
        with pytest.raises(kr.HTTPStatusError) as caught:
            scraper.fetch()
    assert caught.value.body_excerpt == "An error has occurred while serving metrics:"


def test_the_scraper_retries_past_a_failure() -> None:
    with (
        ReplayExporter([A, B], fail_at=[2]) as exporter,
        kr.Scraper(exporter.url, retries=1, backoff=0) as scraper,
    ):
        assert _values(scraper, 2) == [1, 2]
        assert exporter.requests_served == 3


def test_delay_meets_the_timeout() -> None:
    with ReplayExporter([A], delay=0.6) as exporter:
        with (
            kr.Scraper(exporter.url, timeout=0.2) as hasty,
            pytest.raises(kr.ScrapeTimeoutError, match=r"no answer within 0\.2 s"),
        ):
            hasty.fetch()
        with kr.Scraper(exporter.url, timeout=5) as patient:
            assert patient.fetch().body == A


def test_cut_at_lies_about_the_length() -> None:
    with (
        ReplayExporter([FIRST], cut_at=1000) as exporter,
        kr.Scraper(exporter.url) as scraper,
        pytest.raises(kr.IncompleteResponseError) as caught,
    ):
        scraper.fetch()
    assert f"after 1000 of the {len(FIRST)} bytes announced" in str(caught.value)


def test_gzip_when_accepted() -> None:
    with ReplayExporter([FIRST], gzip=True) as exporter:
        with kr.Scraper(exporter.url) as scraper:
            assert scraper.fetch().body == FIRST
        raw = requests.get(exporter.url, headers={"Accept-Encoding": "gzip"}, timeout=5)
        plain = requests.get(
            exporter.url, headers={"Accept-Encoding": "identity"}, timeout=5
        )
    assert raw.headers["Content-Encoding"] == "gzip"
    assert int(raw.headers["Content-Length"]) == len(gzip.compress(FIRST, mtime=0))
    assert "Content-Encoding" not in plain.headers
    assert plain.content == FIRST


def test_openmetrics_bodies_say_so() -> None:
    body = b"# TYPE a counter\na_total 1.0\n# EOF\n"
    with ReplayExporter([body]) as exporter, kr.Scraper(exporter.url) as scraper:
        snap = scraper.scrape()
    assert snap.format == "openmetrics"


def test_token_is_required(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    server_token = ["first"]
    with ReplayExporter([A, B], token=lambda: server_token[0]) as exporter:
        with (
            kr.Scraper(exporter.url) as anonymous,
            pytest.raises(kr.AuthenticationError) as caught,
        ):
            anonymous.fetch()
        assert caught.value.status == 401
        with kr.Scraper(exporter.url, bearer_token_file=str(token_file)) as scraper:
            assert _values(scraper, 1) == [1]
            # Both sides rotate: a scraper that kept the old token would get 401.
            server_token[0] = "second"
            token_file.write_text("second\n")
            assert _values(scraper, 1) == [2]
        assert (exporter.requests_served, exporter.bodies_served) == (3, 2)


def _tls(certs: Certificates, *, client_ca: bool = False) -> ReplayTLS:
    return ReplayTLS(
        certs.server_cert, certs.server_key, certs.ca_file if client_ca else None
    )


def test_https_with_a_ca_bundle(certs: Certificates) -> None:
    with ReplayExporter([A], tls=_tls(certs)) as exporter:
        assert exporter.url.startswith("https://127.0.0.1:")
        with kr.Scraper(exporter.url, ca_file=certs.ca_file) as scraper:
            assert scraper.fetch().body == A


def test_verification_is_on_by_default(certs: Certificates) -> None:
    with ReplayExporter([A], tls=_tls(certs)) as exporter:
        for trusted in (None, certs.stranger_ca_file):
            with (
                kr.Scraper(exporter.url, ca_file=trusted) as scraper,
                pytest.raises(
                    kr.TLSError,
                    match=r"failed \(unable to get local issuer certificate\)",
                ),
            ):
                scraper.fetch()
        # Not retried: another try would be refused for the same reason.
        assert exporter.requests_served == 0


def test_insecure_skips_verification_and_says_so(
    certs: Certificates, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with (
        ReplayExporter([A], tls=_tls(certs)) as exporter,
        kr.Scraper(exporter.url, insecure=True) as scraper,
    ):
        assert scraper.fetch().body == A
    warned = [r.getMessage() for r in caplog.records]
    assert warned == [
        "TLS certificate verification is off for 127.0.0.1: anyone on the path can "
        "read and change what it sends"
    ]


@pytest.mark.parametrize("combined", [False, True], ids=["cert+key", "one-file"])
def test_client_certificate(certs: Certificates, combined: bool) -> None:
    cert = certs.client_combined if combined else certs.client_cert
    key = None if combined else certs.client_key
    with (
        ReplayExporter([A], tls=_tls(certs, client_ca=True)) as exporter,
        kr.Scraper(
            exporter.url, ca_file=certs.ca_file, cert_file=cert, key_file=key
        ) as scraper,
    ):
        assert scraper.fetch().body == A


def test_missing_client_certificate_is_refused(certs: Certificates) -> None:
    with ReplayExporter([A], tls=_tls(certs, client_ca=True)) as exporter:
        with (
            kr.Scraper(exporter.url, ca_file=certs.ca_file, retries=0) as scraper,
            pytest.raises(kr.TLSError) as caught,
        ):
            scraper.fetch()
        assert exporter.requests_served == 0
    # TLS 1.3 lets the client finish first; the server's alert says why, unless
    # the server hangs up before the client reads it.
    reasons = (
        "tlsv13 alert certificate required",
        "the server closed the connection during the handshake",
    )
    assert str(caught.value) in [
        f"{exporter.url}: the TLS handshake failed ({reason})." for reason in reasons
    ]


def test_a_stopped_exporter_stops_answering_kept_connections() -> None:
    exporter = ReplayExporter([A]).start()
    with kr.Scraper(exporter.url, retries=0) as scraper:
        assert scraper.fetch().body == A
        exporter.stop()
        with pytest.raises(kr.EndpointUnreachableError):
            scraper.fetch()
    assert exporter.requests_served == 1


def test_a_restart_on_the_same_port() -> None:
    with ReplayExporter([A]) as first, kr.Scraper(first.url) as scraper:
        assert scraper.fetch().body == A
        port = int(first.url.rsplit(":", 1)[1].split("/")[0])
        first.stop()
        with ReplayExporter([B], port=port) as second:
            assert second.url == first.url
            assert scraper.fetch().body == B


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one body"):
        ReplayExporter([])
    with pytest.raises(ValueError, match="fail_every must be 1 or more"):
        ReplayExporter([A], fail_every=0)


def test_dump_bodies_lose_their_header(tmp_path: Path) -> None:
    path = tmp_path / "one.prom.gz"
    write_dump(path, FIRST, scraped_at=1.0e9, url="http://127.0.0.1:28282/metrics")
    assert load_dump_body(path) == FIRST
    plain = tmp_path / "curl.prom"
    plain.write_bytes(SECOND)
    assert load_dump_body(plain) == SECOND
    with pytest.raises(kr.DumpError, match="cannot read the dump"):
        load_dump_body(tmp_path / "missing.prom")


@pytest.fixture
def replay_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    first, second = tmp_path / "a.prom", tmp_path / "b.prom"
    write_dump(first, FIRST, scraped_at=1.0e9, url="http://127.0.0.1:1/metrics")
    second.write_bytes(SECOND)
    token = tmp_path / "token"
    token.write_text("cli-token\n")
    command = [sys.executable, "-m", "kepler_reader", "replay", str(first)]
    command += [str(second), "--bearer-token-file", str(token), "--fail-at", "2"]
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/metrics)", line)
        assert match is not None, line
        yield process, match.group(1)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def test_the_replay_command(
    replay_process: tuple[subprocess.Popen[str], str], tmp_path: Path
) -> None:
    process, url = replay_process
    with kr.Scraper(url, bearer_token_file=str(tmp_path / "token"), retries=0) as s:
        first = s.fetch().body
        with pytest.raises(kr.HTTPStatusError):
            s.fetch()
        second = s.fetch().body
    assert (first, second) == (FIRST, SECOND)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert process.stderr is not None
    assert process.stderr.read().strip() == (
        "kepler-reader replay: stopped after 3 request(s)"
    )


def test_the_replay_command_refuses_half_tls(tmp_path: Path) -> None:
    dump = tmp_path / "a.prom"
    dump.write_bytes(A)
    done = subprocess.run(
        [sys.executable, "-m", "kepler_reader", "replay", str(dump), "--tls-cert", "x"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "--tls-cert and --tls-key go together" in done.stderr


@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_the_replay_command_refuses_a_bad_port(tmp_path: Path, port: str) -> None:
    dump = tmp_path / "a.prom"
    dump.write_bytes(A)
    done = subprocess.run(
        [sys.executable, "-m", "kepler_reader", "replay", str(dump), "--port", port],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "argument --port:" in done.stderr.splitlines()[-1]
