"""SavedModel warmup as TF Serving does it (servables/tensorflow/saved_model_warmup_util.cc,
saved_model_warmup.cc): the predict, classify, regress and multi-inference requests in a
version's assets.extra/tf_serving_warmup_requests are replayed
before the version becomes AVAILABLE, so its first clients do not pay for OpenVINO's first
inferences. The file is a TFRecord of PredictionLog protos, read without TensorFlow: each
record is a little-endian uint64 length, its masked CRC32C, the data, and the data's masked
CRC32C. As in TF Serving, at most 1000 records are read, each is run
num_request_iterations_for_warmup times, and a record that fails fails the load.
"""

from __future__ import annotations

import logging
import pathlib
import struct
import time
from collections.abc import Callable, Iterator, Mapping

import google_crc32c
import numpy as np
from google.protobuf.message import DecodeError

from ie_serving.errors import ModelLoadError, ServingError
from ie_serving.inference_tasks import ExamplesDecoder, Method, Task, multi_inference_tasks
from ie_serving.protos.tensorflow_serving.apis import prediction_log_pb2
from ie_serving.tensor_proto import predict_decoder
from ie_serving.tensor_spec import Decoder, prepare_request

log = logging.getLogger(__name__)

WARMUP_FILE = pathlib.Path("assets.extra") / "tf_serving_warmup_requests"
MAX_RECORDS = 1000  # TF Serving's kMaxNumRecords
_MASK_DELTA = 0xA282EAD8


def masked_crc32c(data: bytes) -> int:
    """TFRecord's checksum: CRC32C rotated right by 15 bits plus a constant, mod 2^32."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def read_records(path: pathlib.Path, limit: int = MAX_RECORDS) -> Iterator[bytes]:
    """The records of a TFRecord file, checksums verified; ModelLoadError names what is wrong."""
    with path.open("rb") as handle:
        for number in range(1, limit + 1):
            header = handle.read(12)
            if not header:
                return
            if len(header) < 12:
                raise ModelLoadError(f"{path}: record {number} is truncated in its header")
            length, length_crc = struct.unpack("<QI", header)
            if masked_crc32c(header[:8]) != length_crc:
                raise ModelLoadError(f"{path}: record {number} has a corrupted length (checksum mismatch)")
            data = handle.read(length)
            footer = handle.read(4)
            if len(data) < length or len(footer) < 4:
                raise ModelLoadError(f"{path}: record {number} is truncated ({len(data)} of {length} bytes)")
            if masked_crc32c(data) != struct.unpack("<I", footer)[0]:
                raise ModelLoadError(f"{path}: record {number} is corrupted (checksum mismatch)")
            yield data
        if handle.read(1):
            log.warning("%s: more than %d records; the rest are not replayed, as in TF Serving", path, limit)


def _decoder(
    record: prediction_log_pb2.PredictionLog, kind: str
) -> tuple[Decoder, Callable[[Mapping[str, np.ndarray]], object] | None]:
    """The record's request as a service Decoder, and for classify/regress the reading of its answers."""
    if kind == "predict_log":
        return predict_decoder(record.predict_log.request), None
    if kind == "multi_inference_log":
        request = record.multi_inference_log.request
        examples = ExamplesDecoder(multi_inference_tasks(request.tasks), request.input)
    else:
        method = Method.CLASSIFY if kind == "classify_log" else Method.REGRESS
        request = getattr(record, kind).request
        examples = ExamplesDecoder([Task(method, request.model_spec.signature_name)], request.input)
    return examples, examples.results


def run_warmup(version_dir: pathlib.Path, compiled: object, iterations: int) -> int:
    """Replay the version's warmup requests on `compiled` (an engine.CompiledVersion);
    the number of inferences run. ModelLoadError for a record that cannot be read or run."""
    path = version_dir / WARMUP_FILE
    if not path.is_file():
        return 0
    started, count = time.monotonic(), 0
    for number, data in enumerate(read_records(path), 1):
        try:
            record = prediction_log_pb2.PredictionLog.FromString(data)
        except DecodeError as exc:
            raise ModelLoadError(f"{path}: record {number} is not a PredictionLog: {exc}") from None
        kind = record.WhichOneof("log_type")
        if kind is None:
            log.warning(
                "%s: record %d is none of the requests replayed (predict, classify, regress, multi-inference)",
                path,
                number,
            )
            continue
        try:
            decoder, answers = _decoder(record, kind)
            inputs, wanted = prepare_request(
                compiled.signatures,  # type: ignore[attr-defined]
                decoder,
                f"warmup record {number}",
                compiled.image_options,  # type: ignore[attr-defined]
            )
            for _ in range(iterations):
                outputs = compiled.infer(inputs, wanted)  # type: ignore[attr-defined]
                if answers is not None:  # classify/regress: the outputs must make an answer, as in TF Serving
                    answers(outputs)
                count += 1
        except ServingError as exc:
            raise ModelLoadError(f"{path}: record {number} failed: {exc.message}") from None
    log.info("%s: %d warmup inference(s) in %.2f s", version_dir, count, time.monotonic() - started)
    return count
