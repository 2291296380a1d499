"""Background work, above every area: the loop (runner.py) that runs every pump (registry.py) in
``serve`` or ``worker``. What a pump is given lives below the areas, in ``pulsebox/pump.py``."""
