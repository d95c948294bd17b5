"""How caring a practice reply reads to the emotion model, through the scoring
service's ``Score`` call.

It reads the reply's words, the same way the model reads a customer's message:
the calibrated probability of GoEmotions' ``caring`` label for that text. It is
not a reading of the agent: it is never asked about anything but a practice
reply, and what comes back goes to the agent with the checks and nowhere else.
``Score`` keeps nothing of the text. When the scoring service cannot be
reached in time, the review goes out without it.
"""

from __future__ import annotations

import logging

import grpc

from warmline.common.settings import RecordSettings
from warmline.v1 import scoring_pb2, scoring_pb2_grpc

log = logging.getLogger(__name__)

#: The label read: GoEmotions' ``caring``.
CARING = "caring"


class ReplyReader:
    """Asks ``Score`` how caring a reply reads, within ``timeout_s``."""

    def __init__(
        self,
        target: str,
        api_key: str,
        credentials: grpc.ChannelCredentials | None = None,
        timeout_s: float = 2.0,
    ) -> None:
        self._target = target
        self._channel = (
            grpc.aio.insecure_channel(target)
            if credentials is None
            else grpc.aio.secure_channel(target, credentials)
        )
        self._stub = scoring_pb2_grpc.ScoringServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self._timeout_s = timeout_s

    @classmethod
    def from_settings(cls, r: RecordSettings) -> ReplyReader | None:
        """The reader the settings ask for; None without a scoring target."""
        if r.practice_scoring_target is None or r.practice_scoring_api_key_file is None:
            return None
        key = r.practice_scoring_api_key_file.read_text(encoding="utf-8").strip()
        credentials = None
        if r.practice_scoring_ca_file is not None:
            credentials = grpc.ssl_channel_credentials(r.practice_scoring_ca_file.read_bytes())
        return cls(r.practice_scoring_target, key, credentials)

    async def caring(self, reply: str) -> float | None:
        """The probability that ``reply`` reads as caring; None when Score did not answer."""
        try:
            response = await self._stub.Score(
                scoring_pb2.ScoreRequest(texts=[reply]),
                metadata=self._metadata,
                timeout=self._timeout_s,
            )
        except grpc.aio.AioRpcError as exc:
            # Never the reply: only where the call went and how it failed.
            log.warning(
                "practice review without the model's reading: Score failed",
                extra={"target": self._target, "code": exc.code().name},
            )
            return None
        if not response.results or CARING not in response.results[0].labels:
            return None
        return round(float(response.results[0].labels[CARING]), 3)

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()
