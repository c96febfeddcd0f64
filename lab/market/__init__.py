"""lab.market."""
