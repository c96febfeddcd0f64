"""lab.features."""
