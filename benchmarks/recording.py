"""Costs of the recording file: writing, streaming, reading into arrays, resuming.

Run ``python benchmarks/recording.py [--lines 10000] [--records 100]``. It writes
``--records`` consecutive ticks of :func:`generate.kepler_body` to a recording in a
temporary folder (each record gzip-compressed and fsync-ed), then times
``iter_records``, ``read_recording`` (all families, and only
``kepler_pod_cpu_joules_total``) and the resume scan of a ``RecordingWriter``
reopening the file. It prints one line per figure: seconds in all, and per record.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate

import kepler_reader as kr


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--lines", type=int, default=10000)
    options.add_argument("--records", type=int, default=100)
    given = options.parse_args()
    bodies = [generate.kepler_body(given.lines, tick=t) for t in range(given.records)]
    raw = sum(map(len, bodies))

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.krec"
        url = "http://127.0.0.1:28282/metrics"

        def write() -> object:
            with kr.RecordingWriter(path) as writer:
                for i, body in enumerate(bodies):
                    writer.write(1e9 + 3 * i, url, body, node="node-a")
            return None

        def stream() -> object:
            return sum(1 for _ in kr.iter_records(path))

        def read_all() -> object:
            return kr.read_recording(path).values.shape

        def read_pods() -> object:
            families = ["kepler_pod_cpu_joules_total"]
            return kr.read_recording(path, families=families).values.shape

        def resume() -> object:
            kr.RecordingWriter(path).close()
            return None

        print(
            f"{given.records} records of {raw / given.records / 1e6:.2f} MB "
            f"({given.lines} lines) each"
        )
        for name, step in [
            ("write (gzip 6, fsync)", write),
            ("iter_records", stream),
            ("read_recording", read_all),
            ("read_recording, one family", read_pods),
            ("resume scan", resume),
        ]:
            started = time.perf_counter()
            result = step()
            seconds = time.perf_counter() - started
            shown = f", shape {result}" if isinstance(result, tuple) else ""
            print(
                f"{name:28} {seconds:7.2f} s  "
                f"{seconds / given.records * 1000:7.1f} ms/record{shown}"
            )
        size = os.path.getsize(path)
        print(f"file {size / 1e6:.1f} MB, {raw / size:.1f}x smaller than the bodies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
