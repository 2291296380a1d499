"""Sender addresses and their activation by a mailed code (document 004, Senders)."""
