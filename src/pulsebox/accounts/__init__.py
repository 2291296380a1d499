"""Accounts: the tenants. Managed by the operator (``pulsebox accounts ...``), not over the API."""
