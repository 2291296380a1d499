"""Captured mail (ours, not SendPulse's): with ``capture://``, read what Pulsebox "sent" over the API."""
