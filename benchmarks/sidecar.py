"""What one scrape costs a sidecar that reports per-pod power: parse, map, diff.

A sidecar keeps one :class:`kepler_reader.Parser` and one
:class:`kepler_reader.Registry` per endpoint. For each new body it parses it warm,
maps it onto the Kepler model (``kepler_view``) and diffs that view against the one
before (``diff``: joules and watts per pod, namespace and node). This times those three
steps on generated Kepler 0.10+ bodies (``generate.py``, 60 % process series, pods
starting and ending every tick), tick after tick, and prints the best time of each
step, their sum, and how much of a one-second scrape interval the sum takes. It does
so twice per size: reading the whole body, and with ``Parser(families=...)`` keeping
only what a per-pod diff needs.

No network: the bodies are generated in memory. Takes about a minute (two with the
500k-line body's generation).

    .venv/bin/python benchmarks/sidecar.py
    .venv/bin/python benchmarks/sidecar.py --lines 100000 --ticks 10
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

import generate

import kepler_reader as kr

#: What a per-pod diff of a Kepler 0.10+ body needs: the era, the node and the pods.
FAMILIES = (
    "kepler_build_info",
    "kepler_node_cpu_joules_total",
    "kepler_pod_cpu_joules_total",
)
SIZES = (10_000, 100_000, 500_000)


T = TypeVar("T")


def _timed(step: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = step()
    return result, time.perf_counter() - start


def measure(
    lines: int, ticks: int, families: Sequence[str] | None
) -> tuple[dict[str, float], int]:
    """Best seconds of each step over ``ticks`` scrapes, and the pods of the last."""
    node = generate.node_for_lines(lines, seed=0, process_share=0.6)
    bodies = [generate.render(node, tick) for tick in range(ticks + 1)]
    parser = kr.Parser(families=families)
    registry = kr.Registry()
    earlier = kr.kepler_view(parser.parse(bodies[0]), registry=registry)
    best = {"parse": float("inf"), "view": float("inf"), "diff": float("inf")}
    best["total"] = float("inf")
    pods = 0
    for body in bodies[1:]:
        gc.collect()
        snapshot, parse = _timed(partial(parser.parse, body))
        view, mapping = _timed(partial(kr.kepler_view, snapshot, registry=registry))
        result, delta = _timed(
            partial(kr.diff, earlier, view, interval=generate.INTERVAL_SECONDS)
        )
        pods = len(result.pods)
        for name, seconds in (("parse", parse), ("view", mapping), ("diff", delta)):
            best[name] = min(best[name], seconds)
        best["total"] = min(best["total"], parse + mapping + delta)
        earlier = view
    return best, pods


def main(argv: Sequence[str] | None = None) -> int:
    """Print one row per body size and way of reading it."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--lines",
        type=int,
        action="append",
        help="body size in lines (repeatable; default: 10k, 100k and 500k)",
    )
    parser.add_argument(
        "--ticks", type=int, default=5, help="scrapes timed per row (default: 5)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.ticks <= 100:
        parser.error("--ticks must be 1..100")
    sizes = args.lines or SIZES
    if any(not 100 <= size <= 2_000_000 for size in sizes):
        parser.error("--lines must be 100..2000000")

    print(
        "sidecar: warm parse + kepler_view + diff per scrape, best of "
        f"{args.ticks} ticks (ms)"
    )
    header = (
        f"{'lines':>7}  {'read':<8}  {'pods':>6}  {'parse':>8}  {'view':>8}  "
        f"{'diff':>8}  {'total':>8}  {'of 1 s':>6}"
    )
    print(header)
    print("-" * len(header))
    for lines in sizes:
        for label, families in (("whole", None), ("filtered", FAMILIES)):
            best, pods = measure(lines, args.ticks, families)
            ms = {name: f"{seconds * 1000:8.1f}" for name, seconds in best.items()}
            print(
                f"{lines:>7,}  {label:<8}  {pods:>6,}  {ms['parse']}  {ms['view']}  "
                f"{ms['diff']}  {ms['total']}  {best['total']:>6.0%}"
            )
    print(f"filtered: Parser(families={FAMILIES})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
