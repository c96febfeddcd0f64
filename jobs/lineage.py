"""Lineage: a stage that builds on a run uses that run's configuration, data file and dataset digest.

``walk-forward --params-from R``, ``backtest --run-id R``, ``lab promote --run-id R`` and
``final-eval`` (R: the champion's tune run) call :func:`config_for`:

* no ``--config`` and no ``--data`` given: R's configuration, rebuilt from the ``section.key``
  parameters R logged (they include ``-P data=`` and every override R ran with);
* ``--config`` / ``--data`` given: used only when they give R's dataset digest (same file bytes,
  same windows and featurize settings, same pipeline code); otherwise the stage is **refused**,
  naming both digests. There is no cross-data mode: a number on other data than the model's own
  is never evidence, and the test window moves only with the digest.

Either way the data are checked today: a file changed since R (or pipeline code that changed
the features) gives another digest and is refused the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass
from typing import Any, Mapping

from jobs.common import data_argument
from lab import tags as tag
from lab import tracking
from lab.config import LabConfig, load_config
from lab.config.locate import config_origin, locate_config
from lab.dataset.build import data_source, digest_for, featurize_settings
from lab.errors import DataError, LabError
from lab.market.identity import market_id
from registry.provenance import trusted_source
from registry.seals import list_seals

__all__ = ["Lineage", "LineageError", "lineage_of", "config_of_run", "dataset_digest_of", "config_for", "require_same_dataset", "promotion_config",
]



class LineageError(LabError):
    """A stage was given data or settings other than those of the run it builds on."""


@dataclass(frozen=True)
class Lineage:
    """What a run was made from.

    Parameters
    ----------
    run_id : str
    config : LabConfig
        Rebuilt from the run's logged parameters (source ``runs:/<id>``).
    config_source : str
        The file the run's configuration came from (tag ``lab.config_source``).
    data_path : str
        Its ``data.path`` (empty: the synthetic default).
    digest : str
        Its ``lab.dataset_digest`` tag (16 hex).
    """

    run_id: str
    config: LabConfig
    config_source: str
    data_path: str
    digest: str


def config_of_run(params: Mapping[str, str], run_id: str) -> LabConfig:
    """The configuration a run logged (``section.key`` parameters), keys it did not log at their defaults."""
    defaults = LabConfig()
    kinds = _kinds(dataclasses.asdict(defaults))
    overrides: dict[str, Any] = {}
    for key, kind in kinds.items():
        if key not in params:
            continue
        text = params[key]
        if kind == "range":
            start, _, end = text.partition("..")
            overrides[key] = [start, end]
        elif kind == "list":
            overrides[key] = [part for part in text.split(",") if part != ""]
        else:
            overrides[key] = text
    try:
        config = defaults.replace(overrides)
    except LabError as exc:
        raise LineageError(f"the configuration logged by run {run_id} cannot be read back ({exc}); "
                           "pass the configuration it was made with as -P config=...") from None
    return dataclasses.replace(config, source=f"runs:/{run_id}")


def lineage_of(run_id: str) -> Lineage:
    """The configuration, data path and dataset digest of ``run_id``.

    Raises
    ------
    LineageError
        No such run, or it recorded no dataset digest.
    """
    run = tracking.get_run_data(run_id)
    if run is None:
        raise LineageError(f"run {run_id!r} does not exist in the tracking store; check the id "
                           "(mlflow ui) and MLFLOW_TRACKING_URI")
    params, tags = run
    digest = tags.get(tag.DATASET_DIGEST, "")
    if not digest:
        raise LineageError(f"run {run_id} ({tags.get(tag.STAGE, 'not a lab run')}) recorded no dataset digest; "
                           "build on a finished tune run")
    config = config_of_run(params, run_id)
    return Lineage(run_id, config, tags.get(tag.CONFIG_SOURCE, ""), config.data.path, digest)


def dataset_digest_of(config: LabConfig) -> str:
    """The dataset digest ``config`` gives today, without featurizing (hashes the data file).

    Raises
    ------
    LineageError
        The data file is missing or not a file.
    """
    try:
        source = data_source(config, progress=lambda message: None)
    except DataError as exc:
        raise LineageError(f"{exc} (config {config.source})") from None
    source = trusted_source(source, config)
    sealed = [seal.window for seal in list_seals(market_id(config.data.instrument, source))]  # read around them, as featurize does
    return digest_for(config, source.sha256, sealed)


def config_for(args: argparse.Namespace, run_id: str, stage: str, *, check_data: bool = True,
               **overrides: Any) -> LabConfig:
    """The configuration of a stage building on ``run_id`` (see the module docstring).

    Parameters
    ----------
    args : Namespace
        The entry point's ``--config`` (empty: not given) and ``--data``.
    run_id : str
        The run built on.
    stage : str
        Names the stage in messages (``walk-forward``, ``backtest``, ``promote``, ``final-eval``).
    check_data : bool, default True
        Hash the data file and compare digests. ``False`` (``lab promote``, which reads no data)
        compares the dataset-defining settings instead and hashes only to name a mismatch.
    overrides : section.key -> value
        Settings outside the dataset (``walk_forward.mode``, ``strategy.name``, ``model.engine``...);
        empty values are ignored.

    Raises
    ------
    LineageError
        The given configuration or data give another dataset digest than the run's, or the run's
        own data give another one today.
    """
    lineage = lineage_of(run_id)
    changes = {key: value for key, value in overrides.items() if value not in (None, "")}
    given_config, given_data = getattr(args, "config", "") or "", getattr(args, "data", "") or ""
    if given_data:
        given_data = data_argument(given_data)
    if given_config:
        path = locate_config(given_config)
        print(config_origin(path), file=sys.stderr, flush=True)
        config = load_config(path, {**changes, **({"data.path": given_data} if given_data else {})})
    else:
        print(f"config: the configuration of run {run_id} ({lineage.config_source})", file=sys.stderr, flush=True)
        config = lineage.config.replace({**changes, **({"data.path": given_data} if given_data else {})})
    if given_config or given_data:
        what = " ".join(part for part in (f"-P config={given_config}" if given_config else "",
                                          f"-P data={given_data}" if given_data else "") if part)
    else:
        what = f"the data and settings of run {run_id} as they are today"
    if check_data:
        digest = dataset_digest_of(config)
    elif _dataset_settings(config) == _dataset_settings(lineage.config):
        digest = lineage.digest
    else:
        try:
            digest = dataset_digest_of(config)
        except LabError as exc:
            digest = f"(unknown: {exc})"
        digest = digest if digest != lineage.digest else "(same file, other settings)"
    if digest != lineage.digest:
        raise LineageError(
            f"{stage} builds on run {run_id}, made on dataset {lineage.digest} (data "
            f"{lineage.data_path or 'synthetic default'}, config {lineage.config_source or 'unknown'}, "
            f"windows {_windows(lineage.config)}); {what} give(s) dataset {digest} (data "
            f"{config.data.path or 'synthetic default'}, windows {_windows(config)}). A {stage} on other data or "
            f"windows than its model's is not evidence for it: drop -P config/-P data to use the run's own, "
            f"or tune again on the new data. (If the run's own data changed since, its file or the featurize "
            f"code is not what the run used.)")
    return config


def promotion_config(run_id: str, config_path: str) -> LabConfig:
    """``lab promote``'s configuration: the run's own (``config_path`` empty) or a file that agrees with it.

    A run without a dataset digest (not a lab tune run) gets ``config_path`` (or ``lab.toml``, or
    the defaults) unchecked: the registry's candidate check refuses it with its own reason.
    """
    run = tracking.get_run_data(run_id.strip()) if run_id and run_id.strip() else None
    if run is None or not run[1].get(tag.DATASET_DIGEST):
        return load_config(locate_config(config_path))
    return config_for(argparse.Namespace(config=config_path, data=""), run_id.strip(), "promote", check_data=False)


def _dataset_settings(config: LabConfig) -> dict[str, Any]:
    """What decides the dataset besides the file's bytes and the pipeline code."""
    settings = {k: v for k, v in featurize_settings(config).items() if k != "pipeline_code"}
    settings["source"] = dataclasses.asdict(config.data)
    settings["source"].pop("on_bad_rows", None)
    settings["source"].pop("max_bad_share", None)  # like on_bad_rows: whether a read may drop, not what it keeps
    return settings


def require_same_dataset(run_id: str, other_run_id: str, stage: str) -> None:
    """Refuse two runs (e.g. the direction and the volatility model of one backtest) on different datasets."""
    first, second = lineage_of(run_id), lineage_of(other_run_id)
    if first.digest != second.digest:
        raise LineageError(f"{stage}: run {run_id} was made on dataset {first.digest} but run {other_run_id} on "
                           f"{second.digest}; both models must come from the same data and settings")


def _windows(config: LabConfig) -> str:
    w = config.windows
    return f"train {w.train}, validation {w.validation}, test {w.test}"


def _kinds(node: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in node.items():
        if key == "source":
            continue
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping) and set(value) == {"start", "end"}:
            out[name] = "range"
        elif isinstance(value, Mapping):
            out.update(_kinds(value, name))
        elif isinstance(value, (list, tuple)):
            out[name] = "list"
        else:
            out[name] = "value"
    return out

