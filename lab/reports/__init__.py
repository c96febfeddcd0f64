"""lab.reports."""
