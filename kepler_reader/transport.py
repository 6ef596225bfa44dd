"""How a :class:`~kepler_reader.Scraper` reaches an endpoint: retries, TLS, credentials.

A scraper keeps one ``requests`` session. Its adapter carries a urllib3 ``Retry``
policy: connection failures, 5xx answers and 429 are tried again with exponential
backoff, a ``Retry-After`` header is honoured up to a cap, and the number of tries is
bounded. Read timeouts are not retried (the endpoint answered, slowly; trying again
would only multiply the wait), nor are TLS failures (a certificate that is not trusted
now will not be trusted in a second).

Credentials follow the ways Kepler is deployed: behind kube-rbac-proxy with a
service-account token and the cluster's CA bundle, behind exporter-toolkit with a
client certificate or basic auth. The token and the password file are read again on
every scrape, because service-account tokens rotate. Secrets live only in request
headers and in the private fields here: never in a URL, a ``repr``, a log line or an
error message.
"""

from __future__ import annotations

import base64
import logging
import math
import re
import warnings
from pathlib import Path
from typing import Any

import attrs
import requests
import requests.adapters
import urllib3
from urllib3.exceptions import InsecureRequestWarning, MaxRetryError, ReadTimeoutError
from urllib3.util.retry import Retry

from .exceptions import CredentialError

__all__ = [
    "DEFAULT_BACKOFF_SECONDS",
    "DEFAULT_MAX_RETRY_AFTER_SECONDS",
    "DEFAULT_RETRIES",
    "RETRY_STATUSES",
    "Credentials",
    "build_session",
    "retries_taken",
    "retry_policy",
]

log = logging.getLogger(__name__)

#: Retries after the first try, unless told otherwise.
DEFAULT_RETRIES = 2
#: The backoff factor, in seconds: the first retry goes at once, the n-th (n >= 2)
#: waits ``backoff * 2 ** (n - 1)`` seconds.
DEFAULT_BACKOFF_SECONDS = 0.25
#: The longest wait a ``Retry-After`` header may impose, in seconds.
DEFAULT_MAX_RETRY_AFTER_SECONDS = 10.0
#: Statuses tried again: too many requests, and every server error.
RETRY_STATUSES = frozenset({429, *range(500, 600)})
#: The longest wait between two tries from backoff alone, in seconds.
_BACKOFF_MAX_SECONDS = 5.0


class _ExhaustedError(MaxRetryError):
    """The last try failed: urllib3's error, with how many retries came before it."""

    def __init__(self, original: MaxRetryError, retries: int) -> None:
        super().__init__(original.pool, original.url or "", original.reason)
        self.retries = retries


class _Retry(Retry):
    """urllib3's policy, with three changes.

    ``Retry-After`` is capped, a read timeout is not retried, and the final error
    keeps the number of retries that came before it.
    """

    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER_SECONDS

    def new(self, **kw: Any) -> _Retry:
        fresh = super().new(**kw)
        fresh.max_retry_after = self.max_retry_after
        return fresh

    def get_retry_after(self, response: urllib3.BaseHTTPResponse) -> float | None:
        try:
            wait = super().get_retry_after(response)
        except urllib3.exceptions.InvalidHeader:
            # A Retry-After that is neither seconds nor a date: back off instead.
            return None
        return None if wait is None else min(wait, self.max_retry_after)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: urllib3.BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> _Retry:
        if isinstance(error, ReadTimeoutError):
            raise error
        try:
            fresh = super().increment(method, url, response, error, _pool, _stacktrace)
        except MaxRetryError as exhausted:
            raise _ExhaustedError(exhausted, len(self.history)) from exhausted.reason
        why = f"HTTP {response.status}" if response is not None else str(error)
        where = f"{getattr(_pool, 'host', '?')}:{getattr(_pool, 'port', '?')}"
        log.info("retrying %s%s after %s", where, url or "", why)
        return fresh


