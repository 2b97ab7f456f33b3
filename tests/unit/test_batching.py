"""The batcher's merge, split, timeout and bounds without OpenVINO: `run` is a numpy function
that records the batches it is given.

Reference: tensorflow/serving batching/batching_session.cc (merge along dim 0, padding with
the last task's first row up to an allowed batch size, the split and its errors),
batching_util.cc (variable-length padding with the tensor's first value), and
tensorflow/core/kernels/batching_util/shared_batch_scheduler.h (max_batch_size,
batch_timeout_micros, max_enqueued_batches, "Task size N is larger than maximum input batch size M")."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from ie_serving import batching
from ie_serving.batching import Batcher, merge_key, padded_size
from ie_serving.batching_config import BatchingParameters
from ie_serving.errors import DeadlineExceeded, FailedPrecondition, InvalidInput, Overloaded
from ie_serving.inference_stats import Phases


class Recorder:
    """y = 2x + the row index within the batch is NOT used: each row's answer depends on its own
    row only (2x + 1), so a mixed-up split shows. Records each batch's shapes; `gate` holds
    every batch until set."""

    def __init__(self, gate: threading.Event | None = None):
        self.batches: list[tuple[int, ...]] = []
        self.gate = gate
        self.lock = threading.Lock()

    def __call__(self, inputs: dict[str, np.ndarray], outputs: tuple[str, ...]) -> dict[str, np.ndarray]:
        if self.gate is not None:
            self.gate.wait(10)
        with self.lock:
            self.batches.append(inputs["x"].shape)
        return {name: inputs["x"] * 2 + 1 for name in outputs}


def _params(**values: object) -> BatchingParameters:
    return BatchingParameters(**{"num_batch_threads": 1, **values})  # type: ignore[arg-type]


def _concurrently(batcher: Batcher, requests: list[dict[str, np.ndarray]], **kwargs: object) -> list[object]:
    answers: list[object] = [None] * len(requests)

    def one(index: int) -> None:
        try:
            answers[index] = batcher.submit(requests[index], ["y"], **kwargs)  # type: ignore[arg-type]
        except Exception as exc:
            answers[index] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return answers


def test_concurrent_requests_merge_up_to_max_batch_size_and_each_gets_its_own_rows() -> None:
    run = Recorder()
    batcher = Batcher(run, _params(max_batch_size=4, batch_timeout_micros=200_000), 0, "m")
    requests = [{"x": np.full((1, 3), i, np.float32)} for i in range(8)]
    answers = _concurrently(batcher, requests)
    for request, answer in zip(requests, answers, strict=True):
        np.testing.assert_array_equal(answer["y"], request["x"] * 2 + 1)  # type: ignore[index]
    assert sorted(run.batches) == [(4, 3), (4, 3)]  # full batches run before the 200 ms timeout
    stats = batcher.stats()
    assert stats.processed_batch_size.count == 2 and stats.processed_batch_size.total == 8
    assert stats.queuing_micros.count == 8
    batcher.close()


def test_a_lone_request_waits_at_most_the_batch_timeout() -> None:
    run = Recorder()
    batcher = Batcher(run, _params(max_batch_size=8, batch_timeout_micros=50_000), 0, "m")
    started = time.perf_counter()
    answer = batcher.submit({"x": np.ones((2, 3), np.float32)}, ["y"])
    waited = time.perf_counter() - started
    np.testing.assert_array_equal(answer["y"], np.full((2, 3), 3, np.float32))
    assert 0.05 <= waited < 1.0
    assert run.batches == [(2, 3)]
    batcher.close()


def test_requests_with_other_non_batch_dims_or_outputs_form_their_own_batches() -> None:
    gate = threading.Event()
    run = Recorder(gate)
    batcher = Batcher(run, _params(max_batch_size=8, batch_timeout_micros=100_000), 0, "m")
    requests = [{"x": np.ones((1, 3), np.float32)}, {"x": np.ones((1, 5), np.float32)}]
    requests += [{"x": np.ones((1, 3), np.float32)}]
    threading.Timer(0.05, gate.set).start()
    answers = _concurrently(batcher, requests)
    assert [a["y"].shape for a in answers] == [(1, 3), (1, 5), (1, 3)]  # type: ignore[index]
    assert sorted(run.batches) == [(1, 5), (2, 3)]
    assert merge_key({"x": np.ones((1, 3))}, ["y"], False) != merge_key({"x": np.ones((1, 3))}, ["z"], False)
    batcher.close()


def test_pad_variable_length_inputs_merges_and_pads_with_the_first_value() -> None:
    seen: list[np.ndarray] = []

    def run(inputs: dict[str, np.ndarray], outputs: tuple[str, ...]) -> dict[str, np.ndarray]:
        seen.append(inputs["x"])
        return {"y": inputs["x"]}

    batcher = Batcher(
        run, _params(max_batch_size=2, batch_timeout_micros=500_000, pad_variable_length_inputs=True), 0, "m"
    )
    requests = [{"x": np.array([[7, 8]], np.int32)}, {"x": np.array([[5, 6, 9]], np.int32)}]
    answers = _concurrently(batcher, requests)
    assert len(seen) == 1 and seen[0].shape == (2, 3)
    rows = sorted(a["y"].tolist()[0] for a in answers)  # type: ignore[index]
    assert rows == [[5, 6, 9], [7, 8, 7]]  # the shorter row padded with its own first value
    batcher.close()


def test_allowed_batch_sizes_pad_with_the_last_tasks_first_row_and_drop_the_padding() -> None:
    seen: list[np.ndarray] = []

    def run(inputs: dict[str, np.ndarray], outputs: tuple[str, ...]) -> dict[str, np.ndarray]:
        seen.append(inputs["x"].copy())
        return {"y": inputs["x"] * 10}

    assert padded_size(3, (2, 4, 8)) == 4 and padded_size(2, (2, 4, 8)) == 2 and padded_size(3, ()) == 3
    batcher = Batcher(run, _params(max_batch_size=8, allowed_batch_sizes=(4, 8)), 0, "m")
    answer = batcher.submit({"x": np.array([[1], [2], [3]], np.int64)}, ["y"])
    assert seen[0].tolist() == [[1], [2], [3], [1]]
    assert answer["y"].tolist() == [[10], [20], [30]]
    stats = batcher.stats()
    assert (stats.input_batch_size.total, stats.processed_batch_size.total) == (3, 4)
    batcher.close()


def test_a_request_larger_than_max_batch_size_is_refused_in_tf_servings_words() -> None:
    batcher = Batcher(Recorder(), _params(max_batch_size=4), 0, "m")
    with pytest.raises(InvalidInput, match="^Task size 5 is larger than maximum input batch size 4$"):
        batcher.submit({"x": np.ones((5, 1), np.float32)}, ["y"])
    with pytest.raises(InvalidInput, match="equal 0th-dimension size"):
        batcher.submit({"x": np.ones((1, 1)), "w": np.ones((2, 1))}, ["y"])
    batcher.close()


def test_overload_the_queue_bound_and_max_enqueued_batches_refuse_with_overloaded() -> None:
    gate = threading.Event()
    run = Recorder(gate)
    batcher = Batcher(run, _params(max_batch_size=1, max_enqueued_batches=2), 3, "m")
    requests = [{"x": np.full((1, 1), i, np.float32)} for i in range(6)]
    threading.Timer(0.3, gate.set).start()
    answers = _concurrently(batcher, requests)
    refused = [a for a in answers if isinstance(a, Overloaded)]
    served = [a for a in answers if isinstance(a, dict)]
    # one batch runs (held by the gate), two may wait: three answered, three refused
    assert len(served) == 3 and len(refused) == 3, answers
    assert "The batch scheduling queue to which this task was submitted is full" in refused[0].message
    assert batcher.stats().rejected == 3
    batcher.close()


def test_max_queued_requests_bounds_the_requests_in_the_queue() -> None:
    batcher = Batcher(Recorder(), _params(max_batch_size=100, batch_timeout_micros=300_000), 2, "m")
    answers = _concurrently(batcher, [{"x": np.ones((1, 1), np.float32)} for _ in range(4)])
    refused = [a for a in answers if isinstance(a, Overloaded)]
    assert len(refused) == 2 and "--max_queued_requests 2" in refused[0].message
    assert sum(isinstance(a, dict) for a in answers) == 2
    batcher.close()


def test_a_deadline_passing_in_the_queue_is_deadline_exceeded_and_the_others_are_served() -> None:
    gate = threading.Event()
    run = Recorder(gate)
    batcher = Batcher(run, _params(max_batch_size=1), 0, "m")
    first = threading.Thread(target=batcher.submit, args=({"x": np.ones((1, 1), np.float32)}, ["y"]))
    first.start()  # holds the only thread at the gate
    time.sleep(0.05)
    with pytest.raises(DeadlineExceeded, match="batching queue"):
        batcher.submit({"x": np.ones((1, 1), np.float32)}, ["y"], time.monotonic() + 0.05)
    assert batcher.stats().queued == 0 and batcher.stats().timeouts == 1
    gate.set()
    first.join(5)
    assert run.batches == [(1, 1)]  # the request that left never ran
    batcher.close()


def test_close_runs_queued_batches_without_waiting_for_their_timeout() -> None:
    """A version being unloaded: its queued batches run at once instead of after their 5 s timeout."""
    gate = threading.Event()
    run = Recorder(gate)
    batcher = Batcher(run, _params(max_batch_size=2, batch_timeout_micros=5_000_000), 0, "m")
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(batcher.submit({"x": np.ones((1, 1), np.float32)}, ["y"])))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    started = time.perf_counter()
    batcher.close()
    gate.set()
    for thread in threads:
        thread.join(5)
    assert len(results) == 3 and time.perf_counter() - started < 2.5
    assert sorted(run.batches) == [(1, 1), (2, 1)]


def test_an_output_without_a_batch_dimension_fails_the_merged_batch_in_tf_servings_words() -> None:
    def run(inputs: dict[str, np.ndarray], outputs: tuple[str, ...]) -> dict[str, np.ndarray]:
        return {"y": np.float32(inputs["x"].sum())}

    batcher = Batcher(run, _params(max_batch_size=4, allowed_batch_sizes=(4,)), 0, "m")
    with pytest.raises(FailedPrecondition, match="^Batched output tensor has 0 dimensions$"):
        batcher.submit({"x": np.ones((1, 1), np.float32)}, ["y"])
    batcher.close()


def test_the_batching_key_of_a_model_takes_true_false_or_tf_servings_field_names() -> None:
    """`ie_serving config`'s `batching` key and `ie_serving model --batching`: BatchingParameters'
    own field names (session_bundle_config.proto) with plain values."""
    from ie_serving.config import parse_model
    from ie_serving.errors import ConfigError

    base = {"name": "m", "base_path": "/m"}
    assert parse_model(base).batching is None
    assert parse_model({**base, "batching": False}).batching is False
    assert parse_model({**base, "batching": "true"}).batching == BatchingParameters()
    given = parse_model({**base, "batching": {"max_batch_size": 8, "allowed_batch_sizes": [2, 8]}}).batching
    assert given == BatchingParameters(max_batch_size=8, allowed_batch_sizes=(2, 8))
    parsed = parse_model({**base, "batching": '{"batch_timeout_micros": 500, "pad_variable_length_inputs": true}'})
    assert parsed.batching == BatchingParameters(batch_timeout_micros=500, pad_variable_length_inputs=True)
    for bad, fragment in (
        ({"max_batch_sizes": 8}, "unknown key(s) ['max_batch_sizes']"),
        ({"max_batch_size": 8, "allowed_batch_sizes": [4]}, "Last entry in allowed_batch_sizes must match"),
        ({"batch_timeout_micros": -1}, "batch_timeout_micros: expected an integer >= 0, got -1"),
        ("yes", "invalid JSON"),
        (3, "expected true, false or an object"),
    ):
        with pytest.raises(ConfigError) as info:
            parse_model({**base, "batching": bad}, "config[0]")
        assert "config[0].batching" in str(info.value) and fragment in str(info.value), info.value


def test_a_batched_requests_phases_are_its_wait_in_the_queue_and_its_batchs_run() -> None:
    """The statistics extension's queue and compute_infer for a batched request (inference_stats.py):
    the lone request waits the 50 ms batch timeout in the queue, then its batch runs 30 ms."""

    def slow(inputs: dict[str, np.ndarray], outputs: tuple[str, ...]) -> dict[str, np.ndarray]:
        time.sleep(0.03)
        return {name: inputs["x"] for name in outputs}

    batcher = Batcher(slow, _params(max_batch_size=8, batch_timeout_micros=50_000), 0, "m")
    phases = Phases()
    batcher.submit({"x": np.ones((2, 3), np.float32)}, ["y"], phases=phases)
    assert 0.05e9 <= phases.queue < 1e9
    assert 0.03e9 <= phases.compute_infer < 1e9
    batcher.close()


def test_each_batch_counts_one_execution_of_its_rows() -> None:
    """Triton counts executions and batch_stats per batch run, inference_stats per request:
    8 requests of 1 row in batches of 4 are 2 executions of 4 rows."""
    batcher = Batcher(Recorder(), _params(max_batch_size=4, batch_timeout_micros=200_000), 0, "m")
    phases = [Phases() for _ in range(8)]
    answers: list[object] = [None] * 8

    def one(index: int) -> None:
        answers[index] = batcher.submit({"x": np.full((1, 3), index, np.float32)}, ["y"], phases=phases[index])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert all(answer is not None for answer in answers)
    assert sum(p.executions for p in phases) == 2
    assert {p.executed_batch for p in phases} == {4}
    batcher.close()


def test_outputs_come_back_in_the_order_the_request_asked_for() -> None:
    """batching_session.cc SplitOutputTensors hands each task its outputs in the order of its own
    output_tensor_names, whatever order the merged run used; a lone request and a split batch alike."""
    run = Recorder()
    batcher = Batcher(run, _params(max_batch_size=2, batch_timeout_micros=1_000_000), 0, "m")
    answers: list[dict[str, np.ndarray]] = []

    def one(value: int) -> None:
        answers.append(batcher.submit({"x": np.full((1, 2), value, np.float32)}, ["z", "a"]))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert run.batches == [(2, 2)]  # merged, then split
    assert [list(answer) for answer in answers] == [["z", "a"], ["z", "a"]]
    lone = batcher.submit({"x": np.ones((2, 2), np.float32)}, ["z", "a"])  # a full batch of one task: no split
    assert list(lone) == ["z", "a"]
    batcher.close()


def test_padding_is_bounded_before_allocation_a_request_that_would_blow_it_up_starts_the_next_batch() -> None:
    """TF Serving pads without a bound (batching_util.cc CalculateMaxDimSizes and AddPadding), so
    [1, 1, n] and [1, n, 1] would merge into [2, n, n]: 16 KiB brought, 128 MiB padded here.
    This server lets padding take at most PADDING_FACTOR times the bytes brought (or
    PADDING_FREE_BYTES): the second request closes the first batch and starts its own."""
    n = 8192
    assert 2 * n * n > max(batching.PADDING_FREE_BYTES, batching.PADDING_FACTOR * 2 * n)
    seen: list[tuple[int, ...]] = []

    def run(inputs: dict[str, np.ndarray], outputs: tuple[str, ...]) -> dict[str, np.ndarray]:
        seen.append(inputs["x"].shape)
        return {"y": inputs["x"][:, :1, :1] + 1}

    params = _params(max_batch_size=4, batch_timeout_micros=300_000, pad_variable_length_inputs=True)
    batcher = Batcher(run, params, 0, "m")
    requests = [{"x": np.full((1, 1, n), 3, np.int8)}]
    answers = [None, None]
    first = threading.Thread(target=lambda: answers.__setitem__(0, batcher.submit(requests[0], ["y"])))
    first.start()
    time.sleep(0.05)  # the first request opens the batch
    answers[1] = batcher.submit({"x": np.full((1, n, 1), 5, np.int8)}, ["y"])
    first.join(10)
    assert seen == [(1, 1, n), (1, n, 1)]  # never (2, n, n)
    assert [a["y"].tolist() for a in answers] == [[[[4]]], [[[6]]]]  # type: ignore[index]
    batcher.close()


def test_server_batching_reads_enable_batching_and_the_parameters_file(tmp_path) -> None:
    """model_servers/server.cc: --enable_batching alone gives the defaults with the pool named
    model_server_batch_threads; with --batching_parameters_file, that file's parameters; the
    file without --enable_batching is refused in TF Serving's words."""
    from ie_serving.batching_config import server_batching
    from ie_serving.errors import ConfigError

    assert server_batching(False, None) is None
    assert server_batching(True, None) == BatchingParameters(thread_pool_name="model_server_batch_threads")
    path = tmp_path / "batching.pbtxt"
    path.write_text("max_batch_size { value: 8 }\n")
    assert server_batching(True, str(path)) == BatchingParameters(max_batch_size=8)
    with pytest.raises(ConfigError, match="set without setting server_options.enable_batching to true"):
        server_batching(False, str(path))


