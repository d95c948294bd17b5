"""Warmline: empathy-aware, real-time escalation for contact centers."""

__version__ = "0.1.0"
