"""lab.models."""
