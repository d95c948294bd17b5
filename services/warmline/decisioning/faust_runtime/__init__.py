"""What the decisioning worker changes in faust-streaming, and the promise it keeps.

The decision core (``state``, ``detectors``, ``policy``, ``rules``, ``decide``)
knows nothing of Kafka. The modules here adapt faust-streaming 0.15 to the
worker, each for speed or for correctness faust does not give:

- :mod:`.consumer`: the fetch loop (no tasks per record), the commit gate, the
  seek after a rebalance; and the App that installs that consumer;
- :mod:`.batch_stream`: batches taken straight off a stream's queue;
- :mod:`.batched_table`: tables whose changelog leaves as record batches, held
  back until the outputs they depend on are acknowledged;
- :mod:`.deliveries`: every send the input offsets depend on, tracked;
- :mod:`.raw_schema`: records as bytes, without faust's codec pass;
- :mod:`.credentials`: TLS and SASL in faust's form;
- :mod:`.faust_private`: every private part of faust the above rely on,
  checked at start-up.

At least once
=============

The promise: **an input record's offset is committed only after every output
of that record and of every record before it has been acknowledged by the
brokers.** Outputs are decisions, dead letters, and the changelog records of
both tables (conversation states and customer-history entries). So whatever
stops the worker, its restart replays from the last commit and loses nothing;
it may repeat outputs, which carry the same ids. Exactly-once is not used.

How the code keeps it, in the order a record goes through it:

1. **Every output is tracked.** Decisions and dead letters go straight to
   aiokafka (``deliveries.kafka_producer``) and their futures into the worker's
   ``Deliveries`` (``outputs.Outputs._send``). Changelog records leave as one
   batch per partition, each batch's future tracked the same way
   (``BatchedChangelogTable._send_waiting``).
2. **A batch's outputs are handed over before its records are acked.** An
   agent acks its batch only when it asks for the next one
   (``batch_stream.take_batches``), after the step returned; by then the step
   has sent its decisions and dead letters and flushed its table writes
   (``batch_steps``). faust commits acked offsets only.
3. **A batch's states wait for its decisions.** A state remembers the events it
   applied, and a restored state skips them, so a state must never outlive a
   lost decision. ``DecideStep.process`` chains the acknowledgements of every
   decision so far (``deliveries.all_acknowledged``) and flushes the states and
   history entries *after* it: the table holds them until it is done, and drops
   them, refusing everything after, if it failed (``BatchedChangelogTable._release``).
4. **Every commit waits for every output.** Before each commit the consumer
   awaits the app's ``before_commit`` (``consumer.WorkerConsumer._commit``),
   which is ``DecisioningApp.confirm_deliveries``: it waits until both tables'
   flushed records are acknowledged (``wait_written``) and every tracked send
   is answered (``Deliveries.confirm``).
5. **A refusal stops the worker, and nothing passes it.** The first refused
   send is remembered; every later check (after each batch,
   ``Deliveries.check``) and every commit raises ``DeliveryError``; a table
   whose own batch, or the decisions its records wait for, was refused sends
   nothing more. The error is recorded in ``agents.FirstFailure``,
   which the service stops on (``DecisioningService.crashed``). A send the
   brokers never answer fails after ``KAFKA__DELIVERY_TIMEOUT_MS``.
6. **A failing batch is abandoned, not skipped.** If a step raises, the batch
   is left unacked (``batch_stream.abandon``), the failure recorded, and the
   service stops; faust alone would restart the agent past it.
7. **Rebalances drop, then re-read.** Records queued before a rebalance are
   dropped unacked (``batch_stream._usable``); a record the fetch loop is
   blocked on when the flow stops is dropped (``WorkerConsumer.stop_flow``);
   afterwards every partition is re-read from its committed offset, and one
   with nothing committed from its start (``WorkerConsumer.seek_to_committed``).
8. **Replays are recognised.** A replayed event is one its conversation's state
   remembers (``decide.apply_event``); a decision's id derives from tenant,
   conversation, event id and policy version; a history entry's key from the
   customer, its kind and the decision id. Consumers de-duplicate by these ids.

The timer's writes (expired conversations, pruned history) belong to no input
record; they are tracked like the rest, so a refused one stops the worker too.
"""
