"""Print a model's inputs and outputs with dtype and shape (PredictionService/GetModelMetadata
over gRPC, or GET /v1/models/NAME/metadata over REST); -1 is a dynamic dimension:

    python example_client/get_model_metadata.py --model_name demo                   # gRPC :9000
    python example_client/get_model_metadata.py --model_name demo --protocol rest   # REST :8501
"""

from __future__ import annotations

import argparse

from common import Client, add_connection_flags


def build_parser() -> argparse.ArgumentParser:
    """Every flag of this script, each with its help text."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_connection_flags(parser)
    return parser


def main() -> None:
    args = build_parser().parse_args()
    version, inputs, outputs = Client(args).metadata()
    print(f"model {args.model_name} version {version}")
    for kind, signature in (("input", inputs), ("output", outputs)):
        for name, (dtype, shape) in signature.items():
            print(f"{kind} {name}: dtype {dtype.name} shape {shape}")


if __name__ == "__main__":
    main()
