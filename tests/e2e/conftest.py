"""The notification fixtures of the integration tests, for the browser tests."""

from tests.integration.notification.conftest import make_notification

__all__ = ["make_notification"]
