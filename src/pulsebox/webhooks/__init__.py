"""Webhooks (document 004 "Webhooks"): subscriptions, events written with the changes that cause
them, and their signed delivery by the worker."""
