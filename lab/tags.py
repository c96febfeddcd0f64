"""The names of every ``lab.*`` tag the lab writes or reads: one spelling, here.

Runs, registered models, model versions and the lab's records (seals, tickets, locks, which are
registered models) carry these tags; Optuna studies and trials carry the ``lab.*`` user
attributes at the end. Callers import the module as ``from lab import tags as tag`` and write
``tag.DATASET_DIGEST``. This module imports nothing (it does not need MLflow), so the pure core
and the tests can name tags too. Metric and parameter names do not live here.
"""

from __future__ import annotations

# -- every lab run (lab.tracking.stage_run) ---------------------------------------------------
STAGE = "lab.stage"  # the lab stage of the run: featurize, tune, tune-trial, walk-forward, backtest, final-eval ...
CODE_REVISION = "lab.code_revision"  # the git commit the run's code came from ("unknown" outside git)
CODE_DIRTY = "lab.code_dirty"  # "true" when the checkout had uncommitted changes (diff logged as an artifact)
COMMAND = "lab.command"  # the command line that started the run
CONFIG_SOURCE = "lab.config_source"  # the configuration file the run loaded
ERROR = "lab.error"  # why the run failed or refused ("Type: message", at most 5000 characters)
PROCESS = "lab.process"  # JSON host, pid and start of the process running the run (crash detection)

# -- data, market and windows -----------------------------------------------------------------
DATASET_DIGEST = "lab.dataset_digest"  # 16-hex digest of the featurized dataset the run used
MARKET = "lab.market"  # the market key (lab.market.market_id) of the data file the run read
WINDOW = "lab.window"  # which window a backtest/analysis/paper run covers: validation, whole, paper ...
EVIDENCE_FOR = "lab.evidence_for"  # the tune run this run is promotion evidence (or a derived model) for
COSTS_OFF = "lab.costs_off"  # "true" when commission or slippage was zero in the run
STRATEGY = "lab.strategy"  # the backtest's signal strategy (direction, breakout ...)

# -- tune and its trials -----------------------------------------------------------------------
STUDY = "lab.study"  # the Optuna study name of a tune run and of its trial runs
TRIAL_NUMBER = "lab.trial_number"  # the Optuna trial number of a nested trial run
STUDY_RUNS_MISSING = "lab.study_runs_missing"  # warning: the resumed study has trials with no run in this store
INCOMPLETE_GRID = "lab.incomplete_grid"  # "done/total" when the best model was chosen from an unfinished grid
MODEL_ID = "lab.model_id"  # the LoggedModel id of the run's best model (also on promoted versions)
MODEL_URI = "lab.model_uri"  # the URI (models:/<id>) of the run's best model
FEATURES = "lab.features"  # comma-separated feature columns the model was trained on (in order)
TARGET = "lab.target"  # the label a model predicts (target_6bar, target_vol ...), on promoted versions

# -- promoted model versions (registry.promote) ------------------------------------------------
MODEL_ENGINE = "lab.model_engine"  # lightgbm or xgboost
PARAMS = "lab.params"  # JSON of the tune run's best parameters
EVIDENCE_RUNS = "lab.evidence_runs"  # JSON {stage: run id} of the evidence the gates were judged on
GATES = "lab.gates"  # JSON of the promotion gates: measured, rule, threshold, passed
PROMOTED_BY = "lab.promoted_by"  # login name of who promoted the version
PROMOTED_AT = "lab.promoted_at"  # UTC time of the promotion, ISO 8601
PROMOTED_AS = "lab.promoted_as"  # the alias the promotion moved (champion, challenger)
ALIAS_RECORD = "lab.alias"  # registered-model tag "lab.alias.<alias>": the version `lab promote` moved that alias to
FORCED = "lab.forced"  # "true" when promoted past failed gates with --force
FORCE_REASON = "lab.force_reason"  # the reason given with --force
NATIVE_MODEL_URI = "lab.native_model_uri"  # the tune run's native LightGBM/XGBoost model behind the version
SIGNAL_MODEL = "lab.signal_model"  # "run <id>" of the signal pyfunc run, or "none: <why>"
ALERT = "lab.alert"  # the monitor's alert reasons (run and champion version); absent when clean
MONITOR_RUN = "lab.monitor_run"  # the last monitor run of the champion version
CHAMPION_VERSION = "lab.champion_version"  # "<model name>/<version>" a monitor run watched

# -- final-eval and paper trading --------------------------------------------------------------
VERDICT = "lab.verdict"  # the final-eval run's verdict (PASS, FAIL ...)
TICKET = "lab.ticket"  # the name of the one-time ticket a final-eval run spent
FINAL_EVAL_RUN_ID = "lab.final_eval.run_id"  # on the champion version: the final-eval run that judged it
FINAL_EVAL_VERDICT = "lab.final_eval.verdict"  # on the champion version: the final-eval verdict
FINAL_EVAL_WINDOW = "lab.final_eval.window"  # on the champion version: the test window judged
FINAL_EVAL_MARKET = "lab.final_eval.market"  # on the champion version: the market of the test window
MODEL_NAME = "lab.model_name"  # registered model name a paper or final-eval run used
MODEL_VERSION = "lab.model_version"  # registered model version a paper or final-eval run used
PAPER_MODE = "lab.paper_mode"  # paper or live
LIVE_VERDICT = "lab.live_verdict"  # the final-eval verdict a live run was allowed on ("none" without one)
LIVE_OVERRIDE = "lab.live_override"  # the reason given to trade live without a PASS verdict

# -- records kept as registered models (registry.records) --------------------------------------
KIND = "lab.kind"  # which lab record a registered model is: test-window-seal, ticket, promotion-lock ...

