"""Kubernetes discovery against a fake API server on 127.0.0.1 over TLS, and
scraping every discovered endpoint at once.
"""

from __future__ import annotations

import argparse
import http.server
import json
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kepler_reader as kr
from kepler_reader.cli_options import (
    add_connection_options,
    add_discovery_options,
    scrapers_from_args,
)
from kepler_reader.discovery import KeplerPod, discover, scrapers_for
from kepler_reader.endpoints import scrape_all
from kepler_reader.replay import ReplayExporter
from tests.certs import Certificates, make_certificates
from tests.paths import KEPLER

TOKEN = "sa-token-for-tests"
BODY = (KEPLER / "v0.11-node-a.prom").read_bytes()


def _pod(
    name: str, node: str, port: int | None, *, phase: str = "Running", ip: str = ""
) -> dict[str, Any]:
    ports = [] if port is None else [{"name": "http", "containerPort": port}]
    return {
        "metadata": {"name": name, "namespace": "kepler"},
        "spec": {"nodeName": node, "containers": [{"name": "kepler", "ports": ports}]},
        "status": {"phase": phase, "podIP": ip or ("127.0.0.1" if port else "")},
    }


class FakeAPI(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, context: ssl.SSLContext, pages: list[list[dict[str, Any]]]):
        super().__init__(("127.0.0.1", 0), _APIHandler)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.pages = pages
        self.seen: list[tuple[str, dict[str, list[str]], str]] = []
        self.status = 200

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"


class _APIHandler(http.server.BaseHTTPRequestHandler):
    server: FakeAPI

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parts.query)
        auth = self.headers.get("Authorization", "")
        self.server.seen.append((parts.path, query, auth))
        if auth != f"Bearer {TOKEN}" or self.server.status == 403:
            self._json(
                403,
                {
                    "kind": "Status",
                    "message": 'pods is forbidden: User "system:serviceaccount:'
                    'monitoring:reader" cannot list resource "pods"',
                },
            )
            return
        index = int(query.get("continue", ["0"])[0])
        following = str(index + 1) if index + 1 < len(self.server.pages) else ""
        items = self.server.pages[index]
        wanted = query.get("fieldSelector", [""])[0].removeprefix("spec.nodeName=")
        if wanted:
            items = [p for p in items if p["spec"]["nodeName"] == wanted]
        self._json(
            200,
            {
                "kind": "PodList",
                "apiVersion": "v1",
                "metadata": {"continue": following} if following else {},
                "items": items,
            },
        )

    def _json(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def account(tmp_path: Path, certs: Certificates) -> Path:
    folder = tmp_path / "serviceaccount"
    folder.mkdir()
    (folder / "token").write_text(TOKEN + "\n")
    (folder / "namespace").write_text("kepler")
    (folder / "ca.crt").write_bytes(Path(certs.ca_file).read_bytes())
    return folder


@pytest.fixture
def exporters() -> Iterator[list[ReplayExporter]]:
    with ReplayExporter([BODY]) as a, ReplayExporter([BODY]) as b:
        yield [a, b]


def _port(exporter: ReplayExporter) -> int:
    return int(exporter.url.rsplit(":", 1)[1].split("/", 1)[0])


@pytest.fixture
def api(certs: Certificates, exporters: list[ReplayExporter]) -> Iterator[FakeAPI]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs.server_cert, certs.server_key)
    a, b = (_port(e) for e in exporters)
    pages = [
        [
            _pod("kepler-b", "node-b", b),
            _pod("kepler-new", "node-c", None, phase="Pending"),
        ],
        [_pod("kepler-a", "node-a", a)],
    ]
    server = FakeAPI(context, pages)
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _environ(api: FakeAPI, **extra: str) -> dict[str, str]:
    port = api.url.rsplit(":", 1)[1]
    return {
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": port,
        **extra,
    }


def test_discover_lists_running_pods_across_pages(
    api: FakeAPI, account: Path, exporters: list[ReplayExporter]
) -> None:
    pods = discover(service_account_dir=str(account), environ=_environ(api))
    assert pods == [
        KeplerPod(exporters[0].url, "node-a", "kepler-a", "kepler", "127.0.0.1"),
        KeplerPod(exporters[1].url, "node-b", "kepler-b", "kepler", "127.0.0.1"),
    ]
    (path, first, auth), (_, second, _) = api.seen
    assert path == "/api/v1/namespaces/kepler/pods"
    assert first == {
        "labelSelector": ["app.kubernetes.io/name=kepler"],
        "limit": ["500"],
    }
    assert second["continue"] == ["1"]
    assert auth == f"Bearer {TOKEN}"


