"""The escalation decisioning: the pure decision core, and the worker that runs it on Kafka.

The core is pure: no Kafka and no clock of its own (``state``, ``detectors``,
``policy``, ``policy_store``, ``rules``, ``decide``, ``history``'s entries;
``backtest`` replays it offline, and ``tune`` replays the record's trajectories
through candidate thresholds for ``warmline policy tune``). :func:`~warmline.decisioning.decide.apply_event`
applies one scored event to a conversation's
:class:`~warmline.decisioning.state.ConversationState`, given the customer's
:class:`~warmline.decisioning.state.CustomerHistory`.

The worker (``service``, wired by ``app``) keeps each state in a Faust table
(``conversations``), the customers' history in a shared one
(``history_recorder``), and calls the core for each scored event, in order
(``batch_steps``). What it changes in faust-streaming, and the at-least-once
promise it keeps, are in :mod:`warmline.decisioning.faust_runtime`.
"""
