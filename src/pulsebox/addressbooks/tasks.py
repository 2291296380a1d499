"""The mailing lists' pump: CSV imports, a batch of rows a round (``imports.import_batch``)."""

from __future__ import annotations

from pulsebox.addressbooks import imports
from pulsebox.pump import PumpContext


def import_contacts(job: PumpContext) -> int:
    """One batch of the oldest queued import (0: none waits, and no write transaction was opened)."""
    with job.ctx.db.transaction(write=False) as conn:
        if not imports.any_due(conn):
            return 0
    with job.ctx.db.transaction() as conn:
        return imports.import_batch(conn)
