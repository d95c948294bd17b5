"""The worker's timer: reload the policy, forget idle conversations, prune old history."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from warmline.common.metrics import POLICY_INFO, POLICY_RELOAD_ERRORS
from warmline.decisioning.conversations import ConversationStore
from warmline.decisioning.history_recorder import HistoryRecorder
from warmline.decisioning.policy_store import PolicyStore, ReloadStatus

log = logging.getLogger(__name__)

#: Seconds between scans for history entries past their window. Windows are days
#: long, and a scan visits every entry, so it need not run on every timer tick.
HISTORY_PRUNE_EVERY_S = 600.0


def reload_policy(policies: PolicyStore) -> None:
    """Swap in a changed policy file; a bad one is counted and the old policy kept."""
    result = policies.reload_if_changed()
    if result.status == ReloadStatus.RELOADED:
        POLICY_INFO.info({"version": result.version})
        log.info("policy reloaded", extra={"version": result.version})
    elif result.status == ReloadStatus.REJECTED:
        POLICY_RELOAD_ERRORS.inc()
        log.error("policy reload rejected", extra={"error": result.error})


class Maintenance:
    """One tick of the timer (every ``DECISIONING__POLICY_RELOAD_S``)."""

    def __init__(
        self, policies: PolicyStore, conversations: ConversationStore, history: HistoryRecorder
    ) -> None:
        self._policies = policies
        self._conversations = conversations
        self._history = history
        self._history_pruned_at = 0.0

    async def tick(self) -> None:
        """Reload the policy, expire idle conversations, and now and then prune history."""
        now = datetime.now(UTC)
        reload_policy(self._policies)
        await self._conversations.expire_idle(now)
        if now.timestamp() - self._history_pruned_at >= HISTORY_PRUNE_EVERY_S:
            self._history_pruned_at = now.timestamp()
            await self._history.prune(now)