def test_batches_run_on_their_requests_threads_at_most_num_batch_threads_at_once() -> None:
    """num_batch_threads bounds the batches running at once (shared_batch_scheduler.h's pool
    size); here they run on the threads of their own requests, not on a pool of their own."""
    running, most, callers, ran_on = [0], [0], set(), set()
    lock = threading.Lock()

    def run(inputs: dict[str, np.ndarray], outputs: tuple[str, ...]) -> dict[str, np.ndarray]:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            ran_on.add(threading.get_ident())
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return {"y": inputs["x"]}

    batcher = Batcher(run, _params(max_batch_size=1, num_batch_threads=2, max_enqueued_batches=10), 0, "m")

    def one(value: int) -> None:
        with lock:
            callers.add(threading.get_ident())
        answer = batcher.submit({"x": np.full((1, 1), value, np.float32)}, ["y"])
        assert answer["y"][0, 0] == value

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert most[0] == 2
    assert ran_on <= callers and len(ran_on) == 6  # each batch of one ran on its own request's thread
    assert batcher.stats().processed_batch_size.count == 6


def test_when_the_first_request_of_a_batch_leaves_on_its_deadline_the_next_one_keeps_the_timeout() -> None:
    """The batch's timeout is waited by its first request; when that one's deadline passes, the
    next request of the batch takes over and the batch still runs after batch_timeout_micros."""
    run = Recorder()
    batcher = Batcher(run, _params(max_batch_size=4, batch_timeout_micros=300_000), 0, "m")
    answers: list[object] = [None, None]

    def one(index: int, deadline: float | None) -> None:
        try:
            answers[index] = batcher.submit({"x": np.full((1, 1), index, np.float32)}, ["y"], deadline)
        except DeadlineExceeded as exc:
            answers[index] = exc

    started = time.perf_counter()
    first = threading.Thread(target=one, args=(0, time.monotonic() + 0.05))
    first.start()
    time.sleep(0.01)
    second = threading.Thread(target=one, args=(1, None))
    second.start()
    first.join(5)
    second.join(5)
    assert isinstance(answers[0], DeadlineExceeded)
    assert answers[1]["y"].tolist() == [[3.0]]  # type: ignore[index]
    assert 0.3 <= time.perf_counter() - started < 2.0
    assert run.batches == [(1, 1)]


