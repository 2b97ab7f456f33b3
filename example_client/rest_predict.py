"""Predict over REST (POST /v1/models/NAME:predict) and print what came back.

Reads the model's metadata first, then sends numpy inputs from .npy files or random data of
the model's shape as JSON, in TF Serving's row ("instances") or column ("inputs") format,
timing every request:

    python example_client/rest_predict.py --rest_url http://localhost:8501 --model_name demo \\
        --batch_size 4 --iterations 10 --format row
"""

from __future__ import annotations

import argparse

from common import add_connection_flags, add_predict_flags, run_predict


def build_parser() -> argparse.ArgumentParser:
    """Every flag of this script, each with its help text."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_connection_flags(parser, "rest")
    add_predict_flags(parser)
    parser.add_argument(
        "--format",
        choices=("row", "column"),
        default="column",
        help='JSON request format: column {"inputs": ...} (default) or row {"instances": [...]}',
    )
    return parser


def main() -> None:
    args = build_parser().parse_args()
    run_predict(args, "rest", args.format)


if __name__ == "__main__":
    main()
