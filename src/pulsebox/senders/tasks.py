"""Background jobs of the senders area: mail the activation code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pulsebox.delivery.message import address_of, build_text

if TYPE_CHECKING:
    from pulsebox.worker.registry import JobContext

ACTIVATION = "senders.activation"


def send_activation(job: JobContext, payload: dict) -> None:
    settings = job.ctx.settings
    text = (f"Hello {payload['name']},\n\n"
            f"someone asked to send email from {payload['email']} through Pulsebox.\n"
            f"To confirm that this address is yours, use this code:\n\n"
            f"Activation code: {payload['code']}\n\n"
            f"If you did not ask for this, ignore this message.\n")
    message = build_text(sender=settings.system_from, to=payload["email"],
                         subject="Confirm your sender address", text=text)
    job.transport.send(address_of(settings.system_from), [payload["email"]], message)
