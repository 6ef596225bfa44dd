"""Command-line options shared by every subcommand that talks to an endpoint.

:func:`add_connection_options` adds the connection flags to a subcommand's parser;
:func:`scraper_from_args` turns the parsed flags into a :class:`~kepler_reader.Scraper`
for one URL. Each flag may also come from a ``KEPLER_READER_*`` environment variable
(named after the flag: ``--timeout`` is ``KEPLER_READER_TIMEOUT``); a flag on the
command line wins over the environment.
"""

from __future__ import annotations

import argparse
import math
import os

from .scraping import DEFAULT_TIMEOUT_SECONDS, Scraper

__all__ = [
    "ENV_PREFIX",
    "add_connection_options",
    "env_default",
    "positive_seconds",
    "scraper_from_args",
]

#: The prefix of the environment variables that stand in for flags.
ENV_PREFIX = "KEPLER_READER_"


def positive_seconds(text: str) -> float:
    """An ``argparse`` type: a positive, finite number of seconds.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not such a number.
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(
            f"must be a positive, finite number of seconds: {text}"
        )
    return value


def env_default(flag: str, default: str | None = None) -> str | None:
    """The value of the environment variable standing in for ``flag``, or ``default``.

    ``--bearer-token-file`` is read from ``KEPLER_READER_BEARER_TOKEN_FILE``.
    """
    name = ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()
    return os.environ.get(name, default)


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """Add the flags that say how to reach an endpoint to ``parser``."""
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--timeout",
        type=positive_seconds,
        default=positive_seconds(
            env_default("--timeout", str(DEFAULT_TIMEOUT_SECONDS)) or ""
        ),
        metavar="SECONDS",
        help=f"connect and read timeout (default {DEFAULT_TIMEOUT_SECONDS:g}; "
        "env KEPLER_READER_TIMEOUT)",
    )
    group.add_argument(
        "--openmetrics",
        action="store_true",
        default=env_default("--openmetrics", "") not in ("", "0", "false", "no"),
        help="ask for OpenMetrics instead of the text format 0.0.4 "
        "(env KEPLER_READER_OPENMETRICS=1)",
    )


def scraper_from_args(
    args: argparse.Namespace, url: str, *, lenient: bool = False
) -> Scraper:
    """A :class:`~kepler_reader.Scraper` for ``url``, set up from the parsed flags."""
    return Scraper(
        url, timeout=args.timeout, openmetrics=args.openmetrics, lenient=lenient
    )
