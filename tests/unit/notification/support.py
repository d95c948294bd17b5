"""Decisions and claims as the notification service reads them from Kafka."""

from __future__ import annotations

from warmline.v1 import escalation_pb2, notification_pb2

NOW = 1_800_000_000.0


def decision(
    conversation: str,
    decision_id: str,
    *,
    queue: str = "billing",
    tenant: str = "acme",
    action: escalation_pb2.DecisionAction.ValueType = escalation_pb2.DECISION_ACTION_ESCALATE,
    priority: escalation_pb2.Priority.ValueType = escalation_pb2.PRIORITY_NORMAL,
    at: float = NOW,
    **fields: object,
) -> escalation_pb2.EscalationDecision:
    d = escalation_pb2.EscalationDecision(
        decision_id=decision_id,
        tenant_id=tenant,
        conversation_id=conversation,
        action=action,
        queue=queue,
        priority=priority,
        **fields,  # type: ignore[arg-type]
    )
    d.timings.decided_at.FromNanoseconds(int(at * 1e9))
    return d


def claim(
    escalation_id: str,
    agent: str,
    *,
    tenant: str = "acme",
    conversation: str = "c",
    queue: str = "billing",
    high_intensity: bool = False,
    at: float = NOW,
) -> notification_pb2.AgentAction:
    action = notification_pb2.AgentAction(
        action_id=f"{agent}-{escalation_id}",
        tenant_id=tenant,
        agent_id=agent,
        claimed=notification_pb2.Claimed(
            escalation_id=escalation_id,
            decision_id=escalation_id,
            conversation_id=conversation,
            queue=queue,
            high_intensity=high_intensity,
        ),
    )
    action.acted_at.FromNanoseconds(int(at * 1e9))
    return action


def pause(
    agent: str,
    until: float,
    *,
    tenant: str = "acme",
    queues: tuple[str, ...] = ("billing",),
    all_offers: bool = False,
    at: float = NOW,
) -> notification_pb2.AgentAction:
    """An agent's pause until ``until``; ``until <= at`` is a resume."""
    action = notification_pb2.AgentAction(
        action_id=f"{agent}-paused-{until}",
        tenant_id=tenant,
        agent_id=agent,
        paused=notification_pb2.Paused(all_offers=all_offers, queues=list(queues)),
    )
    action.paused.until.FromNanoseconds(int(until * 1e9))
    action.acted_at.FromNanoseconds(int(at * 1e9))
    return action
