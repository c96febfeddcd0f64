"""Scale: a cold featurize and one tune trial on 1x, 2x and 4x the default synthetic span; wall time
and peak memory (RSS) of each, per million rows. Prints a table.

    python benchmarks/bench_scale.py [--scales 1 2 4] [--runs 1] [--target target_vol]

The spans are the lab's synthetic MES file (``lab data synth``) from 2019-05-01 over 1x, 2x and 4x
the default span (2019-05-01..2025-12-31, 2,436 days): years appended at the end, each file written
once into benchmarks/out/. Every window of lab.toml is stretched by the same factor from the
first day (train 55 %, validation 15 %, test 30 % of the span, as by default), so featurize reads
k times the rows and the trial fits k times the training rows and scores k times the validation rows.

featurize: a fresh process, :func:`lab.dataset.build.prepare_dataset` with an empty feature cache
(read and validate, data doctor, fingerprints, features, targets, look-ahead audit, write).
tune trial: a fresh process that reads the cached tables and does what one trial of the study does
(:func:`lab.study.tuning.make_objective` without its Optuna bookkeeping): the labelled rows of
``--target``, the engine's datasets, one fit with ``lab.toml``'s [model] (early stopping on
validation), the validation AUC; the trial's backtest on the validation window is left out. Peak RSS
is the process's own (``ru_maxrss``: imports included).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import _common
from _common import ROOT

DEFAULT_START, DEFAULT_END = dt.date(2019, 5, 1), dt.date(2025, 12, 31)

FEATURIZE = r"""
import json, resource, sys, time
from lab.config import load_config
from lab.dataset.build import prepare_dataset
config = load_config(None, json.loads(sys.argv[1]))
start = time.perf_counter()
dataset = prepare_dataset(config, progress=lambda m: None, force=True)
wall = time.perf_counter() - start
print(json.dumps({"wall_s": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows_read": dataset.manifest["rows_read"], "rows_held_out": dataset.manifest["rows_held_out"],
                  "bars": sum(len(t) for t in dataset.tables.values()), **dataset.timings_s}))
"""

TRIAL = r"""
import json, resource, sys, time
from lab.config import load_config
from lab.dataset.build import prepare_dataset
from lab.models.boosters import TrainingData, predict_proba, train_classifier
from lab.models.evaluation import classification_metrics
config = load_config(None, json.loads(sys.argv[1]))
target = sys.argv[2]
dataset = prepare_dataset(config, progress=lambda m: None)
assert dataset.cache_hit, "the featurize run before should have filled the cache"
start = time.perf_counter()
features = dataset.feature_names
parts = []
for name in ("train", "validation"):
    table = dataset.tables[name]
    rows = table[target].notna().to_numpy()
    parts += [table.loc[rows, features], table.loc[rows, target].to_numpy(dtype="float64")]
data = TrainingData.from_arrays(*parts)
fitted = train_classifier(data, config.model)
auc = classification_metrics(data.y_val, predict_proba(fitted.booster, data.X_val))["auc"]
wall = time.perf_counter() - start
print(json.dumps({"wall_s": wall, "fit_s": fitted.fit_seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "train_rows": len(data.y_train), "validation_rows": len(data.y_val), "auc": auc,
                  "trees": fitted.best_iteration}))
"""


def span_end(scale: int) -> dt.date:
    """Last day of ``scale`` times the default span, from its first day."""
    return DEFAULT_START + (DEFAULT_END - DEFAULT_START + dt.timedelta(days=1)) * scale - dt.timedelta(days=1)


def stretched_windows(scale: int) -> dict[str, list[str]]:
    """lab.toml's [windows] stretched by ``scale`` from the first day (overrides for load_config)."""
    from lab.config import load_config

    windows = load_config(None, {}).windows
    at = lambda day: DEFAULT_START + (day - DEFAULT_START) * scale  # noqa: E731
    out = {}
    for name in ("train", "validation", "test"):
        rng = getattr(windows, name)
        first = at(rng.start)
        last = at(rng.end + dt.timedelta(days=1)) - dt.timedelta(days=1)
        out[f"windows.{name}"] = [first.isoformat(), last.isoformat()]
    return out


