"""What a pump is given each round (``PumpContext``), and waking this process's worker.

Below the areas: an area's ``tasks.py`` imports it, and ``worker/`` (above every area) runs the
pumps, so nothing imports in a circle. There is no generic job table: every queue is a domain
table claimed with row leases (the outbox's deliveries; campaigns and webhooks bring their own),
so a job's state is typed and a round opens no transaction for a queue with nothing in it.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from pulsebox.context import Context
from pulsebox.db.engine import after_commit
from pulsebox.delivery.transports import Transport

WAITING = threading.Event()  # set after a commit that queued work in this process


def wake_after_commit(conn: Connection) -> None:
    """Wake this process's worker once ``conn``'s transaction commits (never before: it would
    look before the work is visible, and never on a rollback). Other processes poll."""
    after_commit(conn, WAITING.set)


@dataclass
class PumpContext:
    """The process context (``ctx.db.transaction()`` for short transactions of its own), the
    transport, and the threads that hand messages to it. No transaction is open while a pump runs."""

    ctx: Context
    transport: Transport
    pool: ThreadPoolExecutor
    not_before: dict[str, datetime] = field(default_factory=dict)  # pumps that run now and then
