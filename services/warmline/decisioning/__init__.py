"""The escalation decisioning core: per-conversation state, detectors, policy, decisions.

The core is pure: no Kafka and no clock of its own. The streaming app (``app``)
keeps each :class:`~warmline.decisioning.state.ConversationState` in a table (as
the dict its ``to_dict`` returns), builds the customer's
:class:`~warmline.decisioning.state.CustomerHistory` from the shared history table
(``history``), and calls :func:`~warmline.decisioning.decide.apply_event` for each
scored event, in order.
"""
