"""The decisioning benchmark's bare loop on a real broker: a clear error, not a hang."""

from __future__ import annotations

import pytest

from tests.support import settings_for
from warmline.bench.decisioning import BenchError, raw_loop
from warmline.common.topics import declared_topics, ensure_topics
from warmline.localkafka import LocalKafka

pytestmark = pytest.mark.integration


async def test_a_bare_loop_that_reads_nothing_ends_the_run_with_an_error(
    kafka_broker: LocalKafka,
) -> None:
    settings = settings_for(kafka_broker.bootstrap_servers)
    await ensure_topics(settings, declared_topics(settings))
    out = settings.topics.name("escalations")
    with pytest.raises(BenchError, match=r"bare loop read nothing for 3s \(0 of 5 records done\)"):
        await raw_loop(settings, out, count=5, batch=100, stall_s=3)
