"""What seals by content cost: the session fingerprints inside a cold featurize of the default data.

Generates the default synthetic MES minutes (2019-05-01..2025-12-31, 2.3 M rows) into a temporary
folder, runs the featurize pipeline cold (``force=True``) several times, then the fingerprint step
alone on the same minutes (one thread, nothing beside it), and prints the medians and their ratio
(goal: at most 10 %). Inside featurize the fingerprints run on the data doctor's thread beside the
features, so their time alone is an upper bound of what they add to the pipeline's wall time.
Also times matching every session against a seal of two years of sessions.

    python benchmarks/bench_fingerprints.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.config import load_config  # noqa: E402
from lab.data.fingerprints import match_sessions  # noqa: E402
from lab.data.readers import read_minutes  # noqa: E402
from lab.dataset.build import prepare_dataset, read_fingerprints, write_synthetic  # noqa: E402
from lab.data.synth import generate_minutes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["LAB_HOME"] = folder
        config = load_config(None)
        data = config.data
        minutes = generate_minutes(data.synthetic_start, data.synthetic_end, data.synthetic_seed, config.instrument,
                                   config.session.calendar)
        path = write_synthetic(minutes, Path(folder) / "minutes.txt", data.instrument, data.synthetic_seed,
                               data.synthetic_start, data.synthetic_end)
        config = load_config(None, {"data.path": str(path)})
        prints_s, total_s, sessions = [], [], 0
        for _ in range(args.runs):
            began = time.perf_counter()
            dataset = prepare_dataset(config, progress=lambda message: None, force=True)
            total_s.append(time.perf_counter() - began)
            sessions = len(dataset.session_prints)
        read = read_minutes(path, tz=config.data.timezone, until=config.windows.test.start).minutes
        for _ in range(args.runs):
            began = time.perf_counter()
            alone = read_fingerprints(read, config)
            prints_s.append(time.perf_counter() - began)
        assert alone == dataset.session_prints, "the fingerprints alone differ from featurize's"
        prints = dataset.session_prints
        sealed = {"two-years": prints[-500:]}
        match_runs = []
        for _ in range(args.runs):
            began = time.perf_counter()
            matches = match_sessions(prints, sealed)
            match_runs.append(time.perf_counter() - began)
        match_s = statistics.median(match_runs)
    fp, total = statistics.median(prints_s), statistics.median(total_s)
    load = os.getloadavg()[0]
    print(f"fingerprints of {sessions:,} sessions, alone on one thread: {fp:.3f} s (median of {args.runs}) of a "
          f"{total:.2f} s cold featurize in process = {100 * fp / total:.1f} % (in featurize they run beside the "
          "features, on the data doctor's thread: at most this much of its wall)")
    print(f"matching {sessions:,} sessions against a seal of 500: {match_s * 1e3:.1f} ms (median of {args.runs}; "
          f"{len(matches)} matches, "
          "the sealed sessions themselves)")
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f}; runs: fingerprints {[round(x, 3) for x in prints_s]},"
          f" featurize {[round(x, 2) for x in total_s]}")


if __name__ == "__main__":
    main()
