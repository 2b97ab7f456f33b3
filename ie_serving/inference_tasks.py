"""Classify, Regress and MultiInference as TF Serving answers them, for models whose inputs
are named like the tf.Example features (tf_example.py batches them).

A request is a list of tasks over one model (Classify and Regress are one task each) and one
set of examples. `ExamplesDecoder` is the service Decoder: it finds each task's signature in
the leased version, picks the outputs each task reads, and batches the examples into the
signature's inputs; the pipeline (Service.predict) then validates and runs the model once for
all tasks. `ExamplesDecoder.results` reads the tasks' answers from the outputs under TF
Serving's rules (servables/tensorflow/classifier.cc PostProcessClassificationResult,
regressor.cc PostProcessRegressionResult, multi_inference.cc).

Which outputs a task reads. TF Serving's classify signature has outputs "classes" (labels)
and/or "scores"; its regress signature has one output, "outputs". So:
  classify: the output named "scores" gives the scores and the one named "classes" the labels:
    strings (DT_STRING) as TF Serving reads them, their UTF-8 text (bytes that are not UTF-8
    become U+FFFD), or, beyond TF Serving, integer class ids written as decimal strings (models
    converted to OpenVINO often have numeric outputs only); a model with neither and exactly one
    output is read as scores, with empty labels, as TF Serving answers a signature that has
    scores only.
  regress: the output named "outputs", else the model's only output.
TF Serving does not check the signature's method_name by default
(--enable_signature_method_name_check is false), so neither does this server.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence

import numpy as np

from ie_serving.dtypes import STRING, tf_name
from ie_serving.errors import FailedPrecondition, InvalidInput, Unimplemented
from ie_serving.protos.tensorflow_serving.apis import inference_pb2, input_pb2
from ie_serving.tensor_spec import SIGNATURE, Decoded, Signature, SignatureLookup
from ie_serving.tf_example import batch_inputs, examples_of


class Method(enum.Enum):
    """A task's method, by TF Serving's method name."""

    CLASSIFY = "tensorflow/serving/classify"
    REGRESS = "tensorflow/serving/regress"

    @classmethod
    def named(cls, method_name: str) -> Method:
        """The method of an InferenceTask's method_name; Unimplemented with TF Serving's words otherwise."""
        for method in cls:
            if method.value == method_name:
                return method
        raise Unimplemented(
            f"Unsupported signature method_name: {method_name}; expected {cls.CLASSIFY.value} or {cls.REGRESS.value}"
        )


@dataclasses.dataclass(frozen=True)
class Task:
    """One classify or regress over a signature ("" is serving_default)."""

    method: Method
    signature_name: str = ""


def multi_inference_tasks(tasks: Sequence[inference_pb2.InferenceTask]) -> list[Task]:
    """The tasks of a MultiInferenceRequest, checked as TF Serving's multi_inference.cc does:
    every task names the first task's model; each method is classify or regress."""
    if not tasks:
        raise InvalidInput("MultiInferenceRequest has no tasks")
    name = tasks[0].model_spec.name
    for task in tasks:
        if not task.model_spec.name:
            raise InvalidInput("Found ModelSpec with an empty model name.")
        if task.model_spec.name != name:
            raise InvalidInput("All ModelSpecs in a MultiInferenceRequest must access the same model name.")
    return [Task(Method.named(task.method_name), task.model_spec.signature_name) for task in tasks]


@dataclasses.dataclass(frozen=True)
class Classifications:
    """A classify task's answer: per example, its classes' labels and scores. labels is None
    when the model has no classes output (every label is ""); scores is None when it has no
    scores output (every score is 0, the proto's default)."""

    labels: list[list[str]] | None
    scores: np.ndarray | None  # float32 [examples, classes]

    def rows(self, shortest: bool = False) -> list[list[tuple[str, float]]]:
        """[(label, score), ...] per example, scores as Python floats: the float32 values, or with
        shortest=True the float nearest each float32's shortest decimal (0.2, not
        0.20000000298023224), which is what a JSON writer should print."""
        if self.scores is None:
            assert self.labels is not None
            return [[(label, 0.0) for label in row] for row in self.labels]
        scores = (self.scores.astype(str).astype(np.float64) if shortest else self.scores).tolist()
        labels = self.labels if self.labels is not None else [[""] * len(row) for row in scores]
        return [
            list(zip(label_row, score_row, strict=True)) for label_row, score_row in zip(labels, scores, strict=True)
        ]


@dataclasses.dataclass(frozen=True)
class Regressions:
    """A regress task's answer: one float32 value per example."""

    values: np.ndarray


Result = Classifications | Regressions


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Which outputs one task reads: (classes, scores) for classify, (None, outputs) for regress."""

    task: Task
    classes: str | None
    values: str | None


def _signature(signature_of: SignatureLookup, name: str) -> Signature:
    """The task's signature; TF Serving answers an unknown one INVALID_ARGUMENT (classifier.cc)."""
    try:
        return signature_of(name)
    except FailedPrecondition as exc:
        raise InvalidInput(f"No signature was found with the name: {name or SIGNATURE} ({exc.message})") from None


