"""Wiring of the decisioning service: policy, Faust app, ops page, readiness."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from warmline.common.gc_tuning import tune_collector
from warmline.common.health import Readiness
from warmline.common.kafka import start_when_reachable, watch_kafka
from warmline.common.ops_http import OpsServer
from warmline.common.runtime import ServiceMain, cancel_all, serve_until_stopped
from warmline.common.settings import WarmlineSettings
from warmline.common.topics import ensure_topics
from warmline.decisioning.app import DecisioningApp, faust_topics
from warmline.decisioning.faust_runtime.stall_watch import StallWatch
from warmline.decisioning.policy import DEFAULT_POLICY_PATH
from warmline.decisioning.policy_store import PolicyStore
from warmline.decisioning.shadow import ShadowPolicyStore

log = logging.getLogger(__name__)


class DecisioningService:
    """The running service. The Faust app is a ``mode.Service`` started on this loop."""

    def __init__(self, settings: WarmlineSettings) -> None:
        self.settings = settings
        d = settings.decisioning
        # "assignment": the worker owns its partitions (possibly none, in a group
        # larger than the topic) and has restored its tables: it decides.
        self.readiness = Readiness("kafka", "policy", "assignment")
        self.ops = OpsServer(self.readiness, d.host, d.metrics_port)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.stream: DecisioningApp | None = None
        self.stall_watch: StallWatch | None = None
        self._watching: asyncio.Task[None] | None = None
        self._started = False

    async def start(self) -> None:
        """Serve health at once; load the policy; create topics; start the Faust app."""
        await self.ops.start()
        d = self.settings.decisioning
        path = d.policy_file or DEFAULT_POLICY_PATH
        if d.shadow:
            policies: PolicyStore = await asyncio.to_thread(
                ShadowPolicyStore, path, d.shadow_policy_dir
            )
            if not policies.current.only_tenants:
                log.warning(
                    "shadow worker with no proposed override: it decides for nobody until "
                    "`warmline policy tune --shadow` writes one",
                    extra={"shadow_policy_dir": str(d.shadow_policy_dir)},
                )
        else:
            policies = await asyncio.to_thread(PolicyStore.from_path, path)
        self.readiness.set("policy", True)
        if not await start_when_reachable(
            lambda: ensure_topics(self.settings, created_elsewhere=faust_topics(self.settings)),
            "decisioning",
            self._stop,
        ):
            return
        self._tasks.append(
            asyncio.create_task(watch_kafka(self.settings, self.readiness, self._stop))
        )
        self.stream = DecisioningApp(self.settings, policies)
        app = self.stream.app
        app.on_partitions_revoked.connect(self._rebalancing)
        app.on_partitions_assigned.connect(self._rebalancing)
        app.on_rebalance_complete.connect(self._settled)
        self.stall_watch = StallWatch(
            app,
            self.stream.scored.get_topic_name(),
            d.stall_after_s,
            on_stalled=lambda: self.readiness.set("assignment", False),
            on_moving=lambda: self.readiness.set("assignment", True),
        )
        await app.start()
        self._tasks.append(asyncio.create_task(self.stall_watch.run()))
        tune_collector(self.settings.decisioning.gc_young_threshold)
        self._started = True
        log.info(
            "decisioning serving",
            extra={"app_id": d.worker_app_id, "policy": policies.current.version},
        )

    async def _rebalancing(self, *_: object, **__: object) -> None:
        self.readiness.set("assignment", False)
        if self.stall_watch is not None:
            self.stall_watch.rebalancing()

    async def _settled(self, *_: object, **__: object) -> None:
        self.readiness.set("assignment", True)
        if self.stall_watch is not None:
            self.stall_watch.settled()

    def crashed(self) -> asyncio.Task[None] | None:
        """Ends with the first agent failure: the process exits non-zero and its
        restart replays what was not committed (faust alone would skip it)."""
        if self.stream is None:
            return None
        self._watching = asyncio.create_task(_first_failure(self.stream.failed))
        return self._watching

    async def stop(self) -> None:
        """Stop the Faust app (commits acknowledged offsets), then the rest."""
        self._stop.set()
        if self.stream is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self.stream.app.stop(), self.settings.decisioning.shutdown_grace_s
                )
        if self._watching is not None:
            self._watching.cancel()
            # Its failure, if any, was already reported to whoever awaited crashed().
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watching
        await cancel_all(self._tasks)
        await self.ops.stop()


async def _first_failure(failed: asyncio.Future[None]) -> None:
    await failed


def serve(settings: WarmlineSettings) -> ServiceMain:
    """Entry point for ``warmline serve decisioning``."""

    async def main(stop: asyncio.Event) -> None:
        await serve_until_stopped(DecisioningService(settings), stop)

    return main
