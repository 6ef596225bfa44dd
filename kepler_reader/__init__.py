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
from .dumps import read_dump, write_dump
from .exceptions import (
    AuthenticationError,
    DataError,
    DumpError,
    EndpointUnreachableError,
    HTTPStatusError,
    IncompleteResponseError,
    KeplerReaderError,
    LimitExceededError,
    MissingIntervalError,
    NotAnExpositionError,
    ParseError,
    ScrapeError,
    ScrapeTimeoutError,
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
from .limits import Limits
from .parser import Parser, StreamParser, parse, sniff_format
from .recording import Recording, recording_from_snapshots
from .scraping import Response, Scraper, fetch, scrape
from .snapshot import LineProblem, MetricFamily, ParseWarning, Sample, Series, Snapshot

__all__ = [
    "AuthenticationError",
    "CounterDeltas",
    "DataError",
    "DumpError",
    "EndpointUnreachableError",
    "EnergyDelta",
    "Era",
    "HTTPStatusError",
    "Histogram",
    "IncompleteResponseError",
    "KeplerReaderError",
    "KeplerView",
    "LimitExceededError",
    "Limits",
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
    "Recording",
    "Registry",
    "Response",
    "Sample",
    "ScrapeError",
    "ScrapeTimeoutError",
    "Scraper",
    "Series",
    "Snapshot",
    "StreamParser",
    "Workload",
    "ZoneSlice",
    "__version__",
    "align",
    "detect_era",
    "diff",
    "fetch",
    "histograms",
    "kepler_view",
    "parse",
    "pod_sums",
    "read_dump",
    "recording_from_snapshots",
    "scrape",
    "sniff_format",
    "write_dump",
]
