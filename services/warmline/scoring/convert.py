"""From the engine's results to the wire's ``EmotionScores``."""

from __future__ import annotations

from warmline.model.results import EmotionResult, Status
from warmline.v1 import scoring_pb2

_STATUS = {
    Status.SCORED: scoring_pb2.SCORE_STATUS_SCORED,
    Status.UNSUPPORTED_LANGUAGE: scoring_pb2.SCORE_STATUS_UNSUPPORTED_LANGUAGE,
    Status.EMPTY: scoring_pb2.SCORE_STATUS_EMPTY,
}


def to_proto(result: EmotionResult) -> scoring_pb2.EmotionScores:
    """The protobuf form of one text's scores."""
    scores = scoring_pb2.EmotionScores(
        status=_STATUS[result.status],
        labels=result.probabilities,
        predicted_labels=result.labels,
        model_version=result.model_version,
        taxonomy_version=result.taxonomy_version,
    )
    if result.signals:
        scores.signals.CopyFrom(scoring_pb2.Signals(**result.signals))
    if result.situations:
        scores.situations.CopyFrom(scoring_pb2.Situations(**result.situations))
    return scores
