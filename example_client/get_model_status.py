"""Print the state of every version of a model (ModelService/GetModelStatus over gRPC, or
GET /v1/models/NAME over REST):

    python example_client/get_model_status.py --model_name demo                     # gRPC :9000
    python example_client/get_model_status.py --model_name demo --protocol rest     # REST :8501

Exits 1 unless some version is AVAILABLE (or the one asked for with --model_version is).
"""

from __future__ import annotations

import argparse
import sys

from common import Client, add_connection_flags


def build_parser() -> argparse.ArgumentParser:
    """Every flag of this script, each with its help text."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_connection_flags(parser)
    return parser


def main() -> int:
    args = build_parser().parse_args()
    statuses = Client(args).status()
    for version, state, code, message in statuses:
        print(f"version {version}: {state} ({code}{': ' + message if message else ''})")
    return 0 if any(state == "AVAILABLE" for _, state, _, _ in statuses) else 1


if __name__ == "__main__":
    sys.exit(main())
