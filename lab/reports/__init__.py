"""What a person reads: the self-contained HTML report of a backtest, final-eval or paper run
(:mod:`lab.reports.backtest`) and the data doctor's summary of a file (:mod:`lab.reports.data_check`).

Import the modules by their full path: this face imports nothing (the report draws with matplotlib).
"""
