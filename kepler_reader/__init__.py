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
from .delta import CounterDeltas, EnergyDelta, NamespaceEnergy, NodeEnergy, PodEnergy, diff
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
from .kepler import Era, KeplerView, Workload, detect_era, kepler_view
from .parser import Parser, parse
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
    "IncompleteResponseError",
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
    "Sample",
    "ScrapeError",
    "ScrapeTimeoutError",
    "Series",
    "Snapshot",
    "Workload",
    "__version__",
    "detect_era",
    "diff",
    "kepler_view",
    "parse",
]
