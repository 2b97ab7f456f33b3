"""Cumulative histograms counted where the work happens and read when metrics are scraped
(no prometheus-client import: engine-side modules count, metrics.py writes the text)."""

from __future__ import annotations

import bisect
import dataclasses


def exponential(scale: float, growth: float, count: int) -> tuple[float, ...]:
    """tensorflow/core/lib/monitoring/sampler.cc ExponentialBuckets: scale x growth^i, computed
    by repeated multiplication as TF does (the same doubles); TF adds DBL_MAX, printed +Inf."""
    limits, bound = [], scale
    for _ in range(count):
        limits.append(bound)
        bound *= growth
    return tuple(limits)


@dataclasses.dataclass(frozen=True)
class HistogramSnapshot:
    """Counts at or under each limit (cumulative), the count of all and their sum."""

    limits: tuple[float, ...]
    cumulative: tuple[int, ...]
    count: int = 0
    total: float = 0.0

    def __add__(self, other: HistogramSnapshot) -> HistogramSnapshot:
        return HistogramSnapshot(
            self.limits,
            tuple(a + b for a, b in zip(self.cumulative, other.cumulative, strict=True)),
            self.count + other.count,
            self.total + other.total,
        )


class Histogram:
    """Values counted into buckets (value <= limit, as Prometheus' `le`); not thread-safe: the
    owner counts under its own lock."""

    def __init__(self, limits: tuple[float, ...]):
        self.limits = limits
        self._buckets = [0] * (len(limits) + 1)
        self._total = 0.0

    def observe(self, value: float) -> None:
        self._buckets[bisect.bisect_left(self.limits, value)] += 1
        self._total += value

    def snapshot(self) -> HistogramSnapshot:
        cumulative, running = [], 0
        for count in self._buckets[:-1]:
            running += count
            cumulative.append(running)
        return HistogramSnapshot(self.limits, tuple(cumulative), sum(self._buckets), self._total)
