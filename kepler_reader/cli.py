"""The ``kepler-reader`` command: a thin layer of argument parsing and formatting.

Exit codes: 0 success, 1 invalid input (parse or data error), 2 usage error, 3 scrape
failure, 4 file error, 5 an optional extra is missing (matplotlib for plots). Errors
are one readable line (or a parse error with its caret) on stderr; data goes to stdout.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from . import __version__
from .cli_compare import add_compare_parser, add_plot_parser
from .cli_options import add_connection_options, positive_seconds, scraper_from_args
from .cli_query import add_query_command, run_query
from .cli_record import add_record_parser
from .cli_top import add_top_parser
from .delta import EnergyDelta, diff
from .demo import BUNDLED_RELEASES, run_demo
from .dumps import dump_header, read_dump, write_dump
from .exceptions import DumpError, ExtraMissingError, KeplerReaderError, ScrapeError
from .measure_cli import add_measure_parser, run_measure, split_command
from .output import delta_csv, delta_json, delta_table, snapshot_json, snapshot_table
from .replay import add_replay_command, run_replay
from .serve import add_serve_arguments, serve_from_args

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_INVALID_INPUT = 1
EXIT_USAGE = 2
EXIT_SCRAPE = 3
EXIT_FILE = 4
EXIT_MISSING_EXTRA = 5

log = logging.getLogger("kepler_reader")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``kepler-reader``, with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="kepler-reader",
        description="Read the Kepler energy exporter directly: parse /metrics bodies "
        "and report joules and watts per pod, namespace and node.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log more on stderr (-v info, -vv debug)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    parse = commands.add_parser(
        "parse",
        help="parse an exposition file and print its families or samples",
        description="Parse a saved exposition (plain or gzip) and print a summary "
        "table or the samples as JSON.",
    )
    parse.add_argument("file", metavar="FILE", help="the dump to read ('-' for stdin)")
    parse.add_argument(
        "--lenient",
        action="store_true",
        help="skip bad lines (listed in the output) instead of failing",
    )
    parse.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="output format (default: table)",
    )

    scrape = commands.add_parser(
        "scrape",
        help="scrape an endpoint and save the body as a dump",
        description="Scrape a Kepler endpoint once and write the body, preceded by a "
        "comment line with the scrape time and URL, so that `diff` can "
        "read the interval from two dumps.",
    )
    scrape.add_argument(
        "url", metavar="URL", help="the metrics URL, e.g. http://NODE:28282/metrics"
    )
    scrape.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the dump here (a .gz name gives gzip); default stdout",
    )
    add_connection_options(scrape)

    delta = commands.add_parser(
        "diff",
        help="energy and power per pod between two dumps",
        description="Compute joules and watts per pod, namespace and node between two "
        "scrapes of one node. Dumps written by `kepler-reader scrape` carry "
        "their scrape time; for other files pass --interval.",
    )
    delta.add_argument("before", metavar="BEFORE", help="the earlier dump")
    delta.add_argument("after", metavar="AFTER", help="the later dump")
    delta.add_argument(
        "--interval",
        type=positive_seconds,
        metavar="SECONDS",
        help="seconds between the scrapes (overrides their scrape times)",
    )
    _energy_options(delta)
    delta.add_argument(
        "--lenient",
        action="store_true",
        help="skip bad lines in the dumps instead of failing",
    )

    demo = commands.add_parser(
        "demo",
        help="scrape a local replay of bundled Kepler data and print the table",
        description="Start a small exporter on 127.0.0.1 that serves two bundled "
        "scrapes of one node, scrape it twice over HTTP, and print the "
        "energy and power per pod. Needs no network.",
    )
    demo.add_argument(
        "--release",
        choices=BUNDLED_RELEASES,
        default="v0.11",
        help="which Kepler release's output to replay (default v0.11)",
    )
    demo.add_argument(
        "--no-wait",
        action="store_true",
        help="scrape twice at once and use the bundled 3 s interval "
        "instead of waiting 3 s",
    )
    _energy_options(demo, zone=False)

    serve = commands.add_parser(
        "serve",
        help="scrape Kepler on an interval and serve per-pod and namespace power",
        description="Scrape Kepler endpoints every --interval seconds and serve "
        "derived series on /metrics (power per pod and namespace over the last "
        "interval and over windows, energy per namespace, scrape quality), with "
        "/healthz and /readyz. Stops cleanly on SIGTERM.",
    )
    add_serve_arguments(serve)
    add_query_command(commands)
    add_replay_command(commands)
    add_measure_parser(commands)
    add_compare_parser(commands)
    add_plot_parser(commands)
    add_record_parser(commands)
    add_top_parser(commands)
    return parser


def _energy_options(parser: argparse.ArgumentParser, *, zone: bool = True) -> None:
    if zone:
        parser.add_argument(
            "--zone",
            default="package",
            help="the zone to report: package (default), core, uncore, dram, psys, "
            "platform, other, gpu, or total (Kepler's own sum families); zones are "
            "never added together",
        )
    parser.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="output format (default: table)",
    )


def _print_delta(delta_format: str, result: EnergyDelta) -> None:
    if delta_format == "json":
        print(delta_json(result))
    elif delta_format == "csv":
        sys.stdout.write(delta_csv(result))
    else:
        print(delta_table(result))


def _run(args: argparse.Namespace) -> int:
    handler = getattr(args, "handler", None)
    if handler is not None:  # a subcommand in a module of its own
        code: int = handler(args)
        return code
    if args.command == "parse":
        path = "/dev/stdin" if args.file == "-" else args.file
        snapshot = read_dump(path, lenient=args.lenient)
        print(
            snapshot_json(snapshot)
            if args.format == "json"
            else snapshot_table(snapshot)
        )
        for problem in snapshot.errors:
            print(
                f"{args.file}:{problem.line}:{problem.column}: skipped: "
                f"{problem.message}",
                file=sys.stderr,
            )
        return EXIT_OK
    if args.command == "scrape":
        with scraper_from_args(args, args.url) as scraper:
            response = scraper.fetch()
        if args.output:
            write_dump(
                args.output,
                response.body,
                scraped_at=response.scraped_at,
                url=response.url,
            )
            log.info("wrote %d bytes to %s", len(response.body), args.output)
        else:
            sys.stdout.buffer.write(dump_header(response.scraped_at, response.url))
            sys.stdout.buffer.write(response.body)
            sys.stdout.flush()
        return EXIT_OK
    if args.command == "diff":
        before = read_dump(args.before, lenient=args.lenient)
        after = read_dump(args.after, lenient=args.lenient)
        _print_delta(
            args.format, diff(before, after, zone=args.zone, interval=args.interval)
        )
        return EXIT_OK
    if args.command == "serve":
        return serve_from_args(args)
    if args.command == "measure":
        return run_measure(args, args.measure_command)
    if args.command == "query":
        try:
            print(run_query(args))
        except argparse.ArgumentTypeError as error:
            print(f"kepler-reader query: error: {error}", file=sys.stderr)
            return EXIT_USAGE
        return EXIT_OK
    if args.command == "demo":
        _print_delta(args.format, run_demo(args.release, wait=not args.no_wait))
        return EXIT_OK
    if args.command == "replay":
        return run_replay(args)
    raise AssertionError(f"unhandled command {args.command!r}")


def _exit_code(error: KeplerReaderError) -> int:
    if isinstance(error, ScrapeError):
        return EXIT_SCRAPE
    if isinstance(error, DumpError):
        return EXIT_FILE
    if isinstance(error, ExtraMissingError):
        return EXIT_MISSING_EXTRA
    return EXIT_INVALID_INPUT  # ParseError, DataError, LimitExceededError


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``kepler-reader`` with ``argv`` (default: the process arguments).

    Returns:
        The exit code (see the module docstring).
    """
    words, command = split_command(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(words)
    args.measure_command = command
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(
        level=level,
        format="kepler-reader: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    # urllib3 warns on every retry in its own words; ours come at -v, urllib3's at -vv.
    logging.getLogger("urllib3").setLevel(level if args.verbose >= 2 else logging.ERROR)
    try:
        return _run(args)
    except KeplerReaderError as error:
        print(f"kepler-reader: error: {error}", file=sys.stderr)
        return _exit_code(error)
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
