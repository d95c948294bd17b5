"""gRPC ``ScoringService.Score``: synchronous scoring for a chatbot deciding what to say."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import grpc

from warmline.model.engine import EmotionResult
from warmline.scoring.batcher import ModelNotReady
from warmline.scoring.convert import to_proto
from warmline.scoring.handler import unsupported_language
from warmline.v1 import scoring_pb2, scoring_pb2_grpc

# One request may not monopolise the batcher; larger jobs belong on the stream.
MAX_TEXTS = 256
MAX_TEXT_CHARS = 8_000

#: Scores texts alone (no conversation context), in order.
Score = Callable[[Sequence[str]], Awaitable[list[EmotionResult]]]


class ScoringServicer(scoring_pb2_grpc.ScoringServiceServicer):
    """Scores texts through the same micro-batcher as the stream."""

    def __init__(self, score: Score) -> None:
        self._score = score

    async def Score(
        self, request: scoring_pb2.ScoreRequest, context: grpc.aio.ServicerContext
    ) -> scoring_pb2.ScoreResponse:
        """Scores in the order of the texts."""
        if not request.texts:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "texts: at least one text is required"
            )
        if len(request.texts) > MAX_TEXTS:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"texts: at most {MAX_TEXTS} per call"
            )
        if any(len(t) > MAX_TEXT_CHARS for t in request.texts):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"texts: each at most {MAX_TEXT_CHARS} characters"
            )
        if unsupported_language(request.language):
            unsupported = scoring_pb2.EmotionScores(
                status=scoring_pb2.SCORE_STATUS_UNSUPPORTED_LANGUAGE
            )
            return scoring_pb2.ScoreResponse(results=[unsupported] * len(request.texts))
        try:
            results = await self._score(list(request.texts))
        except ModelNotReady as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        return scoring_pb2.ScoreResponse(results=[to_proto(r) for r in results])
