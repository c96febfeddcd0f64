"""The promotion gate and the test-window lock (built on top of `lab`).

- :mod:`registry.gate` pure policy checks: run facts in, a list of ``GateResult`` out
- :mod:`registry.evidence` finds the candidate's logged model and its walk-forward / backtest runs
- :mod:`registry.promote` registers a version, tags it, moves ``champion`` (or ``challenger``)
- :mod:`registry.ticket` the atomic one-time ticket final-eval takes for a test window
- :mod:`registry.status` what ``lab status`` reports

Nothing is imported here, so ``import registry`` stays cheap (MLflow loads on first use).
"""
