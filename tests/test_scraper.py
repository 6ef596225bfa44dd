"""The Scraper client over real HTTP on 127.0.0.1: retries, credentials, secrecy."""

from __future__ import annotations

import base64
import contextlib
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import kepler_reader as kr
from kepler_reader.cli import main
from kepler_reader.replay import ReplayExporter
from kepler_reader.scraping import ACCEPT_OPENMETRICS
from tests.paths import KEPLER
from tests.servers import (
    base_url,
    free_port,
    response,
    sequence,
    serve,
    slow,
)

BODY = (KEPLER / "v0.11-node-a.prom").read_bytes()
TOKEN = "eyJhbGciOiJSUzI1NiJ9.s3cret-token-value"
OK = response("200 OK", BODY)


def _headers(raw: str) -> dict[str, str]:
    pairs = (line.split(": ", 1) for line in raw.split("\r\n") if ": " in line)
    return {name.lower(): value for name, value in pairs}


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the sleeps of urllib3's retry policy instead of sleeping."""
    slept: list[float] = []
    # urllib3's retry module calls time.sleep through the time module.
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def test_a_5xx_is_retried_until_the_body_comes(waits: list[float]) -> None:
    route = sequence(
        response("503 Service Unavailable", b""),
        response("500 Internal Server Error", b"boom\n"),
        OK,
    )
    with (
        serve({"/metrics": route}) as running,
        kr.Scraper(base_url(running) + "/metrics", retries=2, backoff=0.5) as scraper,
    ):
        result = scraper.fetch()
    assert len(running.requests) == 3
    assert result.retries == 2
    assert result.body == BODY
    # The first retry goes at once, the second after twice the backoff factor.
    assert waits == [1.0]


def test_retries_exhausted_give_the_last_status(waits: list[float]) -> None:
    route = response("502 Bad Gateway", b"upstream down\n")
    with serve({"/metrics": route}) as running:
        url = base_url(running) + "/metrics"
        with (
            kr.Scraper(url, retries=3, backoff=0) as scraper,
            pytest.raises(kr.HTTPStatusError) as caught,
        ):
            scraper.fetch()
    assert len(running.requests) == 4
    assert caught.value.status == 502
    assert str(caught.value) == (
        f"{url} answered HTTP 502 after 3 retries: upstream down"
    )
    assert not isinstance(caught.value, kr.AuthenticationError)


def test_429_waits_as_retry_after_says(waits: list[float]) -> None:
    route = sequence(response("429 Too Many Requests", b"", {"Retry-After": "2"}), OK)
    with (
        serve({"/metrics": route}) as running,
        kr.Scraper(base_url(running) + "/metrics") as scraper,
    ):
        snap = scraper.scrape()
    assert len(running.requests) == 2
    assert waits == [2.0]
    assert len(snap) == 383


def test_retry_after_is_capped(waits: list[float]) -> None:
    route = sequence(
        response("503 Service Unavailable", b"", {"Retry-After": "3600"}), OK
    )
    with (
        serve({"/metrics": route}) as running,
        kr.Scraper(base_url(running) + "/metrics", max_retry_after=1.5) as scraper,
    ):
        scraper.fetch()
    assert waits == [1.5]


def test_no_retry_means_one_request() -> None:
    route = response("503 Service Unavailable", b"")
    with (
        serve({"/metrics": route}) as running,
        kr.Scraper(base_url(running) + "/metrics", retries=0) as scraper,
        pytest.raises(kr.HTTPStatusError, match=r"answered HTTP 503$"),
    ):
        scraper.fetch()
    assert len(running.requests) == 1


@pytest.mark.parametrize("status", ["401 Unauthorized", "403 Forbidden"])
def test_auth_failures_are_not_retried(status: str) -> None:
    with (
        serve({"/metrics": response(status, b"no\n")}) as running,
        kr.Scraper(base_url(running) + "/metrics") as scraper,
        pytest.raises(kr.AuthenticationError),
    ):
        scraper.fetch()
    assert len(running.requests) == 1


def test_refused_connection_after_retries(
    waits: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}/metrics"
    caplog.set_level(logging.INFO, logger="kepler_reader")
    with (
        kr.Scraper(url, retries=2, backoff=0.1) as scraper,
        pytest.raises(kr.EndpointUnreachableError) as caught,
    ):
        scraper.fetch()
    assert str(caught.value) == (
        f"{url} is unreachable (connection refused) after 2 retries."
    )
    assert type(caught.value) is kr.EndpointUnreachableError
    assert caught.value.__cause__ is not None
    retried = [r for r in caplog.records if r.getMessage().startswith("retrying")]
    assert len(retried) == 2
    assert waits == [0.2]


