"""Run one coverage-guided fuzz campaign with atheris: ``python fuzz/run.py TARGET``.

Targets (see ``fuzz/targets.py``): ``parser`` (strict and lenient, whole and chunked,
cold and warm), ``filter`` (``Parser(families=...)`` against a full parse of the
lines it keeps), ``dump`` (``read_dump`` of the bytes plain and gzipped), ``gzip``
(the bytes as a gzip file as they are), ``recording`` (the bytes as a recorder file:
``iter_records`` strict and lenient, ``read_recording``) and ``promjson`` (the bytes as
a saved Prometheus API answer: ``read_prometheus_json``, ``load_recording``). The seed
corpus is built from ``fixtures/`` (every exposition, the cases, the inputs kept in
``fixtures/fuzz/``); what the fuzzer finds is kept in ``fuzz/corpus/TARGET/`` for the
next campaign, and a crashing input is written to ``fuzz/crashes/TARGET/``. Both
folders are ignored by git: a crash worth keeping is copied to ``fixtures/fuzz/`` with
a regression test.

The campaign runs in a child process (libFuzzer ends its process when the time is
up); this script prints one summary line: executions, coverage (libFuzzer's ``cov``,
the number of distinct code edges reached, and ``ft``, its finer features), corpus
size, and the crash file if any. It exits 1 when the campaign found a crash.
``--line-coverage`` then replays the corpus under coverage.py and prints the share of
lines and branches reached in the modules bytes go through.

Examples::

    python fuzz/run.py parser --seconds 20
    nice -n 19 python fuzz/run.py parser --seconds 1800 --line-coverage
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FIXTURES = ROOT / "fixtures"
TARGET_NAMES = ("parser", "filter", "dump", "gzip", "recording", "promjson")
# The modules bytes go through on their way to a snapshot.
MEASURED = (
    "parser.py",
    "grammar.py",
    "assembly.py",
    "shortcuts.py",
    "dumps.py",
    "limits.py",
    "snapshot.py",
)
_STATUS = re.compile(
    r"#(\d+)\s+(?:INITED|NEW|REDUCE|pulse|DONE)\s+cov: (\d+) ft: (\d+) "
    r"corp: (\d+)/(\S+)"
)
_EXECUTED = re.compile(r"stat::number_of_executed_units: (\d+)")
_ARTIFACT = re.compile(r"Test unit written to (\S+)")


def seed_inputs(target: str) -> list[bytes]:
    """The seeds: every text fixture (whole, and its first 16 KiB if longer)."""
    paths = sorted(
        p
        for p in FIXTURES.rglob("*")
        if p.is_file() and p.suffix in (".prom", ".txt", ".html", ".json", "")
    )
    seeds: list[bytes] = []
    for path in paths:
        data = path.read_bytes()
        seeds.append(data)
        if len(data) > 16384:
            seeds.append(data[:16384])
    if target == "recording":
        return recording_seeds(seeds)
    if target == "promjson":
        return [s for s in seeds if s.lstrip()[:1] in (b"{", b"[")] + [
            b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":'
            b'{"__name__":"x"},"values":[[1,"1"],[2,"3"]]}]}}'
        ]
    if target == "gzip":
        seeds = [gzip.compress(s, mtime=0) for s in seeds] + [
            gzip.compress(s[:100], mtime=0) + gzip.compress(s[100:200], mtime=0)
            for s in seeds[:20]
        ]
    return seeds


def recording_seeds(bodies: list[bytes]) -> list[bytes]:
    """Recorder files of one to three records made from fixture bodies, and a gap."""
    import tempfile

    sys.path.insert(0, str(ROOT))
    from kepler_reader import RecordingWriter

    seeds = []
    with tempfile.TemporaryDirectory() as folder:
        for i, body in enumerate(b for b in bodies[:12] if len(b) < 65536):
            path = Path(folder) / f"seed{i}.krec"
            with RecordingWriter(path, fsync=False) as writer:
                for k in range(1 + i % 3):
                    writer.write(
                        1.7e9 + k, "http://127.0.0.1:1/metrics", body, node="n"
                    )
                if i % 4 == 0:
                    writer.write_gap(
                        1.7e9 + 9, "http://127.0.0.1:1/metrics", "x", node="n"
                    )
            seeds.append(path.read_bytes())
    return seeds


def child(target: str, libfuzzer_args: list[str]) -> None:
    """Inside the child: instrument kepler_reader and hand over to libFuzzer."""
    import atheris

    sys.path.insert(0, str(ROOT))
    with atheris.instrument_imports(include=["kepler_reader", "fuzz"]):
        from fuzz import targets
    atheris.Setup([sys.argv[0], *libfuzzer_args], targets.TARGETS[target])
    atheris.Fuzz()


def campaign(args: argparse.Namespace) -> int:
    """Run the campaign; with ``--keep-going``, start again after each crash."""
    if not args.keep_going:
        return run_once(args, args.seconds)
    deadline = time.monotonic() + args.seconds
    found = 0
    while (left := int(deadline - time.monotonic())) > 10:
        found += run_once(args, left, replay=False)
    if args.line_coverage:
        line_coverage(args.target, Path(args.corpus or HERE / "corpus" / args.target))
    print(f"fuzz {args.target}: {found} campaigns ended in a crash")
    return 1 if found else 0


def run_once(args: argparse.Namespace, seconds: int, *, replay: bool = True) -> int:
    """One libFuzzer run of ``seconds``; 1 when it found a crash."""
    target: str = args.target
    corpus = Path(args.corpus or HERE / "corpus" / target)
    crashes = HERE / "crashes" / target
    corpus.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    seeds = Path(tempfile.mkdtemp(prefix=f"kepler-reader-seeds-{target}-"))
    try:
        for i, data in enumerate(seed_inputs(target)):
            (seeds / f"seed-{i:04d}").write_bytes(data)
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            target,
            str(corpus),
            str(seeds),
            f"-max_total_time={seconds}",
            *([f"-seed={args.seed}"] if args.seed is not None else []),
            f"-max_len={args.max_len}",
            f"-timeout={args.timeout}",
            f"-rss_limit_mb={args.rss_limit_mb}",
            f"-artifact_prefix={crashes}/",
            "-print_final_stats=1",
            "-print_pcs=0",
        ]
        log_path = HERE / "logs" / f"{target}-{time.strftime('%Y%m%dT%H%M%S')}.log"
        log_path.parent.mkdir(exist_ok=True)
        started = time.monotonic()
        with log_path.open("w") as log:
            # The child ends by itself after max_total_time (libFuzzer's own clock);
            # the wait below is a backstop with a margin for loading the corpus.
            process = subprocess.run(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=seconds * 2 + 300,
                check=False,
                cwd=ROOT,
            )
        elapsed = time.monotonic() - started
    finally:
        shutil.rmtree(seeds, ignore_errors=True)
    text = log_path.read_text(errors="replace")
    statuses = _STATUS.findall(text)
    executed = _EXECUTED.findall(text)
    artifacts = _ARTIFACT.findall(text)
    runs = int(executed[-1]) if executed else (int(statuses[-1][0]) if statuses else 0)
    cov, ft, corp, size = statuses[-1][1:] if statuses else ("?", "?", "?", "?")
    print(
        f"fuzz {target}: {runs} executions in {elapsed:.0f} s "
        f"({runs / max(elapsed, 1e-9):.0f}/s), cov {cov} edges, ft {ft}, "
        f"corpus {corp} inputs ({size}), exit {process.returncode}; log {log_path}"
    )
    if process.returncode != 0 or artifacts:
        print(f"fuzz {target}: FOUND A CRASH; input: {', '.join(artifacts) or '?'}")
        start = text.find("=== Uncaught")
        print(text[start:][:6000] if start >= 0 else text[-6000:])
        return 1
    if args.line_coverage and replay:
        line_coverage(target, corpus)
    return 0


def line_coverage(target: str, corpus: Path) -> None:
    """Replay ``corpus`` through ``target`` under coverage.py; print what it reached."""
    import coverage

    sys.path.insert(0, str(ROOT))
    measure = coverage.Coverage(branch=True, source=[str(ROOT / "kepler_reader")])
    measure.start()
    from fuzz import targets

    check = targets.TARGETS[target]
    for path in sorted(corpus.iterdir()):
        try:
            check(path.read_bytes())
        except Exception as error:
            print(f"replay of {path} raised {type(error).__name__}: {error}")
    measure.stop()
    total_lines = total_hit = total_branches = total_taken = 0
    for name in MEASURED:
        module = str(ROOT / "kepler_reader" / name)
        analysis = measure._analyze(
            module
        )  # coverage.py has no public per-file numbers
        numbers = analysis.numbers
        lines = numbers.n_statements
        hit = lines - numbers.n_missing
        branches, taken = (
            numbers.n_branches,
            numbers.n_branches - numbers.n_missing_branches,
        )
        total_lines += lines
        total_hit += hit
        total_branches += branches
        total_taken += taken
        print(
            f"  {name:<13} lines {hit}/{lines} ({100 * hit / max(lines, 1):.0f} %), "
            f"branches {taken}/{branches} ({100 * taken / max(branches, 1):.0f} %)"
        )
    print(
        f"fuzz {target}: line coverage {total_hit}/{total_lines} "
        f"({100 * total_hit / max(total_lines, 1):.1f} %), branches "
        f"{total_taken}/{total_branches} "
        f"({100 * total_taken / max(total_branches, 1):.1f} %) "
        f"over {', '.join(MEASURED)}"
    )


def main() -> int:
    """Parse the command line and run the campaign (or, as ``--child``, libFuzzer)."""
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("target", choices=TARGET_NAMES)
    parser.add_argument("--seconds", type=int, default=60, help="campaign length")
    parser.add_argument("--corpus", help="corpus folder (default fuzz/corpus/TARGET)")
    parser.add_argument("--max-len", type=int, default=4096, help="largest input")
    parser.add_argument(
        "--timeout", type=int, default=20, help="seconds one input may take"
    )
    parser.add_argument("--rss-limit-mb", type=int, default=2048)
    parser.add_argument(
        "--seed", type=int, help="libFuzzer's random seed (random by default)"
    )
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="after a crash, start again until the time is up (crashes are kept)",
    )
    parser.add_argument(
        "--line-coverage",
        action="store_true",
        help="replay the corpus under coverage.py afterwards",
    )
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    return campaign(args)


if __name__ == "__main__":
    sys.exit(main())
