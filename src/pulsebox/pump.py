"""What a pump is given each round (``PumpContext``), and waking this process's worker.

Below the areas: an area's ``tasks.py`` imports it, and ``worker/`` (above every area) runs the
pumps, so nothing imports in a circle. There is no generic job table: every queue is a domain
table claimed with row leases (the outbox's deliveries; campaigns and webhooks bring their own),
so a job's state is typed and a round opens no transaction for a queue with nothing in it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from time import monotonic
from typing import Any, TypeVar

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


Work = TypeVar("Work")
SETTLE_EVERY = 0.25  # seconds: how long an answer may wait before its outcome is recorded


def settled(work: list[tuple[Work, Future]], every: float = SETTLE_EVERY) -> Iterator[list[tuple[Work, Any]]]:
    """The finished pieces of a round's work with their results, in groups: a group whenever
    ``every`` seconds passed since the last one, and the last when everything finished. A pump
    records each group in a transaction as it comes, so a worker killed mid-round sends again only
    what had no recorded outcome: what was in flight and what was answered in the last ``every``
    seconds, not the whole round (one slow receiver can hold a round for minutes). A round that
    finishes within ``every`` is one group: one transaction, as before."""
    pending = {future: piece for piece, future in work}
    ready: list[tuple[Work, Any]] = []
    since = monotonic()
    while pending:
        done, _ = wait(pending, timeout=max(0.0, since + every - monotonic()), return_when=FIRST_COMPLETED)
        ready += [(pending.pop(future), future.result()) for future in done]
        if ready and (not pending or monotonic() >= since + every):
            yield ready
            ready, since = [], monotonic()