def _plan(task: Task, signature: Signature) -> _Plan:
    outputs = signature.outputs
    names = sorted(outputs)
    if task.method is Method.CLASSIFY:
        classes = "classes" if "classes" in outputs else None
        scores = "scores" if "scores" in outputs else None
        if classes is None and scores is None:
            if len(outputs) != 1:
                raise InvalidInput(
                    'Expected classification signature outputs to contain at least one of "classes" or "scores" '
                    f"(or to be one output, read as scores); the model's outputs are {names}"
                )
            scores = names[0]
        return _Plan(task, classes, scores)
    if "outputs" in outputs:
        return _Plan(task, None, "outputs")
    if len(outputs) != 1:
        raise InvalidInput(f'Expected one output Tensor (or one named "outputs"); the model\'s outputs are {names}')
    return _Plan(task, None, names[0])


class ExamplesDecoder:
    """A service Decoder for the tasks of one request over its examples; after decoding,
    `results(outputs)` reads each task's answer."""

    def __init__(self, tasks: Sequence[Task], request_input: input_pb2.Input):
        self.tasks = list(tasks)
        self.input = request_input
        self._plans: list[_Plan] = []
        self._examples = 0

    @property
    def runtime_api(self) -> str | None:
        """runtime_latency's API label: "Classify" or "Regress" for one task, None (not
        recorded) for MultiInference, as TF Serving records them."""
        if len(self.tasks) != 1:
            return None
        return "Classify" if self.tasks[0].method is Method.CLASSIFY else "Regress"

    def __call__(self, signature_of: SignatureLookup) -> Decoded:
        """The signatures and their outputs are checked before the examples, in TF Serving's order."""
        names = [task.signature_name or SIGNATURE for task in self.tasks]
        repeated = [name for index, name in enumerate(names) if name in names[:index]]
        if repeated:
            raise InvalidInput(f"Duplicate evaluation of signature: {repeated[0]}")
        signatures = [_signature(signature_of, task.signature_name) for task in self.tasks]
        first = signatures[0]
        for name, signature in zip(names[1:], signatures[1:], strict=True):
            if signature.inputs != first.inputs:
                raise InvalidInput(
                    f"signature {name!r} reads inputs {sorted(signature.inputs)}, signature {names[0]!r} reads "
                    f"{sorted(first.inputs)}: the tasks of one request run the model once on the same inputs"
                )
        self._plans = [_plan(task, signature) for task, signature in zip(self.tasks, signatures, strict=True)]
        wanted = [name for plan in self._plans for name in (plan.classes, plan.values) if name is not None]
        inputs = batch_inputs(first.inputs, self.input)
        self._examples = len(examples_of(self.input)[0])
        return Decoded(inputs, self.tasks[0].signature_name, list(dict.fromkeys(wanted)))

    def results(self, outputs: Mapping[str, np.ndarray]) -> list[Result]:
        """Each task's answer from the model's outputs, checked as TF Serving checks them."""
        return [self._result(plan, outputs) for plan in self._plans]

    def _result(self, plan: _Plan, outputs: Mapping[str, np.ndarray]) -> Result:
        count = self._examples
        if plan.task.method is Method.REGRESS:
            values = outputs[plan.values]
            if not (values.ndim == 1 or (values.ndim == 2 and values.shape[1] == 1)):
                raise InvalidInput(
                    f"Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got "
                    f"{list(values.shape)} (output {plan.values!r})"
                )
            if values.shape[0] != count:
                raise InvalidInput(f"Input batch size did not match output batch size: {count} vs. {values.shape[0]}")
            return Regressions(_floats(values, plan.values, "output").reshape(count))
        scores = labels = None
        for name, kind in ((plan.values, "scores"), (plan.classes, "classes")):
            if name is None:
                continue
            array = outputs[name]
            if array.ndim != 2:
                raise InvalidInput(
                    f"Expected Tensor shape: [batch_size num_classes] but got {list(array.shape)} "
                    f"({kind} output {name!r})"
                )
            if array.shape[0] != count:
                raise InvalidInput(f"Expected {kind} output batch size of {count}. Got: {array.shape[0]}")
            if kind == "scores":
                scores = _floats(array, name, "scores")
            else:
                labels = _labels(array, name)
        if scores is not None and labels is not None and scores.shape[1] != len(labels[0]):
            raise InvalidInput(
                f"Tensors class and score should match in dim_size(1). Got {len(labels[0])} vs. {scores.shape[1]}"
            )
        return Classifications(labels, scores)


def _floats(array: np.ndarray, name: str, kind: str) -> np.ndarray:
    if array.dtype.kind != "f" and tf_name(array.dtype) != "DT_BFLOAT16":
        raise InvalidInput(f"Expected {kind} Tensor of DT_FLOAT. Got: {tf_name(array.dtype)} (output {name!r})")
    return array.astype(np.float32)


def _labels(array: np.ndarray, name: str) -> list[list[str]]:
    """String classes as their UTF-8 text (TF Serving's classifier.cc reads classes as
    DT_STRING; bytes that are not UTF-8 become U+FFFD), or integer class ids as decimal labels."""
    if array.dtype == STRING:
        return [[_text(label) for label in row] for row in array.tolist()]
    if array.dtype.kind not in "iub":
        raise InvalidInput(
            f"Expected classes Tensor of DT_STRING (or integer class ids). Got: {tf_name(array.dtype)} "
            f"(output {name!r})"
        )
    return array.astype(np.int64).astype(str).tolist()


def _text(label: object) -> str:
    return label if isinstance(label, str) else bytes(label).decode("utf-8", errors="replace")  # type: ignore[arg-type]
