"""The decoder of a TF Serving JSON predict body, shared by the REST predict route and
SageMaker's application/json: a single float input through json_fast when it can, anything
else parsed in full by json_tensors. The format it read (row or column) decides the answer's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ie_serving.json_fast import decode_floats
from ie_serving.json_tensors import Format, decode_predict, may_hold_bools, parse_body
from ie_serving.tensor_spec import Decoded, SignatureLookup


class JsonPredictBody:
    """A service Decoder for one JSON body; `form` is set once it has decoded.

    parse: the body -> a TF Serving predict document (`instances` or `inputs`); SageMaker's
    JSON rules (serve/content.py) turn other JSON into one. bare_lists: a bare list of numbers
    is taken by the fast path as SageMaker's rule reads it (a list of lists holds several
    instances, a flat list is one instance)."""

    def __init__(self, body: bytes, parse: Callable[[bytes], Any] = parse_body, bare_lists: bool = False):
        self.body = body
        self.parse = parse
        self.bare_lists = bare_lists
        self.form = Format.ROW

    def __call__(self, signature_of: SignatureLookup) -> Decoded:
        fast = decode_floats(self.body, signature_of("").inputs, self.bare_lists)
        if fast is not None:
            self.form, inputs, signature = fast
            return Decoded(inputs, signature)
        document = self.parse(self.body)
        self.form, inputs, signature = decode_predict(document, signature_of, may_hold_bools(self.body))
        return Decoded(inputs, signature)
