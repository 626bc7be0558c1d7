"""Histogram observers: ``percentile``, ``mse`` and ``entropy`` ranges from a bounded histogram.

Pipeline position: part of calibration. ``edgec.quantize.observers`` imports this module so
that these methods are in its registry. Each observer keeps one ``HistogramCollector``, so
memory per tensor is one int64 array of ``bins`` counts, whatever the number of samples.

Fallbacks shared by all three (``HistogramObserver.range``): no value seen gives (0, 0). A
tensor whose values are all equal (a constant or all-zero tensor, or a single sample of
one value) gives (value, value), which ``activation_quant`` widens to contain 0 and gives
its fallback scale when the width stays 0. Any other result is clamped into the observed
[min, max], and a result that is still not a finite range with min <= max is replaced by the
observed [min, max].

To add a histogram method, subclass ``HistogramObserver``, implement ``search_range`` and
register the class with ``@register_observer``.
"""

from __future__ import annotations

import math

import numpy as np

from edgec.quantize.observers import Observer, integer_option, number_option, register_observer
from edgec.quantize.params import INT8_MAX, INT8_MIN, activation_quant

DEFAULT_BINS = 2048
MAX_BINS = 1 << 16


class HistogramCollector:
    """Counts of all values seen in a fixed number of equal bins over a range that grows.

    The first sample sets the range to its own [min, max]. When a later sample falls outside,
    the bins from the one containing min to the one containing max are kept. The range moves
    by whole bins, and if the values no longer fit, the bin width grows by an integer factor
    k >= 2, so every old bin lies inside exactly one new bin. Merging thus keeps the counts
    exact: they equal a histogram of all values on the new edges, up to values on a bin edge.
    The cost is resolution: after a growth by k >= 2 the values span a bit more than half of
    the bins, at worst. (onnxruntime 1.32's HistogramCollector keeps the bin width and adds
    bins instead. PyTorch's HistogramObserver interpolates the old histogram onto the new
    bins, which smooths it.) A range that grows more than bins**2 times at once moves the old
    counts into one bin.

    Exact zeros are counted in ``zero_count`` and not in ``counts``, because the int8
    activation quantizer represents 0 exactly, so zeros never add quantization error.
    ``min``, ``max`` and ``total`` are exact.
    """

    def __init__(self, bins: int = DEFAULT_BINS) -> None:
        self.bins = bins
        self.counts = np.zeros(bins, dtype=np.int64)
        self.low = 0.0
        self.width = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.total = 0
        self.zero_count = 0

    @property
    def high(self) -> float:
        return self.low + self.bins * self.width

    def edges(self) -> np.ndarray:
        return self.low + self.width * np.arange(self.bins + 1, dtype=np.float64)

    def centres(self) -> np.ndarray:
        return self.low + self.width * (np.arange(self.bins, dtype=np.float64) + 0.5)

    def update(self, values: np.ndarray) -> None:
        """Add finite ``values`` (any shape) to the histogram, growing its range if needed."""
        values = np.asarray(values, dtype=np.float64).ravel()
        if values.size == 0:
            return
        value_min = float(values.min())
        value_max = float(values.max())
        if self.total == 0:
            self._place(value_min, (value_max - value_min) / self.bins, value_max)
        elif value_min < self.low or value_max > self.high:
            self._grow(min(value_min, self.min), max(value_max, self.max))

        nonzero = values[values != 0.0]
        self.counts += np.bincount(self.bin_indices(nonzero), minlength=self.bins)
        self.zero_count += values.size - nonzero.size
        self.total += values.size
        self.min = min(self.min, value_min)
        self.max = max(self.max, value_max)

    def bin_indices(self, values: np.ndarray) -> np.ndarray:
        """Return the bin of each value; values outside the range go to the first or last bin."""
        if self.width == 0.0:
            return np.zeros(values.shape, dtype=np.int64)
        positions = np.floor((values - self.low) / self.width)
        return np.clip(positions, 0, self.bins - 1).astype(np.int64)

    def counts_with_zeros(self) -> np.ndarray:
        """Return the histogram of all values, exact zeros included in the bin containing 0."""
        counts = self.counts.copy()
        if self.zero_count:
            counts[self.bin_indices(np.zeros(1))[0]] += self.zero_count
        return counts

    def quantile(self, fraction: float) -> float:
        """Return the value below which ``fraction`` of all values lie (error within a bin).

        Values are taken as uniform inside a bin, and the result is clamped to [min, max].
        """
        counts = self.counts_with_zeros()
        cumulative = np.cumsum(counts)
        target = fraction * self.total
        index = min(int(np.searchsorted(cumulative, target, side="left")), self.bins - 1)
        before = cumulative[index] - counts[index]
        inside = (target - before) / counts[index] if counts[index] else 0.0
        value = self.low + (index + min(max(inside, 0.0), 1.0)) * self.width
        return min(max(value, self.min), self.max)

    def absolute_histogram(self) -> tuple[np.ndarray, float]:
        """Return the counts of |x| over the non-zero values, in ``bins`` bins from 0 to max|x|.

        Also returns the bin width. The values are taken as uniform inside each source bin: the
        folded cumulative count at t >= 0 is C(t) - C(-t), C being the piecewise linear
        cumulative count of the signed histogram. Requires min < max.
        """
        limit = max(abs(self.min), abs(self.max))
        cumulative = np.concatenate(([0.0], np.cumsum(self.counts, dtype=np.float64)))
        edges = self.edges()
        targets = np.linspace(0.0, limit, self.bins + 1)
        folded = np.interp(targets, edges, cumulative) - np.interp(-targets, edges, cumulative)
        return np.maximum(np.diff(folded), 0.0), limit / self.bins

    def _place(self, low: float, width: float, value_max: float) -> None:
        """Set the range start and bin width, widening by ulps until ``value_max`` is covered."""
        self.low = low
        while low + self.bins * width < value_max:
            width = math.nextafter(width, math.inf)
        self.width = width

    def _grow(self, new_min: float, new_max: float) -> None:
        """Re-bin so that the range contains [new_min, new_max], the extremes of all values."""
        width = self.width
        if width == 0.0:
            # A zero-width histogram is one point, so moving its count is exact.
            self._move_as_point(self.low, new_min, new_max)
            return
        # Only the bins from the one containing min to the one containing max have counts.
        first, last = (int(index) for index in self.bin_indices(np.array([self.min, self.max])))
        occupied_low = self.low + first * width
        occupied_high = self.low + (last + 1) * width
        growth = max(occupied_low - new_min, new_max - occupied_high) / width
        if not growth <= self.bins * self.bins:
            # The old values fit in at most two of the new bins, so moving them as one point
            # at their centre is off by less than one new bin.
            self._move_as_point((self.min + self.max) / 2, new_min, new_max)
            return

        # In old bin widths, the occupied bins plus `below` and `above` new ones must fit in
        # bins * factor. The spare room goes to the side (or both sides) that grew, because
        # later samples are likeliest to grow the range there again.
        below = max(math.ceil((occupied_low - new_min) / width), 0)
        above = max(math.ceil((new_max - occupied_high) / width), 0)
        needed = (last - first + 1) + below + above
        factor = -(-needed // self.bins)
        spare = factor * self.bins - needed
        if below and above:
            offset = below + spare // 2
        elif below:
            offset = below + spare
        else:
            offset = 0
        targets = (np.arange(last - first + 1, dtype=np.int64) + offset) // factor
        counts = np.zeros(self.bins, dtype=np.int64)
        np.add.at(counts, targets, self.counts[first : last + 1])
        self.counts = counts
        self._place(min(occupied_low - offset * width, new_min), factor * width, new_max)

    def _move_as_point(self, point: float, new_min: float, new_max: float) -> None:
        """Spread the bins evenly over [new_min, new_max] with every count in the bin of ``point``."""
        count = int(self.counts.sum())
        self._place(new_min, (new_max - new_min) / self.bins, new_max)
        self.counts = np.zeros(self.bins, dtype=np.int64)
        self.counts[self.bin_indices(np.array([point]))[0]] = count


class HistogramObserver(Observer):
    """Base of the histogram methods: collects, then searches the histogram once in range()."""

    MIN_BINS = 16

    def __init__(self, bins: int) -> None:
        bins = integer_option(self.method, "bins", bins, self.MIN_BINS, MAX_BINS)
        self.histogram = HistogramCollector(bins)

    def update(self, values: np.ndarray) -> None:
        self.histogram.update(values)

    def range(self) -> tuple[float, float]:
        histogram = self.histogram
        if histogram.total == 0:
            return 0.0, 0.0
        if histogram.min == histogram.max:
            return histogram.min, histogram.max
        low, high = self.search_range(histogram)
        if not (math.isfinite(low) and math.isfinite(high)):
            return histogram.min, histogram.max
        low = min(max(float(low), histogram.min), histogram.max)
        high = min(max(float(high), histogram.min), histogram.max)
        if low > high:
            return histogram.min, histogram.max
        return low, high

    def search_range(self, histogram: HistogramCollector) -> tuple[float, float]:
        """Return the range for a histogram with at least two distinct values."""
        raise NotImplementedError(f"{type(self).__name__} does not implement search_range()")


@register_observer("percentile")
class PercentileObserver(HistogramObserver):
    """Range that keeps ``percentile`` percent of the values on each side that has values.

    The high bound is the ``percentile``-th percentile when the tensor has positive values,
    else the max. The low bound is the (100 - ``percentile``)-th percentile when it has
    negative values, else the min. So a ReLU output loses only its top tail, and a two-sided
    tensor loses up to 2 * (100 - percentile) percent. ``percentile`` is in (50, 100], and 100
    gives the min-max range. Percentiles come from the histogram, within one bin width.
    """

    def __init__(self, percentile: float = 99.99, bins: int = DEFAULT_BINS) -> None:
        super().__init__(bins)
        self.percentile = number_option(
            self.method, "percentile", percentile, 50.0, 100.0, low_open=True
        )

    def search_range(self, histogram: HistogramCollector) -> tuple[float, float]:
        tail = 1.0 - self.percentile / 100.0
        low = histogram.quantile(tail) if histogram.min < 0.0 else histogram.min
        high = histogram.quantile(1.0 - tail) if histogram.max > 0.0 else histogram.max
        return low, high


@register_observer("mse")
class MseObserver(HistogramObserver):
    """Range whose int8 quantization has the smallest expected squared error over the histogram.

    Candidates shrink each side of the observed range widened to contain 0: the low bound
    takes ``steps`` fractions k / steps (k = 1 .. steps) of min(min, 0), the high bound the
    same fractions of max(max, 0), and every pair is tried. A side without values stays at 0,
    so a ReLU output tries ``steps`` candidates and a two-sided tensor ``steps ** 2``, each one
    ``activation_quant`` call (0.1 s per two-sided tensor at 100 steps on a Xeon core).

    Each candidate is quantized with ``activation_quant``, the quantizer's own function, and
    its representable interval [scale * (-128 - zero_point), scale * (127 - zero_point)]
    is what clips. The error of a bin, taken at its centre, is the squared distance to that
    interval for bins outside it and ``scale ** 2 / 12`` per value (uniform rounding error)
    for bins inside. Exact zeros have no error in any candidate and are left out. Ties keep
    the larger low fraction, then the larger high fraction, so a tie with the observed range
    keeps the observed range.
    """

    def __init__(self, bins: int = DEFAULT_BINS, steps: int = 100) -> None:
        super().__init__(bins)
        self.steps = integer_option(self.method, "steps", steps, 2, 1000)

    def search_range(self, histogram: HistogramCollector) -> tuple[float, float]:
        fractions = np.arange(self.steps, 0, -1, dtype=np.float64) / self.steps
        lows = fractions * histogram.min if histogram.min < 0.0 else np.zeros(1)
        highs = fractions * histogram.max if histogram.max > 0.0 else np.zeros(1)
        pairs = [(float(low), float(high)) for low in lows for high in highs]
        scales, clip_lows, clip_highs = self._clip_intervals(pairs)
        errors = _expected_squared_errors(histogram, scales, clip_lows, clip_highs)
        return pairs[int(np.argmin(errors))]

    @staticmethod
    def _clip_intervals(
        pairs: list[tuple[float, float]],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the scale and representable interval of ``activation_quant`` for each pair."""
        scales = np.empty(len(pairs))
        zero_points = np.empty(len(pairs))
        for index, (low, high) in enumerate(pairs):
            quant = activation_quant(low, high)
            scales[index] = float(quant.scale[0])
            zero_points[index] = int(quant.zero_point[0])
        return scales, scales * (INT8_MIN - zero_points), scales * (INT8_MAX - zero_points)


def _expected_squared_errors(
    histogram: HistogramCollector,
    scales: np.ndarray,
    clip_lows: np.ndarray,
    clip_highs: np.ndarray,
) -> np.ndarray:
    """Return the squared quantization error summed over the non-zero values, per candidate.

    Sums of n, n*x and n*x**2 over the bins below or above a clip bound c give the clipping
    error sum(n * (x - c)**2) of each candidate without a loop over bins.
    """
    centres = histogram.centres()
    counts = histogram.counts.astype(np.float64)
    moments = [counts, counts * centres, counts * centres**2]
    zero = np.zeros(1)
    prefix = [np.concatenate((zero, np.cumsum(moment))) for moment in moments]
    suffix = [np.concatenate((np.cumsum(moment[::-1])[::-1], zero)) for moment in moments]

    below = np.searchsorted(centres, clip_lows, side="left")
    above = np.searchsorted(centres, clip_highs, side="right")
    clip_below = (
        prefix[2][below] - 2 * clip_lows * prefix[1][below] + clip_lows**2 * prefix[0][below]
    )
    clip_above = (
        suffix[2][above] - 2 * clip_highs * suffix[1][above] + clip_highs**2 * suffix[0][above]
    )
    inside = prefix[0][above] - prefix[0][below]
    # The expanded squares can come out slightly negative from float cancellation.
    return np.maximum(clip_below, 0.0) + np.maximum(clip_above, 0.0) + inside * scales**2 / 12


@register_observer("entropy")
class EntropyObserver(HistogramObserver):
    """Threshold with the smallest KL divergence: the KL search of TensorRT's int8 calibration.

    Symmetric: the search runs on the histogram of |x| (``bins`` bins from 0 to max|x|) and
    finds one threshold t at a bin's upper edge. For each candidate t, the reference
    distribution P is the |x| histogram cut at t, with the clipped tail added to its last bin.
    The candidate Q merges the cut histogram (without the tail) into ``levels`` groups of
    adjacent bins and spreads each group's count evenly over the bins where P is non-zero.
    The t with the smallest KL(P || Q) wins. Candidates where Q is 0 but P is not are skipped,
    where onnxruntime 1.32 (quantization/calibrate.py) smooths P and Q instead.

    A tensor with both signs uses 128 levels, because an int8 range about symmetric around 0
    spends about 128 codes per side, and gets (max(min, -t), min(max, t)). A one-sided tensor
    (all >= 0 such as a ReLU output, or all <= 0) uses 256 levels, because all int8 codes
    then cover [0, t], and gets (min, t) or (-t, max). Exact zeros, the large spike of a ReLU
    output, are left out of P and Q because 0 is represented exactly. Kept, the spike favours
    small t: on ReLU(N(0, 1)) with 200k values t drops from 4.1 to 1.8.

    The candidates start ``levels`` bins above the first non-empty bin, where onnxruntime
    1.32 counts from 0. The keyword_spotting input is 0 or >= 33, with max 166. A cut inside
    that gap leaves P one non-empty bin with KL 0, so a search from 0 picked t = 33 and
    clipped half the values.

    When no candidate has a finite divergence, the range is the observed min and max.
    ``bins`` must be >= 512, so that there are candidates above 256 levels. The search costs
    O(bins ** 2) per tensor: 0.05 to 0.1 s at 2048 bins on a Xeon core.
    """

    MIN_BINS = 512

    def __init__(self, bins: int = DEFAULT_BINS) -> None:
        super().__init__(bins)

    def search_range(self, histogram: HistogramCollector) -> tuple[float, float]:
        one_sided = histogram.min >= 0.0 or histogram.max <= 0.0
        levels = 256 if one_sided else 128
        counts, width = histogram.absolute_histogram()
        end = kl_threshold_bin(counts, levels)
        if end is None:
            return histogram.min, histogram.max
        threshold = end * width
        return max(histogram.min, -threshold), min(histogram.max, threshold)


def kl_threshold_bin(counts: np.ndarray, levels: int) -> int | None:
    """Return the bin count ``end`` whose cut of ``counts`` minimises KL(P || Q).

    ``EntropyObserver`` defines P and Q. Candidates run from ``levels`` bins above the first
    non-empty bin (at most ``len(counts)``) up to ``len(counts)``. Returns None when no
    candidate has a finite divergence, for example for an empty histogram or fewer bins than
    ``levels``.
    """
    counts = np.asarray(counts, dtype=np.float64)
    bins = counts.size
    if bins < levels or counts.sum() <= 0.0:
        return None
    first = int(np.flatnonzero(counts)[0])
    tail = np.concatenate((np.cumsum(counts[::-1])[::-1], np.zeros(1)))
    best_end, best_divergence = None, math.inf
    for end in range(min(first + levels, bins), bins + 1):
        inside = counts[:end]
        reference = inside.copy()
        reference[-1] += tail[end]
        nonzero = reference > 0.0
        groups = np.arange(end) * levels // end
        group_counts = np.bincount(groups, weights=inside, minlength=levels)
        group_sizes = np.bincount(groups, weights=nonzero, minlength=levels)
        candidate = (group_counts / np.maximum(group_sizes, 1.0))[groups][nonzero]
        if not np.all(candidate > 0.0):
            continue
        p = reference[nonzero] / reference.sum()
        q = candidate / candidate.sum()
        divergence = float(np.sum(p * np.log(p / q)))
        if divergence < best_divergence:
            best_end, best_divergence = end, divergence
    return best_end
