"""Readiness that reflects reality: SERVING only when every dependency is ready.

Each service registers the conditions it depends on ("kafka", "model", ...).
The gRPC health service and the HTTP ``/readyz`` page both read this tracker.
"""

from __future__ import annotations

from collections.abc import Callable

Listener = Callable[[bool], None]


class Readiness:
    """Tracks named readiness conditions; ready only when all are met."""

    def __init__(self, *conditions: str) -> None:
        self._state = dict.fromkeys(conditions, False)
        self._listeners: list[Listener] = []

    def set(self, condition: str, ready: bool) -> None:
        """Record the state of one condition and notify listeners on change."""
        if condition not in self._state:
            raise KeyError(f"unknown readiness condition {condition!r}")
        before = self.ready
        self._state[condition] = ready
        if self.ready != before:
            for listener in self._listeners:
                listener(self.ready)

    @property
    def ready(self) -> bool:
        """True when every condition is met."""
        return all(self._state.values())

    def conditions(self) -> dict[str, bool]:
        """Every condition and whether it is met, for the metrics page."""
        return dict(self._state)

    def pending(self) -> list[str]:
        """The conditions not met yet, for a readiness page."""
        return [name for name, ok in self._state.items() if not ok]

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(ready)`` now and whenever overall readiness changes."""
        self._listeners.append(listener)
        listener(self.ready)
