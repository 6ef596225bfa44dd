"""Secrets stay out of errors, logs, dumps and reprs; TLS is verified; replay is local.

Every URL here carries a user name and password (``kepler:hunter2@``); whatever goes
wrong, neither may appear in anything the library prints, raises, logs or writes.
"""

from __future__ import annotations

import http.server
import logging
import re
import shutil
import ssl
import subprocess
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import kepler_reader as kr
from kepler_reader.cli import main
from kepler_reader.demo import ReplayExporter, bundled_scrapes
from tests.paths import CASES, KEPLER
from tests.servers import base_url, free_port, gzipped, response, serve, slow

SECRET = "hunter2"
USER = "kepler"
BODY = (KEPLER / "v0.11-node-a.prom").read_bytes()


def with_credentials(url: str) -> str:
    return url.replace("http://", f"http://{USER}:{SECRET}@", 1)


def assert_clean(text: str) -> None:
    assert SECRET not in text
    assert f"{USER}:" not in text
    assert f"{USER}@" not in text


def everything_about(error: BaseException) -> str:
    """The message, the attributes and the whole printed chain of an error."""
    parts = [str(error), repr(error), *map(str, vars(error).values())]
    parts.extend(traceback.format_exception(error))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    routes = {
        "/metrics": response("200 OK", BODY),
        "/gzip": gzipped(BODY),
        "/401": response("401 Unauthorized", b"token rejected\n"),
        "/500": response(
            "500 Internal Server Error",
            (CASES / "33-http-500-error-body.txt").read_bytes(),
        ),
        "/html": response(
            "200 OK", b"<html><body>login</body></html>", {"Content-Type": "text/html"}
        ),
        "/cut": response("200 OK", BODY[:100], length=len(BODY)),
        "/bad": response("200 OK", b"not metrics at all {\n"),
        "/slow": slow(3, response("200 OK", BODY)),
    }
    with serve(routes) as running:
        yield base_url(running)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/401", kr.AuthenticationError),
        ("/500", kr.HTTPStatusError),
        ("/html", kr.NotAnExpositionError),
        ("/cut", kr.IncompleteResponseError),
        ("/bad", kr.ParseError),
        ("/slow", kr.ScrapeTimeoutError),
        ("/nowhere", kr.HTTPStatusError),
    ],
)
def test_credentials_never_reach_an_error(
    server: str, path: str, kind: type[kr.KeplerReaderError]
) -> None:
    url = with_credentials(server + path)
    with pytest.raises(kind) as caught:
        kr.scrape(url, timeout=1)
    assert_clean(everything_about(caught.value))
    assert "127.0.0.1" in str(caught.value)


def test_credentials_never_reach_an_unreachable_error() -> None:
    url = with_credentials(f"http://127.0.0.1:{free_port()}/metrics")
    with pytest.raises(kr.EndpointUnreachableError) as caught:
        kr.fetch(url, timeout=1)
    assert_clean(everything_about(caught.value))


def test_credentials_never_reach_a_limit_error(server: str) -> None:
    for path in ("/metrics", "/gzip"):
        with pytest.raises(kr.LimitExceededError) as caught:
            kr.fetch(with_credentials(server + path), max_body_bytes=1000)
        assert_clean(everything_about(caught.value))


