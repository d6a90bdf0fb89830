"""Latency histograms with HdrHistogram's buckets, kept sparse.

An HdrHistogram of 1 us to 1 h at 3 significant digits is a dense array of
23,552 counts (184 KiB), and hdrh takes about a millisecond to encode or
decode one. Kept per channel and metric and shipped once a second, that cost
the harness its memory and stalled every connection of the process while it
ran (docs/performance.md). A :class:`Histogram` holds only the buckets that
have samples: a dict from each bucket's lowest value to its count.

The buckets are hdrh's own (``lowest=1, highest=1 h, digits=3``): below
2,048 us every microsecond is a bucket, above it a bucket spans 1/2,048 of its
power of two. So every figure here (count, min, mean, percentiles, max)
equals what hdrh computes from the same samples, and :meth:`Histogram.to_hdr`
gives the hdrh histogram whose encoding the ``.hlog`` files carry.
"""

from __future__ import annotations

import math
import zlib
from array import array
from collections import Counter
from collections.abc import Iterable

from hdrh.histogram import HdrHistogram

from harness.measure.schema import LatencyFigures

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_DIGITS = 3
PACK_LEVEL = 1
"""zlib's fastest level: bucket numbers and counts compress well enough at it."""
SUB_BUCKET_BITS = 11
"""2,048 sub-buckets per power of two: what 3 significant digits need."""
_LOW_BITS = (1 << SUB_BUCKET_BITS) - 1
PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def clamp_us(latency_us: float) -> int | None:
    """A latency rounded to whole microseconds and clamped into the histogram's range
    (a clock step can make one <= 0); ``None`` for a value that is not finite."""
    if not math.isfinite(latency_us):
        return None
    return min(HIGHEST_US, max(LOWEST_US, round(latency_us)))


def bucket_of(value_us: int) -> int:
    """The lowest value of the bucket that holds ``value_us`` (hdrh's lowest
    equivalent value)."""
    shift = (value_us | _LOW_BITS).bit_length() - SUB_BUCKET_BITS
    return value_us >> shift << shift


def bucket_width(bucket: int) -> int:
    return 1 << ((bucket | _LOW_BITS).bit_length() - SUB_BUCKET_BITS)


def highest_equivalent(bucket: int) -> int:
    """The highest value of the bucket whose lowest value is ``bucket``."""
    return bucket + bucket_width(bucket) - 1


class Histogram:
    """Latency counts in microseconds, one entry per bucket that holds samples."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        """Lowest value of a bucket to its count."""
        self.total = 0

    def record(self, latency_us: float, count: int = 1) -> None:
        value = clamp_us(latency_us)
        if value is not None:
            bucket = bucket_of(value)
            self.counts[bucket] = self.counts.get(bucket, 0) + count
            self.total += count

    def record_samples(self, samples: Iterable[float]) -> None:
        """Record many latencies; equal values are counted together first (in C)."""
        counts = self.counts
        for latency_us, count in Counter(samples).items():
            value = clamp_us(latency_us)
            if value is not None:
                bucket = bucket_of(value)
                counts[bucket] = counts.get(bucket, 0) + count
                self.total += count

    def add(self, other: Histogram) -> None:
        counts = self.counts
        for bucket, count in other.counts.items():
            counts[bucket] = counts.get(bucket, 0) + count
        self.total += other.total

    def get_total_count(self) -> int:
        return self.total

    def get_min_value(self) -> int:
        return min(self.counts) if self.counts else 0

    def get_max_value(self) -> int:
        return highest_equivalent(max(self.counts)) if self.counts else 0

    def get_percentile_to_value_dict(self, percentiles: Iterable[float]) -> dict[float, int]:
        """hdrh's figure for each percentile: the highest value of the first bucket whose
        cumulative count reaches ``percentile * count / 100`` rounded (at least 1)."""
        wanted = sorted(set(percentiles))
        result: dict[float, int] = {}
        if not self.total:
            return result
        targets = [(p, max(1, int(min(p, 100.0) * self.total / 100 + 0.5))) for p in wanted]
        seen = 0
        index = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            while index < len(targets) and seen >= targets[index][1]:
                percentile = targets[index][0]
                result[percentile] = highest_equivalent(bucket) if percentile else bucket
                index += 1
            if index == len(targets):
                break
        return result

    def counts_up_to(self, bounds_us: Iterable[int]) -> list[int]:
        """For each bound, how many samples are at most that many microseconds (a sample
        counts at its bucket's lowest value): a Prometheus histogram's cumulative buckets."""
        buckets = sorted(self.counts.items())
        counted: list[int] = []
        seen = 0
        index = 0
        for bound in sorted(bounds_us):
            while index < len(buckets) and buckets[index][0] <= bound:
                seen += buckets[index][1]
                index += 1
            counted.append(seen)
        return counted

    def mean_us(self) -> float:
        """hdrh's mean: each bucket counted at its middle."""
        weighted = sum((b + (bucket_width(b) >> 1)) * c for b, c in self.counts.items())
        return weighted / self.total if self.total else 0.0

    def to_wire(self) -> list[int]:
        """``[bucket, count, bucket, count, ...]``: compact in a worker's report."""
        return [value for item in self.counts.items() for value in item]

    @classmethod
    def from_wire(cls, flat: list[int]) -> Histogram:
        histogram = cls()
        counts = histogram.counts
        for index in range(0, len(flat), 2):
            bucket = flat[index]
            counts[bucket] = counts.get(bucket, 0) + flat[index + 1]
        histogram.total = sum(counts.values())
        return histogram

    def pack(self) -> bytes:
        """The counts, packed and compressed: a histogram that will not change again,
        kept in a twentieth of its memory (:meth:`unpack` gives it back)."""
        return zlib.compress(array("q", self.to_wire()).tobytes(), PACK_LEVEL)

    @classmethod
    def unpack(cls, packed: bytes) -> Histogram:
        return cls.from_wire(array("q", zlib.decompress(packed)).tolist())

    def to_hdr(self) -> HdrHistogram:
        """The same counts as an hdrh histogram (for its encoding in ``.hlog`` files)."""
        hdr = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
        for bucket, count in self.counts.items():
            hdr.record_value(bucket, count)
        return hdr

    def encode(self) -> bytes:
        """hdrh's compressed V2 encoding (base64), as the ``.hlog`` format carries it."""
        encoded: bytes = self.to_hdr().encode()
        return encoded


def percentiles_ms(histogram: Histogram) -> LatencyFigures:
    """Count, min, mean, p50, p90, p99, p99.9 and max, in milliseconds (us precision)."""
    count = histogram.total
    if count == 0:
        return {"count": 0}
    values = histogram.get_percentile_to_value_dict(PERCENTILES)
    return {
        "count": count,
        "min": histogram.get_min_value() / 1000.0,
        "mean": round(histogram.mean_us() / 1000.0, 3),
        "p50": values[50.0] / 1000.0,
        "p90": values[90.0] / 1000.0,
        "p99": values[99.0] / 1000.0,
        "p99.9": values[99.9] / 1000.0,
        "max": histogram.get_max_value() / 1000.0,
    }
