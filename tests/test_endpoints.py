"""scrape_all over several real endpoints on 127.0.0.1."""

from __future__ import annotations

import socket
import threading

import pytest

import kepler_reader as kr
from kepler_reader.endpoints import scrape_all
from tests.paths import KEPLER
from tests.servers import Responder, base_url, response, serve

BODY = (KEPLER / "v0.11-node-a.prom").read_bytes()


def _together(barrier: threading.Barrier) -> Responder:
    """Answer only once every endpoint has been asked: proof of concurrency."""
    ok = response("200 OK", BODY)
    late = response("500 Internal Server Error", b"asked one at a time\n")

    def send(conn: socket.socket) -> None:
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            late(conn)
            return
        ok(conn)

    return send


def test_every_endpoint_is_asked_at_once() -> None:
    barrier = threading.Barrier(6)
    with serve({f"/{i}": _together(barrier) for i in range(6)}) as running:
        url = base_url(running)
        scrapers = [kr.Scraper(f"{url}/{i}", node=f"node-{i}") for i in range(6)]
        results = scrape_all(scrapers)
    assert [r.node for r in results] == [f"node-{i}" for i in range(6)]
    assert all(r.ok for r in results), [str(r.error) for r in results]
    assert [len(r.snapshot or ()) for r in results] == [383] * 6


def test_failures_stay_beside_the_snapshots() -> None:
    routes = {
        "/ok": response("200 OK", BODY),
        "/500": response("500 Internal Server Error", b"boom\n"),
        "/401": response("401 Unauthorized", b"no\n"),
        "/bad": response("200 OK", b"not metrics at all {\n"),
        "/big": response("200 OK", BODY * 4),
    }
    with serve(routes) as running:
        url = base_url(running)
        scrapers = [
            kr.Scraper(url + "/500", node="n1", retries=0),
            kr.Scraper(url + "/ok", node="n2"),
            kr.Scraper(url + "/401", node="n3"),
            kr.Scraper(url + "/bad", node="n4"),
            kr.Scraper(url + "/big", node="n5", max_body_bytes=len(BODY)),
        ]
        results = scrape_all(scrapers, max_workers=2)
    kinds = [type(r.error) for r in results]
    assert kinds == [
        kr.HTTPStatusError,
        type(None),
        kr.AuthenticationError,
        kr.ParseError,
        kr.LimitExceededError,
    ]
    assert [r.node for r in results] == ["n1", "n2", "n3", "n4", "n5"]
    assert results[1].snapshot is not None
    assert results[1].snapshot.source == url + "/ok"
    assert [r.snapshot is None for r in results] == [True, False, True, True, True]
    assert all(r.elapsed_seconds >= 0 for r in results)


def test_arguments_are_checked() -> None:
    with kr.Scraper("http://127.0.0.1:1/metrics") as scraper:
        with pytest.raises(ValueError, match="only once"):
            scrape_all([scraper, scraper])
        with pytest.raises(ValueError, match="max_workers must be 1 or more"):
            scrape_all([scraper], max_workers=0)
    assert scrape_all([]) == []
