"""The scoring consumer's lag gauge: one series per partition this replica owns."""

from __future__ import annotations

from aiokafka import TopicPartition

from warmline.common.metrics import SCORING_CONSUMER_LAG
from warmline.scoring.service import report_lag

TOPIC = "warmline.interactions.v1"


class FakeConsumer:
    """Assignment, high-water marks and positions as aiokafka's consumer reports them."""

    def __init__(self, highwater: dict[int, int | None], position: dict[int, int]) -> None:
        self.highwaters = highwater
        self.positions = position

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPIC, p) for p in self.highwaters}

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.highwaters[tp.partition]

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp.partition]


def lag_series() -> dict[str, float]:
    return {
        sample.labels["partition"]: sample.value
        for metric in SCORING_CONSUMER_LAG.collect()
        for sample in metric.samples
    }


async def test_lag_is_high_water_minus_position_per_assigned_partition() -> None:
    SCORING_CONSUMER_LAG.clear()
    consumer = FakeConsumer({0: 120, 1: 50, 2: None}, {0: 100, 1: 50})
    reported = await report_lag(consumer, set())
    assert reported == {"0", "1"}  # partition 2 has no high-water mark yet
    assert lag_series() == {"0": 20.0, "1": 0.0}


async def test_a_partition_taken_away_by_a_rebalance_stops_being_reported() -> None:
    SCORING_CONSUMER_LAG.clear()
    before = FakeConsumer({0: 500, 1: 900}, {0: 0, 1: 0})
    reported = await report_lag(before, set())
    after = FakeConsumer({1: 900}, {1: 850})
    reported = await report_lag(after, reported)
    assert reported == {"1"}
    # No frozen 500 left behind for partition 0 to be summed with its new owner's.
    assert lag_series() == {"1": 50.0}
