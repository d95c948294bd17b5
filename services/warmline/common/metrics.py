"""Every Prometheus metric Warmline exports, declared once.

Dashboards, alerts and the README's metrics table are checked against this
module by the test suite, so names never drift.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Finer below 30 ms: the notification fan-out target is 20 ms at p99.
_FANOUT_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1)

BUILD_INFO = Info("warmline_build", "Version of the running Warmline build.")

KAFKA_RECORDS_PRODUCED = Counter(
    "warmline_kafka_records_produced_total",
    "Records acknowledged by Kafka, by topic.",
    ["topic"],
)
KAFKA_RECORDS_CONSUMED = Counter(
    "warmline_kafka_records_consumed_total",
    "Records read from Kafka, by topic.",
    ["topic"],
)
DEAD_LETTERS = Counter(
    "warmline_dead_letters_total",
    "Records parked on the dead-letter topic, by consumer and reason.",
    ["consumer", "reason"],
)
READY = Gauge(
    "warmline_ready",
    "1 when the service reports SERVING (all dependencies ready), else 0.",
)
READY_CONDITION = Gauge(
    "warmline_ready_condition",
    "1 when one readiness condition of the service is met, else 0, by condition "
    "(kafka, model, policy, assignment, caught_up, database).",
    ["condition"],
)
PIPELINE_BATCH_SECONDS = Histogram(
    "warmline_pipeline_batch_seconds",
    "Time from reading a batch to committing it, by consumer.",
    ["consumer"],
    buckets=_LATENCY_BUCKETS,
)

# --- ingestion ---------------------------------------------------------------
INGEST_EVENTS = Counter(
    "warmline_ingest_events_total",
    "Events received, by tenant, channel and outcome (accepted, duplicate, rejected, retry).",
    ["tenant", "channel", "outcome"],
)
INGEST_REJECTED = Counter(
    "warmline_ingest_rejected_total",
    "Events refused, by tenant and reason (invalid_argument, rate_limited, kafka_unavailable, ...).",
    ["tenant", "reason"],
)
INGEST_ACK_SECONDS = Histogram(
    "warmline_ingest_ack_seconds",
    "Time from receiving a request to acknowledging it, by API.",
    ["api"],
    buckets=_LATENCY_BUCKETS,
)
INGEST_REDACTIONS = Counter(
    "warmline_ingest_redactions_total",
    "Personal data items replaced by a placeholder before publishing, by kind.",
    ["kind"],
)
INGEST_BUFFER_EVENTS = Gauge(
    "warmline_ingest_buffer_events",
    "Events handed to the Kafka producer and not yet acknowledged.",
)
INGEST_BUFFER_CAPACITY = Gauge(
    "warmline_ingest_buffer_capacity",
    "Most events the producer buffer holds before new ones get UNAVAILABLE.",
)
INGEST_AUTH_FAILURES = Counter(
    "warmline_ingest_auth_failures_total",
    "Requests refused for a missing or unknown credential, by API.",
    ["api"],
)

# --- scoring -----------------------------------------------------------------
SCORING_BATCH_SIZE = Histogram(
    "warmline_scoring_batch_size",
    "Texts per model call.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
SCORING_INFERENCE_SECONDS = Histogram(
    "warmline_scoring_inference_seconds",
    "Time of one model call.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
SCORING_QUEUE_DEPTH = Gauge(
    "warmline_scoring_queue_depth",
    "Texts submitted to the micro-batcher and not yet scored.",
)
SCORING_MESSAGES = Counter(
    "warmline_scoring_messages_total",
    "Events passed on to the scored topic, by status (scored, unsupported_language, empty, passthrough).",
    ["status"],
)
SCORING_CONSUMER_LAG = Gauge(
    "warmline_scoring_consumer_lag",
    "Records of the interactions topic not yet read by this consumer, by partition.",
    ["partition"],
)
MODEL_INFO = Info("warmline_model", "The emotion model in use.")
SCORING_AUTH_FAILURES = Counter(
    "warmline_scoring_auth_failures_total",
    "Score calls refused for a missing or unknown API key.",
)

# --- decisioning -------------------------------------------------------------
DECISIONS = Counter(
    "warmline_decisions_total",
    "Escalation decisions produced, by action, queue and shadow (true/false).",
    ["action", "queue", "shadow"],
)
DECISION_REASONS = Counter(
    "warmline_decision_reasons_total",
    "Reasons attached to produced decisions, by reason code and shadow (true/false).",
    ["reason", "shadow"],
)
DECISIONING_CONVERSATIONS = Gauge(
    "warmline_decisioning_conversations",
    "Conversation states held by this decisioning worker.",
)
DECISIONING_STALLS = Counter(
    "warmline_decisioning_stalls_total",
    "Owned scored partitions found with records waiting and no progress for "
    "DECISIONING__STALL_AFTER_S; each makes the worker rejoin its group.",
)
POLICY_INFO = Info("warmline_policy", "The escalation policy in force.")
POLICY_RELOAD_ERRORS = Counter(
    "warmline_policy_reload_errors_total",
    "Policy file reloads rejected (unreadable or invalid); the previous policy stays in force.",
)

# --- notification ------------------------------------------------------------
NOTIFICATION_CONSOLES = Gauge(
    "warmline_notification_consoles",
    "Connected agent consoles, by API (grpc, sse).",
    ["api"],
)
NOTIFICATION_DELIVERIES = Counter(
    "warmline_notification_deliveries_total",
    "Escalations handed to console streams, by kind (new, reoffer, supervisor, after_hold).",
    ["kind"],
)
NOTIFICATION_DELIVERY_SECONDS = Histogram(
    "warmline_notification_delivery_seconds",
    "Time from reading a decision from Kafka to writing it to a console stream.",
    buckets=_FANOUT_BUCKETS,
)
NOTIFICATION_END_TO_END_SECONDS = Histogram(
    "warmline_notification_end_to_end_seconds",
    "Time from the triggering event's ingestion to its decision reaching a console.",
    buckets=_LATENCY_BUCKETS,
)
NOTIFICATION_CLAIM_SECONDS = Histogram(
    "warmline_notification_claim_seconds",
    "Time from an escalation's decision to its claim by an agent.",
    buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1800),
)
NOTIFICATION_CLAIMS = Counter(
    "warmline_notification_claims_total",
    "Claim requests answered, by outcome (granted, refused).",
    ["outcome"],
)
NOTIFICATION_HIGH_INTENSITY_CLAIMS = Counter(
    "warmline_notification_high_intensity_claims_total",
    "High-priority or abusive escalations taken by agents, by queue (agents' exposure).",
    ["queue"],
)
NOTIFICATION_EXPOSED_AGENTS = Gauge(
    "warmline_notification_exposed_agents",
    "Connected agents at or over the exposure limit, by queue (a count, never names).",
    ["queue"],
)
NOTIFICATION_PAUSED_AGENTS = Gauge(
    "warmline_notification_paused_agents",
    "Agents who paused high-intensity offers now, by queue of their token "
    "(* for every queue): the queue's capacity that dropped, a count, never names.",
    ["queue"],
)
NOTIFICATION_PAUSES = Counter(
    "warmline_notification_pauses_total",
    "Pauses agents asked for at their consoles, by what they did (paused, resumed).",
    ["action"],
)
NOTIFICATION_QUEUE_EXPOSURE = Gauge(
    "warmline_notification_queue_exposure",
    "A queue's exposure over the overload window, summed over its agents, by measure "
    "(high_intensity_claims, reveals, minutes).",
    ["queue", "measure"],
)
NOTIFICATION_OVERLOAD_ALERTS = Counter(
    "warmline_notification_overload_alerts_total",
    "Overload alerts raised to supervisors, by scope (queue, agent, team); never names.",
    ["scope"],
)
NOTIFICATION_OPEN_ESCALATIONS = Gauge(
    "warmline_notification_open_escalations",
    "Open escalations this replica knows of.",
)
NOTIFICATION_DISCONNECTED_SLOW = Counter(
    "warmline_notification_slow_consoles_total",
    "Console streams ended because they fell too far behind (they resume from their cursor).",
)
NOTIFICATION_FEEDBACK = Counter(
    "warmline_notification_feedback_total",
    "Agent feedback written to the feedback topic, by verdict.",
    ["verdict"],
)
NOTIFICATION_REVEALS = Counter(
    "warmline_notification_reveals_total",
    "Masked abusive texts an agent chose to reveal.",
)

# --- record ------------------------------------------------------------------
RECORD_ROWS_WRITTEN = Counter(
    "warmline_record_rows_written_total",
    "Rows added to the record, by table (replayed records add none).",
    ["table"],
)
RECORD_WRITE_SECONDS = Histogram(
    "warmline_record_write_seconds",
    "Time of one record transaction (a poll's rows), until it is on disk.",
    buckets=_LATENCY_BUCKETS,
)
RECORD_LAST_COMMIT = Gauge(
    "warmline_record_last_commit_timestamp_seconds",
    "When the record last committed a transaction to its database (epoch seconds); "
    "while its lag is above zero, the age of this is how long writing has stalled.",
)
RECORD_CONSUMER_LAG = Gauge(
    "warmline_record_consumer_lag",
    "Records not yet read by the record's consumer, by topic and partition.",
    ["topic", "partition"],
)
RECORD_NEWEST_WRITTEN = Gauge(
    "warmline_record_newest_written_timestamp_seconds",
    "Kafka timestamp of the newest record of each topic the record has written to its "
    "database, or found unreadable (epoch seconds); now minus it is how far behind it is.",
    ["topic"],
)
RECORD_NEGATIVE_SHARE = Gauge(
    "warmline_record_negative_share",
    "Share of negative customer turns over the last hour, per tenant and queue (queue "
    '"": all queues), read from the record; groups the insights suppress are left out.',
    ["tenant", "queue"],
)
RECORD_RETENTION_DELETED = Counter(
    "warmline_record_retention_deleted_total",
    "Rows deleted by the retention job, by table.",
    ["table"],
)
RECORD_AUDITS = Counter(
    "warmline_record_audits_total",
    "Audit requests answered over HTTP, by outcome (found, not_found, refused).",
    ["outcome"],
)
RECORD_PRACTICE_ROUNDS = Counter(
    "warmline_record_practice_rounds_total",
    "Practice openings reviewed, by outcome (reviewed, not_found, refused); never by agent.",
    ["outcome"],
)
