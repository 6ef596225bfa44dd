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

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .exceptions import (
    AuthenticationError,
    CredentialError,
    DataError,
    DiscoveryError,
    DumpError,
    EndpointUnreachableError,
    ExtraMissingError,
    HTTPStatusError,
    IncompleteResponseError,
    KeplerReaderError,
    LimitExceededError,
    ListenError,
    MeterStateError,
    MissingIntervalError,
    NotAnExpositionError,
    NothingMeasuredError,
    ParseError,
    QueryError,
    RecordingError,
    ResultsFileError,
    ScrapeError,
    ScrapeTimeoutError,
    TLSError,
    UnsupportedQueryError,
)

__all__ = [
    "AuthenticationError",
    "Comparison",
    "ComparisonRow",
    "CounterDeltas",
    "CounterWindow",
    "CredentialError",
    "Credentials",
    "DataError",
    "DerivedCollector",
    "DiscoveryError",
    "DumpError",
    "EndpointState",
    "EndpointUnreachableError",
    "EnergyDelta",
    "Era",
    "ExtraMissingError",
    "HTTPStatusError",
    "Histogram",
    "IncompleteResponseError",
    "Increase",
    "IntervalEnergy",
    "KeplerPod",
    "KeplerReaderError",
    "KeplerView",
    "LimitExceededError",
    "Limits",
    "LineProblem",
    "ListenError",
    "Measurement",
    "Meter",
    "MeterStateError",
    "MetricFamily",
    "MetricsServer",
    "MissingIntervalError",
    "NamespaceEnergy",
    "NamespaceMeasurement",
    "NodeEnergy",
    "NodeMeasurement",
    "NotAnExpositionError",
    "NothingMeasuredError",
    "ParseError",
    "ParseWarning",
    "Parser",
    "PlausibilityLimits",
    "PodEnergy",
    "PodMeasurement",
    "PowerSeries",
    "QueryError",
    "QueryResult",
    "Recording",
    "RecordingError",
    "RecordingWriter",
    "Refusal",
    "Registry",
    "ReplayExporter",
    "Response",
    "ResultsFileError",
    "Sample",
    "ScrapeError",
    "ScrapeResult",
    "ScrapeTimeoutError",
    "Scraper",
    "Series",
    "ServeOptions",
    "Snapshot",
    "StreamParser",
    "TLSError",
    "Trust",
    "UnsupportedQueryError",
    "Workload",
    "ZoneSlice",
    "__version__",
    "align",
    "check_delta",
    "compare",
    "detect_era",
    "diff",
    "discover",
    "fetch",
    "histograms",
    "increase_between",
    "interval_energy",
    "iter_records",
    "kepler_view",
    "load_recording",
    "merge_recordings",
    "parse",
    "plot_comparison",
    "plot_power",
    "pod_sums",
    "power_over_time",
    "query",
    "read_dump",
    "read_dumps",
    "read_federate",
    "read_prometheus_json",
    "read_recording",
    "read_results",
    "recording_from_snapshots",
    "run_serve",
    "scrape",
    "scrape_all",
    "scrapers_for",
    "sniff_format",
    "write_dump",
]

