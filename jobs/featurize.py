"""Entry point ``featurize``: raw minutes -> 5-minute RTH bars -> features + targets -> windows.

    mlflow run . -e featurize --env-manager local [-P data=<file>] [-P config=lab.toml]

One MLflow run: parameters, the dataset inputs with their digest, rows per window, class balance
per target, a feature summary, the data doctor's findings (data_findings.csv and a count per kind),
the contract roll table (rolls.csv: date, minute, gap, method, adjust),
and the cached Parquet tables under ``data/features/<digest>/`` (reused when the file and the
settings are unchanged).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import pandas as pd

from lab import tracking
from lab.config import TARGET_NAMES
from lab.dataset.build import class_balance, feature_summary
from lab.data.doctor import findings_warning
from lab.stats.requirements import study_window_warning, window_span
from lab.errors import LabError
from jobs.common import base_parser, config_from_args, refuse, job_main
from jobs.context import open_dataset, open_job
from lab import tags as tag


@job_main("featurize")
def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--on-bad-rows", default="", choices=["", "error", "drop"], help="overrides [data] on_bad_rows")
    parser.add_argument("--max-bad-share", default="", help="overrides [data] max_bad_share (share of rows drop may drop)")
    parser.add_argument("--force", action="store_true", help="rebuild the tables even when the cache has them")
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args, **{"data.on_bad_rows": args.on_bad_rows, "data.max_bad_share": args.max_bad_share})
        started = time.perf_counter()
        with open_job("featurize", config, target="all") as job:
            dataset = open_dataset(job, force=args.force)
            log_featurize(dataset, time.perf_counter() - started)
    except LabError as exc:
        return refuse("featurize", exc)
    return 0


def log_featurize(dataset, wall_s: float) -> None:
    """Everything featurize records about a dataset, batched."""
    manifest = dataset.manifest
    tracking.set_tags({tag.DATASET_DIGEST: dataset.digest})
    tracking.log_params({"dataset_digest": dataset.digest, "dataset_source": dataset.source,
                         "raw_sha256": dataset.raw_sha256, "synthetic": manifest.get("synthetic", False)})
    for name, table in dataset.tables.items():
        tracking.log_dataset(table, name=f"{name}-{dataset.digest}", digest=dataset.digest, source=dataset.source,
                             context=name)
    metrics = {f"rows_{name}": len(t) for name, t in dataset.tables.items()}
    metrics.update({"rows_read": manifest["rows_read"], "rows_held_out": manifest["rows_held_out"],
                    "rows_dropped": sum(manifest["rows_dropped"].values()), "cache_hit": float(dataset.cache_hit),
                    "featurize_wall_s": wall_s})
    balance = class_balance(dataset.tables)
    for row in balance.itertuples():
        metrics[f"share_of_ones_{row.window}_{row.target}"] = row.share_of_ones
        metrics[f"labelled_{row.window}_{row.target}"] = row.labelled
    metrics.update({f"time_{k}": v for k, v in dataset.timings_s.items()})
    doctor = manifest.get("data_doctor", {})
    metrics.update({f"data_findings_{kind}": n for kind, n in doctor.get("findings_per_kind", {}).items()})
    metrics.update({key: doctor[key] for key in ("sessions_flagged", "sessions_dropped", "rolls") if key in doctor})
    tracking.log_metrics(metrics)
    tracking.log_table(balance, "class_balance.csv")
    tracking.log_artifact(summary_file(dataset))
    tracking.log_json(manifest, "manifest.json")
    findings_path = dataset.folder / "data_findings.parquet"
    findings = pd.read_parquet(findings_path) if findings_path.is_file() else pd.DataFrame(columns=["session", "kind", "detail"])
    tracking.log_table(findings, "data_findings.csv")
    rolls_path = dataset.folder / "rolls.parquet"  # the roll table: date, minute, gap, method, adjust
    rolls = (pd.read_parquet(rolls_path) if rolls_path.is_file() else
             pd.DataFrame(columns=["date", "minute", "gap", "method", "front", "next", "adjust"]))
    tracking.log_table(rolls, "rolls.csv")
    # Pictures of the data depend only on the dataset: drawn once per digest, kept beside its tables
    # (a warm featurize draws none and loads no plotting library).
    for picture in data_pictures(dataset, balance, findings):
        tracking.log_artifact(picture)
    rows = ", ".join(f"{n} {len(t):,}" for n, t in dataset.tables.items())
    print(f"featurize: dataset {dataset.digest} ({'cache hit' if dataset.cache_hit else 'built'}) from {dataset.source}")
    print(f"  bars per window: {rows}; test window held out ({manifest['rows_held_out']:,} minute rows left unread)")
    audit = manifest.get("leak_audit") or {}
    if audit:  # lab.leak_audit ran when the tables were built (a cache hit's digest covers the same code)
        print(f"  look-ahead audit passed: {audit['features_audited']} features at {len(audit['cuts'])} cuts")
    print("  share of ones (train / validation):")
    for target in TARGET_NAMES:
        tr = balance[(balance.window == "train") & (balance.target == target)].share_of_ones.iloc[0]
        va = balance[(balance.window == "validation") & (balance.target == target)].share_of_ones.iloc[0]
        print(f"    {target:<13} {tr:6.3f} / {va:6.3f}")
    sessions, weeks = window_span(dataset.tables["validation"])
    if (short := study_window_warning(sessions, weeks)) is not None:
        warnings.warn(short, stacklevel=2)
        print(f"  WARNING: {short}")
    if len(rolls):
        adjust = doctor.get("roll_adjust", "back")
        print(f"  contract rolls: {len(rolls)} (gaps {', '.join(f'{g:+g}' for g in rolls['gap'])} points); "
              + ("back-adjusted" if adjust == "back" else "left in the prices ([data] roll_adjust = \"none\")")
              + "; rolls.csv of the run")
    if doctor:
        message = findings_warning(doctor, dataset.manifest["settings"]["data"].get("on_bad_sessions", "warn"))
        print(f"  data doctor: {message}" if message else
              f"  data doctor: no finding in {doctor['sessions_checked']:,} sessions")


def summary_file(dataset) -> Path:
    """``feature_summary.csv`` of the dataset's folder: its training features' statistics, computed once per digest."""
    path = dataset.folder / "feature_summary.csv"
    if not path.is_file():
        summary = feature_summary(dataset.tables["train"], dataset.feature_names)
        partial = path.with_suffix(".partial.csv")
        partial.write_text(tracking.table_csv(summary))
        partial.replace(path)
    return path


PICTURES = ("class_balance.png", "feature_distributions.png", "data_findings.png")


def data_pictures(dataset, balance: pd.DataFrame, findings: pd.DataFrame) -> list:
    """The dataset's pictures (:data:`PICTURES`, PNG files in its folder), drawn when one is missing."""
    pictures = [dataset.folder / name for name in PICTURES]
    if all(picture.is_file() for picture in pictures):
        return pictures
    import matplotlib.pyplot as plt  # heavy: matplotlib, 0.35 s to import; only when a picture is drawn

    from lab.plots.data import class_balance_figure, feature_distribution_figure  # heavy: loads matplotlib
    from lab.plots.doctor import findings_timeline_figure  # heavy: loads matplotlib

    draw = {"class_balance.png": lambda: class_balance_figure(balance),
            "feature_distributions.png": lambda: feature_distribution_figure(
                dataset.tables["train"], dataset.feature_names, compare={"validation": dataset.tables["validation"]}),
            "data_findings.png": lambda: findings_timeline_figure(findings)}
    for picture in pictures:
        if not picture.is_file():
            figure = draw[picture.name]()
            figure.savefig(picture.with_suffix(".partial.png"), dpi=80)
            plt.close(figure)
            picture.with_suffix(".partial.png").replace(picture)
    return pictures


if __name__ == "__main__":
    sys.exit(main())
