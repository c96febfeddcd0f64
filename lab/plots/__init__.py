"""lab.plots."""
