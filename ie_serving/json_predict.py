"""The decoder of a TF Serving JSON predict body, shared by the REST predict route and
SageMaker's application/json: a single float input through json_fast when it can, anything
else parsed in full by json_tensors. The format it read (row or column) decides the answer's."""

from __future__ import annotations

from ie_serving.json_fast import decode_floats
from ie_serving.json_tensors import Format, decode_predict, may_hold_bools, parse_body
from ie_serving.tensor_spec import Decoded, SignatureLookup


class JsonPredictBody:
    """A service Decoder for one JSON body; `form` is set once it has decoded.

    bare_value_is_instances: a JSON value that is not an object with `instances` or `inputs`
    is the instances (SageMaker's JSON, as AWS's container reads it)."""

    def __init__(self, body: bytes, bare_value_is_instances: bool = False):
        self.body = body
        self.bare_value_is_instances = bare_value_is_instances
        self.form = Format.ROW

    def __call__(self, signature_of: SignatureLookup) -> Decoded:
        fast = decode_floats(self.body, signature_of("").inputs, self.bare_value_is_instances)
        if fast is not None:
            self.form, inputs, signature = fast
            return Decoded(inputs, signature)
        document = parse_body(self.body)
        if self.bare_value_is_instances and not (
            isinstance(document, dict) and ("instances" in document or "inputs" in document)
        ):
            document = {"instances": document}
        return self.decode_document(document, signature_of, may_hold_bools(self.body))

    def decode_document(
        self, document: object, signature_of: SignatureLookup, has_bool_literals: bool = True
    ) -> Decoded:
        """A body already parsed (SageMaker's JSON lines gather their lines into one)."""
        self.form, inputs, signature = decode_predict(document, signature_of, has_bool_literals)
        return Decoded(inputs, signature)
