"""Studies of a model family: grid or TPE tuning with Optuna (:mod:`lab.study.tuning`), monthly
walk-forward validation (:mod:`lab.study.walk_forward`), the plan's Phase 4 analysis
(:mod:`lab.study.analysis`).

Import the modules by their full path: this face imports nothing, so a walk-forward does not load Optuna.
"""
