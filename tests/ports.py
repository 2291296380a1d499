"""Free TCP ports on 127.0.0.1 for the servers tests start (``pulsebox serve``, SMTP sinks, inbound listeners).

Binding port 0 and closing the probe hands out a port the kernel picks at random in the ephemeral range,
where every other such probe draws too: with test processes side by side (pytest-xdist, scripts/test)
another one can bind the same port before the server it was meant for does (seen: a server's inbound SMTP
listener found its port taken, and the test talked to someone else's server). So the ports come from
below Linux's ephemeral range (32768-60999), which the kernel never hands out by itself, in turn from a
counter every test process on the machine shares (a file in the temporary folder, locked while it is read
and advanced), each one checked to be free when it is handed out.
"""

from __future__ import annotations

import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path

LOW, HIGH = 20_000, 32_000  # the ports handed out: [LOW, HIGH)
COUNTER = Path(tempfile.gettempdir()) / "pulsebox-test-ports"


def free_port() -> int:
    """A port nothing listens on now, and that no other test process was given lately."""
    fd = os.open(COUNTER, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by closing the file
        try:
            last = int(os.read(fd, 16))
        except ValueError:  # a new counter: start anywhere
            last = random.randrange(LOW, HIGH)
        for step in range(1, HIGH - LOW + 1):
            port = LOW + (last - LOW + step) % (HIGH - LOW)
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:  # taken, or still in TIME_WAIT from an earlier server
                    continue
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, str(port).encode())
            return port
        raise RuntimeError(f"no free port on 127.0.0.1 in {LOW}-{HIGH - 1}")
    finally:
        os.close(fd)