SEAL_MARKET = "lab.seal.market"  # the market a sealed test range belongs to
SEAL_WINDOW = "lab.seal.window"  # the sealed range, start..end
SEAL_STATE = "lab.seal.state"  # open, in progress, spent, released (also in the description)
SEAL_SEALED_AT = "lab.seal.sealed_at"  # UTC time the range was sealed
SEAL_SEALED_BY = "lab.seal.sealed_by"  # user@host that sealed it
SEAL_STAGE = "lab.seal.stage"  # the stage whose run sealed it
SEAL_RUN_ID = "lab.seal.run_id"  # the run that sealed it
SYNTHETIC_SHA256 = "lab.synthetic.content_hash"  # on a synthetic-data record: the bytes the lab generated
SYNTHETIC_SETTINGS = "lab.synthetic.settings"  # on a synthetic-data record: JSON of the generator settings
SEAL_FINGERPRINTS = "lab.seal.fingerprints"  # run id and artifact path of the sealed sessions' content fingerprints
SEAL_CONFIG_SOURCE = "lab.seal.config_source"  # the configuration file that named the test window

TICKET_MARKET = "lab.ticket.market"  # the market of the test window the ticket spends
TICKET_WINDOW = "lab.ticket.window"  # the test window, start..end
TICKET_MODEL_NAME = "lab.ticket.model_name"  # the registered model final-eval judged
TICKET_MODEL_VERSION = "lab.ticket.model_version"  # its version
TICKET_RUN_ID = "lab.ticket.run_id"  # the final-eval run holding the ticket
TICKET_STAGE = "lab.ticket.stage"  # taken, data read, predictions made, verdict
TICKET_CLAIM = "lab.ticket.claim"  # random id of the taker (tells a ticket from its re-creation)
TICKET_TAKEN_AT = "lab.ticket.taken_at"  # UTC time the ticket was taken
TICKET_TAKEN_BY = "lab.ticket.taken_by"  # user@host that took it
TICKET_HOST = "lab.ticket.host"  # host of the final-eval process (liveness)
TICKET_PID = "lab.ticket.pid"  # pid of the final-eval process (liveness)
TICKET_HEARTBEAT_AT = "lab.ticket.heartbeat_at"  # UTC time of the holder's last heartbeat
TICKET_FINISHED_AT = "lab.ticket.finished_at"  # UTC time the verdict was recorded
TICKET_VERDICT = "lab.ticket.verdict"  # the verdict recorded on the ticket
TICKET_PREVIOUS_WINDOWS = "lab.ticket.previous_windows"  # JSON of the windows of this market spent before it
TICKET_OVERLAPS_SPENT = "lab.ticket.overlaps_spent"  # JSON of the spent windows of the market this one overlaps
TICKET_RELEASED_AT = "lab.ticket.released_at"  # UTC time of `lab ticket release`
TICKET_RELEASED_BY = "lab.ticket.released_by"  # user@host that released it
TICKET_RELEASE_REASON = "lab.ticket.release_reason"  # the --reason given
TICKET_RELEASED_LIVENESS = "lab.ticket.released_liveness"  # the holder's liveness when it was released

LOCK_MODEL_NAME = "lab.lock.model_name"  # the model whose promotion holds the lock
LOCK_CLAIM = "lab.lock.claim"  # random id of the holder (only the holder deletes the lock)
LOCK_PROCESS = "lab.lock.process"  # JSON host, pid and start of the holder (a dead holder's lock is stale)
LOCK_TAKEN_AT = "lab.lock.taken_at"  # Unix time the lock was taken, seconds

# -- the trial ledger (registry.ledger) --------------------------------------------------------
LEDGER_MARKET = "lab.ledger.market"  # the market whose validation window the run looked at
LEDGER_WINDOW = "lab.ledger.window"  # the validation window looked at, start..end
LEDGER_TRIALS = "lab.ledger.trials_in_run"  # evaluations this run itself adds to the ledger (the metric
# trials_on_validation is the ledger's total, this run included): 1 a trial or backtest, 0 a tune parent run
LEDGER_TRIALS_BEFORE_RENAME = "lab.ledger.trials"  # the same count as runs made before the rename tag it
LEDGER_NESTED = "lab.ledger.trials_nested"  # a tune parent run: its nested trial runs, each in the ledger as 1

# -- the scheduler (jobs.scheduler) ------------------------------------------------------------
SCHEDULE = "lab.schedule"  # the schedule job that started the run
SCHEDULE_STEP = "lab.schedule.step"  # the step of the job (its entry point)
SCHEDULE_FIRING = "lab.schedule.firing"  # id of the firing, shared by the runs of one job firing
SCHEDULE_FIRED_AT = "lab.schedule.fired_at"  # UTC time the job fired
SCHEDULE_PROMOTION = "lab.schedule.promotion"  # what a scheduled promote step did with the run

# -- Optuna study and trial user attributes (lab.tuning), not MLflow tags ----------------------
SEARCH_SPACE = "lab.search_space"  # study attribute: JSON of the search space
SAMPLER = "lab.sampler"  # study attribute: the sampler (grid, tpe ...)
FIXED_PARAMS = "lab.fixed_params"  # study attribute: JSON of the model settings not searched
WORKER = "lab.worker"  # trial attribute: JSON host and pid of the worker running it
STALE = "lab.stale"  # trial attribute: the trial was failed because its worker died
SAME_MODEL_AS = "lab.same_model_as"  # trial attribute and trial-run tag: the trial whose model this point grows
#   (lab.models.grown_config: same trees), so its scores were copied instead of training again
