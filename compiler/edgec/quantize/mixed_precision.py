"""Mixed precision: choose each layer's weight bits so that the weights fit a byte budget.

Pipeline position: before quantization; the result is a ``QuantConfig`` with one
``[layers]`` entry per weighted layer, which the recipe then applies.

1. Sensitivity: for each weighted layer and each candidate (``CANDIDATES``: int8 per
   channel, int4 per group), only that layer's weights are quantized and dequantized
   (activations stay float). The float model runs on the calibration samples, and the
   noise power of its output against the float output is that candidate's cost.
2. Choice: a multiple-choice knapsack by dynamic programming over the weight bytes (in
   ``BYTE_STEP`` units) picks one candidate per layer with the least total noise whose
   bytes fit the budget. Noise from different layers is taken as additive, the usual
   first-order model; the chosen mix is then measured for real by the caller.

Bytes per layer are those of the generated C arrays: int8 weights, or int4 weights packed
two per byte plus one uint8 multiplier per group. Bias, multipliers and shifts are the
same for every candidate and are not part of the choice.

Cost: one float run of the calibration samples per layer and candidate, so keep the
calibration set small (``max_samples``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from edgec.errors import QuantizationError
from edgec.ir import Graph
from edgec.ir.ops import FILTER_CHANNEL_AXIS
from edgec.quantize.config import QuantConfig
from edgec.quantize.params import round_trip_weights
from edgec.reference.interpreter import run_samples

BYTE_STEP = 64


@dataclass(frozen=True)
class Candidate:
    """A weight format a layer may get."""

    label: str
    bits: int
    granularity: str
    group_size: int | None = None

    def overrides(self) -> dict:
        table = {"weight_bits": self.bits, "weight_granularity": self.granularity}
        if self.group_size is not None:
            table["group_size"] = self.group_size
        return table


CANDIDATES = (
    Candidate("int8", 8, "per-channel"),
    Candidate("int4 g32", 4, "per-group", 32),
)


@dataclass
class LayerChoice:
    layer: str
    candidate: Candidate
    weight_bytes: int
    noise: float


def fake_quantize(weights: np.ndarray, axis: int, candidate: Candidate) -> np.ndarray:
    """Return the weights quantized to ``candidate`` and back: the values the C code uses."""
    return round_trip_weights(
        weights, axis, candidate.bits, candidate.granularity, candidate.group_size
    )


def weight_bytes(shape: tuple[int, ...], axis: int, candidate: Candidate) -> int:
    """Bytes of a layer's weight arrays in the generated C for ``candidate``."""
    channels = shape[axis]
    reduction = int(np.prod(shape)) // channels
    if candidate.bits == 8:
        return channels * reduction
    packed = channels * (-(-reduction // 2))
    if candidate.granularity == "per-group" and reduction > candidate.group_size:
        packed += channels * (-(-reduction // candidate.group_size))
    return packed


def layer_sensitivity(
    graph: Graph, feeds: dict[str, np.ndarray], candidates=CANDIDATES, max_samples: int = 16
) -> dict[str, dict[Candidate, float]]:
    """Output noise power of the float model with only one layer's weights quantized."""
    feeds = {name: array[:max_samples] for name, array in feeds.items()}
    reference = _outputs(graph, feeds)
    result: dict[str, dict[Candidate, float]] = {}
    for node in graph.nodes:
        if node.op not in FILTER_CHANNEL_AXIS:
            continue
        weights = graph.tensors[node.inputs[1]]
        result[node.name] = {}
        for candidate in candidates:
            fake = fake_quantize(weights.data, FILTER_CHANNEL_AXIS[node.op], candidate)
            original = weights.data
            weights.data = fake.astype(np.float32)
            try:
                approx = _outputs(graph, feeds)
            finally:
                weights.data = original
            result[node.name][candidate] = float(np.mean((approx - reference) ** 2))
    return result


def _outputs(graph: Graph, feeds: dict) -> np.ndarray:
    values = run_samples(graph, feeds)
    return np.concatenate([np.asarray(values[n], np.float64).ravel() for n in graph.outputs])


def choose_weight_bits(
    graph: Graph, sensitivity: dict[str, dict[Candidate, float]], budget_bytes: int
) -> list[LayerChoice]:
    """Choose one candidate per layer with the least total noise within ``budget_bytes``."""
    layers = []
    for node in graph.nodes:
        if node.name not in sensitivity:
            continue
        shape = graph.tensors[node.inputs[1]].shape
        options = [
            LayerChoice(node.name, c, weight_bytes(shape, FILTER_CHANNEL_AXIS[node.op], c), noise)
            for c, noise in sensitivity[node.name].items()
        ]
        layers.append(options)
    smallest = sum(min(o.weight_bytes for o in options) for options in layers)
    if smallest > budget_bytes:
        raise QuantizationError(
            f"weight budget {budget_bytes:,} bytes is below the smallest mix, {smallest:,} "
            "bytes with every layer at its fewest bits; raise the budget"
        )
    return _knapsack(layers, budget_bytes)


def _knapsack(layers: list[list[LayerChoice]], budget_bytes: int) -> list[LayerChoice]:
    """Multiple-choice knapsack: least total noise with byte units rounded up."""
    capacity = budget_bytes // BYTE_STEP
    # best[b] = (noise, choices) using at most b units, over the layers seen so far.
    best: list[tuple[float, list[LayerChoice]] | None] = [(0.0, [])] * (capacity + 1)
    for options in layers:
        nxt: list[tuple[float, list[LayerChoice]] | None] = [None] * (capacity + 1)
        for units in range(capacity + 1):
            for option in options:
                cost = -(-option.weight_bytes // BYTE_STEP)
                if cost > units or best[units - cost] is None:
                    continue
                noise, chosen = best[units - cost]
                total = noise + option.noise
                if nxt[units] is None or total < nxt[units][0]:
                    nxt[units] = (total, chosen + [option])
        best = nxt
    if best[capacity] is None:
        # Rounding the bytes up to BYTE_STEP units can exclude a mix that fits exactly:
        # fall back to every layer at its fewest bytes, which the caller checked fits.
        return [min(options, key=lambda o: o.weight_bytes) for options in layers]
    return best[capacity][1]


def mixed_precision_config(
    graph: Graph, feeds: dict[str, np.ndarray], budget_bytes: int,
    base: QuantConfig | None = None,
) -> tuple[QuantConfig, list[LayerChoice]]:
    """Return a copy of ``base`` (or the defaults) with each weighted layer's bits chosen for
    the budget. The choice replaces any weight format ``base`` gives those layers."""
    config = copy.deepcopy(base) if base else QuantConfig()
    sensitivity = layer_sensitivity(graph, feeds)
    for node in graph.nodes:
        if node.name in sensitivity and config.settings_for(node).activation_bits == 16:
            # 16x8 kernels take int8 weights only: int4 is not a choice for these layers.
            sensitivity[node.name] = {c: n for c, n in sensitivity[node.name].items()
                                      if c.bits == 8}
    choices = choose_weight_bits(graph, sensitivity, budget_bytes)
    for choice in choices:
        config.layers[choice.layer] = {
            **config.layers.get(choice.layer, {}), **choice.candidate.overrides()
        }
    return config, choices


def describe(choices: list[LayerChoice]) -> list[str]:
    """Describe the choice in one line per layer: name, format, weight bytes, noise."""
    return [
        f"{c.layer}: {c.candidate.label}, {c.weight_bytes:,} weight bytes, "
        f"output noise {c.noise:.3g}"
        for c in choices
    ]


__all__ = [
    "CANDIDATES", "Candidate", "LayerChoice", "choose_weight_bits",
    "describe", "fake_quantize", "layer_sensitivity", "mixed_precision_config", "weight_bytes",
]
