"""Entry point ``backtest``: the trading rules, to the letter, on the validation window.

    mlflow run . -e backtest --env-manager local -P run_id=<tune run> [-P strategy=direction]
        [-P volatility_run_id=<tune run of target_vol>] [-P start=2023-03-01 -P end=2023-06-30]

The model of a tune run gives P(up) per bar (direction strategy); breakout and mean reversion
take the volatility model of another tune run. Costs and slippage are always on. Logs every
metric of the plan, breakdowns by confidence tier, time of day and exit reason, a Monte Carlo
interval, the success criteria as a PASS/FAIL table, ``trades.csv``, the equity curve with
drawdown and a self-contained HTML report. Dates inside the test window are refused. The
configuration and data are those of the model's tune run (see :mod:`jobs.lineage`).
"""

from __future__ import annotations

import sys

import pandas as pd

from lab.errors import LabError
from lab.strategies import STRATEGY_NAMES, get_strategy
from lab.dataset.windows import guard_range
from lab.reports.backtest import report_header
from registry import deflated, ledger
from jobs.context import open_job
from jobs.common import base_parser, config_from_args, load_run_model, prepare, refuse, job_main
from lab.config.parsing import parse_date_param
from jobs.lineage import config_for, require_same_dataset
from jobs.trading import backtest_window
from lab import tags as tag

#: The parameter naming the tune run of each model role (:attr:`lab.strategies.ModelInput.role`).
RUN_OPTIONS = {"direction": "run_id", "volatility": "volatility_run_id"}


@job_main("backtest")
def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--run-id", default="", help="tune run whose model gives P(up) (direction strategy)")
    parser.add_argument("--volatility-run-id", default="", help="tune run of target_vol (breakout, mean reversion)")
    parser.add_argument("--strategy", default="", choices=["", *STRATEGY_NAMES],
                        help="overrides [strategy] name")
    parser.add_argument("--start", default="", help="first date (YYYY-MM-DD) inside the validation window")
    parser.add_argument("--end", default="", help="last date (YYYY-MM-DD) inside the validation window")
    args = parser.parse_args(argv)
    try:
        first = parse_date_param("-P start", args.start) if args.start else None  # refused before anything is read
        last = parse_date_param("-P end", args.end) if args.end else None
        # Lineage: the model's own data and settings (a config or data giving another digest is refused).
        built_on = [run for run in (args.run_id, args.volatility_run_id) if run]
        config = (config_for(args, built_on[0], "backtest", **{"strategy.name": args.strategy}) if built_on
                  else config_from_args(args, **{"strategy.name": args.strategy}))
        for other in built_on[1:]:
            require_same_dataset(built_on[0], other, "backtest")
        start = first or config.windows.validation.start
        end = last or config.windows.validation.end
        guard_range(config.windows, start, end, "backtest")
        models = _models(config.strategy.name, args.run_id, args.volatility_run_id)
        (target,) = (model.target for model in models.values())
        evidence = args.run_id or args.volatility_run_id
        # Only a backtest of the whole validation window is promotion evidence (no cherry-picked weeks).
        whole = (start, end) == (config.windows.validation.start, config.windows.validation.end)
        with open_job("backtest", config, target=target, params={"window": f"{start}..{end}"}, builds_on=built_on,
                      tags={tag.EVIDENCE_FOR: evidence, tag.WINDOW: "validation" if whole else "validation-part",
                            tag.STRATEGY: config.strategy.name}) as job:
            ledger.enter(config, trials=1, market=job.market)  # the trial ledger: every backtest variant counts 1
            dataset = prepare(job)
            bars = dataset.tables["validation"].loc[str(start):str(end)]
            if bars.empty:
                raise LabError(f"no validation bars between {start} and {end}; the validation window is "
                               f"{config.windows.validation}")
            minutes = pd.read_parquet(dataset.folder / "minutes_validation.parquet")
            header = report_header(config, runs={"tune": args.run_id, "volatility tune": args.volatility_run_id,
                                                 "backtest": job.run_id},
                                   data_source=dataset.source, digest=dataset.digest, window=f"{start}..{end}")
            metrics, _ = backtest_window(config, bars, minutes, models, dataset.feature_names,
                                         f"Validation backtest {start}..{end}", header=header)
            deflated.log_backtest_statistics(config, metrics, job.market, evidence)  # trials_on_validation, DSR
    except (LabError, ValueError) as exc:
        return refuse("backtest", exc)
    return 0


def _models(strategy: str, run_id: str, volatility_run_id: str) -> dict:
    """``{role: model}``: the model of the tune run the strategy reads (``run_id`` for P(up),
    ``volatility_run_id`` for P(high range)), refused when it predicts another target."""
    chosen = get_strategy(strategy)
    role = chosen.model_input.role
    run = {"direction": run_id, "volatility": volatility_run_id}[role]
    if not run:
        raise LabError(f"the {strategy} strategy needs -P {RUN_OPTIONS[role]}=<tune run> (a model of "
                       f"{', '.join(chosen.targets)})")
    model = load_run_model(run)
    if model.target not in chosen.targets:
        raise LabError(f"run {run} predicts {model.target}; the {strategy} strategy needs a "
                       f"model of {', '.join(chosen.targets)}")
    return {role: model}


if __name__ == "__main__":
    sys.exit(main())
