"""[model] max_bin: validation AUC and training time per setting, one model per target at lab.toml's
hyperparameters, on the default-size synthetic data. Prints medians of several fits (wall and CPU s).

    python benchmarks/bench_max_bin.py [--bins 255 63 31] [--targets target_vol target_6bar] [--repeat 3]
                                       [--engine lightgbm]

CPU seconds (the process's user + system time) are less disturbed than wall seconds when other
work shares the machine; the AUC does not depend on the load.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time

import _common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bins", type=int, nargs="+", default=[255, 63, 31])
    parser.add_argument("--targets", nargs="+", default=["target_vol", "target_6bar"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engine", default="lightgbm", choices=["lightgbm", "xgboost"])
    args = parser.parse_args()
    data_file = _common.default_data_file()
    os.environ["LAB_HOME"] = tempfile.mkdtemp(prefix="bench-max-bin-")
    from jobs.common import labelled
    from lab.config import load_config
    from lab.dataset.build import prepare_dataset
    from lab.models.boosters import TrainingData, train_classifier

    config = load_config(None, {"data.path": str(data_file), "model.engine": args.engine})
    dataset = prepare_dataset(config, progress=lambda message: None)
    load_before = _common.load()
    print(f"median of {args.repeat} fits per setting")
    for target in args.targets:
        X_train, y_train = labelled(dataset.tables["train"], dataset.feature_names, target)
        X_val, y_val = labelled(dataset.tables["validation"], dataset.feature_names, target)
        data = TrainingData.from_arrays(X_train, y_train, X_val, y_val)
        for bins in args.bins:
            model_config = dataclasses.replace(config.model, max_bin=bins)
            walls, cpus, result = [], [], None
            for _ in range(args.repeat):
                wall, cpu = time.perf_counter(), time.process_time()
                result = train_classifier(data, model_config)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
            print(f"{target:<12} max_bin {bins:>4}: validation AUC {result.best_validation_auc:.4f}, "
                  f"{result.best_iteration} trees; median fit {statistics.median(walls):.2f} s wall, "
                  f"{statistics.median(cpus):.2f} s CPU (dataset construction included in the first)", flush=True)
    print(_common.machine(load_before))


if __name__ == "__main__":
    main()
