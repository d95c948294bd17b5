"""Benchmark harnesses behind ``warmline bench``; each writes its result as JSON.

Targets are checked here, against numbers measured in the same run, never as
timed assertions in the test suite.
"""
