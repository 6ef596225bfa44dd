"""The ``compare`` and ``plot`` subcommands: argument parsing and output only.

``compare`` reads two sets of measurement results and prints
:func:`~kepler_reader.compare` as a table, JSON or CSV (and, with ``--plot``, draws it
as bars). ``plot`` draws the power over time of a recording: the files of
``kepler-reader record``, or dumps written by ``kepler-reader scrape -o``, given as
files or globs.
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
import sys
from importlib import resources

from .comparison import (
    compare,
    comparison_csv,
    comparison_json,
    comparison_table,
    is_recording_file,
    read_results,
)
from .dumps import read_dump
from .exceptions import DataError, DumpError, MissingIntervalError
from .recorder import Gap, iter_records, read_recording
from .recording import Recording, recording_from_snapshots

__all__ = ["add_compare_parser", "add_plot_parser", "run_compare", "run_plot"]

log = logging.getLogger(__name__)

_BUNDLED = ("traditional", "gitops")


def add_compare_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Register ``compare`` on the subcommand table ``commands``."""
    parser = commands.add_parser(
        "compare",
        help="compare repeated measurements of two setups per namespace or pod",
        description="Compare two sets of measurement results (the JSON of `diff` or "
        "`measure`: one object, an array of them, or one object per line; or files "
        "of `record`, one result each) per "
        "namespace or pod: n, mean joules, standard deviation and 95% Student t "
        "interval of each side, the difference B - A with Welch's 95% interval, the "
        "ratio B / A, and a verdict. Give one file or glob per side as A and B, or "
        "several with --a and --b.",
    )
    parser.add_argument(
        "a_file", nargs="?", metavar="A", help="setup A's results: a file or a glob"
    )
    parser.add_argument(
        "b_file", nargs="?", metavar="B", help="setup B's results: a file or a glob"
    )
    parser.add_argument(
        "--a",
        dest="a_files",
        nargs="+",
        metavar="FILE",
        help="setup A's result files or globs (instead of A)",
    )
    parser.add_argument(
        "--b",
        dest="b_files",
        nargs="+",
        metavar="FILE",
        help="setup B's result files or globs (instead of B)",
    )
    parser.add_argument(
        "--bundled",
        action="store_true",
        help="compare the bundled sets derived from the v0.11 pair: traditional (A) "
        "against gitops (B)",
    )
    parser.add_argument(
        "--by",
        choices=("namespace", "pod"),
        default="namespace",
        help="compare per namespace (default) or per pod",
    )
    parser.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="output format (default: table)",
    )
    parser.add_argument(
        "--label-a", default="A", metavar="NAME", help="name of setup A (default A)"
    )
    parser.add_argument(
        "--label-b", default="B", metavar="NAME", help="name of setup B (default B)"
    )
    parser.add_argument(
        "--min-repeats",
        type=_at_least_two,
        default=3,
        metavar="N",
        help="fewest repeats per side for a verdict (default 3)",
    )
    parser.add_argument(
        "--plot",
        metavar="FILE",
        help="also draw the comparison as bars with intervals (PNG); needs the "
        "plot extra",
    )
    parser.set_defaults(compare_parser=parser, handler=run_compare)