def retry_policy(
    retries: int = DEFAULT_RETRIES,
    *,
    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
    max_retry_after_seconds: float = DEFAULT_MAX_RETRY_AFTER_SECONDS,
) -> Retry:
    """The urllib3 ``Retry`` a scraper's session uses.

    Args:
        retries: Tries after the first one (0 disables retrying).
        backoff_seconds: The backoff factor in seconds (see
            :data:`DEFAULT_BACKOFF_SECONDS`); waits never exceed 5 s each.
        max_retry_after_seconds: The longest wait a ``Retry-After`` header imposes.

    Raises:
        ValueError: A negative count or wait.
    """
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, not {retries}")
    if not 0 <= backoff_seconds < math.inf or max_retry_after_seconds < 0:
        raise ValueError("backoff and Retry-After waits must be 0 s or more")
    policy = _Retry(
        total=retries,
        connect=None,
        read=None,
        status=None,
        # Errors that are neither connect nor read errors (a TLS handshake refused)
        # are final.
        other=0,
        redirect=5,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_seconds,
        backoff_max=_BACKOFF_MAX_SECONDS,
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    policy.max_retry_after = max_retry_after_seconds
    return policy


def retries_taken(error: BaseException | None = None, response: Any = None) -> int:
    """How many retries preceded a final error or response (0 when unknown).

    Args:
        error: A ``requests`` or urllib3 error raised by a session that uses
            :func:`retry_policy`.
        response: A urllib3 response (``requests.Response.raw``).
    """
    if response is not None:
        policy = getattr(response, "retries", None)
        return len(policy.history) if isinstance(policy, Retry) else 0
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, _ExhaustedError):
            return error.retries
        inner = next((a for a in error.args if isinstance(a, BaseException)), None)
        error = inner or error.__cause__ or error.__context__
    return 0


def _readable(path: str, url: str, what: str) -> None:
    if not Path(path).is_file():
        raise CredentialError(
            f"{url}: the {what} {path} does not exist or is not a file.",
            url=url,
            path=path,
        )


