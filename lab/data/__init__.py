"""lab.data."""
