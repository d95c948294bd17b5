"""The browser console, served by the notification service."""
