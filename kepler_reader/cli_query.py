"""``kepler-reader query``: PromQL over saved data, answered as Prometheus's API would.

::

    kepler-reader query FILE... 'EXPR' [--at T | --start T --end T --step S]
                        [--format table|json] [--semantics prometheus3|prometheus2]

FILE is any mix of dumps, federate bodies and Prometheus API answers in JSON (plain or
gzip; folders and glob patterns too). ``--format json`` prints exactly the JSON of
Prometheus's ``/api/v1/query`` (or ``/api/v1/query_range``) answer.
"""

from __future__ import annotations

import argparse

from .exceptions import KeplerReaderError, QueryError
from .promfuncs import LOOKBACK_SECONDS, SEMANTICS
from .promql import parse_time, query
from .readers import load_recording

__all__ = ["add_query_command", "run_query"]


def add_query_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Register the ``query`` subcommand on ``commands``."""
    parser = commands.add_parser(
        "query",
        help="evaluate a PromQL expression over saved dumps or Prometheus answers",
        description="Read dumps, federate bodies and Prometheus API answers (JSON) "
        "into one recording and evaluate a PromQL expression on it, as an instant "
        "query (--at, default: the newest sample time) or a range query (--start, "
        "--end, --step). Times are seconds since the epoch or RFC 3339.",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="FILE... EXPR",
        help="the files (or folders, or glob patterns), then the expression",
    )
    parser.add_argument("--at", metavar="T", help="the instant query's time")
    parser.add_argument("--start", metavar="T", help="the range query's first time")
    parser.add_argument("--end", metavar="T", help="the range query's last time")
    parser.add_argument(
        "--step", metavar="S", help="seconds (or a duration like 15s) between steps"
    )
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="output format (default: table); json is Prometheus's API answer",
    )
    parser.add_argument(
        "--semantics",
        choices=SEMANTICS,
        default="prometheus3",
        help="Prometheus 3's rules (default) or Prometheus 2.x's (closed ranges, "
        "the older extrapolation order)",
    )
    parser.add_argument(
        "--lookback",
        type=float,
        default=LOOKBACK_SECONDS,
        metavar="SECONDS",
        help="how far instant selectors look back (default 300)",
    )
    parser.add_argument(
        "--times",
        metavar="T,T,...",
        help="the scrape time of each dump without a kepler-reader header, in order",
    )


def run_query(args: argparse.Namespace) -> str:
    """Run ``kepler-reader query`` and return its output.

    Raises:
        argparse.ArgumentTypeError: Inconsistent time options.
        KeplerReaderError: From reading the files or evaluating the expression.
    """
    if len(args.inputs) < 2:
        raise argparse.ArgumentTypeError("give at least one FILE and the EXPR.")
    *files, expr = args.inputs
    ranged = [args.start, args.end, args.step]
    if any(ranged) and not all(ranged):
        raise argparse.ArgumentTypeError("--start, --end and --step go together.")
    if args.at and any(ranged):
        raise argparse.ArgumentTypeError("give --at or --start/--end/--step, not both.")
    times = (
        [_time(t, "--times") for t in args.times.split(",") if t.strip()]
        if args.times
        else None
    )
    try:
        recording = load_recording(files, times=times)
        result = query(
            recording,
            expr,
            at=_time(args.at, "--at") if args.at else None,
            start=_time(args.start, "--start") if args.start else None,
            end=_time(args.end, "--end") if args.end else None,
            step=args.step,
            semantics=args.semantics,
            lookback_seconds=args.lookback,
        )
    except ValueError as error:
        # Inconsistent options (an end before the start, a count of --times that
        # does not match the dumps) are usage errors; bad data is not.
        if isinstance(error, KeplerReaderError):
            raise
        raise argparse.ArgumentTypeError(str(error)) from error
    return result.to_json() if args.format == "json" else result.table()


def _time(text: str, flag: str) -> float:
    """``text`` as a time in seconds; a bad one is a usage error naming ``flag``."""
    try:
        return parse_time(text)
    except QueryError as error:
        raise argparse.ArgumentTypeError(f"{flag}: {error.reason}.") from None
