"""The quantization recipe: apply a ``QuantConfig`` to a float graph, step by step.

Pipeline position: the whole quantize stage, between the graph passes and lowering.

Steps, each only when the config enables it:
1. load and check the calibration samples;
2. cross-layer equalization of the float weights (``methods.equalize_cross_layer``);
3. SmoothQuant migration of activation outliers into weights (``methods.smooth_activations``);
4. with a weight budget, the weight bits of each layer (``mixed_precision``);
5. AWQ input-channel scales of the layers with ``weight_method = "awq"``
   (``methods.apply_awq``), measured with each layer's final weight settings;
6. bias correction of the layers that request it (``methods.correct_bias``), with the
   weight quantizer those layers will get, except for GPTQ layers;
7. GPTQ integer weights of the layers with ``weight_method = "gptq"``
   (``methods.quantize_weights_gptq``), which also corrects the biases of the GPTQ layers
   that request it, with their GPTQ weights;
8. calibration with each tensor's observer (the producing layer's settings);
9. conversion to the integer graph (``quantize_graph``) with each layer's weight settings
   and the GPTQ weights.

The float transforms of steps 2, 3 and 5 leave the float function unchanged (up to
rounding), so the float graph that accuracy is measured against stays the model's own.
``QuantLog`` records what each step did, for reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edgec.ir import Graph
from edgec.ir.ops import FILTER_CHANNEL_AXIS
from edgec.quantize.calibration import CalibrationSource, collect_ranges, load_calibration
from edgec.quantize.config import LayerSettings, QuantConfig
from edgec.quantize.mixed_precision import describe, mixed_precision_config
from edgec.quantize.params import round_trip_weights
from edgec.quantize.quantizer import QUANT_RULES, quantize_graph


@dataclass
class QuantLog:
    """The recipe's record: one list of lines per step that changed something."""

    steps: dict[str, list[str]] = field(default_factory=dict)
    # The float graph after the weight transforms, the one that was quantized: its
    # activations are the per-layer reference (equalization rescales channels).
    float_graph: Graph | None = None

    def add(self, step: str, lines: list[str]) -> None:
        if lines:
            self.steps.setdefault(step, []).extend(lines)


def quantize_with_config(
    float_graph: Graph,
    calibration_source: CalibrationSource,
    config: QuantConfig | None = None,
    seed: int = 0,
    quiet: bool = False,
) -> tuple[Graph, QuantLog]:
    """Quantize ``float_graph`` with ``config``; return the integer graph and the log."""
    from edgec.quantize import methods

    config = config or QuantConfig()
    config.check_op_types(set(QUANT_RULES))
    config.check_layers(float_graph)
    log = QuantLog()
    feeds = load_calibration(calibration_source, float_graph, seed=seed)
    graph = float_graph
    if config.cross_layer_equalization:
        graph, lines = methods.equalize_cross_layer(graph)
        log.add("cross-layer equalization", lines)
    if config.smoothquant_alpha is not None:
        graph, lines = methods.smooth_activations(graph, feeds, config.smoothquant_alpha)
        log.add("SmoothQuant", lines)
    if config.weight_budget is not None:
        config, choices = mixed_precision_config(graph, feeds, config.weight_budget, config)
        total = sum(choice.weight_bytes for choice in choices)
        log.add("mixed precision", [
            *describe(choices),
            f"weight arrays: {total:,} bytes of the {config.weight_budget:,}-byte budget",
        ])
    awq_layers = _layers_with_method(config, graph, "awq")
    if awq_layers:
        graph, lines = methods.apply_awq(graph, feeds, config.settings_for, layers=awq_layers)
        log.add("AWQ", lines)
    for key, layers in _bias_correction_groups(config, graph).items():
        graph, lines = methods.correct_bias(
            graph, feeds, quantize_fn=weight_dequantizer(key), layers=layers
        )
        log.add("bias correction", lines)
    overrides = {}
    gptq_layers = _layers_with_method(config, graph, "gptq")
    if gptq_layers:
        graph, overrides, lines = methods.quantize_weights_gptq(
            graph, feeds, config.settings_for, layers=gptq_layers
        )
        log.add("GPTQ", lines)
    ranges = collect_ranges(graph, feeds, method_for=_observers(config, graph), quiet=quiet)
    log.float_graph = graph
    return quantize_graph(graph, ranges, config.settings_for, weight_overrides=overrides), log


def _layers_with_method(config: QuantConfig, graph: Graph, method: str) -> list[str]:
    """Return the names of the weighted layers whose ``weight_method`` is ``method``."""
    return [
        node.name for node in graph.nodes
        if node.op in FILTER_CHANNEL_AXIS and config.settings_for(node).weight_method == method
    ]


def _observers(config: QuantConfig, graph: Graph) -> dict[str, tuple[str, dict]]:
    """Observer (method, options) of every node output, from the producing node's settings."""
    chosen = {}
    for node in graph.nodes:
        settings = config.settings_for(node)
        for name in node.outputs:
            chosen[name] = (settings.observer, dict(settings.observer_options))
    defaults = config.defaults
    for name in graph.inputs:
        chosen[name] = (defaults.observer, dict(defaults.observer_options))
    return chosen


def _bias_correction_groups(config: QuantConfig, graph: Graph) -> dict[tuple, list[str]]:
    """Layers to correct, grouped by the weight settings that decide their rounding."""
    groups: dict[tuple, list[str]] = {}
    for node in graph.nodes:
        settings = config.settings_for(node)
        gptq = settings.weight_method == "gptq"
        if node.op in FILTER_CHANNEL_AXIS and settings.bias_correction and not gptq:
            groups.setdefault(_weight_key(settings), []).append(node.name)
    return groups


def _weight_key(settings: LayerSettings) -> tuple:
    return (settings.weight_granularity, settings.weight_bits, settings.group_size)


def weight_dequantizer(key: tuple) -> Callable[[np.ndarray, int], np.ndarray]:
    """The float -> quantized -> float round trip of weights with the settings ``key``
    (granularity, bits, group size), as the quantizer will round them."""
    granularity, bits, group_size = key

    def dequantize(weights: np.ndarray, axis: int) -> np.ndarray:
        return round_trip_weights(weights, axis, bits, granularity, group_size)

    return dequantize
