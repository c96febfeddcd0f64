"""lab.dataset."""
