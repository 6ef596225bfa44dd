"""``kepler-reader measure``: run a command and measure the pods' energy meanwhile.

::

    kepler-reader measure http://NODE:28282/metrics --namespace flux-system -- make

The command runs with kepler-reader's standard input; its standard output and error
both go to kepler-reader's standard error, so standard output carries only the
measurement. ``measure`` exits with the command's exit status (128 + N when a
signal N ended it; 127 when it could not be found, 126 when it could not be run).
When the measurement itself fails it exits with the codes of :mod:`kepler_reader.cli`
instead: 3 when no endpoint could be scraped at the start (the command is then not
run), 1 when no interval could be measured, 2 for usage errors. With
``--repeat N`` the status is that of the first run that failed, else 0.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from .cli_options import (
    add_connection_options,
    env_default,
    positive_seconds,
    scraper_from_args,
)
from .exceptions import KeplerReaderError
from .measurement import Measurement, measurement_to_dict
from .meter import Meter
from .output import DIFF_CSV_FIELDS, _grid
from .plausibility import PlausibilityLimits

__all__ = ["add_measure_parser", "run_measure", "split_command"]

log = logging.getLogger("kepler_reader")

#: Exit status when the command cannot be found, or found but not run (as shells do).
EXIT_NOT_FOUND = 127
EXIT_NOT_RUNNABLE = 126


def split_command(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split ``kepler-reader measure ... -- COMMAND ARGS`` at its first ``--``.

    Returns:
        The arguments before ``--`` and the command after it; the command is empty
        when ``argv`` is not a ``measure`` invocation or has no ``--``.
    """
    words = list(argv)
    positional = [w for w in words if not w.startswith("-")]
    if not positional or positional[0] != "measure" or "--" not in words:
        return words, []
    at = words.index("--")
    return words[:at], words[at + 1 :]


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text}")
    return value


def _non_negative_seconds(text: str) -> float:
    if text.strip() in ("0", "0.0"):
        return 0.0
    return positive_seconds(text)


def _grams_per_kwh(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(
            f"must be a non-negative, finite gCO2e/kWh: {text}"
        )
    return value


def _from_env(flag: str, default: Any = None) -> Any:
    """The default of ``flag``: its environment variable's text, or ``default``.

    ``argparse`` converts a text default with the flag's ``type`` only when this
    subcommand is the one parsed, so a bad variable is a usage error (exit 2) of
    ``measure`` alone, never of the other commands that read the same variable.
    """
    text = env_default(flag)
    return default if text is None or text == "" else text


def add_measure_parser(commands: Any) -> None:
    """Add the ``measure`` subcommand to the subparsers ``commands``."""
    measure = commands.add_parser(
        "measure",
        help="run a command and report the pods' energy while it ran",
        description="Run COMMAND and measure joules and watts per pod, namespace "
        "and node while it runs, sampling each URL (one Kepler per node) in the "
        "background. Exits with the command's exit status. Every option may also "
        "come from a KEPLER_READER_* environment variable (--pod is "
        "KEPLER_READER_POD; --namespace takes a comma-separated list).",
        usage="%(prog)s URL [URL ...] [options] -- COMMAND [ARGS ...]",
    )
    measure.add_argument(
        "urls", nargs="+", metavar="URL", help="metrics URLs, one per node"
    )
    namespaces = env_default("--namespace")
    measure.add_argument(
        "--namespace",
        action="append",
        metavar="NS",
        default=None if not namespaces else namespaces.split(","),
        help="report only pods of this namespace (repeatable)",
    )
    measure.add_argument(
        "--pod",
        default=env_default("--pod"),
        metavar="REGEX",
        help="report only pods whose name matches this regular expression",
    )
    measure.add_argument(
        "--interval",
        type=positive_seconds,
        default=_from_env("--interval"),
        metavar="SECONDS",
        help="seconds between scrapes (default: the exporter's own refresh "
        "interval, estimated from the data)",
    )
    measure.add_argument(
        "--zone",
        default=env_default("--zone", "package"),
        help="the zone to measure (default package); zones are never added",
    )
    measure.add_argument(
        "--intensity",
        type=_grams_per_kwh,
        default=_from_env("--intensity"),
        metavar="G",
        help="grid carbon intensity in gCO2e/kWh, to report CO2e grams",
    )
    measure.add_argument(
        "--power-ceiling",
        type=positive_seconds,
        default=_from_env("--power-ceiling", 5000.0),
        metavar="WATTS",
        help="refuse a pod whose power over one interval is above this "
        "(default 5000 W)",
    )
    measure.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default=env_default("--format", "table"),
        help="output format (default: table)",
    )
    measure.add_argument(
        "--repeat",
        type=_count,
        default=_from_env("--repeat", 1),
        metavar="N",
        help="run the command N times, each measured (json prints an array)",
    )
    measure.add_argument(
        "--pause",
        type=_non_negative_seconds,
        default=_from_env("--pause", 0.0),
        metavar="SECONDS",
        help="seconds to wait between two runs (default 0)",
    )
    add_connection_options(measure)


