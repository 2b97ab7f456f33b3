"""Server-side batching (TF Serving's --enable_batching): a queue per model version in front of
its infer requests that merges concurrent requests along dimension 0 and splits the outputs
back, as TF Serving's BatchingSession over a SharedBatchScheduler queue does
(tensorflow_serving/batching/batching_session.cc; scheduling as in tensorflow/core/kernels/
batching_util/shared_batch_scheduler.h).

- A request (a task) joins the open batch of requests it can merge with: the same output names
  and, per input, the same dtype and the same dimensions after the first (the same rank with
  pad_variable_length_inputs, whose batches pad every input to the largest dimensions with the
  tensor's first value, as TF Serving pads). Requests that cannot merge form their own batches.
  Unlike TF Serving, padding is bounded before anything is allocated: a request joins a batch
  only while the padded inputs stay within PADDING_FACTOR times the bytes the batch's requests
  brought, or PADDING_FREE_BYTES, whichever is larger (else it starts the next batch), so that
  [1, 1, 100000] and [1, 100000, 1] are not merged into [2, 100000, 100000]. A request alone is
  never padded across dimensions, so none is refused for it.
- A batch is ready when it holds max_batch_size rows, when the next request does not fit, or when
  its first request has waited batch_timeout_micros; the oldest ready batch runs first, at most
  num_batch_threads at once. Unlike TF Serving, batches run on their own requests' threads
  (the request that fills the batch, else its first request) rather than on a pool of batch
  threads: a hand-off to a pool thread and back costs two thread switches and GIL waits.
- Also unlike TF Serving (with `sequential`, as the server runs it): a request that finds the
  version idle (no batch running or queued, no other request being received, and the last batch
  alone: one request, none arriving while it ran) starts at once. Traffic of one request at a
  time has nothing to batch, and waiting costs more than the timeout: on a 2-core VM the mlp
  inferred in 2.26 ms after a 1 ms sleep against 1.82 ms back to back (caches gone cold). Any
  sign of concurrent traffic (a request arriving while a batch waits or runs) restores the wait.
- With allowed_batch_sizes, the batch is padded up to the next allowed size with copies of its
  last request's first row, and the padding rows are dropped.
- Bounds: a request larger than max_batch_size is refused (TF Serving's words); a request that
  needs a new batch while max_enqueued_batches wait, or that finds --max_queued_requests
  requests already queued, is refused as overload; a request whose deadline passes while it is
  queued leaves the queue with DEADLINE_EXCEEDED (a running batch is not interrupted).
- close() makes every queued batch ready at once (a version being unloaded has no requests left
  by then: the store waits for its leases first).

Knows numpy and threads only: `run` (the version's infer requests) does the inference.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from ie_serving.batching_config import BatchingParameters
from ie_serving.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InferenceFailed,
    InvalidInput,
    Overloaded,
    ServingError,
)
from ie_serving.histogram import Histogram, HistogramSnapshot, exponential
from ie_serving.inference_stats import Phases

log = logging.getLogger(__name__)

Run = Callable[[dict[str, np.ndarray], tuple[str, ...]], dict[str, np.ndarray]]
# what requests must share to be merged: sorted output names, and per input (name, dtype, the
# dimensions after the first, or only the rank when variable-length inputs are padded)
Key = tuple[tuple[str, ...], tuple[tuple[str, str, tuple[int, ...] | int], ...]]

# batching_session.cc: queuing_latency, "Scale of 100, power of 1.2 with bucket count 52 (~1 second)"
QUEUING_LIMITS = exponential(100, 1.2, 52)
# batching_util.h: input_batch_size and processed_batch_size, "[1*2^0, ..., 1*2^13, DBL_MAX]"
SIZE_LIMITS = exponential(1, 2, 14)
# shared_batch_scheduler.h Queue::Schedule (TF answers UNAVAILABLE; here it is overload, RESOURCE_EXHAUSTED)
QUEUE_FULL = "The batch scheduling queue to which this task was submitted is full"
# pad_variable_length_inputs: the padded inputs of a batch may take up to PADDING_FACTOR times
# the bytes its requests brought, or PADDING_FREE_BYTES, whichever is larger
PADDING_FACTOR = 4
PADDING_FREE_BYTES = 64 << 20


@dataclasses.dataclass(frozen=True)
class BatchStats:
    """What a batcher has done so far (metrics read it when scraped)."""

    thread_pool_name: str
    queued: int  # requests in the queue now
    rejected: int  # refused as overload (queue full)
    timeouts: int  # deadline passed while queued
    queuing_micros: HistogramSnapshot  # per request: enqueue to the batch's start
    input_batch_size: HistogramSnapshot  # per batch: the rows requests brought
    processed_batch_size: HistogramSnapshot  # per batch: the rows run, padding included


class _Task:
    __slots__ = (
        "inputs",
        "size",
        "nbytes",
        "key",
        "enqueued",
        "started",
        "finished",
        "first",
        "rows",
        "done",
        "wake",
        "result",
        "error",
        "batch",
    )

    def __init__(self, inputs: Mapping[str, np.ndarray], size: int, key: Key, wake: threading.Condition):
        self.inputs = inputs
        self.size = size
        self.nbytes = sum(array.nbytes for array in inputs.values())
        self.key = key
        self.enqueued = time.perf_counter()
        self.started = self.finished = 0.0  # when its batch was taken by a thread, and when it ended
        self.first = False  # the first request of its batch (the statistics count the execution once)
        self.rows = 0  # the rows its batch ran, padding included
        self.wake = wake  # on the batcher's lock: its thread waits on it for its turn or its answer
        self.done = False
        self.result: dict[str, np.ndarray] | None = None
        self.error: ServingError | None = None
        self.batch: _Batch | None = None  # the queued batch holding it; None once taken


class _Batch:
    __slots__ = ("key", "tasks", "size", "nbytes", "dims", "opened", "closed", "serial")

    def __init__(self, key: Key, opened: float, serial: int):
        self.key = key
        self.tasks: list[_Task] = []
        self.size = 0
        self.nbytes = 0  # the bytes its requests brought
        # with pad_variable_length_inputs, per input, the largest dimensions after the first
        self.dims: dict[str, tuple[int, ...]] = {}
        self.opened = opened
        self.closed = False  # full, or the next request did not fit: ready now
        self.serial = serial  # the batcher's count of enqueued requests with its first one


def task_size(inputs: Mapping[str, np.ndarray]) -> int:
    """The rows a request brings: dimension 0, equal across its inputs (TF Serving's
    batching_util.h, its words)."""
    sizes = set()
    for array in inputs.values():
        if array.ndim == 0:
            raise InvalidInput("Batching Run() input tensors must have at least one dimension")
        sizes.add(array.shape[0])
    if len(sizes) != 1:
        raise InvalidInput("Batching Run() input tensors must have equal 0th-dimension size")
    return sizes.pop()


def merge_key(inputs: Mapping[str, np.ndarray], outputs: Sequence[str], pad: bool) -> Key:
    return (
        tuple(sorted(outputs)),
        tuple(
            (name, array.dtype.str, array.ndim if pad else array.shape[1:]) for name, array in sorted(inputs.items())
        ),
    )


def largest_dims(dims: Mapping[str, tuple[int, ...]], inputs: Mapping[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    """Per input, the largest of `dims` (none: the input's own) and the input's dimensions after the first."""
    return {name: tuple(map(max, dims.get(name, array.shape[1:]), array.shape[1:])) for name, array in inputs.items()}


def padded_bytes(dims: Mapping[str, tuple[int, ...]], inputs: Mapping[str, np.ndarray], rows: int) -> int:
    """The bytes of `rows` rows of every input padded to `dims` (`inputs` give the item sizes)."""
    return sum(rows * math.prod(dims[name]) * array.itemsize for name, array in inputs.items())


def padded_size(size: int, allowed: Sequence[int]) -> int:
    """The smallest allowed batch size >= size (size itself when none is given)."""
    return next((a for a in allowed if a >= size), size)


def merge(tasks: Sequence[_Task], pad: bool, target: int) -> dict[str, np.ndarray]:
    """The tasks' inputs concatenated along dimension 0 (padded to common dimensions when
    `pad`), then padded to `target` rows with copies of the last task's first row."""
    if len(tasks) == 1 and tasks[0].size == target:
        return dict(tasks[0].inputs)
    merged = {}
    for name in tasks[0].inputs:
        arrays = [task.inputs[name] for task in tasks]
        if pad:
            dims = tuple(max(a.shape[d] for a in arrays) for d in range(1, arrays[0].ndim))
            arrays = [_pad_to(a, dims) for a in arrays]
        rows = sum(a.shape[0] for a in arrays)
        if target > rows:
            arrays.append(np.repeat(arrays[-1][:1], target - rows, axis=0))
        merged[name] = np.concatenate(arrays)
    return merged