def minute_file(scale: int) -> Path:
    """The synthetic file of ``scale`` times the default span (written on first use)."""
    if scale == 1:
        return _common.default_data_file()
    end = span_end(scale)
    path = ROOT / "benchmarks" / "out" / f"synthetic_MES_{DEFAULT_START}_{end}_1min.txt"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "cli.main", "data", "synth", "--start", DEFAULT_START.isoformat(),
                        "--end", end.isoformat(), "--out", str(path)], check=True, cwd=ROOT, env=_common.child_env())
    return path


def _child(code: str, *args: str, home: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                          env=_common.child_env(LAB_HOME=home))
    if proc.returncode:
        raise SystemExit(f"child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--runs", type=int, default=1, help="runs of each (medians)")
    parser.add_argument("--target", default="target_vol")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    load_before = _common.load()
    rows = []
    for scale in args.scales:
        path = minute_file(scale)
        overrides = {"data.path": str(path), **stretched_windows(scale)}
        home = tempfile.mkdtemp(prefix=f"bench-scale-{scale}x-")
        try:
            featurize = [_child(FEATURIZE, json.dumps(overrides), home=home) for _ in range(args.runs)]
            trial = [_child(TRIAL, json.dumps(overrides), args.target, home=home) for _ in range(args.runs)]
        finally:
            shutil.rmtree(home, ignore_errors=True)
        med = lambda runs, key: statistics.median(r[key] for r in runs)  # noqa: E731
        rows.append({"scale": scale, "span": f"{DEFAULT_START}..{span_end(scale)}",
                     "file_mb": path.stat().st_size / 1e6, "rows_read": featurize[0]["rows_read"],
                     "featurize_s": med(featurize, "wall_s"), "featurize_rss_mb": med(featurize, "peak_rss_mb"),
                     "train_rows": trial[0]["train_rows"], "validation_rows": trial[0]["validation_rows"],
                     "trial_s": med(trial, "wall_s"), "fit_s": med(trial, "fit_s"), "trees": trial[0]["trees"],
                     "trial_rss_mb": med(trial, "peak_rss_mb"), "auc": trial[0]["auc"]})
    base = rows[0]
    print(f"| scale | span | file | minute rows read | featurize wall | per M rows | featurize peak RSS | "
          f"{args.target} rows (train / validation) | trial wall (fit) | per M training rows | trees | trial peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['scale']}x | {r['span']} | {r['file_mb']:.0f} MB | {r['rows_read'] / 1e6:.2f} M | "
              f"{r['featurize_s']:.2f} s | {r['featurize_s'] / (r['rows_read'] / 1e6):.2f} s | {r['featurize_rss_mb']:.0f} MB | "
              f"{r['train_rows']:,} / {r['validation_rows']:,} | {r['trial_s']:.2f} s ({r['fit_s']:.2f} s) | "
              f"{r['trial_s'] / (r['train_rows'] / 1e6):.1f} s | {r['trees']} | {r['trial_rss_mb']:.0f} MB |")
    for r in rows[1:]:
        grow = r["rows_read"] / base["rows_read"]
        print(f"{r['scale']}x against {base['scale']}x: rows x{grow:.2f}; featurize wall x{r['featurize_s'] / base['featurize_s']:.2f}, "
              f"peak RSS x{r['featurize_rss_mb'] / base['featurize_rss_mb']:.2f}; trial wall "
              f"x{r['trial_s'] / base['trial_s']:.2f} (training rows x{r['train_rows'] / base['train_rows']:.2f})")
    print(f"medians of {args.runs} run(s) of each, every run a fresh process")
    print(_common.machine(load_before))


if __name__ == "__main__":
    main()
