"""Record keys and where Kafka puts them."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from warmline.common.keys import conversation_key, key_partition


def test_a_key_goes_where_kafkas_default_partitioner_puts_it() -> None:
    # Ingestion and the decisioning changelog place a conversation's records by this
    # function, the other producers by aiokafka's send: the two must agree (as the
    # Java client does), or a conversation's records would split across partitions.
    partitioner = DefaultPartitioner()
    keys = [conversation_key(f"tenant-{n % 7}", f"conversation-{n}") for n in range(2_000)]
    for partitions in (1, 2, 3, 6, 12):
        every = list(range(partitions))
        placed = [key_partition(key, partitions) for key in keys]
        assert placed == [partitioner(key, every, every) for key in keys]
        assert set(placed) == set(every)
