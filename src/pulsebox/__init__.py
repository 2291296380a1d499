"""Pulsebox: a self-hosted email distribution service whose REST API is SendPulse's."""

__version__ = "0.1.0"
