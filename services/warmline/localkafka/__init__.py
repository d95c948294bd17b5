"""A real single-node Apache Kafka (KRaft) for development, tests, demo and benchmarks.

The broker's jars come from Maven Central through ``mvn`` (cached in the local
Maven repository after the first run); no Docker, no fake.
"""

from warmline.localkafka.broker import SUPPORTED_VERSIONS, LocalKafka

__all__ = ["SUPPORTED_VERSIONS", "LocalKafka"]
