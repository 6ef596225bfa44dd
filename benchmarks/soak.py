"""Soak: ``record``, ``top`` and ``serve`` against a churning exporter that goes away.

Run ``python benchmarks/soak.py [--seconds 180] [--interval 0.1]``. It serves bodies
of :func:`generate.kepler_body` (about 2000 lines; every scrape is the next tick, so
Job pods come, terminate and vanish) on 127.0.0.1, and closes the port for a third of
every 9-second cycle (connection refused), then opens it again. Meanwhile one
``kepler-reader record``, one ``kepler-reader top`` and one ``kepler-reader serve``
scrape it every ``--interval`` seconds. Their resident memory (``VmRSS`` from
``/proc``) is read once a quarter of the run has passed (after warm-up) and again at
the end; the growth between the two must stay under ``--max-growth-mib`` (8 MiB by
default). All three are then stopped with SIGTERM and must exit 0, and the recording
must read back whole: every record complete, gaps for the outages.

It prints one JSON object with the figures and exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate

import kepler_reader as kr
from kepler_reader.recorder import Gap

CYCLE_SECONDS = 9.0
DOWN_SECONDS = 3.0


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        body = self.server.exporter.next_body()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet."""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, exporter: FlakyExporter) -> None:
        self.exporter = exporter
        super().__init__(("127.0.0.1", port), _Handler)


class FlakyExporter:
    """A churning Kepler on 127.0.0.1 whose port closes and reopens on a cycle."""

    def __init__(self, lines: int) -> None:
        self.lines = lines
        self.tick = 0
        self.outages = 0
        self._lock = threading.Lock()
        self._server: _Server | None = _Server(0, self)
        self.port = self._server.server_address[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def next_body(self) -> bytes:
        with self._lock:
            self.tick += 1
            tick = self.tick
        body: bytes = generate.kepler_body(self.lines, tick=tick)
        return body

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    def _serve(self) -> threading.Thread:
        assert self._server is not None
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        started = time.monotonic()
        serving = self._serve()
        while not self._stop.wait(0.05):
            phase = (time.monotonic() - started) % CYCLE_SECONDS
            up = phase < CYCLE_SECONDS - DOWN_SECONDS
            if not up and self._server is not None:
                self._server.shutdown()
                self._server.server_close()
                serving.join(5)
                self._server = None
                self.outages += 1
            elif up and self._server is None:
                self._server = _Server(self.port, self)
                serving = self._serve()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            serving.join(5)

    def __enter__(self) -> FlakyExporter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "kepler_reader", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--seconds", type=float, default=180.0)
    options.add_argument("--interval", type=float, default=0.1)
    options.add_argument("--lines", type=int, default=2000)
    options.add_argument("--max-growth-mib", type=float, default=8.0)
    given = options.parse_args()

    with tempfile.TemporaryDirectory() as folder, FlakyExporter(given.lines) as server:
        path = Path(folder) / "soak.krec"
        interval = str(given.interval)
        commands = {
            "record": ["record", server.url, "--interval", interval, "--timeout", "1",
                       "-o", str(path)],
            "top": ["top", server.url, "--interval", interval, "--timeout", "1"],
            "serve": ["serve", server.url, "--interval", interval, "--timeout", "1",
                      "--window", "1", "--pod-ttl", "5",
                      "--listen", f"127.0.0.1:{free_port()}"],
        }  # fmt: skip
        processes = {name: start(args) for name, args in commands.items()}
        try:
            time.sleep(given.seconds / 4)
            early = {name: rss_kib(p.pid) for name, p in processes.items()}
            time.sleep(given.seconds * 3 / 4)
            late = {name: rss_kib(p.pid) for name, p in processes.items()}
            for process in processes.values():
                process.send_signal(signal.SIGTERM)
            codes = {name: p.wait(timeout=30) for name, p in processes.items()}
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.kill()
                    process.wait()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a torn record would fail here
            items = list(kr.iter_records(path, gaps=True))
        size = os.path.getsize(path)
        served, outages = server.tick, server.outages

    gaps = sum(isinstance(item, Gap) for item in items)
    growth = {name: (late[name] - early[name]) / 1024 for name in processes}
    report = {
        "seconds": given.seconds,
        "interval_seconds": given.interval,
        "body_lines": given.lines,
        "bodies_served": served,
        "outages": outages,
        "records": len(items) - gaps,
        "gaps": gaps,
        "recording_bytes": size,
        "rss_kib_early": early,
        "rss_kib_late": late,
        "rss_growth_mib": growth,
        "max_growth_mib": given.max_growth_mib,
        "exit_codes": codes,
    }
    print(json.dumps(report, indent=2))
    failed = [
        *(f"{name} exited {code}" for name, code in codes.items() if code != 0),
        *(
            f"{name} grew {mib:.1f} MiB"
            for name, mib in growth.items()
            if mib > given.max_growth_mib
        ),
    ]
    if outages and not gaps:
        failed.append("the outages left no gaps in the recording")
    if len(items) - gaps < 2:
        failed.append("fewer than 2 records")
    for problem in failed:
        print(f"soak: {problem}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
