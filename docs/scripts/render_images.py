"""Render the documentation's pictures into docs/images/ from bundled data only.

- ``flux-energy.png``: the four Flux controllers' package energy in ``flux-system``
  between the bundled Kepler v0.11 scrapes (``docs/flux-energy.md``);
- ``power.png``: ``plot_power`` of ``kepler_reader.demo.bundled_recording()``, per pod
  (``docs/dumps.md``);
- ``compare.png``: ``plot_comparison`` of the bundled traditional and gitops sets
  (``docs/compare.md``).

Run ``python docs/scripts/render_images.py`` (needs the ``plot`` extra) after a change
to the plots or the data, and commit the images.
"""

from __future__ import annotations

import sys
from pathlib import Path

import kepler_reader as kr
from kepler_reader.demo import bundled_recording, bundled_scrapes

IMAGES = Path(__file__).resolve().parents[1] / "images"
DATA = Path(kr.__file__).resolve().parent / "data" / "measurements"


def flux_controllers() -> list[kr.PodEnergy]:
    """The four Flux controllers' rows of the bundled v0.11 diff (3 s interval)."""
    first, second = bundled_scrapes("v0.11")
    result = kr.diff(kr.parse(first), kr.parse(second), interval=3.0)
    return [pod for pod in result.pods if pod.namespace == "flux-system"]


def render_flux(path: Path) -> None:
    """Draw the Flux controllers' joules and watts as bars into the PNG ``path``."""
    from matplotlib.figure import Figure

    pods = flux_controllers()
    names = [pod.pod.rsplit("-", 2)[0] for pod in pods]
    figure = Figure(figsize=(8, 3.6), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    bars = axes.barh(names, [pod.joules for pod in pods], color="#3b7dd8")
    axes.bar_label(
        bars, labels=[f"{p.joules:.3f} J, {p.watts:.3f} W" for p in pods], padding=4
    )
    axes.invert_yaxis()
    axes.set_xlim(0, max(pod.joules for pod in pods) * 1.45)
    axes.set_xlabel("package energy over the 3 s between the scrapes (J)")
    axes.set_title("Flux controllers in flux-system, bundled Kepler v0.11 pair")
    figure.savefig(path)


def main() -> int:
    """Render every image of the documentation into ``IMAGES``; exit status 0."""
    IMAGES.mkdir(exist_ok=True)
    render_flux(IMAGES / "flux-energy.png")
    kr.plot_power(bundled_recording(), by="pod", top=6, path=IMAGES / "power.png")
    comparison = kr.compare(
        kr.read_results([str(DATA / "traditional.json")]),
        kr.read_results([str(DATA / "gitops.json")]),
        labels=("traditional", "gitops"),
    )
    kr.plot_comparison(comparison, path=IMAGES / "compare.png")
    for name in ("flux-energy.png", "power.png", "compare.png"):
        print(f"wrote {IMAGES / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
