"""Regression checks: compare a run's results with a golden results file."""
