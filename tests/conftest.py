"""Shared pytest configuration.

``parse_mode`` runs a test twice: once with ``kepler_reader.parse`` as it is (a new
parser per body), once with ``kepler_reader.parse`` replaced by a warm parser that has
already read other bodies, so every parser test also checks that a remembered series
never changes what a body means.
"""

from __future__ import annotations

import pytest

import kepler_reader as kr
from tests.paths import FIXTURES

_WARM = kr.Parser()
_SEEN = [p.read_bytes() for p in sorted(FIXTURES.rglob("*.prom"))]


def _warm_parse(
    data: bytes | str,
    *,
    source: str | None = None,
    lenient: bool = False,
    format: str | None = None,
) -> kr.Snapshot:
    for body in _SEEN[:: max(len(_SEEN) // 7, 1)]:
        _WARM.parse(body, lenient=True)
    return _WARM.parse(data, source=source, lenient=lenient, format=format)


@pytest.fixture(params=["cold", "warm"])
def parse_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    mode: str = request.param
    if mode == "warm":
        monkeypatch.setattr(kr, "parse", _warm_parse)
    return mode
