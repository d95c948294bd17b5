"""The ingestion service: authenticate, validate, redact, de-duplicate, publish."""
