"""The pumps the worker runs every round: the one place that names every background queue. It sits
above the areas (it imports their tasks; nothing imports it but the runner)."""

from __future__ import annotations

from collections.abc import Callable

from pulsebox.smtp import tasks as smtp
from pulsebox.worker.pump import PumpContext

# each queue of its own (a domain table claimed with leases), polled every round
PUMPS: list[Callable[[PumpContext], int]] = [smtp.deliver_due, smtp.prune_outbox]