def _pad_to(array: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
    """batching_util.cc PadTensor: pad each dimension after the first at its end, with the
    tensor's first value."""
    widths = [(0, 0)] + [(0, want - have) for want, have in zip(dims, array.shape[1:], strict=True)]
    if all(after == 0 for _, after in widths):
        return array
    value = array.flat[0] if array.size else np.zeros((), array.dtype)[()]
    return np.pad(array, widths, mode="constant", constant_values=value)


def split(outputs: Mapping[str, np.ndarray], sizes: Sequence[int], rows: int) -> list[dict[str, np.ndarray]]:
    """Each task's rows of every output (views); the padding rows after sum(sizes) are dropped.
    FailedPrecondition (TF Serving's words) when an output has no batch dimension to split."""
    for array in outputs.values():
        if array.ndim == 0:
            raise FailedPrecondition("Batched output tensor has 0 dimensions")
        if array.shape[0] != rows:
            raise FailedPrecondition(
                "Batched output tensor's 0th dimension does not equal the sum of the 0th dimension sizes of "
                "the input tensors"
            )
    parts, start = [], 0
    for size in sizes:
        parts.append({name: array[start : start + size] for name, array in outputs.items()})
        start += size
    return parts


class Batcher:
    """The batching queue of one model version. Batches run on their own requests' threads, with
    no hand-off to a pool (each hand-off is a thread switch and a wait for the GIL): the request
    that fills a batch runs it, else its first request once batch_timeout_micros have passed, as
    soon as fewer than num_batch_threads batches are running (the oldest ready batch first)."""

    def __init__(self, run: Run, params: BatchingParameters, max_queued: int, name: str, sequential: bool = False):
        """run: infer on merged inputs; max_queued: requests that may wait in the queue (0: only
        max_enqueued_batches bounds it); name: the model version, for the log. sequential: a
        request that finds the version idle, nothing else being received (receiving() announces
        each request being decoded) and the last batch alone (one request, none arriving while it
        ran) starts at once instead of waiting for batch_timeout_micros: traffic of one request
        at a time has nothing to batch, and the wait would add to every request's latency."""
        self._run = run
        self.params = params
        self._max_queued = max_queued
        self._name = name
        self._lock = threading.Lock()
        self._batches: list[_Batch] = []  # queued (not yet running), oldest first
        self._open: dict[Key, _Batch] = {}  # per key, the batch a new task may join
        self._queued = 0
        self._running = 0  # batches running now, at most num_batch_threads
        self._sequential = sequential
        self._receiving = 0  # requests announced by receiving() and not yet enqueued
        self._announced = threading.local()  # flag (set by receiving()): this thread's request is counted in _receiving
        self._enqueued = 0  # requests enqueued so far
        # the last batch held one request and none arrived while it was queued or running
        self._last_alone = True
        self._closing = False
        self._timeout = params.batch_timeout_micros / 1e6
        self._rejected = 0
        self._timeouts = 0
        self._queuing = Histogram(QUEUING_LIMITS)
        self._input_sizes = Histogram(SIZE_LIMITS)
        self._processed_sizes = Histogram(SIZE_LIMITS)

    def submit(
        self,
        inputs: Mapping[str, np.ndarray],
        outputs: Sequence[str],
        deadline: float | None = None,
        phases: Phases | None = None,
    ) -> dict[str, np.ndarray]:
        """The request's outputs, computed in a batch with others; deadline: a time.monotonic()
        value after which the request leaves the queue (DeadlineExceeded); phases, when given,
        receives the time in the queue (queue) and its batch's run (compute_infer) in ns, the
        rows its batch ran, and whether it counts the execution (the batch's first request)."""
        size = task_size(inputs)
        if size > self.params.max_batch_size:
            raise InvalidInput(f"Task size {size} is larger than maximum input batch size {self.params.max_batch_size}")
        if size == 0:  # nothing to merge
            return self._run(dict(inputs), tuple(outputs))
        key = merge_key(inputs, outputs, self.params.pad_variable_length_inputs)
        task = _Task(inputs, size, key, threading.Condition(self._lock))
        until = None if deadline is None else deadline - time.monotonic() + task.enqueued
        with self._lock:
            if getattr(self._announced, "flag", False):
                self._arrived()
            self._enqueue(task)
            batch = self._wait_turn(task, until)
        if batch is not None:
            self._execute(batch)
        if task.error is not None:
            raise task.error
        assert task.result is not None
        if phases is not None:
            phases.queue = int((task.started - task.enqueued) * 1e9)
            phases.compute_infer = int((task.finished - task.started) * 1e9)
            phases.executions = int(task.first)
            phases.executed_batch = task.rows
        # the batch ran with the outputs in sorted order (its key); the request gets them in its
        # own order, as batching_session.cc SplitOutputTensors hands them out
        return {name: task.result[name] for name in outputs}

    @contextlib.contextmanager
    def receiving(self) -> Iterator[None]:
        """Around the decoding of a request for this version and its submit() on this thread:
        until it is enqueued (or leaves without), the version does not count as idle."""
        with self._lock:
            self._receiving += 1
        self._announced.flag = True
        try:
            yield
        finally:
            if self._announced.flag:  # left before it was enqueued (bad input)
                with self._lock:
                    self._arrived()

    def _arrived(self) -> None:
        """With the lock held: this thread's announced request has been enqueued or has left."""
        self._announced.flag = False
        self._receiving -= 1
        if self._receiving == 0:
            self._wake_ready(time.perf_counter())

    def stats(self) -> BatchStats:
        with self._lock:
            return BatchStats(
                self.params.thread_pool_name,
                self._queued,
                self._rejected,
                self._timeouts,
                self._queuing.snapshot(),
                self._input_sizes.snapshot(),
                self._processed_sizes.snapshot(),
            )

    def close(self) -> None:
        """Queued batches run at once, without waiting for their timeout (the version is going away)."""
        with self._lock:
            self._closing = True
            self._wake_ready(time.perf_counter())

    def _enqueue(self, task: _Task) -> None:
        limit = self.params.max_batch_size
        if self._max_queued and self._queued >= self._max_queued:
            self._rejected += 1
            raise Overloaded(
                f"{self._queued} requests already wait in the batching queue (--max_queued_requests "
                f"{self._max_queued}); retry later"
            )
        batch = self._open.get(task.key)
        if batch is not None and (batch.size + task.size > limit or not self._padding_fits(batch, task)):
            self._close_batch(batch)
            batch.tasks[0].wake.notify()  # ready now: its first request runs it
            batch = None
        if batch is None:
            if len(self._batches) >= self.params.max_enqueued_batches:
                self._rejected += 1
                raise Overloaded(f"{QUEUE_FULL} (max_enqueued_batches {self.params.max_enqueued_batches}); retry later")
            batch = _Batch(task.key, task.enqueued, self._enqueued + 1)
            self._batches.append(batch)
            self._open[task.key] = batch
        batch.tasks.append(task)
        batch.size += task.size
        batch.nbytes += task.nbytes
        if self.params.pad_variable_length_inputs:
            batch.dims = largest_dims(batch.dims, task.inputs)
        task.batch = batch
        self._queued += 1
        self._enqueued += 1
        if batch.size == limit:
            self._close_batch(batch)

    def _wait_turn(self, task: _Task, until: float | None) -> _Batch | None:
        """With the lock held: wait until the task's batch may run (returned: this thread runs it)
        or another thread has run it (None). The batch's first request waits for its timeout,
        the others for a wake-up; a task whose deadline (`until`, perf_counter) passes while its
        batch is queued leaves with DeadlineExceeded."""
        while not task.done:
            batch = task.batch
            if batch is None:  # running on another thread: inference is not interrupted
                task.wake.wait()
                continue
            now = time.perf_counter()
            if until is not None and now >= until:
                self._remove(task)
                raise DeadlineExceeded("deadline exceeded while waiting in the batching queue")
            if self._running < self.params.num_batch_threads and self._first_ready(now) is batch:
                self._take(batch, now)
                return batch
            wait = None if until is None else until - now
            if batch.tasks[0] is task and not self._is_ready(batch, now):
                ready_in = batch.opened + self._timeout - now
                wait = ready_in if wait is None else min(wait, ready_in)
            task.wake.wait(wait)
        return None

    def _is_ready(self, batch: _Batch, now: float) -> bool:
        return (
            batch.closed
            or self._closing
            or (self._sequential and self._idle_but(batch))
            or now - batch.opened >= self._timeout
        )

    def _idle_but(self, batch: _Batch) -> bool:
        """Whether `batch` is all the version has to do: the last batch was alone, none is
        running or queued besides it, and no request is being received."""
        return self._last_alone and not self._receiving and not self._running and self._batches == [batch]

    def _first_ready(self, now: float) -> _Batch | None:
        """The oldest queued batch that may run now, if any."""
        return next((batch for batch in self._batches if self._is_ready(batch, now)), None)

    def _wake_ready(self, now: float) -> None:
        """Wake the first request of as many ready batches as may start running."""
        free = self.params.num_batch_threads - self._running
        for batch in self._batches:
            if free <= 0:
                return
            if self._is_ready(batch, now):
                batch.tasks[0].wake.notify()
                free -= 1

    def _padding_fits(self, batch: _Batch, task: _Task) -> bool:
        """Whether the batch padded with `task` in it stays within the padding bound."""
        if not self.params.pad_variable_length_inputs:
            return True  # nothing is padded across dimensions
        padded = padded_bytes(largest_dims(batch.dims, task.inputs), task.inputs, batch.size + task.size)
        return padded <= max(PADDING_FACTOR * (batch.nbytes + task.nbytes), PADDING_FREE_BYTES)

    def _close_batch(self, batch: _Batch) -> None:
        batch.closed = True
        if self._open.get(batch.key) is batch:
            del self._open[batch.key]

    def _remove(self, task: _Task) -> None:
        """Take a queued task out of its batch (its deadline passed)."""
        batch = task.batch
        assert batch is not None
        was_first = batch.tasks[0] is task
        batch.tasks.remove(task)
        batch.size -= task.size
        batch.nbytes -= task.nbytes
        if self.params.pad_variable_length_inputs:
            batch.dims = {}
            for other in batch.tasks:
                batch.dims = largest_dims(batch.dims, other.inputs)
        task.batch = None
        self._queued -= 1
        self._timeouts += 1
        if not batch.tasks:
            self._batches.remove(batch)
            self._close_batch(batch)
        elif was_first:
            batch.tasks[0].wake.notify()  # the batch's new first request keeps its timeout

    def _take(self, batch: _Batch, now: float) -> None:
        self._batches.remove(batch)
        self._close_batch(batch)
        self._running += 1
        for index, task in enumerate(batch.tasks):
            task.batch = None
            task.started = now
            task.first = index == 0
            self._queuing.observe((now - task.enqueued) * 1e6 // 1)
        self._queued -= len(batch.tasks)
        self._input_sizes.observe(batch.size)
        self._wake_ready(now)  # another batch may start too

    def _execute(self, batch: _Batch) -> None:
        """Run a taken batch on this thread, hand each task its rows and wake their threads."""
        tasks = batch.tasks
        rows = padded_size(batch.size, self.params.allowed_batch_sizes)
        try:
            merged = merge(tasks, self.params.pad_variable_length_inputs, rows)
            outputs = self._run(merged, batch.key[0])
            if len(tasks) == 1 and rows == batch.size:
                tasks[0].result = outputs
            else:
                for task, part in zip(tasks, split(outputs, [t.size for t in tasks], rows), strict=True):
                    task.result = part
        except ServingError as exc:
            for task in tasks:
                task.error = exc
        except Exception as exc:  # a bug: every request of the batch still gets an answer
            log.exception("%s: batch of %d request(s) failed", self._name, len(tasks))
            for task in tasks:
                task.error = InferenceFailed(f"batch failed: {type(exc).__name__}: {exc}")
        finally:
            finished = time.perf_counter()
            with self._lock:
                self._running -= 1
                self._last_alone = len(tasks) == 1 and self._enqueued == batch.serial
                self._processed_sizes.observe(rows)
                for task in tasks:
                    task.rows = rows
                    task.finished = finished
                    task.done = True
                    task.wake.notify()
                self._wake_ready(finished)
