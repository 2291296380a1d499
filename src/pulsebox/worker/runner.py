"""The worker loop: every round runs each pump (``registry.PUMPS``) once; with nothing to do it
sleeps until work is committed in this process (``pump.WAITING``) or a second has passed.

Runs as a thread inside ``pulsebox serve`` (the embedded default) or alone as ``pulsebox worker``.
Each pump claims its own rows with leases and records what happened in its own transactions, so
any number of workers can run at once and a killed one loses nothing (DESIGN.md, Guarantees).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from pulsebox.context import Context
from pulsebox.delivery.transports import Transport
from pulsebox.pump import WAITING, PumpContext
from pulsebox.worker.registry import PUMPS

log = logging.getLogger("pulsebox.worker")

POLL_SECONDS = 1.0


class Worker:
    def __init__(self, ctx: Context, transport: Transport) -> None:
        self.ctx = ctx
        self.transport = transport
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.pool = ThreadPoolExecutor(ctx.settings.send_concurrency, thread_name_prefix="pulsebox-send")
        self.pump_context = PumpContext(ctx=ctx, transport=transport, pool=self.pool)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="pulsebox-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        WAITING.set()
        if self._thread:
            self._thread.join(timeout)
        self.pool.shutdown(wait=False)

    def run_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                worked = self.run_once()
            except Exception:  # the loop must survive a database hiccup
                log.exception("worker loop failed; retrying")
                worked = 0
            if not worked:
                WAITING.wait(POLL_SECONDS)
                WAITING.clear()

    def run_once(self) -> int:
        """One round of every pump; how much work was found (0: sleep)."""
        return sum(pump(self.pump_context) for pump in PUMPS)
