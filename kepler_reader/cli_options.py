"""Command-line options shared by every subcommand that talks to an endpoint.

:func:`add_connection_options` adds the connection flags to a subcommand's parser;
:func:`scraper_from_args` turns the parsed flags into a :class:`~kepler_reader.Scraper`
for one URL. Each flag may also come from a ``KEPLER_READER_*`` environment variable
(named after the flag: ``--timeout`` is ``KEPLER_READER_TIMEOUT``); a flag on the
command line wins over the environment. A bad value in a variable is a usage error
that names the variable, raised when the arguments are parsed.

The basic-auth password has no flag (a command line is visible to every user of the
machine): it comes from ``--basic-auth-password-file`` or from the variable
``KEPLER_READER_BASIC_AUTH_PASSWORD``.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

from .discovery import DEFAULT_LABEL_SELECTOR, SERVICE_ACCOUNT_DIR, discover
from .scraping import DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT_SECONDS, Scraper
from .transport import DEFAULT_RETRIES

__all__ = [
    "ENV_PREFIX",
    "PASSWORD_VARIABLE",
    "add_connection_options",
    "add_discovery_options",
    "env_default",
    "env_name",
    "port_number",
    "positive_int",
    "positive_seconds",
    "retry_count",
    "scraper_from_args",
    "scrapers_from_args",
]

#: The prefix of the environment variables that stand in for flags.
ENV_PREFIX = "KEPLER_READER_"
#: The variable that may hold the basic-auth password itself.
PASSWORD_VARIABLE = ENV_PREFIX + "BASIC_AUTH_PASSWORD"

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


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


def positive_int(text: str) -> int:
    """An ``argparse`` type: a whole number above zero.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not such a number.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0: {text}")
    return value


def retry_count(text: str) -> int:
    """An ``argparse`` type: a number of retries, 0 or more.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not such a number.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text}")
    return value


def port_number(text: str) -> int:
    """An ``argparse`` type: a TCP port, 1 to 65535.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not such a number.
    """
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a port (1-65535): {text}")
    return value


def env_name(flag: str) -> str:
    """The environment variable standing in for ``flag``.

    >>> env_name("--bearer-token-file")
    'KEPLER_READER_BEARER_TOKEN_FILE'
    """
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


def env_default(flag: str, default: str | None = None) -> str | None:
    """The value of the environment variable standing in for ``flag``, or ``default``.

    ``--bearer-token-file`` is read from ``KEPLER_READER_BEARER_TOKEN_FILE``. The
    value is returned as text; give it to ``argparse`` as a string default (see
    :func:`add_connection_options`) so that its ``type`` checks it at parse time.
    """
    return os.environ.get(env_name(flag), default)


class _FromEnvironment(str):
    """A default taken from an environment variable, remembering the variable."""

    variable: str

    def __new__(cls, value: str, variable: str) -> _FromEnvironment:
        made = super().__new__(cls, value)
        made.variable = variable
        return made


def _naming_the_variable(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """Wrap an ``argparse`` type so that a bad environment value names its variable.

    ``argparse`` runs the type on string defaults when the flag is absent, so a bad
    variable becomes a usage error at parse time, like a bad flag.
    """

    def checked(text: str) -> Any:
        try:
            return convert(text)
        except (argparse.ArgumentTypeError, ValueError) as error:
            if isinstance(text, _FromEnvironment):
                raise argparse.ArgumentTypeError(
                    f"{error} (from the environment variable {text.variable})"
                ) from None
            raise

    checked.__name__ = getattr(convert, "__name__", "value")
    return checked


def _switch(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise argparse.ArgumentTypeError(
        f"not a yes/no value: {text!r} (use one of {', '.join(_TRUE + _FALSE[1:])})"
    )


class _Switch(argparse.Action):
    """``store_true`` whose default may come, as text, from the environment."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any):
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, True)


def _add(
    group: argparse._ArgumentGroup,
    flag: str,
    *,
    convert: Callable[[str], Any] = str,
    default: Any = None,
    help: str,
    switch: bool = False,
    **kwargs: Any,
) -> None:
    variable = env_name(flag)
    text = os.environ.get(variable)
    chosen = default if text is None else _FromEnvironment(text, variable)
    shown = f"env {variable}"
    if switch:
        group.add_argument(
            flag,
            action=_Switch,
            type=_naming_the_variable(_switch),
            default=False if text is None else chosen,
            help=f"{help} ({shown}=1)",
        )
        return
    group.add_argument(
        flag,
        type=_naming_the_variable(convert),
        default=chosen,
        help=f"{help} ({shown})",
        **kwargs,
    )


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """Add the flags that say how to reach an endpoint to ``parser``.

    Timeouts and retries, the body cap, and the credentials of
    :class:`~kepler_reader.Scraper`; each also from its ``KEPLER_READER_*`` variable.
    """
    group = parser.add_argument_group("connection")
    _add(
        group,
        "--timeout",
        convert=positive_seconds,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"read timeout, and connect timeout unless --connect-timeout "
        f"(default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    _add(
        group,
        "--connect-timeout",
        convert=positive_seconds,
        metavar="SECONDS",
        help="connect timeout (default: --timeout)",
    )
    _add(
        group,
        "--retries",
        convert=retry_count,
        default=DEFAULT_RETRIES,
        metavar="N",
        help="tries after the first on a connection failure, 5xx or 429, with "
        f"backoff (default {DEFAULT_RETRIES}; 0 disables)",
    )
    _add(
        group,
        "--max-body-bytes",
        convert=positive_int,
        default=DEFAULT_MAX_BODY_BYTES,
        metavar="BYTES",
        help="largest body accepted, compressed and decompressed "
        f"(default {DEFAULT_MAX_BODY_BYTES})",
    )
    _add(
        group,
        "--openmetrics",
        switch=True,
        help="ask for OpenMetrics instead of the text format 0.0.4",
    )
    auth = parser.add_argument_group("authentication and TLS")
    _add(
        auth,
        "--bearer-token-file",
        metavar="FILE",
        help="send the token in this file as a bearer token, read again on every "
        "scrape (e.g. /var/run/secrets/kubernetes.io/serviceaccount/token)",
    )
    _add(
        auth,
        "--basic-auth-user",
        metavar="USER",
        help="HTTP basic auth user; the password comes from "
        f"--basic-auth-password-file or {PASSWORD_VARIABLE}",
    )
    _add(
        auth,
        "--basic-auth-password-file",
        metavar="FILE",
        help="file holding the basic-auth password, read again on every scrape",
    )
    _add(
        auth,
        "--ca-file",
        metavar="FILE",
        help="PEM bundle of the CAs to trust instead of the system's "
        "(e.g. the service-account ca.crt or the service-CA bundle)",
    )
    _add(auth, "--cert-file", metavar="FILE", help="PEM client certificate (mTLS)")
    _add(
        auth,
        "--key-file",
        metavar="FILE",
        help="PEM private key of --cert-file, when not in the same file",
    )
    _add(
        auth,
        "--insecure",
        switch=True,
        help="do not verify the server's certificate (logs a warning)",
    )