def _run_command(command: Sequence[str]) -> int:
    try:
        errors = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        errors = 2
    try:
        finished = subprocess.run(
            list(command), stdout=errors, stderr=errors, check=False
        )
    except FileNotFoundError:
        print(f"kepler-reader: {command[0]}: command not found", file=sys.stderr)
        return EXIT_NOT_FOUND
    except PermissionError as error:
        print(f"kepler-reader: {command[0]}: {error.strerror}", file=sys.stderr)
        return EXIT_NOT_RUNNABLE
    except KeyboardInterrupt:
        # Ctrl-C reached the command too (one process group); what ran until then
        # is still measured and printed.
        log.warning("interrupted: the command was stopped")
        return 128 + signal.SIGINT
    code = finished.returncode
    if code < 0:
        log.info("the command was ended by signal %s", signal.Signals(-code).name)
        return 128 - code
    return code


def run_measure(args: argparse.Namespace, command: Sequence[str]) -> int:
    """Run ``command`` ``args.repeat`` times, each measured, and print the results.

    Returns:
        The command's exit status (see the module docstring).

    Raises:
        KeplerReaderError: The measurement failed (scrape, data, usage).
    """
    if not command:
        print(
            "kepler-reader measure: error: no command given; put it after '--' "
            "(kepler-reader measure URL -- COMMAND ARGS)",
            file=sys.stderr,
        )
        return 2
    limits = PlausibilityLimits(max_pod_watts=args.power_ceiling)
    runs: list[tuple[Measurement, int]] = []
    status = 0
    for run in range(args.repeat):
        if run and args.pause:
            time.sleep(args.pause)
        meter = Meter(
            args.urls,
            namespace=args.namespace,
            pod=args.pod,
            zone=args.zone,
            interval=args.interval,
            intensity=args.intensity,
            limits=limits,
            scraper_factory=lambda url: scraper_from_args(args, url),
        )
        meter.start()
        code: int | None = None
        try:
            code = _run_command(command)
        finally:
            try:
                result = meter.stop()
            except KeplerReaderError as error:
                if code is not None:
                    error.add_note(f"The command exited with status {code}.")
                raise
        runs.append((result, code))
        if code and not status:
            status = code
    _print(args.format, runs, command, args.repeat)
    return status


def _as_dict(
    measurement: Measurement, code: int, command: Sequence[str], run: int, runs: int
) -> dict[str, Any]:
    document = measurement_to_dict(measurement)
    document.update(
        {"command": list(command), "exit_status": code, "run": run, "runs": runs}
    )
    return document


