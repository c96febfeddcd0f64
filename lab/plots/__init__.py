"""Pictures (matplotlib, Agg canvas, no global state): models and tuning (:mod:`lab.plots.models`),
data (:mod:`lab.plots.data`), the data doctor (:mod:`lab.plots.doctor`), the Phase 4 analysis
(:mod:`lab.plots.analysis`).

Import the modules by their full path: this face imports nothing, so that no job pays for matplotlib
unless it draws.
"""
