"""A task run every few seconds on a thread of its own beside the servers (the model poller,
the config-file poller), until stopped; a failing pass is logged and the next one runs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs `task` every `interval` seconds once started (never when interval is 0)."""

    def __init__(self, name: str, interval: float, task: Callable[[], None]):
        self._interval = interval
        self._task = task
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        if self._interval > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._task()
            except Exception:  # a bad pass must not end the thread
                log.exception("%s failed; trying again in %s s", self._thread.name, self._interval)
