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
    # throughput against another contender: the ratio a server reaching the in-process limit
    # would get, so a target above it is out of reach for any server in this run
    ceiling: float | None = None

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


def _limit(results: dict, model: str, _key: str) -> float | None:
    """The higher of the two in-process limits (a: AsyncInferQueue, a2: threads)."""
    figures = [f for f in (best_throughput(results, model, k) for k in ("a", "a2")) if f is not None]
    return max(figures, default=None)


_BEST, _P50 = best_throughput, p50_at_1
# (text, model, (figure, contender), (figure, reference contender), limit, at_most)
_TABLE = [
    (
        "gRPC `cnn` best throughput / in-process limit (best of a, a2) >= 0.90",
        "cnn",
        (_BEST, "c"),
        (_limit, ""),
        0.90,
        False,
    ),
    ("gRPC `tiny` p50 at concurrency 1 / bare grpcio echo p50 <= 1.5", "tiny", (_P50, "c"), (_P50, "b"), 1.5, True),
    ("REST row `cnn` best throughput / naive Flask >= 2", "cnn", (_BEST, "d-row"), (_BEST, "g"), 2.0, False),
    ("REST row `cnn` best throughput / KServe v1 >= 1.5", "cnn", (_BEST, "d-row"), (_BEST, "f"), 1.5, False),
    ("/invocations x-npy `cnn` p50 at concurrency 1 / gRPC p50 <= 1.2", "cnn", (_P50, "e-npy"), (_P50, "c"), 1.2, True),
    ("v2 gRPC `cnn` best throughput / TF Serving API gRPC >= 0.95", "cnn", (_BEST, "c-v2"), (_BEST, "c"), 0.95, False),
    (
        "v2 REST binary `cnn` p50 at concurrency 1 / v2 gRPC p50 <= 1.2",
        "cnn",
        (_P50, "d-v2bin"),
        (_P50, "c-v2"),
        1.2,
        True,
    ),
    (
        "v2 REST JSON `cnn` best throughput / KServe v2 JSON >= 1.5",
        "cnn",
        (_BEST, "d-v2json"),
        (_BEST, "f-v2"),
        1.5,
        False,
    ),
    (
        "/invocations x-npy `tiny` p50 at concurrency 1 / gRPC p50 <= 1.2",
        "tiny",
        (_P50, "e-npy"),
        (_P50, "c"),
        1.2,
        True,
    ),
]


def evaluate(results: dict) -> list[Target]:
    """Every target with its measured ratio (or figure) from one run."""
    targets = [
        Target(
            text,
            _ratio(f(results, model, key), g(results, model, ref)),
            limit,
            at_most,
            _ratio(_limit(results, model, ""), g(results, model, ref)) if f is _BEST and g is _BEST else None,
        )
        for text, model, (f, key), (g, ref), limit, at_most in _TABLE
    ]
    startup = results.get("startup", {})
    return [
        *targets,
        Target("start-up to first Predict on `tiny` (s) <= 2", startup.get("first_predict_s"), 2.0, True),
        Target("RSS serving `tiny`, gRPC only (MiB) <= 200", startup.get("rss_tiny_grpc_mib"), 200.0, True),
    ]
