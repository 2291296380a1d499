"""Job kinds and the task that runs each: the one place that names every background job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pulsebox.context import Context
from pulsebox.delivery.transports import Transport


@dataclass
class JobContext:
    """What a task gets: the process context (``ctx.db.transaction()`` for short transactions of
    its own) and the transport. No transaction is open while a task runs."""

    ctx: Context
    transport: Transport


def _tasks() -> dict[str, Callable[[JobContext, dict], None]]:
    from pulsebox.senders import tasks as senders

    return {
        senders.ACTIVATION: senders.send_activation,
    }


TASKS = _tasks()
