"""Kepler bodies built in tests, and a server that answers with them in turn."""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence

from tests.servers import Responder, response

#: Stands for a failed scrape in a :func:`in_turn` sequence: an HTML login page.
FAIL = b"<html><body>Sign in</body></html>"


def pod_body(
    pods: dict[tuple[str, str], float],
    *,
    node_joules: float | None = None,
    node: str = "node-a",
    states: dict[tuple[str, str], str] | None = None,
) -> bytes:
    """A Kepler 0.10+ body: one package counter per pod, and the node's counter."""
    lines = [
        "# HELP kepler_pod_cpu_joules_total Energy consumption of cpu at pod level",
        "# TYPE kepler_pod_cpu_joules_total counter",
    ]
    for (namespace, pod), joules in pods.items():
        state = (states or {}).get((namespace, pod), "running")
        lines.append(
            f'kepler_pod_cpu_joules_total{{node_name="{node}",pod_id="uid-{pod}",'
            f'pod_name="{pod}",pod_namespace="{namespace}",state="{state}",'
            f'zone="package"}} {joules!r}'
        )
    if node_joules is not None:
        lines += [
            "# TYPE kepler_node_cpu_joules_total counter",
            f'kepler_node_cpu_joules_total{{node_name="{node}",zone="package"}} '
            f"{node_joules!r}",
        ]
    return ("\n".join(lines) + "\n").encode()


def in_turn(bodies: Sequence[bytes]) -> tuple[Responder, list[int]]:
    """A responder serving ``bodies`` one per request, the last one repeating.

    A body equal to :data:`FAIL` is sent as an HTML page (a failed scrape). The
    returned list grows by one (the body's index) per request answered.
    """
    served: list[int] = []
    lock = threading.Lock()

    def send(conn: socket.socket) -> None:
        with lock:
            index = min(len(served), len(bodies) - 1)
            served.append(index)
        body = bodies[index]
        kind = "text/html" if body == FAIL else "text/plain; version=0.0.4"
        response("200 OK", body, {"Content-Type": kind})(conn)

    return send, served
