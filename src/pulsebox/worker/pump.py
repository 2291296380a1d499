"""What a pump is given each round (``PumpContext``): below the areas, so an area's ``tasks.py``
imports it and ``registry.py`` (above the areas) imports the tasks, with no cycle."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from pulsebox.context import Context
from pulsebox.delivery.transports import Transport


@dataclass
class PumpContext:
    """The process context (``ctx.db.transaction()`` for short transactions of its own), the
    transport, and the threads that hand messages to it. No transaction is open while a pump runs."""

    ctx: Context
    transport: Transport
    pool: ThreadPoolExecutor
    not_before: dict[str, datetime] = field(default_factory=dict)  # pumps that run now and then