def _read_secret(path: str, url: str, what: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or type(error).__name__
        raise CredentialError(
            f"{url}: cannot read the {what} {path} ({reason}).", url=url, path=path
        ) from None
    if not text:
        raise CredentialError(f"{url}: the {what} {path} is empty.", url=url, path=path)
    return text


@attrs.frozen(slots=True)
class Credentials:
    """How to prove who we are to an endpoint, and whom to trust.

    Attributes:
        bearer_token_file: A file holding a bearer token (a Kubernetes
            service-account token), read again on every scrape.
        basic_auth_user: The user name for HTTP basic auth.
        basic_auth_password: The basic-auth password itself (prefer the file).
        basic_auth_password_file: A file holding the basic-auth password, read again
            on every scrape.
        ca_file: A PEM bundle of the CAs to trust instead of the system's.
        cert_file: A PEM client certificate (with its key, unless ``key_file``).
        key_file: The PEM private key of ``cert_file``.
        insecure: Skip verification of the server's certificate.

    The password never appears in the ``repr``.
    """

    bearer_token_file: str | None = None
    basic_auth_user: str | None = None
    basic_auth_password: str | None = attrs.field(default=None, repr=False)
    basic_auth_password_file: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False

    def check(self, url: str) -> None:
        """Refuse a combination that cannot work, or a file that is not there.

        The token and password files are only read at scrape time: a file that
        appears later (a secret mounted after start) is fine.

        Raises:
            CredentialError: A CA, certificate or key file does not exist, or the
                settings contradict each other.
        """
        problem = None
        password_given = (self.basic_auth_password, self.basic_auth_password_file)
        if self.bearer_token_file and self.basic_auth_user:
            problem = "choose a bearer token or basic auth, not both"
        elif any(x is not None for x in password_given) and not self.basic_auth_user:
            problem = "a basic-auth password needs a basic-auth user"
        elif all(x is not None for x in password_given):
            problem = "give the basic-auth password or its file, not both"
        elif self.key_file and not self.cert_file:
            problem = "a client key needs its client certificate"
        elif self.insecure and self.ca_file:
            problem = "a CA bundle is pointless when verification is off"
        if problem is not None:
            raise CredentialError(f"{url}: {problem}.", url=url)
        for path, what in (
            (self.ca_file, "CA bundle"),
            (self.cert_file, "client certificate"),
            (self.key_file, "client key"),
        ):
            if path is not None:
                _readable(path, url, what)

    def headers(self, url: str) -> tuple[dict[str, str], tuple[str, ...]]:
        """The authentication header for one request, and the secrets it carries.

        Returns:
            ``(headers, secrets)``: the secrets are the strings that must never be
            shown (removed from error messages).

        Raises:
            CredentialError: The token or password file cannot be read or is empty.
        """
        if self.bearer_token_file:
            token = _read_secret(self.bearer_token_file, url, "bearer token file")
            return {"Authorization": f"Bearer {token}"}, (token,)
        if self.basic_auth_user is not None:
            password = self.basic_auth_password or ""
            if self.basic_auth_password_file:
                password = _read_secret(
                    self.basic_auth_password_file, url, "basic-auth password file"
                )
            pair = f"{self.basic_auth_user}:{password}".encode()
            packed = base64.b64encode(pair).decode("ascii")
            secrets = (password, packed) if password else (packed,)
            return {"Authorization": f"Basic {packed}"}, secrets
        return {}, ()

    def describe(self) -> str:
        """A short description for logs and ``repr``, without any secret."""
        parts = []
        if self.bearer_token_file:
            parts.append(f"bearer token from {self.bearer_token_file}")
        if self.basic_auth_user is not None:
            parts.append(f"basic auth as {self.basic_auth_user}")
        if self.cert_file:
            parts.append(f"client certificate {self.cert_file}")
        if self.ca_file:
            parts.append(f"CA bundle {self.ca_file}")
        if self.insecure:
            parts.append("certificate not verified")
        return ", ".join(parts) or "none"


def build_session(
    url: str,
    credentials: Credentials,
    *,
    retries: int = DEFAULT_RETRIES,
    backoff_seconds: float = DEFAULT_BACKOFF_SECONDS,
    max_retry_after_seconds: float = DEFAULT_MAX_RETRY_AFTER_SECONDS,
) -> requests.Session:
    """A keep-alive session for ``url`` with the retry policy and TLS settings.

    The session ignores proxy variables and ``~/.netrc`` from the environment: a
    scraper talks to the endpoint it was given, with the credentials it was given.

    Raises:
        CredentialError: A CA, certificate or key file does not exist, or
            contradictory credentials.
        ValueError: A negative retry count or wait.
    """
    credentials.check(url)
    session = requests.Session()
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(
        max_retries=retry_policy(
            retries,
            backoff_seconds=backoff_seconds,
            max_retry_after_seconds=max_retry_after_seconds,
        ),
        pool_connections=1,
        pool_maxsize=2,
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if credentials.insecure:
        session.verify = False
        host = urllib3.util.parse_url(url).host or ""
        log.warning(
            "TLS certificate verification is off for %s: anyone on the path can "
            "read and change what it sends",
            host,
        )
        # Said once above; urllib3 would repeat it on every request.
        unverified = "Unverified HTTPS request is being made to host"
        warnings.filterwarnings(
            "ignore",
            message=rf"{unverified} '{re.escape(host)}'",
            category=InsecureRequestWarning,
        )
    elif credentials.ca_file:
        session.verify = credentials.ca_file
    if credentials.cert_file:
        session.cert = (
            (credentials.cert_file, credentials.key_file)
            if credentials.key_file
            else credentials.cert_file
        )
    return session
