"""Calibration observers: per-tensor statistics that become a float range.

``collect_ranges`` creates one observer per float activation with ``make_observer``, passes it
that tensor's values for every calibration sample, and then calls its ``range()``. The
quantizer turns ranges into scales and zero points, so an observer decides only how outliers
are treated.

Methods: ``minmax`` and ``moving_minmax`` live here. The histogram methods ``percentile``,
``mse`` and ``entropy`` live in ``edgec.quantize.observers_histogram``, which this module
imports at its end so that importing the registry registers every built-in method.

Invariants: an observer must not keep the arrays it receives (the built-in ones keep none), so
memory stays bounded by one sample's activations plus a fixed size per tensor. ``range()``
returns finite bounds with ``min <= max`` inside the observed ``[min, max]``, or
``(0.0, 0.0)`` if no value was seen.

To add a method, subclass ``Observer``, take its options as keyword arguments of
``__init__`` with defaults (``make_observer`` reads the valid option names from that
signature), check their values with ``number_option`` / ``integer_option``, and decorate the
class with ``@register_observer("name")``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np

from edgec.errors import CalibrationError

OBSERVERS: dict[str, type[Observer]] = {}


def register_observer(name: str) -> Callable[[type[Observer]], type[Observer]]:
    """Decorator: register an ``Observer`` subclass under ``name``."""

    def wrap(cls: type[Observer]) -> type[Observer]:
        cls.method = name
        OBSERVERS[name] = cls
        return cls

    return wrap


class Observer:
    """Accumulates the values of one tensor over calibration samples."""

    # Registered method name, set by register_observer and used in option error messages.
    method = "observer"

    def update(self, values: np.ndarray) -> None:
        """Add one sample's values, which ``collect_ranges`` has checked to be finite."""
        raise NotImplementedError(f"{type(self).__name__} does not implement update()")

    def range(self) -> tuple[float, float]:
        """Return the range to quantize, ``(0.0, 0.0)`` if no value was seen."""
        raise NotImplementedError(f"{type(self).__name__} does not implement range()")


def method_options(method: str) -> dict[str, Any]:
    """Return the options of calibration ``method`` with their default values.

    Raises CalibrationError for an unknown method, listing the registered ones.
    """
    if method not in OBSERVERS:
        raise CalibrationError(
            f"unknown calibration method '{method}'; expected one of {sorted(OBSERVERS)}"
        )
    signature = inspect.signature(OBSERVERS[method].__init__)
    keyword_kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {
        name: parameter.default
        for name, parameter in signature.parameters.items()
        if name != "self" and parameter.kind in keyword_kinds
    }


def make_observer(method: str, options: Mapping[str, Any] | None = None) -> Observer:
    """Create the observer of calibration ``method`` configured with keyword ``options``.

    Raises CalibrationError for an unknown method or option name (listing the valid ones) and
    for an option value outside its valid range.
    """
    valid = method_options(method)
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise CalibrationError(
            f"calibration method '{method}': options must be a mapping of option name to "
            f"value, got {type(options).__name__}"
        )
    unknown = sorted(set(options) - set(valid))
    if unknown:
        listed = ", ".join(f"'{name}'" for name in unknown)
        expected = f"valid options: {sorted(valid)}" if valid else "it takes no options"
        raise CalibrationError(
            f"unknown option {listed} for calibration method '{method}'; {expected}"
        )
    return OBSERVERS[method](**options)


def number_option(
    method: str,
    option: str,
    value: Any,
    low: float,
    high: float,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float if it is a real number in the interval from low to high.

    ``low_open`` / ``high_open`` exclude that end. Raises CalibrationError naming the method,
    the option, the value and the valid interval.
    """
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    valid = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if valid:
        above_low = value > low if low_open else value >= low
        below_high = value < high if high_open else value <= high
        valid = above_low and below_high
    if not valid:
        raise CalibrationError(
            f"calibration method '{method}': option '{option}' is {value!r}; expected a "
            f"number in {interval}"
        )
    return float(value)


def integer_option(method: str, option: str, value: Any, low: int, high: int) -> int:
    """Return ``value`` if it is an integer in ``[low, high]``, else raise CalibrationError."""
    if isinstance(value, bool) or not isinstance(value, Integral) or not low <= value <= high:
        raise CalibrationError(
            f"calibration method '{method}': option '{option}' is {value!r}; expected an "
            f"integer in [{low}, {high}]"
        )
    return int(value)


@register_observer("minmax")
class MinMaxObserver(Observer):
    """Range from the smallest to the largest value seen over all samples."""

    def __init__(self) -> None:
        self.min = np.inf
        self.max = -np.inf

    def update(self, values: np.ndarray) -> None:
        if values.size == 0:
            return
        self.min = min(self.min, float(values.min()))
        self.max = max(self.max, float(values.max()))

    def range(self) -> tuple[float, float]:
        if self.min > self.max:
            return 0.0, 0.0
        return self.min, self.max


@register_observer("moving_minmax")
class MovingMinMaxObserver(Observer):
    """Exponential moving average of each sample's min and max.

    The first sample sets the range. Each later sample updates
    ``min = momentum * min + (1 - momentum) * sample_min`` and the same for max, as PyTorch's
    ``MovingAverageMinMaxObserver`` does with ``averaging_constant = 1 - momentum``.
    ``momentum`` is in [0, 1), and 0 keeps only the last sample. Each bound is a weighted mean
    of per-sample bounds, and float rounding is monotonic, so the range stays inside the
    observed min and max and min <= max. Empty samples are skipped.

    NOTE: the mean of per-sample extremes is narrower than the extremes over all samples, so
    this clips more than minmax. On the image_classification and keyword_spotting models the
    int8 output SQNR is 9 to 11 dB below minmax's (tests/quantize/test_observers.py prints it).
    The last samples weigh most, so the order of the calibration samples changes the range.
    """

    def __init__(self, momentum: float = 0.9) -> None:
        self.momentum = number_option(self.method, "momentum", momentum, 0.0, 1.0, high_open=True)
        self.min: float | None = None
        self.max: float | None = None

    def update(self, values: np.ndarray) -> None:
        if values.size == 0:
            return
        sample_min = float(values.min())
        sample_max = float(values.max())
        if self.min is None or self.max is None:
            self.min, self.max = sample_min, sample_max
            return
        keep = self.momentum
        self.min = keep * self.min + (1.0 - keep) * sample_min
        self.max = keep * self.max + (1.0 - keep) * sample_max

    def range(self) -> tuple[float, float]:
        if self.min is None or self.max is None:
            return 0.0, 0.0
        return self.min, self.max


# This import registers percentile, mse and entropy. It comes last because that module
# subclasses Observer and imports the helpers above.
from edgec.quantize import observers_histogram  # noqa: F401
