"""lab.study."""
