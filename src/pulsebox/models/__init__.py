"""Every table, one module per aggregate; importing this package registers them all."""

from pulsebox.models.accounts import AccessToken, Account, LedgerEntry
from pulsebox.models.base import Base, utcnow
from pulsebox.models.blacklist import BlacklistEntry
from pulsebox.models.books import Book, Contact, ContactImport, ContactValue, Segment, Variable
from pulsebox.models.campaigns import Campaign
from pulsebox.models.outbox import Bounce, Delivery, OutboxMessage, SendingDomain, SmtpUnsubscribe, TrackingEvent
from pulsebox.models.push import PushPicture, PushSend, PushSubscription, PushTask, PushVariable, PushWebsite
from pulsebox.models.senders import Sender
from pulsebox.models.templates import Template
from pulsebox.models.web import UiSession
from pulsebox.models.webhooks import Webhook, WebhookAttempt, WebhookEvent

metadata = Base.metadata

__all__ = ["AccessToken", "Account", "BlacklistEntry", "Book", "Bounce", "Campaign", "Contact", "ContactImport", "ContactValue", "Delivery", "LedgerEntry",
           "OutboxMessage", "PushPicture", "PushSend", "PushSubscription", "PushTask", "PushVariable", "PushWebsite", "Segment", "Sender", "SendingDomain", "SmtpUnsubscribe", "Template", "TrackingEvent", "UiSession", "Variable",
           "Webhook", "WebhookAttempt", "WebhookEvent", "metadata", "utcnow"]
