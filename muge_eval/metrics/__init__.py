"""Metrics as small pure functions of predictions and gold data."""
