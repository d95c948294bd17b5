"""Strings that arrived as JSON but are not Unicode.

JSON may escape a lone surrogate (``"\\ud800"``) and Python's decoder takes it;
protobuf fields, Kafka records and UTF-8 responses cannot hold one. Every door
that reads JSON strings checks them here and refuses the field by name.
"""

from __future__ import annotations


def is_unicode(text: str) -> bool:
    """False for a string with a lone surrogate (not encodable as UTF-8)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
