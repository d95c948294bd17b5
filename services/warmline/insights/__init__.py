"""Insights for leaders: aggregates of the record, suppressed below a minimum group size."""
