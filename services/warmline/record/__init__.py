"""The record: a durable, text-free store of the pipeline's decisions, signals,
claims, verdicts and CSAT, and the audit that reads it (issue #16)."""
