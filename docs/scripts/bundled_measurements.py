"""Write the bundled measurement sets in kepler_reader/data/measurements/.

Both sets are derived from one thing only: the bundled Kepler v0.11 scrape pair
(``kepler_reader.demo.bundled_scrapes("v0.11")``, 3 s apart), read with
``kepler_reader.diff``. They are not measurements of two clusters; they stand in for
repeated runs so that ``kepler-reader compare`` has something to compare on any
machine. How each set is made:

- every repeat is that one diff with every joule and watt figure multiplied by the
  repeat's factor (``FACTORS`` below), standing for run-to-run variation;
- ``gitops`` keeps every pod of the pair, the four Flux controllers included;
- ``traditional`` drops the ``flux-system`` pods (a cluster run without GitOps has no
  Flux controllers) and takes their joules off the node's before scaling.

Run ``python docs/scripts/bundled_measurements.py`` to write the files again; a test
checks that the committed files are what this script writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import kepler_reader as kr
from kepler_reader.demo import bundled_scrapes
from kepler_reader.output import delta_to_dict

OUT = Path(__file__).resolve().parents[2] / "kepler_reader" / "data" / "measurements"
FACTORS = {
    "traditional": (1.00, 1.03, 0.98, 1.01, 0.97),
    "gitops": (1.02, 0.99, 1.04, 0.97, 1.00),
}


def _base() -> dict[str, Any]:
    first, second = bundled_scrapes("v0.11")
    before = kr.parse(first, source="v0.11-node-a.prom")
    after = kr.parse(second, source="v0.11-node-a.t3.prom")
    return delta_to_dict(kr.diff(before, after, interval=3.0))


def _scaled(base: dict[str, Any], factor: float, keep_flux: bool) -> dict[str, Any]:
    pods = [p for p in base["pods"] if keep_flux or p["namespace"] != "flux-system"]
    flux = sum(p["joules"] for p in base["pods"] if p["namespace"] == "flux-system")
    node = base["node"]["joules"] - (0.0 if keep_flux else flux)
    seconds = base["interval_seconds"]

    def scale(value: float | None) -> float | None:
        return None if value is None else round(value * factor, 6)

    out_pods = [
        {
            **p,
            "joules": scale(p["joules"]),
            "watts": scale(p["watts"]),
            "dynamic_joules": scale(p["dynamic_joules"]),
            "idle_joules": scale(p["idle_joules"]),
        }
        for p in pods
    ]
    namespaces: dict[str, list[float]] = {}
    for p in out_pods:
        entry = namespaces.setdefault(p["namespace"], [0.0, 0])
        entry[0] += p["joules"]
        entry[1] += 1
    return {
        **base,
        "pods": out_pods,
        "namespaces": [
            {
                "namespace": ns,
                "joules": round(j, 6),
                "watts": round(j / seconds, 6),
                "pods": int(n),
            }
            for ns, (j, n) in sorted(namespaces.items())
        ],
        "node": {"joules": scale(node), "watts": scale(node / seconds)},
        "warnings": [],
        "derived_from": (
            "the bundled Kepler v0.11 pair (3 s), every figure multiplied by "
            f"{factor}{'' if keep_flux else ', flux-system removed'}; not a measurement"
        ),
    }


def documents() -> dict[str, str]:
    """The text of each bundled file, by file name."""
    base = _base()
    return {
        f"{name}.json": json.dumps(
            [_scaled(base, f, keep_flux=name == "gitops") for f in factors],
            indent=1,
        )
        + "\n"
        for name, factors in FACTORS.items()
    }


def main() -> int:
    """Write the bundled result sets into ``OUT``; exit status 0."""
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in documents().items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
