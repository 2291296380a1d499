"""Background jobs: a job table, claimed with row leases, run by a loop in ``serve`` or ``worker``."""