def _announced(batcher: Batcher, value: float) -> tuple[dict[str, np.ndarray], float]:
    """One request as Service.predict sends it (announced by receiving()), and its seconds."""
    started = time.perf_counter()
    with batcher.receiving():
        answer = batcher.submit({"x": np.full((1, 1), value, np.float32)}, ["y"])
    return answer, time.perf_counter() - started


def test_one_request_at_a_time_does_not_wait_for_the_timeout() -> None:
    """A request that finds the version idle, with nothing being received and the last batch
    alone, runs at once: traffic of one request at a time has nothing to batch (a deliberate
    difference: TF Serving waits batch_timeout_micros for every batch)."""
    run = Recorder()
    batcher = Batcher(run, _params(max_batch_size=8, batch_timeout_micros=2_000_000), 0, "m", sequential=True)
    for value in range(3):
        answer, seconds = _announced(batcher, value)
        assert answer["y"].tolist() == [[value * 2 + 1]] and seconds < 1.0
    assert run.batches == [(1, 1)] * 3
    plain = Batcher(run, _params(max_batch_size=8, batch_timeout_micros=300_000), 0, "m")
    _, seconds = _announced(plain, 1)
    assert seconds >= 0.3  # without `sequential`, TF Serving's wait


def test_a_request_being_received_keeps_the_open_batch_waiting_for_it() -> None:
    """While another request for the version is being decoded, the open batch waits for it (up
    to its timeout) and the two run as one batch."""
    run = Recorder()
    batcher = Batcher(run, _params(max_batch_size=8, batch_timeout_micros=2_000_000), 0, "m", sequential=True)
    decoding = threading.Event()
    answers: list[object] = []

    def slow_decode() -> None:
        with batcher.receiving():
            decoding.set()
            time.sleep(0.2)
            answers.append(batcher.submit({"x": np.full((1, 1), 5, np.float32)}, ["y"]))

    other = threading.Thread(target=slow_decode)
    other.start()
    decoding.wait(5)
    answer, seconds = _announced(batcher, 1)
    other.join(5)
    assert answer["y"].tolist() == [[3]] and answers[0]["y"].tolist() == [[11]]  # type: ignore[index]
    assert run.batches == [(2, 1)] and 0.15 <= seconds < 1.5


def test_after_concurrent_requests_a_lone_request_waits_the_timeout_again() -> None:
    """Requests that arrived while a batch ran show concurrent traffic: the next lone request
    waits batch_timeout_micros for company, as TF Serving's does; after it ran alone, the one
    after it no longer waits."""
    gate = threading.Event()
    run = Recorder(gate)
    batcher = Batcher(run, _params(max_batch_size=8, batch_timeout_micros=300_000), 0, "m", sequential=True)
    threads = [threading.Thread(target=_announced, args=(batcher, i)) for i in range(3)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)  # the first runs alone (held by the gate), the next two queue behind it
    gate.set()
    for thread in threads:
        thread.join(5)
    assert run.batches == [(1, 1), (2, 1)]
    _, seconds = _announced(batcher, 7)
    assert seconds >= 0.3
    _, seconds = _announced(batcher, 8)
    assert seconds < 0.3
