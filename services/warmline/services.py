"""The registry of Warmline's services: adding a service is one line here
(plus its folder and a values block in the Helm chart).

Entry points are import strings so that ``warmline serve ingestion`` never
imports torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import cast

from warmline.common.runtime import ServiceMain
from warmline.common.settings import WarmlineSettings

ServeFn = Callable[[WarmlineSettings], ServiceMain]

# name -> "module:function"; the function takes the settings and returns the
# coroutine function that ``run_service`` drives until SIGTERM.
SERVICES: dict[str, str] = {
    "ingestion": "warmline.ingestion.service:serve",
    "scoring": "warmline.scoring.service:serve",
    "decisioning": "warmline.decisioning.service:serve",
    "notification": "warmline.notification.service:serve",
    "record": "warmline.record.service:serve",
}


def load_service(name: str) -> ServeFn:
    """Import the entry point of a registered service."""
    module_name, _, attr = SERVICES[name].partition(":")
    module = importlib.import_module(module_name)
    return cast(ServeFn, getattr(module, attr))
