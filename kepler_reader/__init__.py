"""Read the Kepler energy exporter directly.

Scrape or load a Kepler ``/metrics`` body, parse it into a columnar
:class:`Snapshot`, map any Kepler era onto one model, and compute joules and watts per
pod, namespace and node between two scrapes::

    import kepler_reader as kr

    before = kr.scrape("http://127.0.0.1:28282/metrics")
    ...
    after = kr.scrape("http://127.0.0.1:28282/metrics")
    for pod in kr.diff(before, after).pods:
        print(pod.namespace, pod.pod, pod.joules, pod.watts)
"""

from __future__ import annotations

from ._version import __version__
from .delta import (
    CounterDeltas,
    EnergyDelta,
    NamespaceEnergy,
    NodeEnergy,
    PodEnergy,
    align,
    diff,
    pod_sums,
)
from .discovery import KeplerPod, discover, scrapers_for
from .dumps import read_dump, write_dump
from .endpoints import ScrapeResult, scrape_all
from .exceptions import (
    AuthenticationError,
    CredentialError,
    DataError,
    DiscoveryError,
    DumpError,
    EndpointUnreachableError,
    HTTPStatusError,
    IncompleteResponseError,
    KeplerReaderError,
    LimitExceededError,
    MissingIntervalError,
    NotAnExpositionError,
    ParseError,
    QueryError,
    ScrapeError,
    ScrapeTimeoutError,
    TLSError,
    UnsupportedQueryError,
)
from .histograms import Histogram, histograms
from .kepler import (
    Era,
    KeplerView,
    Registry,
    Workload,
    ZoneSlice,
    detect_era,
    kepler_view,
)
from .parser import Parser, StreamParser, parse, sniff_format
from .promfuncs import Increase, increase_between
from .promql import QueryResult, query
from .readers import (
    load_recording,
    merge_recordings,
    read_dumps,
    read_federate,
    read_prometheus_json,
)
from .recording import Recording, recording_from_snapshots
from .replay import ReplayExporter
from .scraping import Response, Scraper, fetch, scrape
from .snapshot import LineProblem, MetricFamily, ParseWarning, Sample, Series, Snapshot
from .transport import Credentials

__all__ = [
    "AuthenticationError",
    "CounterDeltas",
    "CredentialError",
    "Credentials",
    "DataError",
    "DiscoveryError",
    "DumpError",
    "EndpointUnreachableError",
    "EnergyDelta",
    "Era",
    "HTTPStatusError",
    "Histogram",
    "IncompleteResponseError",
    "Increase",
    "KeplerPod",
    "KeplerReaderError",
    "KeplerView",
    "LimitExceededError",
    "LineProblem",
    "MetricFamily",
    "MissingIntervalError",
    "NamespaceEnergy",
    "NodeEnergy",
    "NotAnExpositionError",
    "ParseError",
    "ParseWarning",
    "Parser",
    "PodEnergy",
    "QueryError",
    "QueryResult",
    "Recording",
    "Registry",
    "ReplayExporter",
    "Response",
    "Sample",
    "ScrapeError",
    "ScrapeResult",
    "ScrapeTimeoutError",
    "Scraper",
    "Series",
    "Snapshot",
    "StreamParser",
    "TLSError",
    "UnsupportedQueryError",
    "Workload",
    "ZoneSlice",
    "__version__",
    "align",
    "detect_era",
    "diff",
    "discover",
    "fetch",
    "histograms",
    "increase_between",
    "kepler_view",
    "load_recording",
    "merge_recordings",
    "parse",
    "pod_sums",
    "query",
    "read_dump",
    "read_dumps",
    "read_federate",
    "read_prometheus_json",
    "recording_from_snapshots",
    "scrape",
    "scrape_all",
    "scrapers_for",
    "sniff_format",
    "write_dump",
]