def _at_least_two(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2, not {value}")
    return value


def _bundled_path(name: str) -> str:
    return str(
        resources.files("kepler_reader") / "data" / "measurements" / f"{name}.json"
    )


def run_compare(args: argparse.Namespace) -> int:
    """Run ``compare`` with parsed ``args``; returns the exit code 0.

    Raises:
        ResultsFileError: A result file cannot be read or used.
        DataError: The results cannot be compared.
        ExtraMissingError: ``--plot`` was given without matplotlib installed.
    """
    parser: argparse.ArgumentParser = args.compare_parser
    positional = args.a_file is not None or args.b_file is not None
    options = args.a_files is not None or args.b_files is not None
    if sum((positional, options, args.bundled)) != 1:
        parser.error("give A and B, or --a and --b, or --bundled (one of them)")
    if args.plot:
        from .plot import require_matplotlib

        require_matplotlib()  # before any work, so a missing extra fails at once
    labels = (args.label_a, args.label_b)
    if args.bundled:
        a_paths, b_paths = [_bundled_path(_BUNDLED[0])], [_bundled_path(_BUNDLED[1])]
        if (args.label_a, args.label_b) == ("A", "B"):
            labels = _BUNDLED
    elif positional:
        if args.a_file is None or args.b_file is None:
            parser.error("give both A and B")
        a_paths, b_paths = [args.a_file], [args.b_file]
    else:
        if args.a_files is None or args.b_files is None:
            parser.error("give both --a and --b")
        a_paths, b_paths = args.a_files, args.b_files
    result = compare(
        read_results(a_paths),
        read_results(b_paths),
        by=args.by,
        min_repeats=args.min_repeats,
        labels=labels,
    )
    if args.plot:
        from .plot import plot_comparison

        plot_comparison(result, path=args.plot)
        log.info("wrote %s", args.plot)
    if args.format == "json":
        print(comparison_json(result))
    elif args.format == "csv":
        sys.stdout.write(comparison_csv(result))
    else:
        print(comparison_table(result))
    return 0


def add_plot_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Register ``plot`` on the subcommand table ``commands``."""
    parser = commands.add_parser(
        "plot",
        help="draw power over time from a recording or saved dumps (needs the plot "
        "extra)",
        description="Draw the power of each namespace or pod over time, stacked, with "
        "the node's power as a line, gaps (missed scrapes) shaded and counter resets "
        "marked. RECORDING is the file(s) of `kepler-reader record`, or dumps written "
        "by `kepler-reader scrape -o` (each carries its scrape time); files or globs. "
        "Needs matplotlib: pip install 'kepler-reader[plot]' (or '.[plot]' from a "
        "checkout).",
    )
    parser.add_argument(
        "recording",
        nargs="+",
        metavar="RECORDING",
        help="recording files, or dump files, or globs: at least two scrapes of one "
        "node",
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="the image to write (PNG)"
    )
    parser.add_argument(
        "--by",
        choices=("namespace", "pod"),
        default="namespace",
        help="one layer per namespace (default) or per pod",
    )
    parser.add_argument(
        "--top",
        type=_at_least_one,
        default=8,
        metavar="N",
        help="layers drawn before the rest are summed into one (default 8)",
    )
    parser.add_argument(
        "--zone",
        default="package",
        help="the zone to draw (default package); zones are never added together",
    )
    parser.add_argument(
        "--endpoint",
        metavar="URL",
        help="the endpoint to draw from a recording of several",
    )
    parser.add_argument(
        "--lenient", action="store_true", help="skip bad lines in the dumps"
    )
    parser.set_defaults(handler=run_plot)


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _dump_paths(patterns: list[str]) -> list[str]:
    paths: list[str] = []
    for pattern in patterns:
        if glob.has_magic(pattern) and not os.path.exists(pattern):
            matched = sorted(glob.glob(pattern))
            if not matched:
                raise DumpError(
                    f"{pattern}: no file matches this pattern.", path=pattern
                )
            paths.extend(matched)
        else:
            paths.append(pattern)
    return paths


def _load(args: argparse.Namespace) -> tuple[Recording, list[float]]:
    """The scrapes to draw, and the times of the failed scrapes a recorder noted."""
    paths = _dump_paths(args.recording)
    recordings = [path for path in paths if is_recording_file(path)]
    if recordings:
        if len(recordings) != len(paths):
            raise DataError(
                "Give either recording files or dumps, not both: "
                f"{', '.join(p for p in paths if p not in recordings)} are dumps."
            )
        recording = read_recording(recordings, lenient=args.lenient)
        urls = sorted(set(recording.sources))
        if args.endpoint is None and len(urls) > 1:
            raise DataError(
                f"The recording holds scrapes of {len(urls)} endpoints "
                f"({', '.join(urls)}); choose one with --endpoint URL."
            )
        if args.endpoint is not None and args.endpoint not in urls:
            raise DataError(
                f"The recording has no scrape of {args.endpoint}; it holds "
                f"{', '.join(urls) or 'none'}."
            )
        url = args.endpoint or (urls[0] if urls else None)
        failed = [
            entry.scraped_at
            for path in recordings
            for entry in iter_records(path, gaps=True, lenient=args.lenient)
            if isinstance(entry, Gap) and entry.url == url
        ]
        return recording, failed
    snapshots = [read_dump(path, lenient=args.lenient) for path in paths]
    for snapshot in snapshots:
        if snapshot.scraped_at is None:
            raise MissingIntervalError(
                f"{snapshot.source} carries no scrape time (it was not written by "
                "`kepler-reader scrape -o`), so it cannot be placed on the time axis."
            )
    return recording_from_snapshots(snapshots), []


def run_plot(args: argparse.Namespace) -> int:
    """Run ``plot`` with parsed ``args``; returns the exit code 0.

    Raises:
        ExtraMissingError: matplotlib is not installed (checked before any file is
            read).
        DumpError: A dump cannot be read, or a glob matches nothing.
        RecordingError: A recording file cannot be read.
        MissingIntervalError: A dump carries no scrape time.
        DataError: Fewer than two scrapes, recordings and dumps mixed, several
            endpoints and no ``--endpoint``, or scrapes that cannot be compared.
    """
    from .plot import plot_power, require_matplotlib

    require_matplotlib()
    recording, failed = _load(args)
    plot_power(
        recording,
        failed_at=failed,
        by=args.by,
        top=args.top,
        zone=args.zone,
        endpoint=args.endpoint,
        path=args.output,
    )
    log.info("wrote %s", args.output)
    return 0
