"""Job kinds and the task that runs each: the one place that names every background job."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from pulsebox.context import Context
from pulsebox.delivery.transports import Transport


@dataclass
class JobContext:
    """What a task gets: the process context (``ctx.db.transaction()`` for short transactions of
    its own), the transport, and the threads that hand messages to it. No transaction is open
    while a task runs."""

    ctx: Context
    transport: Transport
    pool: ThreadPoolExecutor
    not_before: dict[str, datetime] = field(default_factory=dict)  # pumps that run now and then


def _tasks() -> dict[str, Callable[[JobContext, dict], None]]:
    """Job kinds -> tasks. Mail is not a job: it goes through the outbox (``PUMPS``)."""
    return {}


TASKS = _tasks()


def _pumps() -> list[Callable[[JobContext], int]]:
    """Work that is not a job row but a queue of its own, polled every round: the outbox."""
    from pulsebox.smtp import tasks as smtp

    return [smtp.deliver_due, smtp.prune_outbox]


PUMPS = _pumps()
