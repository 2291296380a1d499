"""Background work: the loop (runner.py) that runs every pump (registry.py) in ``serve`` or ``worker``."""
