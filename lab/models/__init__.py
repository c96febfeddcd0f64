"""Models: LightGBM or XGBoost behind one narrow API (:mod:`lab.models.boosters`) and the metrics of
probabilistic predictions (:mod:`lab.models.evaluation`).

Import the modules by their full path: this face imports nothing, so that a job computing an AUC
does not load both boosting libraries.
"""
