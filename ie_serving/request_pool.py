"""A model version's infer requests, shared by the request threads with a bounded wait."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable
from typing import Generic, TypeVar

from ie_serving.errors import DeadlineExceeded, Overloaded

Request = TypeVar("Request")


class RequestPool(Generic[Request]):
    """A caller takes a free request or waits for one, but at most `max_waiting` callers wait
    at a time (more are refused: the server stays responsive instead of piling up work) and
    none waits past its deadline."""

    def __init__(self, requests: Iterable[Request], max_waiting: int):
        self._free: queue.SimpleQueue[Request] = queue.SimpleQueue()
        for request in requests:
            self._free.put(request)
        self._max_waiting = max_waiting
        self._waiting = 0
        self._lock = threading.Lock()

    def take(self, timeout: float | None) -> Request:
        """A free request, to be given back with give(); timeout None waits as needed.

        Raises Overloaded when max_waiting callers already wait, DeadlineExceeded when the
        timeout passes first."""
        try:
            return self._free.get_nowait()
        except queue.Empty:
            return self._wait(timeout)

    def give(self, request: Request) -> None:
        self._free.put(request)

    def _wait(self, timeout: float | None) -> Request:
        with self._lock:
            if self._waiting >= self._max_waiting:
                raise Overloaded(
                    f"all infer requests are busy and {self._waiting} requests already wait "
                    f"(--max_queued_requests {self._max_waiting}); retry later"
                )
            self._waiting += 1
        try:
            if timeout is not None and timeout <= 0:
                raise queue.Empty
            return self._free.get(timeout=timeout)
        except queue.Empty:
            raise DeadlineExceeded("deadline exceeded while waiting for a free infer request") from None
        finally:
            with self._lock:
                self._waiting -= 1
