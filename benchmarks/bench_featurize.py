"""Featurize on a full-size minute file: cold (CSV -> tables written), warm (cache hit), peak memory,
the whole `mlflow run . -e featurize` wall time, and the look-ahead audit's share of a cold featurize
(lab.leak_audit; its budget is 30 %). Prints medians of several runs.

    python benchmarks/bench_featurize.py [--runs 5] [--mlflow-runs 3]

The 2.3-million-row input is the lab's own synthetic MES file (2019-05-01..2025-12-31), written
once into benchmarks/out/. Each cold run is a fresh process (so its peak RSS is its own) with an
empty feature cache; warm runs reuse that cache.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common
from _common import ROOT

CHILD = r"""
import json, resource, sys, time
from lab.config import load_config
from lab.dataset.build import prepare_dataset
config = load_config(None, {"data.path": sys.argv[1]})
start = time.perf_counter()
dataset = prepare_dataset(config, progress=lambda m: None, force=sys.argv[2] == "cold")
wall = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "peak_rss_mb": peak_mb, "cache_hit": dataset.cache_hit, **dataset.timings_s,
                  "rows": dataset.manifest["rows"], "rows_read": dataset.manifest["rows_read"],
                  "rows_held_out": dataset.manifest["rows_held_out"], "leak_audit": dataset.manifest.get("leak_audit")}))
"""


def _child(path: Path, mode: str, lab_home: str) -> dict:
    env = _common.child_env(LAB_HOME=lab_home)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), mode], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mlflow-runs", type=int, default=3)
    args = parser.parse_args()
    path = _common.default_data_file()
    load_before = _common.load()
    size_mb = path.stat().st_size / 1e6
    home = tempfile.mkdtemp(prefix="bench-featurize-")
    try:
        cold = [_child(path, "cold", home) for _ in range(args.runs)]
        warm = [_child(path, "warm", home) for _ in range(args.runs)]
        total = cold[0]["rows_read"] + cold[0]["rows_held_out"]
        print(f"input: {path.name}, {total:,} rows, {size_mb:.0f} MB ({cold[0]['rows_read']:,} before the test window "
              f"parsed, {cold[0]['rows_held_out']:,} held out and never parsed); tables {cold[0]['rows']}")
        med = lambda runs, key: statistics.median(r.get(key, 0.0) for r in runs)  # noqa: E731
        print(f"cold featurize (CSV -> tables written), median of {args.runs}: {med(cold, 'wall_s'):.3f} s "
              f"[digest {med(cold, 'digest_s'):.3f}, read+validate {med(cold, 'read_s'):.3f}, "
              f"data doctor {med(cold, 'doctor_s'):.3f}, bars+features+targets {med(cold, 'featurize_s'):.3f}, write {med(cold, 'write_s'):.3f}]")
        share = statistics.median(r["audit_s"] / r["wall_s"] for r in cold)
        print(f"look-ahead audit (inside bars+features+targets; {cold[0]['leak_audit']['features_audited']} features, "
              f"{len(cold[0]['leak_audit']['cuts'])} cuts, {cold[0]['leak_audit']['bars_recomputed']:,} bars recomputed), "
              f"median: {med(cold, 'audit_s'):.3f} s = {share:.1%} of the cold featurize (median of per-run shares)")
        print(f"warm featurize (cache hit), median of {args.runs}: {med(warm, 'wall_s'):.3f} s")
        print(f"peak RSS of a cold run (whole process, imports included), median: {med(cold, 'peak_rss_mb'):.0f} MB")
        if args.mlflow_runs:
            walls = []
            config = Path(home) / "lab.toml"
            config.write_text(f'[data]\npath = "{path}"\n')
            env = _common.child_env(LAB_HOME=home, MLFLOW_TRACKING_URI=f"sqlite:///{home}/mlflow.db")
            subprocess.run([sys.executable, "-c", "import mlflow; mlflow.create_experiment('bench', artifact_location="
                            f"'{Path(home, 'artifacts').as_uri()}')"], env=env, check=True, capture_output=True)
            env["MLFLOW_EXPERIMENT_NAME"] = "bench"
            for _ in range(args.mlflow_runs):
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "mlflow", "run", ".", "-e", "featurize", "--env-manager", "local", "-P", f"config={config}"],
                               cwd=ROOT, env=env, check=True, capture_output=True)
                walls.append(time.perf_counter() - start)
            print(f"`mlflow run . -e featurize` wall time (cache warm, logging included), median of "
                  f"{args.mlflow_runs}: {statistics.median(walls):.2f} s (runs: {', '.join(f'{w:.2f}' for w in walls)})")
        print(_common.machine(load_before))
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
