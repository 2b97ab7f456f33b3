"""A model version's infer requests, shared by the request threads with a bounded wait."""

from __future__ import annotations

import bisect
import dataclasses
import queue
import threading
import time
from collections.abc import Iterable
from typing import Generic, TypeVar

from ie_serving.errors import DeadlineExceeded, Overloaded

Request = TypeVar("Request")

# upper limits (seconds) of the wait histogram (metrics.py: ie_serving_infer_request_wait_seconds)
WAIT_LIMITS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclasses.dataclass(frozen=True)
class PoolStats:
    """What a pool has done so far (metrics read it when scraped). The waits counted are those
    of callers that found every request busy; a free request is taken without a record."""

    size: int = 0
    waiting: int = 0  # callers waiting now
    rejected: int = 0  # refused: max_waiting callers already waited
    timeouts: int = 0  # the deadline passed while waiting
    limits: tuple[float, ...] = WAIT_LIMITS
    cumulative: tuple[int, ...] = (0,) * len(WAIT_LIMITS)  # waits <= each limit
    count: int = 0
    total_seconds: float = 0.0

    def __add__(self, other: PoolStats) -> PoolStats:
        return PoolStats(
            self.size + other.size,
            self.waiting + other.waiting,
            self.rejected + other.rejected,
            self.timeouts + other.timeouts,
            self.limits,
            tuple(a + b for a, b in zip(self.cumulative, other.cumulative, strict=True)),
            self.count + other.count,
            self.total_seconds + other.total_seconds,
        )


class RequestPool(Generic[Request]):
    """A caller takes a free request or waits for one, but at most `max_waiting` callers wait
    at a time (more are refused: the server stays responsive instead of piling up work) and
    none waits past its deadline."""

    def __init__(self, requests: Iterable[Request], max_waiting: int):
        self._free: queue.SimpleQueue[Request] = queue.SimpleQueue()
        self._size = 0
        for request in requests:
            self._free.put(request)
            self._size += 1
        self._max_waiting = max_waiting
        self._waiting = 0
        self._lock = threading.Lock()
        # kept on the slow path only (a caller that waits), under the lock it takes anyway
        self._rejected = 0
        self._timeouts = 0
        self._wait_buckets = [0] * (len(WAIT_LIMITS) + 1)
        self._wait_seconds = 0.0

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

    def stats(self) -> PoolStats:
        with self._lock:
            cumulative, total = [], 0
            for count in self._wait_buckets[:-1]:
                total += count
                cumulative.append(total)
            return PoolStats(
                self._size,
                self._waiting,
                self._rejected,
                self._timeouts,
                WAIT_LIMITS,
                tuple(cumulative),
                sum(self._wait_buckets),
                self._wait_seconds,
            )

    def _wait(self, timeout: float | None) -> Request:
        with self._lock:
            if self._waiting >= self._max_waiting:
                self._rejected += 1
                raise Overloaded(
                    f"all infer requests are busy and {self._waiting} requests already wait "
                    f"(--max_queued_requests {self._max_waiting}); retry later"
                )
            self._waiting += 1
        began = time.perf_counter()
        timed_out = False
        try:
            if timeout is not None and timeout <= 0:
                raise queue.Empty
            return self._free.get(timeout=timeout)
        except queue.Empty:
            timed_out = True
            raise DeadlineExceeded("deadline exceeded while waiting for a free infer request") from None
        finally:
            waited = time.perf_counter() - began
            with self._lock:
                self._waiting -= 1
                self._timeouts += timed_out
                self._wait_buckets[bisect.bisect_left(WAIT_LIMITS, waited)] += 1
                self._wait_seconds += waited
