"""How long scraping many slow endpoints at once takes, against the slowest one alone.

Starts ``--endpoints`` replay exporters on 127.0.0.1 (50 by default), each answering
every request after ``--delay`` seconds (0.3 by default) with the same v0.11 body from
``fixtures/kepler/``, or a generated body of ``--lines`` lines. Then:

* alone: each endpoint is scraped by itself with its own :class:`kepler_reader.Scraper`
  (one warm-up scrape first, so the connection is open); the slowest of these single
  scrapes is the reference;
* together: :func:`kepler_reader.scrape_all` over all the scrapers, ``--rounds``
  times (5 by default); the median and the worst round are reported.

The ratio ``together / slowest alone`` is the figure: 1.0 would mean the 50 scrapes
overlap perfectly; the target is at most 2. Everything stays on 127.0.0.1 and stops by
itself; it takes about ``(2 * endpoints + rounds) * delay`` seconds plus parsing.

    .venv/bin/python benchmarks/concurrent_scrape.py
    .venv/bin/python benchmarks/concurrent_scrape.py --endpoints 100 --delay 0.5
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import kepler_reader as kr
from kepler_reader.endpoints import scrape_all
from kepler_reader.replay import ReplayExporter

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures/kepler/v0.11-node-a.prom"


def _body(lines: int | None) -> bytes:
    if lines is None:
        return FIXTURE.read_bytes()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import generate

    body: bytes = generate.kepler_body(lines, seed=0)
    return body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.3, help="seconds per answer")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lines", type=int, help="generated body size instead")
    args = parser.parse_args()
    if not 1 <= args.endpoints <= 500 or not 1 <= args.rounds <= 100:
        parser.error("--endpoints must be 1..500 and --rounds 1..100")
    if not 0 <= args.delay <= 10:
        parser.error("--delay must be 0..10 s")
    body = _body(args.lines)
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, kepler_reader {kr.__version__}"
    )
    print(
        f"# {args.endpoints} replay exporters on 127.0.0.1, {args.delay:g} s delay, "
        f"{len(body)} byte body"
    )
    with contextlib.ExitStack() as stack:
        exporters = [
            stack.enter_context(ReplayExporter([body], delay=args.delay))
            for _ in range(args.endpoints)
        ]
        scrapers = [
            stack.enter_context(kr.Scraper(e.url, node=f"node-{i:03d}", retries=0))
            for i, e in enumerate(exporters)
        ]
        alone: list[float] = []
        for scraper in scrapers:
            scraper.scrape()  # warm-up: open the connection
            started = time.perf_counter()
            scraper.scrape()
            alone.append(time.perf_counter() - started)
        together: list[float] = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            results = scrape_all(scrapers)
            together.append(time.perf_counter() - started)
            failed = [r for r in results if not r.ok]
            if failed:
                print(f"error: {len(failed)} scrapes failed: {failed[0].error}")
                return 1
    slowest = max(alone)
    median = statistics.median(together)
    print(f"alone:    median {statistics.median(alone):.3f} s, slowest {slowest:.3f} s")
    print(f"together: median {median:.3f} s, worst {max(together):.3f} s")
    print(
        f"ratio together/slowest alone: median {median / slowest:.2f}x, "
        f"worst {max(together) / slowest:.2f}x (target <= 2x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
