"""The notification service: escalations on agents' consoles, claims, feedback."""