def _print(
    fmt: str, runs: list[tuple[Measurement, int]], command: Sequence[str], total: int
) -> None:
    documents = [
        _as_dict(m, code, command, i + 1, total) for i, (m, code) in enumerate(runs)
    ]
    if fmt == "json":
        shown: Any = documents if total > 1 else documents[0]
        print(json.dumps(shown, indent=2, ensure_ascii=False, allow_nan=False))
    elif fmt == "csv":
        sys.stdout.write(measurement_csv(documents))
    else:
        print("\n\n".join(measurement_table(m, code) for m, code in runs))


_CSV_FIELDS = (
    *DIFF_CSV_FIELDS,
    "node",
    "kwh",
    "co2e_grams",
    "run",
    "exit_status",
)


def measurement_csv(documents: Sequence[dict[str, Any]]) -> str:
    """One CSV row per pod and run: ``diff``'s columns, then node, kWh, CO2e, run."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_CSV_FIELDS)
    for document in documents:
        for pod in document["pods"]:
            row = {
                **pod,
                "run": document["run"],
                "exit_status": document["exit_status"],
            }
            writer.writerow(["" if row[f] is None else row[f] for f in _CSV_FIELDS])
    return out.getvalue()


def measurement_table(measurement: Measurement, code: int | None = None) -> str:
    """A table for people: pods, namespaces, nodes, trust, then warnings."""
    m = measurement
    carbon = m.intensity is not None
    several = len(m.nodes) > 1
    header = ["namespace", "pod", *(["node"] if several else []), "joules", "watts"]
    header += ["kWh", *(["gCO2e"] if carbon else [])]
    rows = []
    for pod in m.pods:
        name = pod.pod if pod.kind == "pod" else f"{pod.pod or '(no pod)'} ({pod.kind})"
        cells = [pod.namespace or "(none)", name, *([pod.node] if several else [])]
        cells += [f"{pod.joules:.6f}", f"{pod.watts:.6f}", f"{pod.kwh:.9f}"]
        cells += [f"{pod.co2e_grams or 0.0:.6f}"] if carbon else []
        rows.append(cells)
    first_number = 3 if several else 2
    ns_header = ["namespace", "joules", "watts", "kWh", *(["gCO2e"] if carbon else [])]
    ns_rows = [
        [
            ns.namespace or "(none)",
            f"{ns.joules:.6f}",
            f"{ns.watts:.6f}",
            f"{ns.kwh:.9f}",
            *([f"{ns.co2e_grams or 0.0:.6f}"] if carbon else []),
        ]
        for ns in m.namespaces
    ]
    trust = m.trust
    refresh = (
        "unknown"
        if trust.exporter_refresh_seconds is None
        else f"{trust.exporter_refresh_seconds:.3g} s"
    )
    out = [
        f"Kepler {m.era}, zone {m.zone}, {m.interval_seconds:.3f} s measured "
        f"({m.wall_seconds:.3f} s wall)",
        "",
        _grid(header, rows, set(range(first_number, len(header)))),
        "",
        _grid(ns_header, ns_rows, set(range(1, len(ns_header)))),
        "",
        f"selected pods: {m.joules:.6f} J, {m.watts:.6f} W, {m.kwh:.9f} kWh"
        + (
            f", {m.co2e_grams or 0.0:.6f} gCO2e at {m.intensity:g} g/kWh"
            if carbon
            else ""
        ),
    ]
    for node in m.nodes:
        energy = (
            "no node counter for this zone"
            if node.joules is None or node.watts is None
            else f"{node.joules:.6f} J, {node.watts:.6f} W"
        )
        out.append(f"node {node.node}: {energy}")
    out.append(
        f"trust: {trust.scrapes} scrapes, {trust.scrapes_failed} failed, largest gap "
        f"{trust.largest_gap_seconds:.3f} s, {trust.resets} resets, "
        f"{trust.series_appeared} series appeared, {trust.series_vanished} vanished, "
        f"{len(trust.refused)} values refused, exporter refresh {refresh}"
    )
    if code is not None:
        out.append(f"command exit status: {code}")
    out.extend(f"warning: {w}" for w in m.warnings)
    return "\n".join(out)
