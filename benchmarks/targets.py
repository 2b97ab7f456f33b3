"""The issue's targets as ratios computed from one run's results."""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class Target:
    text: str
    ratio: float | None  # None: a figure is missing
    limit: float
    at_most: bool  # True: ratio <= limit is met; False: ratio >= limit

    @property
    def met(self) -> bool | None:
        if self.ratio is None or math.isnan(self.ratio):
            return None
        return self.ratio <= self.limit if self.at_most else self.ratio >= self.limit


def _points(results: dict, model: str, key: str) -> list[dict]:
    return results["models"].get(model, {}).get(key, {}).get("points", [])


def best_throughput(results: dict, model: str, key: str) -> float | None:
    points = [p for p in _points(results, model, key) if not p["errors"]]
    return max((p["throughput"] for p in points), default=None)


def p50_at_1(results: dict, model: str, key: str) -> float | None:
    return next((p["p50"] for p in _points(results, model, key) if p["concurrency"] == 1), None)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


# (text, figure, model, contender, reference contender or None, limit, at_most)
_TABLE = [
    (
        "gRPC `cnn` throughput (best concurrency) / in-process OpenVINO limit >= 0.90",
        "best",
        "cnn",
        "c",
        "a",
        0.90,
        False,
    ),
    ("gRPC `tiny` p50 at concurrency 1 / bare grpcio echo p50 <= 1.5", "p50", "tiny", "c", "b", 1.5, True),
    ("REST row `cnn` throughput / naive Flask >= 2", "best", "cnn", "d-row", "g", 2.0, False),
    ("REST row `cnn` throughput / KServe v1 >= 1.5", "best", "cnn", "d-row", "f", 1.5, False),
    ("/invocations x-npy `cnn` p50 at concurrency 1 / gRPC p50 <= 1.2", "p50", "cnn", "e-npy", "c", 1.2, True),
    ("/invocations x-npy `tiny` p50 at concurrency 1 / gRPC p50 <= 1.2", "p50", "tiny", "e-npy", "c", 1.2, True),
]
_FIGURES = {"best": best_throughput, "p50": p50_at_1}


def evaluate(results: dict) -> list[Target]:
    """Every target with its measured ratio (or figure) from one run."""
    targets = [
        Target(text, _ratio(_FIGURES[f](results, model, key), _FIGURES[f](results, model, ref)), limit, at_most)
        for text, f, model, key, ref, limit, at_most in _TABLE
    ]
    startup = results.get("startup", {})
    return [
        *targets,
        Target("start-up to first Predict on `tiny` (s) <= 2", startup.get("first_predict_s"), 2.0, True),
        Target("RSS serving `tiny`, gRPC only (MiB) <= 200", startup.get("rss_tiny_grpc_mib"), 200.0, True),
    ]