def scraper_from_args(
    args: argparse.Namespace,
    url: str,
    *,
    lenient: bool = False,
    node: str | None = None,
) -> Scraper:
    """A :class:`~kepler_reader.Scraper` for ``url``, set up from the parsed flags.

    ``node`` names the node it reports on (default: the URL's host).

    Raises:
        CredentialError: A CA, certificate or key file does not exist, or the
            credentials contradict each other (say, a token and basic auth).
    """
    password = None
    if args.basic_auth_user is not None and args.basic_auth_password_file is None:
        password = os.environ.get(PASSWORD_VARIABLE)
    return Scraper(
        url,
        timeout=args.timeout,
        connect_timeout=args.connect_timeout,
        retries=args.retries,
        max_body_bytes=args.max_body_bytes,
        openmetrics=args.openmetrics,
        lenient=lenient,
        node=node,
        bearer_token_file=args.bearer_token_file,
        basic_auth_user=args.basic_auth_user,
        basic_auth_password=password,
        basic_auth_password_file=args.basic_auth_password_file,
        ca_file=args.ca_file,
        cert_file=args.cert_file,
        key_file=args.key_file,
        insecure=args.insecure,
    )


def add_discovery_options(parser: argparse.ArgumentParser) -> None:
    """Add the flags that find the endpoints through the Kubernetes API to ``parser``.

    ``--kubernetes`` adds every running Kepler pod's URL to those on the command
    line (see :func:`~kepler_reader.discover`); ``--this-node`` keeps only the pod on
    ``NODE_NAME``'s node. Each flag also comes from its ``KEPLER_READER_*`` variable.
    """
    group = parser.add_argument_group("Kubernetes discovery")
    _add(
        group,
        "--kubernetes",
        switch=True,
        help="scrape the Kepler pods listed by the Kubernetes API, with this pod's "
        "service account",
    )
    _add(
        group,
        "--this-node",
        switch=True,
        help="with --kubernetes, only the pod on this node (env NODE_NAME)",
    )
    _add(
        group,
        "--kubernetes-namespace",
        metavar="NS",
        help="Kepler's namespace (default: this pod's)",
    )
    _add(
        group,
        "--kubernetes-selector",
        default=DEFAULT_LABEL_SELECTOR,
        metavar="SELECTOR",
        help=f"label selector of the Kepler pods (default {DEFAULT_LABEL_SELECTOR})",
    )
    _add(
        group,
        "--service-account-dir",
        default=SERVICE_ACCOUNT_DIR,
        metavar="DIR",
        help="where the token, ca.crt and namespace of the service account are "
        f"(default {SERVICE_ACCOUNT_DIR})",
    )
    _add(
        group,
        "--metrics-port",
        convert=port_number,
        metavar="PORT",
        help="port of the discovered pods (default: their port named http, else "
        "28282; 8443 behind kube-rbac-proxy)",
    )
    _add(
        group,
        "--metrics-scheme",
        convert=_scheme,
        default="http",
        metavar="SCHEME",
        help="http, or https behind kube-rbac-proxy (default http)",
    )


def _scheme(text: str) -> str:
    if text not in ("http", "https"):
        raise argparse.ArgumentTypeError(f"must be http or https: {text!r}")
    return text


def scrapers_from_args(
    args: argparse.Namespace, urls: Sequence[str], *, lenient: bool = False
) -> list[Scraper]:
    """One :class:`~kepler_reader.Scraper` per URL, plus one per discovered pod.

    ``args`` needs the flags of :func:`add_connection_options`; those of
    :func:`add_discovery_options` are optional. Discovered scrapers are named after
    their pod's node; the others after their URL's host.

    Raises:
        DiscoveryError: ``--kubernetes`` and the API did not list the pods.
        CredentialError: As :func:`scraper_from_args`.
    """
    scrapers = [scraper_from_args(args, url, lenient=lenient) for url in urls]
    if getattr(args, "kubernetes", False):
        pods = discover(
            namespace=args.kubernetes_namespace,
            label_selector=args.kubernetes_selector,
            this_node=args.this_node,
            port=args.metrics_port,
            scheme=args.metrics_scheme,
            service_account_dir=args.service_account_dir,
        )
        scrapers += [
            scraper_from_args(args, pod.url, lenient=lenient, node=pod.node)
            for pod in pods
        ]
    return scrapers
