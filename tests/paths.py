"""Where the test data lives (the repository's own fixtures/ folder only)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
KEPLER = FIXTURES / "kepler"
CASES = FIXTURES / "cases"
REAL = FIXTURES / "real"
RELEASES = ("v0.3", "v0.4", "v0.5.5", "v0.7.2", "v0.7.12", "v0.9.0", "v0.11")