def test_credentials_never_reach_the_logs(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's included
    kr.scrape(with_credentials(server + "/metrics"))
    with pytest.raises(kr.AuthenticationError):
        kr.scrape(with_credentials(server + "/401"))
    assert caplog.records, "nothing was logged: the test would prove nothing"
    assert_clean(caplog.text)
    assert_clean("\n".join(str(r.args) for r in caplog.records))


def test_credentials_never_reach_a_snapshot_response_or_repr(server: str) -> None:
    url = with_credentials(server + "/metrics")
    fetched = kr.fetch(url)
    assert_clean(repr(fetched.url))
    assert fetched.url == server + "/metrics"
    snap = kr.scrape(url)
    assert snap.source == server + "/metrics"
    assert_clean(repr(snap))
    with kr.Scraper(url) as scraper:
        assert_clean(repr(scraper))
        assert_clean(repr(scraper.scrape()))
        assert_clean(repr(scraper.fetch()))


def test_credentials_never_reach_a_dump_or_the_cli(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = with_credentials(server + "/metrics")
    for name in ("dump.prom", "dump.prom.gz"):
        path = tmp_path / name
        assert main(["-vv", "scrape", url, "-o", str(path)]) == 0
        snap = kr.read_dump(path)
        assert snap.source == str(path)
        assert_clean(path.read_bytes().decode("latin-1"))
        if name == "dump.prom":
            assert path.read_bytes().startswith(b"# kepler-reader scraped_at=")
    assert main(["scrape", url]) == 0
    assert main(["scrape", with_credentials(server + "/401")]) != 0
    out, err = capsys.readouterr()
    assert_clean(out)
    assert_clean(err)
    assert f"url={server}/metrics" in out


def test_redaction_of_odd_urls() -> None:
    for url in (
        f"http://{USER}:{SECRET}@127.0.0.1:99999/metrics",  # a bad port
        f"http://{USER}:{SECRET}@[::1/metrics",  # a broken IPv6 host
        f"https://{USER}:{SECRET}@127.0.0.1/metrics",
        f"http://:{SECRET}@127.0.0.1/metrics",
    ):
        assert_clean(kr.dumps.redact_url(url))
        with pytest.raises(kr.ScrapeError) as caught:
            kr.fetch(url, timeout=1)
        assert_clean(everything_about(caught.value))


# -- TLS -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: no certificate to test TLS with")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


class _Metrics(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def https_url(self_signed: tuple[Path, Path]) -> Iterator[str]:
    cert, key = self_signed
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_tls_certificates_are_verified_by_default(https_url: str) -> None:
    with kr.Scraper(with_credentials(https_url.replace("https", "http"))) as scraper:
        assert scraper._session.verify is True
    for call in (kr.fetch, kr.scrape):
        with pytest.raises(kr.TLSError) as caught:
            call(https_url.replace("https://", f"https://{USER}:{SECRET}@"), timeout=5)
        assert "the tls handshake failed (self-signed certificate)" in (
            str(caught.value).lower()
        )
        assert_clean(everything_about(caught.value))


def test_a_session_that_trusts_the_certificate_is_accepted(
    https_url: str, self_signed: tuple[Path, Path]
) -> None:
    # The same server with its certificate trusted: so the failure above is the
    # verification, not a broken server.
    session = requests.Session()
    # Without the environment: REQUESTS_CA_BUNDLE would override the session's own.
    session.trust_env = False
    session.verify = str(self_signed[0])
    try:
        snap = kr.scrape(https_url, session=session)
    finally:
        session.close()
    assert len(snap) == len(kr.parse(BODY))


# -- replay binds 127.0.0.1 ------------------------------------------------------


def test_replay_binds_the_loopback_address_only() -> None:
    with ReplayExporter(bundled_scrapes("v0.11")) as exporter:
        host, port = exporter._server.server_address[:2]
        assert host == "127.0.0.1"
        assert exporter.url == f"http://127.0.0.1:{port}/metrics"
        assert len(kr.scrape(exporter.url)) > 0
        # Nothing listens on the wildcard address's other spelling of this port.
        assert exporter._server.socket.getsockname()[0] == "127.0.0.1"


def test_a_url_that_does_not_parse_is_a_scrape_error() -> None:
    # urllib's ValueError for a broken IPv6 host used to escape fetch() as it was.
    with pytest.raises(kr.ScrapeError, match="not a valid URL"):
        kr.fetch("http://[::1/metrics")
    with pytest.raises(kr.ScrapeError, match="not a valid URL"):
        kr.Scraper("http://[::1/metrics").fetch()


def test_every_test_named_in_security_md_exists() -> None:
    # The page's tables name the test behind each defence: each must exist.
    page = Path(__file__).resolve().parent.parent / "docs" / "security.md"
    named: list[tuple[str, str]] = []
    for line in page.read_text().splitlines():
        if not line.startswith("|"):
            continue
        current = ""
        for file, name in re.findall(r"(tests/\w+\.py)?::(\w+)", line):
            current = file or current
            named.append((current, name))
    assert len(named) > 40
    for file, name in named:
        source = (page.parent.parent / file).read_text()
        assert re.search(rf"^def {name}\(", source, re.MULTILINE), f"{file}::{name}"
