"""Entry point ``final-eval``: the one and only look at the held-out test window.

    mlflow run . -e final-eval --env-manager local

Loads ``models:/<[promotion] model_name>@champion`` (refuses without one), then checks, before
it looks, everything that can fail without revealing a result (the file exists, covers the window,
its test rows pass the integrity rules, the model loads, the features compute: a failure leaves
the window open). Only then it takes the one-time ticket of the market's ``[windows] test``
(atomic in the tracking backend: of two final-evals started at once exactly one proceeds; a later
call, under any model name, refuses and names the first run), records its stage (taken, data
read, predicted, verdict) and a heartbeat on it, evaluates the model (AUC, Brier, ECE overall and by
confidence tier), runs the backtest with the rules the champion was promoted with, logs
everything a backtest logs, prints the plan's success criteria and tags the model version with
the verdict.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

import numpy as np
import pandas as pd

from jobs.champion import champion_version, check_strategy_model, promoted_rules
from jobs.common import base_parser, config_from_args, job_main, load_run_model, refuse
from jobs.context import DataIdentity, JobContext, StageRun, identify
from jobs.lineage import config_for
from jobs.trading import backtest_window
from lab import tags as tag
from lab import tracking
from lab.backtest import evaluate_criteria, is_full_size, reaches_entry_threshold
from lab.backtest.metrics import verdict as plan_verdict
from lab.config import LabConfig
from lab.data.readers import read_minutes
from lab.dataset.build import TEST_WARMUP_DAYS, build_window_table
from lab.dataset.windows import FINAL_EVAL
from lab.errors import DataError, LabError
from lab.market.sessions import regular_sessions
from lab.models.evaluation import classification_metrics
from lab.reports.backtest import report_header
from lab.strategies import get_strategy
from registry.description import with_verdict
from registry.seals import enforce_seals
from registry.ticket import (
    DATA_READ,
    PREDICTED,
    heartbeat,
    list_tickets,
    normalize_window,
    record_result,
    set_stage,
    take_ticket,
)


@job_main("final-eval")
def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--on-bad-rows", default="", choices=["", "error", "drop"],
                        help="overrides [data] on_bad_rows for final-eval's read of the test window only")
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
        champion = champion_version(config)
        # Lineage: the data and settings of the champion's tune run; another digest is refused.
        config = config_for(args, champion.run_id, "final-eval", **{"promotion.model_name": config.promotion.model_name})
        if args.on_bad_rows:  # after the lineage check: final-eval re-reads only the test window, never train/validation
            config = config.replace({"data.on_bad_rows": args.on_bad_rows})
        config, rules_source = promoted_rules(config, champion)
        target = champion.tags.get(tag.TARGET, "")
        with tracking.stage_run(FINAL_EVAL, config, target=target,
                                params={"window": str(config.windows.test), "model_version": champion.version,
                                        "rules_from": rules_source},
                                tags={tag.WINDOW: "test", tag.MODEL_NAME: config.promotion.model_name,
                                      tag.MODEL_VERSION: str(champion.version)}) as run:
            final_eval(config, champion, StageRun(run.info.run_id, FINAL_EVAL, run.info.experiment_id), rules_source)
    except LabError as exc:
        return refuse("final-eval", exc, verb="refused")
    return 0


def final_eval(config: LabConfig, champion, run: StageRun, rules_source: str = "the configuration") -> None:
    """Check everything that can fail without revealing a result, then take the ticket, predict and judge."""
    name = config.promotion.model_name
    test = config.windows.test
    try:
        job, model, table, minutes = pre_checks(config, champion, run, rules_source)
    except LabError as exc:
        raise type(exc)(f"{exc} (stopped before taking the ticket: the test window {test} is still open)") from None
    market, run_id = job.market, job.run_id
    ticket = take_ticket(market, test, model_name=name, run_id=run_id, model_version=str(champion.version))
    print(f"final-eval: took the one-time ticket of market {market} on {test} for {name} version {champion.version}",
          file=sys.stderr)
    with heartbeat(ticket):
        set_stage(ticket, DATA_READ)
        features = list(model.features)
        role = get_strategy(config.strategy.name).model_input.role  # pre_checks: the model feeds the strategy
        set_stage(ticket, PREDICTED)  # before the first prediction: a crash from here on has looked
        evidence = json.loads(champion.tags.get(tag.EVIDENCE_RUNS, "{}") or "{}")
        header = report_header(config, runs={"tune": champion.run_id, "walk-forward": evidence.get("walk-forward", ""),
                                             "validation backtest": evidence.get("backtest", ""), "final-eval": run_id},
                               data_source=job.data.path,
                               digest=champion.tags.get(tag.DATASET_DIGEST, ""),
                               model=f"{name} version {champion.version} @champion",
                               window=str(test), ticket=f"{ticket.name} (market {market})")
        metrics, predictions = backtest_window(config, table, minutes, {role: model}, features,
                                               f"Final evaluation, test window {test}", header=header)
        tiers = tier_metrics(table[model.target].to_numpy(), predictions[role].to_numpy(), config)
        tracking.log_table(tiers, "evaluation_by_tier.csv")
        tracking.log_metrics({f"tier_{row.tier}_{k}": getattr(row, k) for row in tiers.itertuples()
                              for k in ("auc", "brier_score", "ece", "rows")})
        criteria = evaluate_criteria(metrics, config.criteria)
        verdict = plan_verdict(criteria)
        tracking.set_tags({tag.VERDICT: verdict, tag.TICKET: ticket.name})
        record_result(ticket, run_id, verdict)
    tracking.set_version_tags(name, str(champion.version), {
        tag.FINAL_EVAL_RUN_ID: run_id, tag.FINAL_EVAL_VERDICT: verdict, tag.FINAL_EVAL_WINDOW: str(test),
        tag.FINAL_EVAL_MARKET: market})
    tracking.client().update_model_version(name, str(champion.version), description=with_verdict(
        champion.description or "", verdict=verdict, run_id=run_id, experiment_id=job.run.experiment_id,
        window=str(test), ticket=ticket.name))
    print(f"final-eval: verdict {verdict} (plan's minimum criteria {'met' if verdict != 'FAIL' else 'not met'}); "
          f"recorded on {name} version {champion.version} and on ticket {ticket.name}")


def pre_checks(config: LabConfig, champion, run: StageRun, rules_source: str = "the configuration"):
    """Everything that can fail without revealing a result, before the ticket is taken.

    The file exists and is a file; the champion has not seen the window and no final-eval has
    looked at an overlapping one on this market; the window is sealed (and overlaps no other
    seal); the model loads and feeds the strategy it trades (``rules_source`` names where that came
    from); the file covers the window from the warm-up to its last session; the
    test rows pass the integrity rules; the features compute and hold every column the model needs.

    Returns
    -------
    (job, model, table, minutes)
        ``job``: the :class:`jobs.context.JobContext` of the evaluation (its data identity resolved
        here, after the champion-has-not-seen-it check, so that a refused window is not sealed).
    """
    test = config.windows.test
    source, market = identify(config)
    tracking.set_tags({tag.MARKET: market}, run.run_id)
    check_unseen(config, champion, market)
    sealed = enforce_seals(config, market, stage=FINAL_EVAL, run_id=run.run_id, reads={})
    job = JobContext(config, tracking.tracking_uri(), DataIdentity(source, market, tuple(sealed), FINAL_EVAL), run,
                     (champion.run_id,))
    model = load_run_model(champion.run_id, f"models:/{config.promotion.model_name}@champion")
    check_strategy_model(config.strategy.name, model.target, rules_source)
    warmup_start = test.start - dt.timedelta(days=TEST_WARMUP_DAYS)
    try:
        minute_file = read_minutes(source.path, tz=config.data.timezone, on_bad_rows=config.data.on_bad_rows,
                                   max_bad_share=config.data.max_bad_share,
                                   since=warmup_start, until=test.end + dt.timedelta(days=1))
    except DataError as exc:
        if "on-bad-rows" not in str(exc):
            raise
        raise DataError(f"{exc} (final-eval: rerun with -P on_bad_rows=drop, or --on-bad-rows drop, to drop them from "
                        "its read of the test window only; the champion's own data and settings stay as they are)") from None
    minutes = minute_file.minutes
    if minutes.empty:
        raise LabError(f"{source.path} holds no minute between {warmup_start} and {test.end}: it does not cover the "
                       f"test window {test}; pass the file that does with -P data=<file>")
    sessions = regular_sessions(config.session.calendar, test.start, test.end)
    last_session = sessions.index[-1].date() if len(sessions) else test.end
    last_minute = minutes.index[-1]
    if last_minute.date() < last_session:
        raise LabError(f"{source.path} ends at {last_minute}, before the test window's last session ({last_session}): "
                       f"final-eval needs the whole window {test}; pass the complete file with -P data=<file>")
    table, window_minutes = build_window_table(minutes, config, test.start, test.end)
    missing = [name for name in (*model.features, model.target) if name not in table.columns]
    if missing:
        raise LabError(f"the test table lacks {', '.join(missing)}, which the champion needs; featurize settings "
                       "differ from the champion's (check [features] optional_sets)")
    return job, model, table, window_minutes


def check_unseen(config: LabConfig, champion, market: str) -> None:
    """Refuse a test window the champion has seen, or one overlapping a window already spent on ``market``.

    The champion's tune run must have trained and validated strictly before the test window (its
    logged ``windows.*``), and no earlier final-eval on this market, of any model, may have looked
    at any of its days: moving the window by a day is not a new, unseen window.
    """
    test = config.windows.test
    params = tracking.get_run(champion.run_id).data.params
    for name in ("windows.train", "windows.validation"):
        logged = params.get(name, "")
        if not logged or logged.split("..")[-1] >= str(test.start):
            raise LabError(f"the champion (run {champion.run_id}) was tuned with {name} = {logged or 'unknown'}, which "
                           f"does not end before the test window {test}; its verdict there would be on data it has seen. "
                           "Tune, validate and promote with the same [windows] as final-eval uses.")
    current = normalize_window(test)
    for ticket in list_tickets(market):
        start, end = ticket.window.split("..")
        if ticket.window != current and start <= str(test.end) and end >= str(test.start):
            raise LabError(f"the test window {current} overlaps {ticket.window}, already looked at by final-eval run "
                           f"{ticket.run_id} ({ticket.verdict or 'in progress'}) on market {market}; a new look needs "
                           "new, unseen dates")


def tier_metrics(labels: np.ndarray, probability: np.ndarray, config: LabConfig) -> pd.DataFrame:
    """AUC, Brier score and ECE overall and by confidence tier (full, half, no trade)."""
    confidence = np.maximum(probability, 1.0 - probability)
    full, tradeable = is_full_size(confidence, config.rules), reaches_entry_threshold(confidence, config.rules)
    tiers = {"all": np.ones(len(labels), dtype=bool), "full": full, "half": tradeable & ~full,
             "none": ~tradeable & ~np.isnan(confidence)}
    rows = []
    known = ~np.isnan(labels)
    for tier, mask in tiers.items():
        rows_mask = mask & known
        y, p = labels[rows_mask], probability[rows_mask]
        row = {"tier": tier, "rows": int(rows_mask.sum()), "auc": np.nan, "brier_score": np.nan, "ece": np.nan}
        if len(np.unique(y)) == 2:
            row.update({k: v for k, v in classification_metrics(y, p).items() if k in ("auc", "brier_score", "ece")})
        rows.append(row)
    return pd.DataFrame(rows)


if __name__ == "__main__":
    sys.exit(main())
