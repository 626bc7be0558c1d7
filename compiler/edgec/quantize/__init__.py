"""Post-training quantization: calibration, observers, and float-to-int8 graph conversion.

Pipeline position: after the graph passes, before lowering. ``quantize_model`` is the whole
step: load calibration samples, observe every float activation's range, and convert the
graph. The parts are public for callers that need them separately.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgec.ir import Graph
from edgec.quantize.calibration import CalibrationSource, collect_ranges, load_calibration
from edgec.quantize.observers import OBSERVERS, Observer, register_observer
from edgec.quantize.quantizer import QUANT_RULES, quantize_graph


def quantize_model(
    float_graph: Graph,
    calibration_source: CalibrationSource,
    method: str = "minmax",
    seed: int = 0,
    quiet: bool = False,
    observer_options: Mapping[str, Any] | None = None,
) -> Graph:
    """Calibrate ``float_graph`` on ``calibration_source`` and return its int8 graph.

    ``calibration_source`` is what ``load_calibration`` accepts (an .npz path, ``"random"``
    or a mapping of input name to samples). ``method`` names an observer and
    ``observer_options`` are its keyword options (``edgec.quantize.observers.method_options``
    lists them). ``seed`` seeds the ``"random"`` source, and ``quiet`` silences progress
    output.
    """
    feeds = load_calibration(calibration_source, float_graph, seed=seed)
    ranges = collect_ranges(
        float_graph, feeds, method=method, quiet=quiet, options=observer_options
    )
    return quantize_graph(float_graph, ranges)


__all__ = [
    "OBSERVERS",
    "QUANT_RULES",
    "Observer",
    "collect_ranges",
    "load_calibration",
    "quantize_graph",
    "quantize_model",
    "register_observer",
]
