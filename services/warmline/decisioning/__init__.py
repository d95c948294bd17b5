"""The escalation decisioning core: per-conversation state, detectors, policy, decisions.

Everything here is pure: no Kafka and no clock of its own. The streaming app keeps
:class:`~warmline.decisioning.state.ConversationState` and
:class:`~warmline.decisioning.state.CustomerHistory` in its tables (as the dicts
their ``to_dict`` returns) and calls :func:`~warmline.decisioning.decide.apply_event`
for each scored event, in order.
"""