def test_this_node_keeps_only_its_pod(
    api: FakeAPI, account: Path, exporters: list[ReplayExporter]
) -> None:
    pods = discover(
        service_account_dir=str(account),
        environ=_environ(api, NODE_NAME="node-b"),
        this_node=True,
        namespace="kepler",
        label_selector="app.kubernetes.io/name=kepler-exporter",
    )
    assert [(p.node, p.url) for p in pods] == [("node-b", exporters[1].url)]
    query = api.seen[0][1]
    assert query["fieldSelector"] == ["spec.nodeName=node-b"]
    assert query["labelSelector"] == ["app.kubernetes.io/name=kepler-exporter"]


def test_an_explicit_port_and_scheme(api: FakeAPI, account: Path) -> None:
    pods = discover(
        service_account_dir=str(account),
        api_server=api.url,
        port=8443,
        scheme="https",
        node_name="node-a",
    )
    assert [p.url for p in pods] == ["https://127.0.0.1:8443/metrics"]


def test_forbidden_names_the_permission(api: FakeAPI, account: Path) -> None:
    api.status = 403
    with pytest.raises(kr.DiscoveryError) as caught:
        discover(service_account_dir=str(account), api_server=api.url)
    assert str(caught.value) == (
        f"{api.url}/api/v1/namespaces/kepler/pods?labelSelector=app.kubernetes.io%2F"
        "name%3Dkepler&limit=500: the API server answered HTTP 403: pods is "
        'forbidden: User "system:serviceaccount:monitoring:reader" cannot list '
        "resource \"pods\". The service account needs 'list' on 'pods' in "
        "namespace kepler (a Role and a RoleBinding)."
    )
    assert TOKEN not in str(caught.value)


def test_an_untrusted_api_server_is_refused(
    api: FakeAPI, account: Path, certs: Certificates
) -> None:
    with pytest.raises(kr.DiscoveryError, match="cannot be reached") as caught:
        discover(
            service_account_dir=str(account),
            api_server=api.url,
            ca_file=certs.stranger_ca_file,
        )
    assert api.seen == []
    assert caught.value.__cause__ is not None


def test_outside_a_cluster(tmp_path: Path) -> None:
    with pytest.raises(kr.DiscoveryError, match="KUBERNETES_SERVICE_HOST is not set"):
        discover(environ={}, service_account_dir=str(tmp_path))
    with pytest.raises(kr.DiscoveryError, match="NODE_NAME is not set"):
        discover(environ={}, api_server="https://127.0.0.1:1", this_node=True)
    with pytest.raises(kr.DiscoveryError, match="cannot read the service account's"):
        discover(
            environ={},
            api_server="https://127.0.0.1:1",
            service_account_dir=str(tmp_path),
        )


def test_scrape_all_discovered_with_one_endpoint_down(
    api: FakeAPI, account: Path, exporters: list[ReplayExporter]
) -> None:
    pods = discover(service_account_dir=str(account), environ=_environ(api))
    pods.append(KeplerPod("http://127.0.0.1:1/metrics", "node-z", "gone", "kepler", ""))
    scrapers = scrapers_for(pods, retries=0, timeout=5)
    try:
        results = scrape_all(scrapers)
    finally:
        for scraper in scrapers:
            scraper.close()
    assert [(r.node, r.ok) for r in results] == [
        ("node-a", True),
        ("node-b", True),
        ("node-z", False),
    ]
    assert isinstance(results[2].error, kr.EndpointUnreachableError)
    assert results[2].snapshot is None
    assert results[2].url == "http://127.0.0.1:1/metrics"
    for result in results[:2]:
        assert result.snapshot is not None
        assert len(result.snapshot) == 383
        assert result.error is None


def test_discovery_flags(
    api: FakeAPI,
    account: Path,
    exporters: list[ReplayExporter],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in _environ(api).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KEPLER_READER_SERVICE_ACCOUNT_DIR", str(account))
    parser = argparse.ArgumentParser(prog="test")
    add_connection_options(parser)
    add_discovery_options(parser)
    args = parser.parse_args(["--kubernetes", "--retries", "0"])
    scrapers = scrapers_from_args(args, ["http://127.0.0.1:1/metrics"])
    try:
        assert [(s.node, s.url, s.retries) for s in scrapers] == [
            ("127.0.0.1", "http://127.0.0.1:1/metrics", 0),
            ("node-a", exporters[0].url, 0),
            ("node-b", exporters[1].url, 0),
        ]
    finally:
        for scraper in scrapers:
            scraper.close()
    plain = parser.parse_args([])
    assert scrapers_from_args(plain, []) == []
    assert api.seen[0][1]["labelSelector"] == ["app.kubernetes.io/name=kepler"]
