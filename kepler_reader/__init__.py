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
from .comparison import Comparison, ComparisonRow, compare, read_results
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
    ExtraMissingError,
    HTTPStatusError,
    IncompleteResponseError,
    KeplerReaderError,
    LimitExceededError,
    MissingIntervalError,
    NotAnExpositionError,
    ParseError,
    RecordingError,
    ResultsFileError,
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
from .parser import Parser, StreamParser, parse, sniff_format
from .plot import PowerSeries, plot_comparison, plot_power, power_over_time
from .recorder import RecordingWriter, iter_records, read_recording
from .recording import Recording, recording_from_snapshots
from .scraping import Response, Scraper, fetch, scrape
from .snapshot import LineProblem, MetricFamily, ParseWarning, Sample, Series, Snapshot

__all__ = [
    "AuthenticationError",
    "Comparison",
    "ComparisonRow",
    "CounterDeltas",
    "DataError",
    "DumpError",
    "EndpointUnreachableError",
    "EnergyDelta",
    "Era",
    "ExtraMissingError",
    "HTTPStatusError",
    "Histogram",
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
    "PowerSeries",
    "Recording",
    "RecordingError",
    "RecordingWriter",
    "Registry",
    "Response",
    "ResultsFileError",
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
    "compare",
    "detect_era",
    "diff",
    "fetch",
    "histograms",
    "iter_records",
    "kepler_view",
    "parse",
    "plot_comparison",
    "plot_power",
    "pod_sums",
    "power_over_time",
    "read_dump",
    "read_recording",
    "read_results",
    "recording_from_snapshots",
    "scrape",
    "sniff_format",
    "write_dump",
]
