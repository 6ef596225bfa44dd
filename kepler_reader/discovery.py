"""Finding the Kepler pods of a cluster through the Kubernetes API.

From inside a pod, :func:`discover` lists the Kepler pods with the pod's own
service-account token, over plain HTTPS to the API server (no Kubernetes client
library), and returns one metrics URL per running pod with the node it runs on.
``node_name=`` keeps only the pod on one node (``this_node=True`` takes it from the
``NODE_NAME`` variable that the downward API sets), for a sidecar or a DaemonSet
that reads only its own node.

The service account needs ``list`` on ``pods`` in Kepler's namespace (a Role and a
RoleBinding). The token is read on every call, as it rotates.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import requests

from .exceptions import DiscoveryError
from .scraping import Scraper

__all__ = [
    "DEFAULT_LABEL_SELECTOR",
    "DEFAULT_METRICS_PORT",
    "SERVICE_ACCOUNT_DIR",
    "KeplerPod",
    "discover",
    "scrapers_for",
]

#: Where Kubernetes mounts a pod's service-account token, CA bundle and namespace.
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: The label Kepler's manifests and Helm chart (v0.10+) put on the exporter pods.
#: Older manifests (v0.5-v0.9) use ``app.kubernetes.io/name=kepler-exporter``.
DEFAULT_LABEL_SELECTOR = "app.kubernetes.io/name=kepler"
#: Kepler's metrics port since v0.10 (9102 before; 9103 with the old operator).
DEFAULT_METRICS_PORT = 28282
_PAGE = 500
_MAX_PAGES = 200
_MAX_PAGE_BYTES = 64 << 20


@attrs.frozen(slots=True)
class KeplerPod:
    """One Kepler pod found in the cluster.

    Attributes:
        url: Its metrics URL, e.g. ``http://10.0.3.7:28282/metrics``.
        node: The node it runs on (``spec.nodeName``), which it reports on.
        pod: The pod name.
        namespace: The pod's namespace.
        ip: The pod IP.
    """

    url: str
    node: str
    pod: str
    namespace: str
    ip: str


def _read(path: Path, what: str, url: str) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise DiscoveryError(
            f"cannot read the service account's {what} {path} ({reason}); is this "
            "running in a pod with a mounted service account?",
            url=url,
        ) from None
    if not text:
        raise DiscoveryError(f"the service account's {what} {path} is empty.", url=url)
    return text


def _api_server(environ: Mapping[str, str]) -> str:
    host = environ.get("KUBERNETES_SERVICE_HOST")
    port = environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise DiscoveryError(
            "KUBERNETES_SERVICE_HOST is not set: not running in a Kubernetes pod "
            "(pass api_server= to reach an API server from elsewhere).",
            url="",
        )
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"https://{host}:{port}"


def _host(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def _port_of(pod: Mapping[str, Any], name: str) -> int | None:
    for container in pod.get("spec", {}).get("containers", []) or []:
        for port in container.get("ports", []) or []:
            if port.get("name") == name and isinstance(port.get("containerPort"), int):
                number: int = port["containerPort"]
                return number
    return None


def _pages(
    session: requests.Session, url: str, params: dict[str, str], timeout: float
) -> Iterator[dict[str, Any]]:
    """The PodList pages of one list request, following ``metadata.continue``."""
    for _ in range(_MAX_PAGES):
        shown = f"{url}?{urllib.parse.urlencode(params)}"
        try:
            response = session.get(url, params=params, timeout=timeout, stream=True)
            with response:
                body = b""
                for chunk in response.iter_content(1 << 16):
                    body += chunk
                    if len(body) > _MAX_PAGE_BYTES:
                        raise DiscoveryError(
                            f"{shown}: the pod list exceeds {_MAX_PAGE_BYTES} bytes.",
                            url=shown,
                        )
        except requests.exceptions.RequestException as error:
            raise DiscoveryError(
                f"{shown}: the Kubernetes API server cannot be reached "
                f"({type(error).__name__}: {error}).",
                url=shown,
            ) from error
        _check(response, body, shown, params)
        try:
            page = json.loads(body)
        except ValueError as error:
            raise DiscoveryError(
                f"{shown}: the API server's answer is not JSON.", url=shown
            ) from error
        if not isinstance(page, dict) or page.get("kind") != "PodList":
            raise DiscoveryError(f"{shown}: the answer is not a PodList.", url=shown)
        yield page
        following = (page.get("metadata") or {}).get("continue")
        if not following:
            return
        params = {**params, "continue": following}
    raise DiscoveryError(
        f"{url}: more than {_MAX_PAGES} pages of pods; narrow the label selector.",
        url=url,
    )


def _check(
    response: requests.Response, body: bytes, url: str, params: Mapping[str, str]
) -> None:
    if response.status_code == 200:
        return
    try:
        reason = str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        reason = body[:200].decode("utf-8", "replace").strip()
    detail = f": {reason}" if reason else ""
    hint = ""
    if response.status_code in (401, 403):
        namespace = url.split("/namespaces/", 1)[-1].split("/", 1)[0]
        hint = (
            f" The service account needs 'list' on 'pods' in namespace {namespace} "
            "(a Role and a RoleBinding)."
        )
    raise DiscoveryError(
        f"{url}: the API server answered HTTP {response.status_code}{detail}.{hint}",
        url=url,
    )


def discover(
    *,
    namespace: str | None = None,
    label_selector: str = DEFAULT_LABEL_SELECTOR,
    node_name: str | None = None,
    this_node: bool = False,
    port: int | None = None,
    port_name: str = "http",
    scheme: str = "http",
    path: str = "/metrics",
    api_server: str | None = None,
    service_account_dir: str = SERVICE_ACCOUNT_DIR,
    token_file: str | None = None,
    ca_file: str | None = None,
    timeout: float = 10.0,
    environ: Mapping[str, str] | None = None,
) -> list[KeplerPod]:
    """List the running Kepler pods and their metrics URLs.

    Args:
        namespace: Kepler's namespace (default: this pod's own, from the service
            account's ``namespace`` file).
        label_selector: Which pods are Kepler's (see
            :data:`DEFAULT_LABEL_SELECTOR`).
        node_name: Keep only the pod on this node.
        this_node: Keep only the pod on this pod's node, named by ``NODE_NAME``
            (set it from ``spec.nodeName`` with the downward API).
        port: The metrics port; by default the pod's container port named
            ``port_name``, else :data:`DEFAULT_METRICS_PORT`. Behind kube-rbac-proxy
            use its port (8443) with ``scheme="https"``.
        port_name: The container port name to look for when ``port`` is not given.
        scheme: ``http``, or ``https`` behind kube-rbac-proxy or exporter-toolkit TLS.
        path: The metrics path.
        api_server: The API server's base URL (default: from
            ``KUBERNETES_SERVICE_HOST`` and ``KUBERNETES_SERVICE_PORT``).
        service_account_dir: Where the token, ``ca.crt`` and ``namespace`` are.
        token_file: The token (default: ``token`` in ``service_account_dir``).
        ca_file: The CA bundle of the API server (default: ``ca.crt`` there).
        timeout: Connect and read timeout of each API request, in seconds.
        environ: The environment to read (default: ``os.environ``).

    Returns:
        One :class:`KeplerPod` per running pod that has an IP, sorted by node and
        pod name.

    Raises:
        DiscoveryError: The API server is unreachable, refuses the service account
            (the message names the permission needed), or answers something that
            is not a pod list; a service-account file cannot be read; or
            ``this_node`` without ``NODE_NAME``.
        ValueError: A scheme other than http and https.
    """
    if scheme not in ("http", "https"):
        raise ValueError(f"scheme must be http or https, not {scheme!r}")
    env = os.environ if environ is None else environ
    folder = Path(service_account_dir)
    base = (api_server or _api_server(env)).rstrip("/")
    if this_node:
        node_name = node_name or env.get("NODE_NAME")
        if not node_name:
            raise DiscoveryError(
                "NODE_NAME is not set: give the pod its node with the downward API "
                "(env NODE_NAME from fieldRef spec.nodeName).",
                url=base,
            )
    if namespace is None:
        namespace = _read(folder / "namespace", "namespace file", base)
    url = f"{base}/api/v1/namespaces/{urllib.parse.quote(namespace, safe='')}/pods"
    token = _read(Path(token_file or folder / "token"), "token file", url)
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_file or str(folder / "ca.crt")
    session.headers.update(
        {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    )
    params = {"labelSelector": label_selector, "limit": str(_PAGE)}
    if node_name:
        params["fieldSelector"] = f"spec.nodeName={node_name}"
    found: list[KeplerPod] = []
    with session:
        for page in _pages(session, url, params, timeout):
            found.extend(_kepler_pods(page, namespace, node_name, port, port_name))
    return sorted(
        (attrs.evolve(p, url=f"{scheme}://{p.url}{path}") for p in found),
        key=lambda p: (p.node, p.pod),
    )


def _kepler_pods(
    page: Mapping[str, Any],
    namespace: str,
    node_name: str | None,
    port: int | None,
    port_name: str,
) -> Iterator[KeplerPod]:
    """The running pods of one PodList page (``url`` holds ``host:port`` only)."""
    for item in page.get("items") or []:
        status = item.get("status") or {}
        spec = item.get("spec") or {}
        metadata = item.get("metadata") or {}
        ip = status.get("podIP")
        node = spec.get("nodeName") or ""
        if (
            status.get("phase") != "Running"
            or not ip
            or metadata.get("deletionTimestamp")
        ):
            continue
        if node_name and node != node_name:
            continue
        chosen = port or _port_of(item, port_name) or DEFAULT_METRICS_PORT
        yield KeplerPod(
            url=f"{_host(ip)}:{chosen}",
            node=node,
            pod=str(metadata.get("name", "")),
            namespace=str(metadata.get("namespace", namespace)),
            ip=ip,
        )


def scrapers_for(pods: Sequence[KeplerPod], **options: Any) -> list[Scraper]:
    """One :class:`~kepler_reader.Scraper` per discovered pod, named by its node.

    Args:
        pods: What :func:`discover` returned.
        **options: Passed to every :class:`~kepler_reader.Scraper` (timeouts,
            retries, ``bearer_token_file`` and ``ca_file`` behind kube-rbac-proxy).

    Raises:
        CredentialError: As :class:`~kepler_reader.Scraper` does.
        TypeError: ``node`` among the options (each scraper takes its pod's node).
    """
    if "node" in options:
        raise TypeError("scrapers_for names each scraper after its pod's node")
    return [Scraper(pod.url, node=pod.node, **options) for pod in pods]
