"""Every Prometheus metric Warmline exports, declared once.

Dashboards, alerts and the README's metrics table are checked against this
module by the test suite, so names never drift.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

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
PIPELINE_BATCH_SECONDS = Histogram(
    "warmline_pipeline_batch_seconds",
    "Time from reading a batch to committing it, by consumer.",
    ["consumer"],
    buckets=_LATENCY_BUCKETS,
)
