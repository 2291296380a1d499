"""The outbox: every message Pulsebox sends, below every area that sends one (service.py: queueing
and what comes back; tasks.py: the delivery pump; compose.py: one recipient's copy; content.py:
the stored form of a message)."""