# Every name but the version and the exceptions is loaded on first use, so that
# ``import kepler_reader`` costs almost nothing: numpy and attrs come with the first
# parse, ``requests`` (and through it urllib3, ssl and http.client) with the first
# scrape, and each subsystem (queries, recordings, comparisons, plots, serving) with
# its first name. (A lazy name must not be the name of a module of the package:
# importing the module would set the package attribute to the module.)
_LAZY = {
    "CounterDeltas": "delta",
    "EnergyDelta": "delta",
    "NamespaceEnergy": "delta",
    "NodeEnergy": "delta",
    "PodEnergy": "delta",
    "align": "delta",
    "diff": "delta",
    "pod_sums": "delta",
    "read_dump": "dumps",
    "write_dump": "dumps",
    "Histogram": "histogram",
    "histograms": "histogram",
    "Era": "kepler",
    "IntervalEnergy": "kepler",
    "KeplerView": "kepler",
    "Registry": "kepler",
    "Workload": "kepler",
    "ZoneSlice": "kepler",
    "detect_era": "kepler",
    "interval_energy": "kepler",
    "kepler_view": "kepler",
    "Limits": "limits",
    "Parser": "parser",
    "StreamParser": "parser",
    "parse": "parser",
    "sniff_format": "parser",
    "Recording": "recording",
    "recording_from_snapshots": "recording",
    "LineProblem": "snapshot",
    "MetricFamily": "snapshot",
    "ParseWarning": "snapshot",
    "Sample": "snapshot",
    "Series": "snapshot",
    "Snapshot": "snapshot",
    "Comparison": "comparison",
    "ComparisonRow": "comparison",
    "compare": "comparison",
    "read_results": "comparison",
    "PowerSeries": "plot",
    "plot_comparison": "plot",
    "plot_power": "plot",
    "power_over_time": "plot",
    "RecordingWriter": "recorder",
    "iter_records": "recorder",
    "read_recording": "recorder",
    "Measurement": "measurement",
    "NamespaceMeasurement": "measurement",
    "NodeMeasurement": "measurement",
    "PodMeasurement": "measurement",
    "Trust": "measurement",
    "PlausibilityLimits": "plausibility",
    "Refusal": "plausibility",
    "check_delta": "plausibility",
    "CounterWindow": "window",
    "Increase": "promfuncs",
    "increase_between": "promfuncs",
    "QueryResult": "promql",
    "query": "promql",
    "load_recording": "readers",
    "merge_recordings": "readers",
    "read_dumps": "readers",
    "read_federate": "readers",
    "read_prometheus_json": "readers",
    "DerivedCollector": "reexport",
    "EndpointState": "reexport",
    "ServeOptions": "reexport",
    "MetricsServer": "serve",
    "run_serve": "serve",
    "KeplerPod": "discovery",
    "discover": "discovery",
    "scrapers_for": "discovery",
    "ScrapeResult": "endpoints",
    "scrape_all": "endpoints",
    "ReplayExporter": "replay",
    "Credentials": "transport",
    "Meter": "meter",
    "Response": "scraping",
    "Scraper": "scraping",
    "fetch": "scraping",
    "scrape": "scraping",
}

if TYPE_CHECKING:
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
    from .discovery import KeplerPod, discover, scrapers_for
    from .dumps import read_dump, write_dump
    from .endpoints import ScrapeResult, scrape_all
    from .histogram import Histogram, histograms
    from .kepler import (
        Era,
        IntervalEnergy,
        KeplerView,
        Registry,
        Workload,
        ZoneSlice,
        detect_era,
        interval_energy,
        kepler_view,
    )
    from .limits import Limits
    from .measurement import (
        Measurement,
        NamespaceMeasurement,
        NodeMeasurement,
        PodMeasurement,
        Trust,
    )
    from .meter import Meter
    from .parser import Parser, StreamParser, parse, sniff_format
    from .plausibility import PlausibilityLimits, Refusal, check_delta
    from .plot import PowerSeries, plot_comparison, plot_power, power_over_time
    from .promfuncs import Increase, increase_between
    from .promql import QueryResult, query
    from .readers import (
        load_recording,
        merge_recordings,
        read_dumps,
        read_federate,
        read_prometheus_json,
    )
    from .recorder import RecordingWriter, iter_records, read_recording
    from .recording import Recording, recording_from_snapshots
    from .reexport import DerivedCollector, EndpointState, ServeOptions
    from .replay import ReplayExporter
    from .scraping import Response, Scraper, fetch, scrape
    from .serve import MetricsServer, run_serve
    from .snapshot import (
        LineProblem,
        MetricFamily,
        ParseWarning,
        Sample,
        Series,
        Snapshot,
    )
    from .transport import Credentials
    from .window import CounterWindow


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kepler_reader' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
