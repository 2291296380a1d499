"""The pumps the worker runs every round: the one place that names every background queue. It sits
above the areas (it imports their tasks, and wires what a lower area reports to the area above
that acts on it); nothing imports it but the runner."""

from __future__ import annotations

from collections.abc import Callable

from pulsebox.addressbooks import service as books
from pulsebox.addressbooks import tasks as lists
from pulsebox.campaigns import tasks as campaigns
from pulsebox.outbox import tasks as outbox
from pulsebox.pump import PumpContext
from pulsebox.push import tasks as push
from pulsebox.webhooks import tasks as webhooks


def deliver_outbox(job: PumpContext) -> int:
    """The outbox's copies; a hard bounce changes the address's status in every mailing list."""
    return outbox.deliver_due(job, on_bounces=books.apply_bounces)


# each queue of its own (a domain table claimed with leases), polled every round
PUMPS: list[Callable[[PumpContext], int]] = [campaigns.copy_recipients, deliver_outbox, outbox.prune_outbox,
                                             webhooks.post_events, push.copy_subscribers, push.send_due,
                                             lists.import_contacts]