@pytest.fixture
def unaccepting() -> Iterator[str]:
    """A port whose listen queue is full: connections hang until they time out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield f"http://127.0.0.1:{port}/metrics"
    finally:
        for filler in fillers:
            filler.close()
        server.close()


def test_a_connect_timeout_is_retried(unaccepting: str) -> None:
    with (
        kr.Scraper(unaccepting, connect_timeout=0.2, timeout=5, retries=1) as s,
        pytest.raises(kr.ScrapeTimeoutError) as caught,
    ):
        s.fetch()
    assert str(caught.value) == (
        f"{unaccepting}: no connection within 0.2 s after 1 retry."
    )


def test_a_read_timeout_is_not_retried() -> None:
    with (
        serve({"/metrics": slow(1.0, OK)}) as running,
        kr.Scraper(base_url(running) + "/metrics", timeout=0.2) as scraper,
        pytest.raises(kr.ScrapeTimeoutError, match=r"no answer within 0\.2 s"),
    ):
        scraper.fetch()
    assert len(running.requests) == 1


def test_a_cut_body_is_not_retried() -> None:
    route = response("200 OK", BODY[:100], length=len(BODY))
    with (
        serve({"/metrics": route}) as running,
        kr.Scraper(base_url(running) + "/metrics") as scraper,
        pytest.raises(kr.IncompleteResponseError, match=r"after 100 of the"),
    ):
        scraper.fetch()
    assert len(running.requests) == 1


def test_announced_body_over_the_cap_is_refused_unread() -> None:
    with (
        serve({"/metrics": OK}) as running,
        kr.Scraper(base_url(running) + "/metrics", max_body_bytes=1000) as scraper,
        pytest.raises(kr.LimitExceededError, match="max_body_bytes=1000") as caught,
    ):
        scraper.fetch()
    assert caught.value.value == 1000


def test_body_over_the_cap_without_length_is_refused() -> None:
    route = response("200 OK", BODY, {"Content-Length": ""})
    with (
        serve({"/metrics": route}) as running,
        kr.Scraper(base_url(running) + "/metrics", max_body_bytes=4096) as scraper,
        pytest.raises(kr.LimitExceededError),
    ):
        scraper.fetch()


def test_accept_headers_and_scrape_time() -> None:
    with serve({"/metrics": OK}) as running:
        url = base_url(running) + "/metrics"
        with kr.Scraper(url, openmetrics=True) as scraper:
            first = scraper.scrape()
            second = scraper.scrape()
    sent = _headers(running.requests[0][1])
    assert sent["accept"] == ACCEPT_OPENMETRICS
    assert sent["accept-encoding"] == "gzip"
    assert "authorization" not in sent
    assert first.scraped_at is not None
    assert second.scraped_at is not None
    assert first.scraped_at <= second.scraped_at
    assert first.source == url


def test_bearer_token_is_read_again_on_every_scrape(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with serve({"/metrics": OK}) as running:
        url = base_url(running) + "/metrics"
        with kr.Scraper(url, bearer_token_file=str(token_file)) as scraper:
            scraper.fetch()
            # The kubelet swaps the projected token file for a new one.
            token_file.write_text("rotated-token\n")
            scraper.fetch()
    sent = [_headers(raw)["authorization"] for _, raw in running.requests]
    assert sent == [f"Bearer {TOKEN}", "Bearer rotated-token"]


@pytest.mark.parametrize("content", [None, ""], ids=["missing", "empty"])
def test_unusable_token_file_is_a_credential_error(
    tmp_path: Path, content: str | None
) -> None:
    token_file = tmp_path / "token"
    if content is not None:
        token_file.write_text(content)
    with serve({"/metrics": OK}) as running:
        url = base_url(running) + "/metrics"
        with (
            kr.Scraper(url, bearer_token_file=str(token_file)) as scraper,
            pytest.raises(kr.CredentialError) as caught,
        ):
            scraper.fetch()
    assert caught.value.path == str(token_file)
    assert str(token_file) in str(caught.value)
    assert running.requests == []


def test_basic_auth_with_a_password_file(tmp_path: Path) -> None:
    password_file = tmp_path / "password"
    password_file.write_text("hunter2\n")
    with serve({"/metrics": OK}) as running:
        url = base_url(running) + "/metrics"
        with kr.Scraper(
            url, basic_auth_user="kepler", basic_auth_password_file=str(password_file)
        ) as scraper:
            scraper.fetch()
            password_file.write_text("changed")
            scraper.fetch()
        with kr.Scraper(
            url, basic_auth_user="kepler", basic_auth_password="p@ss:word"
        ) as scraper:
            scraper.fetch()
            assert "p@ss" not in repr(scraper)
    sent = [_headers(raw)["authorization"] for _, raw in running.requests]
    expected = [
        "Basic " + base64.b64encode(pair).decode()
        for pair in (b"kepler:hunter2", b"kepler:changed", b"kepler:p@ss:word")
    ]
    assert sent == expected


def test_secrets_never_show(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    # A proxy that echoes the request in its error page.
    echo = response("401 Unauthorized", f"rejected: Bearer {TOKEN}\n".encode())
    caplog.set_level(logging.DEBUG)
    with serve({"/metrics": echo, "/500": response("500 Oops", b"x\n")}) as running:
        url = base_url(running)
        with kr.Scraper(url + "/metrics", bearer_token_file=str(token_file)) as a:
            with pytest.raises(kr.AuthenticationError) as denied:
                a.fetch()
            shown = repr(a)
        with kr.Scraper(
            url + "/500", basic_auth_user="u", basic_auth_password=TOKEN, retries=1
        ) as b:
            with pytest.raises(kr.HTTPStatusError) as failed:
                b.fetch()
            shown += repr(b) + repr(b.credentials)
    assert str(denied.value) == f"{url}/metrics answered HTTP 401: rejected: Bearer ***"
    assert denied.value.body_excerpt == "rejected: Bearer ***"
    packed = base64.b64encode(f"u:{TOKEN}".encode()).decode()
    everything = (
        shown
        + str(denied.value)
        + str(failed.value)
        + caplog.text
        + "".join(capsys.readouterr())
    )
    assert TOKEN not in everything
    assert packed not in everything
    assert str(token_file) in shown


def test_contradictory_credentials_are_refused(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    url = "https://127.0.0.1:1/metrics"
    with pytest.raises(kr.CredentialError, match="bearer token or basic auth"):
        kr.Scraper(url, bearer_token_file=str(token_file), basic_auth_user="u")
    with pytest.raises(kr.CredentialError, match="needs its client certificate"):
        kr.Scraper(url, key_file=str(token_file))
    with pytest.raises(kr.CredentialError, match=r"CA bundle .* does not exist") as ca:
        kr.Scraper(url, ca_file=str(tmp_path / "nope.crt"))
    assert ca.value.path == str(tmp_path / "nope.crt")


def test_node_identity_and_repr() -> None:
    scraper = kr.Scraper("http://user:pw@127.0.0.1:28282/metrics", node="node-a")
    try:
        assert scraper.node == "node-a"
        assert repr(scraper) == (
            "Scraper('http://127.0.0.1:28282/metrics', node='node-a', "
            "auth='basic auth as user')"
        )
    finally:
        scraper.close()
    with kr.Scraper("http://127.0.0.1:28282/metrics") as plain:
        assert plain.node == "127.0.0.1"


def test_the_scrape_command_keeps_the_token_out_of_the_dump(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    out = tmp_path / "dump.prom"
    with ReplayExporter([BODY], token=TOKEN) as exporter:
        flags = ["--bearer-token-file", str(token_file), "-o", str(out)]
        code = main(["-vv", "scrape", exporter.url, *flags])
        refused = main(["scrape", exporter.url, "--retries", "0"])
    assert (code, refused) == (0, 3)
    dump = out.read_bytes()
    assert dump.endswith(BODY)
    assert dump.startswith(b"# kepler-reader scraped_at=")
    assert f"url={exporter.url}\n".encode() in dump.split(b"\n", 1)[0] + b"\n"
    printed = "".join(capfd.readouterr())
    assert "answered HTTP 401" in printed
    assert TOKEN.encode() not in dump
    assert TOKEN not in printed


def test_credentials_in_the_url_are_basic_auth() -> None:
    with serve({"/metrics": OK}) as running:
        url = base_url(running) + "/metrics"
        secret_url = url.replace("://", "://reader:p%40ss@")
        with kr.Scraper(secret_url) as scraper:
            response = scraper.fetch()
            shown = repr(scraper)
    assert response.url == url
    assert _headers(running.requests[0][1])["authorization"] == (
        "Basic " + base64.b64encode(b"reader:p@ss").decode()
    )
    assert "p%40ss" not in shown
    assert "p@ss" not in shown
    with pytest.raises(kr.CredentialError, match="in the URL and in the settings"):
        kr.Scraper(secret_url, basic_auth_user="other")
