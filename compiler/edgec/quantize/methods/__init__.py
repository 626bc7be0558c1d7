"""Float-graph quantization methods: rewrites of a float graph that make int8 more accurate.

Each method takes a float IR graph (after the graph passes, before ``quantize_model``) and
returns a new graph plus a list of lines that describe what it changed or skipped. The input
graph is never modified.

- ``equalize_cross_layer(graph)``: cross-layer equalization (Nagel et al. 2019). Balances
  the per-channel weight ranges of consecutive layers, with no data. The float function
  is unchanged.
- ``smooth_activations(graph, feeds, alpha=0.5)``: SmoothQuant (Xiao et al. 2023). Moves
  per-channel activation range into the next layer's weights, measured on calibration
  feeds. The float function is unchanged.
- ``correct_bias(graph, feeds, quantize_fn=None)``: empirical bias correction (Nagel et al.
  2019, Banner et al. 2019). Changes biases so that each layer's mean output with quantized
  weights matches its float mean on the calibration feeds.
- ``apply_awq(graph, feeds, settings_for=None, layers=None)``: AWQ (Lin et al. 2024).
  Searches per-input-channel weight scales that lower each layer's output error after
  rounding, and folds their inverse into the producing layer. The float function is
  unchanged.
- ``quantize_weights_gptq(graph, feeds, settings_for=None, layers=None)``: GPTQ (Frantar
  et al. 2023). Chooses each layer's integer weights on the quantizer's grid column by
  column, with error feedback, and returns them as ``weight_overrides`` for
  ``quantize_graph``, plus a graph in which the GPTQ layers that request bias correction
  have it.

A sensible order is equalization or smoothing first, then AWQ, then bias correction,
because bias correction depends on the final weights. GPTQ comes last, because it needs
the final float weights and biases of every layer before it. To add a method, write one
module with a function ``(graph, ...) -> (Graph, list[str])`` that uses the helpers of
``layers`` and export it here.
"""

from edgec.quantize.methods.awq import apply_awq
from edgec.quantize.methods.bias_correction import correct_bias, dequantized_int8_weights
from edgec.quantize.methods.cross_layer import equalize_cross_layer
from edgec.quantize.methods.gptq import quantize_weights_gptq
from edgec.quantize.methods.smoothquant import smooth_activations

__all__ = [
    "apply_awq",
    "correct_bias",
    "dequantized_int8_weights",
    "equalize_cross_layer",
    "quantize_weights_gptq",
    "smooth_activations",
]
