"""Calibration observers: per-tensor statistics that become a float range.

``collect_ranges`` creates one observer per float activation, passes it that tensor's values
for every calibration sample, and then calls its ``range()``. The quantizer turns ranges into
scales and zero points, so an observer decides only how outliers are treated.

To add a method (percentile, MSE, entropy), subclass ``Observer`` and decorate it with
``@register_observer("name")``; ``collect_ranges(..., method="name")`` then uses it. An
observer receives its tensor one sample at a time and must not keep the arrays, so memory stays
bounded by one sample's activations.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

OBSERVERS: dict[str, type[Observer]] = {}


def register_observer(name: str) -> Callable[[type[Observer]], type[Observer]]:
    """Decorator: register an ``Observer`` subclass under ``name``."""

    def wrap(cls: type[Observer]) -> type[Observer]:
        OBSERVERS[name] = cls
        return cls

    return wrap


class Observer:
    """Accumulates the values of one tensor over calibration samples."""

    def update(self, values: np.ndarray) -> None:
        """Add one sample's values, which ``collect_ranges`` has checked to be finite."""
        raise NotImplementedError(f"{type(self).__name__} does not implement update()")

    def range(self) -> tuple[float, float]:
        """Return the range to quantize, ``(0.0, 0.0)`` if no value was seen."""
        raise NotImplementedError(f"{type(self).__name__} does not implement range()")


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
