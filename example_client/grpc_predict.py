"""Predict over gRPC (tensorflow.serving.PredictionService/Predict) and print what came back.

Reads the model's metadata first, then sends numpy inputs from .npy files or random data of
the model's shape, timing every request:

    python example_client/grpc_predict.py --grpc_address localhost:9000 --model_name demo \\
        --batch_size 4 --iterations 10
"""

from __future__ import annotations

import argparse

from common import add_connection_flags, add_predict_flags, run_predict


def build_parser() -> argparse.ArgumentParser:
    """Every flag of this script, each with its help text."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_connection_flags(parser, "grpc")
    add_predict_flags(parser)
    return parser


def main() -> None:
    run_predict(build_parser().parse_args(), "grpc")


if __name__ == "__main__":
    main()
