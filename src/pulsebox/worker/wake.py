"""Waking this process's worker: work committed here (a message in the outbox) sets ``WAITING``
after its commit, so the worker starts at once instead of at its next poll (other processes poll).

There is no generic job table: every queue is a domain table claimed with row leases (the outbox's
deliveries; campaigns and webhooks bring their own), so a job's state is typed and the worker's
round opens no transaction for a queue that has nothing in it.
"""

from __future__ import annotations

import threading

from sqlalchemy import Connection

from pulsebox.db.engine import after_commit

WAITING = threading.Event()  # set after a commit that queued work in this process


def after_this_commit(conn: Connection) -> None:
    """Wake this process's worker once ``conn``'s transaction commits (never before: it would
    look before the work is visible, and never on a rollback)."""
    after_commit(conn, WAITING.set)
