"""Scraping over real HTTP on 127.0.0.1: success, and each way a scrape fails."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

import kepler_reader as kr
from kepler_reader.scraping import ACCEPT_TEXT, fetch
from tests.paths import CASES, KEPLER
from tests.servers import (
    base_url,
    chunked_cut,
    free_port,
    gzipped,
    response,
    serve,
    slow,
)

BODY = (KEPLER / "v0.11-node-a.prom").read_bytes()
TRUNCATED = (CASES / "12-truncated-body.prom").read_bytes()
FULL = (CASES / "12-truncated-body.full.prom").read_bytes()
ERROR_500 = (CASES / "33-http-500-error-body.txt").read_bytes()
HTML = (CASES / "36-content-type-and-openmetrics.html").read_bytes()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    routes = {
        "/metrics": response("200 OK", BODY),
        "/gzip": gzipped(BODY),
        "/bad-gzip": response(
            "200 OK", b"\x1f\x8bnot gzip at all", {"Content-Encoding": "gzip"}
        ),
        "/500": response(
            "500 Internal Server Error",
            ERROR_500,
            {"Content-Type": "text/plain; charset=utf-8"},
        ),
        "/503": response("503 Service Unavailable", b""),
        "/401": response("401 Unauthorized", b"Unauthorized\n"),
        "/403": response("403 Forbidden", b"Forbidden (user=system:anonymous)\n"),
        "/html": response("200 OK", HTML, {"Content-Type": "text/html"}),
        "/html-untyped": response("200 OK", HTML, {"Content-Type": ""}),
        "/json": response(
            "200 OK", b'{"status":"error"}', {"Content-Type": "application/json"}
        ),
        "/short": response("200 OK", TRUNCATED, length=len(FULL)),
        "/chunked-cut": chunked_cut([TRUNCATED[:200], TRUNCATED[200:]]),
        "/no-final-lf": response("200 OK", FULL.rstrip(b"\n")),
        "/empty": response("200 OK", b""),
        "/slow": slow(2.0, response("200 OK", BODY)),
    }
    with serve(routes) as running:
        yield base_url(running)


def test_scrape_parses_and_times_the_body(server: str) -> None:
    started = time.time()
    snap = kr.scrape(server + "/metrics")
    assert len(snap) == 383
    assert snap.source == server + "/metrics"
    assert snap.scraped_at is not None
    assert started <= snap.scraped_at <= time.time()


def test_scrape_sends_the_text_format_accept_header() -> None:
    with serve({"/metrics": response("200 OK", BODY)}) as running:
        kr.scrape(base_url(running) + "/metrics")
        ((_, headers),) = running.requests
    assert f"Accept: {ACCEPT_TEXT}" in headers
    assert "Accept-Encoding: gzip" in headers


def test_gzip_body_is_decompressed(server: str) -> None:
    plain = kr.scrape(server + "/metrics")
    packed = kr.scrape(server + "/gzip")
    assert packed.values.tolist() == plain.values.tolist()


def test_corrupt_gzip_is_an_incomplete_response(server: str) -> None:
    with pytest.raises(kr.IncompleteResponseError, match="gzip body is corrupt"):
        kr.scrape(server + "/bad-gzip")


def test_http_500_carries_status_and_first_line(server: str) -> None:
    with pytest.raises(kr.HTTPStatusError) as caught:
        kr.scrape(server + "/500")
    error = caught.value
    assert error.status == 500
    assert error.body_excerpt == "An error has occurred while serving metrics:"
    assert error.url == server + "/500"
    assert str(error) == (
        f"{server}/500 answered HTTP 500: An error has occurred while serving metrics:"
    )
    assert not isinstance(error, kr.AuthenticationError)


def test_http_503_empty_body(server: str) -> None:
    with pytest.raises(kr.HTTPStatusError) as caught:
        kr.scrape(server + "/503")
    assert caught.value.status == 503
    assert str(caught.value) == f"{server}/503 answered HTTP 503"


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_have_their_own_error(server: str, status: int) -> None:
    with pytest.raises(kr.AuthenticationError) as caught:
        kr.scrape(f"{server}/{status}")
    assert caught.value.status == status


@pytest.mark.parametrize("path", ["/html", "/html-untyped"])
def test_html_page_is_not_parsed(server: str, path: str) -> None:
    with pytest.raises(
        kr.NotAnExpositionError, match="HTML response, probably a login or proxy page"
    ):
        kr.scrape(server + path)


def test_json_error_is_not_parsed(server: str) -> None:
    with pytest.raises(kr.NotAnExpositionError, match="sent JSON"):
        kr.scrape(server + "/json")


def test_short_content_length_is_an_incomplete_response(server: str) -> None:
    with pytest.raises(kr.IncompleteResponseError) as caught:
        kr.scrape(server + "/short")
    assert "ended before its body did" in str(caught.value)
    assert "391" in str(caught.value)
    assert "538" in str(caught.value)


def test_cut_chunked_body_is_an_incomplete_response(server: str) -> None:
    with pytest.raises(kr.IncompleteResponseError):
        kr.scrape(server + "/chunked-cut")


def test_body_without_final_line_feed_is_incomplete(server: str) -> None:
    with pytest.raises(
        kr.IncompleteResponseError, match="ends in the middle of a line"
    ):
        kr.scrape(server + "/no-final-lf")


def test_empty_body_is_an_empty_snapshot(server: str) -> None:
    snap = kr.scrape(server + "/empty")
    assert len(snap) == 0
    assert snap.families == ()
    assert kr.detect_era(snap).name == "unknown"


def test_timeout(server: str) -> None:
    with pytest.raises(kr.ScrapeTimeoutError, match=r"no answer within 0\.3 s"):
        kr.scrape(server + "/slow", timeout=0.3)


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{free_port()}/metrics"
    with pytest.raises(kr.EndpointUnreachableError) as caught:
        kr.scrape(url)
    assert caught.value.url == url
    assert caught.value.__cause__ is not None


def test_credentials_never_appear_in_errors() -> None:
    url = f"http://user:s3cret@127.0.0.1:{free_port()}/metrics"
    with pytest.raises(kr.EndpointUnreachableError) as caught:
        fetch(url)
    assert "s3cret" not in str(caught.value)
    assert "s3cret" not in caught.value.url


def test_a_failed_scrape_leaves_no_snapshot_behind(server: str) -> None:
    # The failure is an exception, never a snapshot of zeros that a delta could use.
    snaps = []
    for path in ("/metrics", "/500", "/metrics"):
        try:
            snaps.append(kr.scrape(server + path))
        except kr.ScrapeError:
            continue
    assert len(snaps) == 2
    result = kr.diff(snaps[0], snaps[1], interval=3.0)
    assert all(p.joules == 0.0 for p in result.pods)


OM_BODY = (CASES / "36-content-type-and-openmetrics.prom").read_bytes()
TEXT_BODY = (CASES / "36-content-type-and-openmetrics.text.prom").read_bytes()
OM_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def test_36_format_follows_the_content_type() -> None:
    routes = {
        "/om": response("200 OK", OM_BODY, {"Content-Type": OM_TYPE}),
        "/text": response("200 OK", TEXT_BODY),
        "/untyped": response("200 OK", TEXT_BODY, {"Content-Type": ""}),
        "/om-cut": response(
            "200 OK", OM_BODY.replace(b"# EOF\n", b""), {"Content-Type": OM_TYPE}
        ),
    }
    with serve(routes) as running:
        url = base_url(running)
        om = kr.scrape(url + "/om", openmetrics=True)
        text = kr.scrape(url + "/text")
        untyped = kr.scrape(url + "/untyped")
        with pytest.raises(
            kr.IncompleteResponseError, match="does not end with '# EOF'"
        ):
            kr.scrape(url + "/om-cut")
        accept = running.requests[0][1]
    assert "Accept: application/openmetrics-text" in accept
    assert (om.format, text.format, untyped.format) == ("openmetrics", "text", "text")
    assert [str(s) for s in om.series] == [str(s) for s in text.series]
    assert om.values.tolist() == text.values.tolist() == [120.5, 4.0, 1234.0]
    assert untyped.warnings[0].message == (
        "The response had 'no Content-Type header'; it was read as the text format "
        "0.0.4."
    )
    assert text.warnings == ()


def test_gzip_body_without_content_encoding() -> None:
    import gzip

    with serve({"/m": response("200 OK", gzip.compress(BODY))}) as running:
        snap = kr.scrape(base_url(running) + "/m")
    assert len(snap) == 383


def test_family_filter_keeps_only_wanted_prefixes() -> None:
    parser = kr.Parser(families=["kepler_pod_", "kepler_node_cpu_joules"])
    snap = parser.parse(BODY)
    assert {f.name for f in snap.families} == {
        "kepler_pod_cpu_joules_total",
        "kepler_pod_cpu_watts",
        "kepler_node_cpu_joules_total",
    }
    full = kr.parse(BODY)
    rows = full.rows_of("kepler_pod_cpu_joules_total")
    assert snap.values[snap.rows_of("kepler_pod_cpu_joules_total")].tolist() == (
        full.values[rows].tolist()
    )
    assert kr.diff(
        parser.parse(BODY),
        parser.parse((KEPLER / "v0.11-node-a.t3.prom").read_bytes()),
        interval=3,
    ).pods[1].joules == (pytest.approx(2.971915, abs=1e-6))


def test_refused_connection_says_so() -> None:
    url = f"http://127.0.0.1:{free_port()}/metrics"
    with pytest.raises(kr.EndpointUnreachableError) as caught:
        kr.scrape(url)
    assert str(caught.value) == f"{url} is unreachable (connection refused)."


def test_url_without_scheme() -> None:
    with pytest.raises(kr.ScrapeError, match=r"must start with http:// or https://"):
        kr.scrape("127.0.0.1:28282/metrics")


def test_html_error_page_shows_the_reason_phrase() -> None:
    page = response(
        "404 Not Found",
        b"<!DOCTYPE HTML>\n<html>gone</html>\n",
        {"Content-Type": "text/html"},
    )
    with (
        serve({"/metrics": page}) as running,
        pytest.raises(kr.HTTPStatusError) as caught,
    ):
        kr.scrape(base_url(running) + "/metrics")
    assert str(caught.value).endswith("answered HTTP 404: Not Found")


def _cut_gzip(body: bytes) -> bytes:
    """A gzip stream flushed half-way and cut there: no final block, no CRC."""
    import zlib

    packer = zlib.compressobj(wbits=31)
    return packer.compress(body[: len(body) // 2]) + packer.flush(zlib.Z_FULL_FLUSH)


def test_cut_gzip_stream_is_an_error_not_a_short_snapshot() -> None:
    routes = {
        "/m": response("200 OK", _cut_gzip(BODY), {"Content-Encoding": "gzip"}),
        "/bare": response("200 OK", _cut_gzip(BODY)),
    }
    with serve(routes) as running:
        for path in ("/m", "/bare"):
            with pytest.raises(
                kr.IncompleteResponseError, match="gzip body is cut off"
            ):
                kr.scrape(base_url(running) + path)


@pytest.mark.parametrize("encoded", [True, False])
def test_gzip_bomb_stops_at_the_cap(encoded: bool) -> None:
    import gzip

    bomb = gzip.compress(b"a 1\n" * (8 << 20))  # 32 MiB of text, ~32 KiB packed
    headers = {"Content-Encoding": "gzip"} if encoded else {}
    with (
        serve({"/m": response("200 OK", bomb, headers)}) as running,
        pytest.raises(kr.LimitExceededError) as caught,
    ):
        kr.fetch(base_url(running) + "/m", max_body_bytes=1 << 20)
    assert caught.value.limit == "max_body_bytes"


def test_a_dripping_server_meets_the_deadline() -> None:
    import socket as sockets

    def drip(conn: sockets.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 40\r\nConnection: close\r\n\r\n"
        )
        for _ in range(40):
            try:
                conn.sendall(b"a")
            except OSError:
                return
            time.sleep(0.1)

    with serve({"/m": drip}) as running:
        started = time.monotonic()
        with pytest.raises(kr.ScrapeTimeoutError, match="still arriving"):
            kr.fetch(base_url(running) + "/m", timeout=1.0, deadline=0.5)
    assert time.monotonic() - started < 2.0


def test_prometheus3_body_is_not_mistaken_for_json() -> None:
    body = b'{"kepler.node.joules", "zone"="package"} 12\n'
    with serve({"/m": response("200 OK", body)}) as running:
        snap = kr.scrape(base_url(running) + "/m")
    assert snap.series[0].name == "kepler.node.joules"


def test_openmetrics_with_crlf_eof() -> None:
    body = OM_BODY.replace(b"\n", b"\r\n")
    with serve({"/m": response("200 OK", body, {"Content-Type": OM_TYPE})}) as running:
        snap = kr.scrape(base_url(running) + "/m")
    assert snap.values.tolist() == [120.5, 4.0, 1234.0]


def test_bad_redirect_is_a_scrape_error() -> None:
    target = response("302 Found", b"", {"Location": "http://[::1/x"})
    with serve({"/m": target}) as running, pytest.raises(kr.ScrapeError):
        kr.scrape(base_url(running) + "/m")


def test_bad_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        kr.fetch("http://127.0.0.1:1/metrics", timeout=0)
