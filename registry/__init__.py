"""The promotion gate and the test-window lock (built on top of `lab`)."""
