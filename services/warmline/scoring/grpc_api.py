"""gRPC ``ScoringService.Score``: synchronous scoring for a chatbot deciding what to say.

Callers authenticate with a tenant API key, as at ingestion (the same credentials
file, ``authorization: Bearer <key>`` metadata); a service without a credentials
file refuses every call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import grpc

from warmline.common.metrics import SCORING_AUTH_FAILURES
from warmline.common.tenants import TenantDirectory, require_tenant
from warmline.model.results import EmotionResult
from warmline.scoring.batcher import ModelNotReady
from warmline.scoring.convert import to_proto
from warmline.scoring.handler import unsupported_language
from warmline.v1 import scoring_pb2, scoring_pb2_grpc

# One request may not monopolise the batcher; larger jobs belong on the stream.
MAX_TEXTS = 256
MAX_TEXT_CHARS = 8_000

NO_KEYS_CONFIGURED = (
    "Score needs a tenant API key, and this scoring service has no credentials file "
    "(WARMLINE_SCORING__API_KEYS_FILE)"
)

#: Scores texts alone (no conversation context), in order.
Score = Callable[[Sequence[str]], Awaitable[list[EmotionResult]]]


class ScoringServicer(scoring_pb2_grpc.ScoringServiceServicer):
    """Scores texts through the same micro-batcher as the stream, for callers with a
    tenant API key (``tenants`` None: no credentials file, every call is refused)."""

    def __init__(self, score: Score, tenants: TenantDirectory | None) -> None:
        self._score = score
        self._tenants = tenants

    async def Score(
        self, request: scoring_pb2.ScoreRequest, context: grpc.aio.ServicerContext
    ) -> scoring_pb2.ScoreResponse:
        """Scores in the order of the texts."""
        if self._tenants is None:
            SCORING_AUTH_FAILURES.inc()
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, NO_KEYS_CONFIGURED)
        assert self._tenants is not None
        await require_tenant(context, self._tenants, SCORING_AUTH_FAILURES)
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
