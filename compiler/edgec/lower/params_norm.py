"""Integer kernel parameters of layer_norm and l2_normalize (registered with ``@params_for``).

Where it sits: ``edgec.lower.params.kernel_params`` calls these functions for the reference
interpreter (``edgec.reference.int_norm``) and the lowering (``edgec.lower.calls_norm``), so
both see the same integers. Compile-time arithmetic here is float64, and the kernels receive
only integers. Each function rejects a node its kernel cannot compute exactly, with a one-line
error that names the node.

layer_norm (inputs "input", "gamma", "beta"; attr ``epsilon``, default 1e-5), normalized over
the last axis of length N:
- input int8 per-tensor with any zero point, or int16 per-tensor with zero point 0;
  N <= ``MAX_LAYER_NORM_DEPTH``;
- gamma and beta float32 constants of shape (N,), turned into integers here;
- output int8 per-tensor with any zero point, or int16 per-tensor with zero point 0.
``LayerNormParams`` contains the values of ``edgec_layer_norm_params`` (``depth``,
``input_offset``, ``epsilon_mantissa``, ``epsilon_exponent``), one multiplier, right shift
and offset per channel, and the clamp range of the output type, which the C kernels take
from their output type. ``edgec.reference.int_norm.layer_norm_rows`` documents how the kernel
uses them.

The per-element steps fit int64 whatever the output type and scale: the Q24 value z is
below 2**30.5 in magnitude and the multiplier is a Q31 int32, so |z * multiplier| < 2**61.5
for every right shift, and offsets are clamped to ``MAX_OFFSET`` = 2**56. An int16 output
scale is up to 256 times smaller than an int8 one, so gamma / s_out and beta / s_out grow
by that factor. Two limits keep the result exact for both output types:
- ``MAX_GAMMA_RATIO`` = 2**24 keeps the shifted product |z| * |gamma / s_out| / 2**8 below
  2**46.5 (and the Q24 rounding of z below 0.5 output steps);
- then the clamp of an offset to 2**56 changes no output: the Q16 sum stays beyond 2**55
  in magnitude, and an int16 output saturates once it passes 2**31 (int8: 2**23).

l2_normalize (attr ``epsilon``, default 1e-12): int8 input per-tensor with any zero point,
depth <= ``MAX_L2_NORMALIZE_DEPTH``, int8 output with scale 1/128 and zero point 0
(TFLite's L2_NORMALIZATION). The only parameter is ``input_offset``.

To extend: a new input type needs its bounds added to ``_check_layer_norm_input`` and a C
kernel. The overflow bounds below must still hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from edgec.errors import QuantizationError, UnsupportedAttributeError
from edgec.ir import Graph, Node, Quant
from edgec.lower.params import KernelParams, params_for
from edgec.quantize.fixed_point import quantize_multiplier, round_half_away
from edgec.quantize.params import round_half_away as round_half_away_array

# Maximum length of layer_norm's normalized axis. With |x| <= 2**16 it keeps N * x - sum(x) within
# 2**30 (int32) and N * sum(x**2) - sum(x)**2 below 2**58 (int64).
MAX_LAYER_NORM_DEPTH = 8192
# Fractional bits of the normalized value inside the kernel (z = (x - mean) / std * 2**24)
# and of the per-channel offsets (output units * 2**16).
NORMALIZED_FRACTION_BITS = 24
OFFSET_FRACTION_BITS = 16
# Largest |gamma / output_scale|: beyond it the rounding of the Q24 normalized value alone
# could cost more than 0.5 output steps. It also keeps every right shift at 14 or more.
MAX_GAMMA_RATIO = 2.0**24
# Per-channel right shifts are at most 62 so that the rounding term fits in int64.
MAX_RIGHT_SHIFT = 62
# |offset| is clamped to 2**56. Any larger offset saturates an int8 or int16 output just as
# 2**56 does, because |z * multiplier| >> right_shift stays below 2**47 for a gamma ratio
# below 2**24.
MAX_OFFSET = 2**56
# epsilon * N**2 / input_scale**2 is stored as mantissa * 2**exponent with a mantissa in
# [2**30, 2**31). It must be below 2**60 so that the row's variance term stays below 2**62.
EPSILON_TERM_LIMIT = 2.0**60
# Smaller epsilon terms (below 2**-169) change no output and are stored as 0.
MIN_EPSILON_EXPONENT = -200

# Output clamp range of layer_norm by output type. An int16 output must have zero point 0.
LAYER_NORM_OUTPUT_RANGES = {"int8": (-128, 127), "int16": (-32768, 32767)}

# Maximum l2_normalize depth: 33025 * 255**2 is the largest sum of squares below 2**31.
MAX_L2_NORMALIZE_DEPTH = (2**31 - 1) // (255 * 255)
L2_NORMALIZE_OUTPUT_SCALE = np.float32(1.0 / 128.0)


@dataclass
class LayerNormParams(KernelParams):
    """layer_norm parameters: ``values``, plus per channel ``multipliers`` (int32),
    ``shifts`` (right shifts in [14, 62]) and ``offsets`` (int64), and the output type's
    clamp range ``output_min`` to ``output_max``."""

    offsets: np.ndarray | None = None
    output_min: int = -128
    output_max: int = 127


def _where(node: Node) -> str:
    return f"node '{node.name}' ({node.op})"


def _per_tensor_quant(node: Node, graph: Graph, name: str) -> Quant:
    quant = graph.tensors[name].quant
    if quant is None:
        raise QuantizationError(f"{_where(node)}: tensor '{name}' has no quantization parameters")
    if quant.scale.size != 1:
        raise QuantizationError(
            f"{_where(node)}: tensor '{name}' has {quant.scale.size} scales, but this op needs "
            "one per-tensor scale and zero point"
        )
    return quant


def _epsilon(node: Node, default: float) -> float:
    epsilon = float(node.attrs.get("epsilon", default))
    if not (math.isfinite(epsilon) and epsilon >= 0.0):
        raise UnsupportedAttributeError(
            f"{_where(node)}: epsilon {epsilon} is invalid, expected a finite value >= 0"
        )
    return epsilon


# --- layer_norm --------------------------------------------------------------------------


@params_for("layer_norm")
def _layer_norm_params(node: Node, graph: Graph) -> LayerNormParams:
    """Fold epsilon, gamma, beta and the output zero point into integers."""
    depth = _check_layer_norm_input(node, graph)
    output_min, output_max = _check_layer_norm_output(node, graph)
    gamma, beta = _float_parameters(node, graph, depth)
    q_in = _per_tensor_quant(node, graph, node.inputs[0])
    q_out = _per_tensor_quant(node, graph, node.outputs[0])
    output_scale = float(q_out.scale[0])

    mantissa, exponent = _epsilon_term(node, depth, float(q_in.scale[0]))
    multipliers, shifts = _gamma_multipliers(node, gamma / output_scale)
    offsets = round_half_away_array(
        (beta / output_scale + int(q_out.zero_point[0])) * 2.0**OFFSET_FRACTION_BITS
    )
    values = {
        "depth": depth,
        "input_offset": -int(q_in.zero_point[0]),
        "epsilon_mantissa": mantissa,
        "epsilon_exponent": exponent,
    }
    offsets = np.clip(offsets, -MAX_OFFSET, MAX_OFFSET).astype(np.int64)
    return LayerNormParams(values, multipliers, shifts, offsets, output_min, output_max)


def _check_layer_norm_input(node: Node, graph: Graph) -> int:
    """Check the input type and return the depth N of the normalized axis."""
    source = graph.tensors[node.inputs[0]]
    quant = _per_tensor_quant(node, graph, source.name)
    if source.dtype not in ("int8", "int16"):
        raise UnsupportedAttributeError(
            f"{_where(node)}: input '{source.name}' is {source.dtype}, but layer_norm takes an "
            "int8 or int16 input"
        )
    if source.dtype == "int16" and int(quant.zero_point[0]) != 0:
        raise QuantizationError(
            f"{_where(node)}: int16 input '{source.name}' has zero point "
            f"{int(quant.zero_point[0])}, but int16 activations must have zero point 0"
        )
    depth = source.shape[-1] if source.shape else 0
    if not 1 <= depth <= MAX_LAYER_NORM_DEPTH:
        raise UnsupportedAttributeError(
            f"{_where(node)}: the normalized axis has length {depth}, but the kernel supports "
            f"1 to {MAX_LAYER_NORM_DEPTH}. Split the axis or normalize in float"
        )
    return depth


def _check_layer_norm_output(node: Node, graph: Graph) -> tuple[int, int]:
    """Check the output type and return its clamp range."""
    out = graph.tensors[node.outputs[0]]
    quant = _per_tensor_quant(node, graph, out.name)
    if out.dtype not in LAYER_NORM_OUTPUT_RANGES:
        raise UnsupportedAttributeError(
            f"{_where(node)}: output '{out.name}' is {out.dtype}, but layer_norm writes int8 "
            "or int16"
        )
    if out.dtype == "int16" and int(quant.zero_point[0]) != 0:
        raise QuantizationError(
            f"{_where(node)}: int16 output '{out.name}' has zero point "
            f"{int(quant.zero_point[0])}, but int16 activations must have zero point 0. "
            "Quantize the output symmetrically"
        )
    return LAYER_NORM_OUTPUT_RANGES[out.dtype]


def _float_parameters(node: Node, graph: Graph, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Return gamma and beta as float64 arrays of shape (depth,)."""
    arrays = []
    for name in node.inputs[1:3]:
        tensor = graph.tensors.get(name) if name else None
        if tensor is None or not tensor.is_constant or tensor.dtype != "float32":
            raise UnsupportedAttributeError(
                f"{_where(node)}: gamma and beta must be float32 constants, got '{name}'"
            )
        if tensor.size != depth:
            raise UnsupportedAttributeError(
                f"{_where(node)}: '{name}' has shape {tensor.shape}, expected ({depth},): one "
                "value per element of the normalized axis"
            )
        values = tensor.data.astype(np.float64).reshape(depth)
        if not np.isfinite(values).all():
            raise UnsupportedAttributeError(f"{_where(node)}: '{name}' contains inf or NaN")
        arrays.append(values)
    return arrays[0], arrays[1]


def _epsilon_term(node: Node, depth: int, input_scale: float) -> tuple[int, int]:
    """Return (mantissa, exponent) of E = N**2 * epsilon / input_scale**2.

    E is the epsilon in the kernel's units. The mantissa is in [2**30, 2**31), and a
    negligible E gives (0, 0).
    """
    term = depth * depth * _epsilon(node, 1e-5) / (input_scale * input_scale)
    if not term < EPSILON_TERM_LIMIT:
        raise QuantizationError(
            f"{_where(node)}: epsilon / input_scale**2 is {term / (depth * depth):.3g}, too "
            "large for the integer variance (input scale too small for this epsilon). "
            "Widen the input's range"
        )
    if term == 0.0:
        return 0, 0
    fraction, exponent = math.frexp(term)
    mantissa = round_half_away(fraction * 2.0**31)
    exponent -= 31
    if mantissa == 2**31:
        mantissa, exponent = 2**30, exponent + 1
    if exponent < MIN_EPSILON_EXPONENT:
        return 0, 0
    return int(mantissa), int(exponent)


def _gamma_multipliers(node: Node, ratios: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return per-channel (multiplier, right_shift) with
    ratio ~= multiplier * 2**(NORMALIZED_FRACTION_BITS - OFFSET_FRACTION_BITS - right_shift),
    so that (z * multiplier) >> right_shift is the output in Q16 for z in Q24."""
    too_large = np.flatnonzero(np.abs(ratios) >= MAX_GAMMA_RATIO)
    if too_large.size:
        channel = int(too_large[0])
        raise QuantizationError(
            f"{_where(node)}: gamma[{channel}] / output_scale is {ratios[channel]:.3g}, "
            f"at least {MAX_GAMMA_RATIO:.0f}, so the output scale is too small. Widen the "
            "output's range"
        )
    multipliers = np.zeros(ratios.size, dtype=np.int64)
    shifts = np.zeros(ratios.size, dtype=np.int64)
    base_shift = 31 + NORMALIZED_FRACTION_BITS - OFFSET_FRACTION_BITS
    for channel, ratio in enumerate(ratios):
        multiplier, shift = quantize_multiplier(abs(float(ratio)))
        right_shift = base_shift - shift
        if right_shift > MAX_RIGHT_SHIFT:
            # A tiny ratio keeps fewer multiplier bits. The dropped bits are below 2**-30
            # output steps.
            multiplier = int(multiplier * 2.0 ** (MAX_RIGHT_SHIFT - right_shift) + 0.5)
            right_shift = MAX_RIGHT_SHIFT
        multipliers[channel] = -multiplier if ratio < 0 else multiplier
        shifts[channel] = right_shift
    return multipliers, shifts


# --- l2_normalize ------------------------------------------------------------------------


@params_for("l2_normalize")
def _l2_normalize_params(node: Node, graph: Graph) -> KernelParams:
    source = graph.tensors[node.inputs[0]]
    q_in = _per_tensor_quant(node, graph, source.name)
    if source.dtype != "int8":
        raise UnsupportedAttributeError(
            f"{_where(node)}: input '{source.name}' is {source.dtype}, but l2_normalize takes int8"
        )
    _check_l2_output(node, graph)
    depth = source.shape[-1] if source.shape else 0
    if not 1 <= depth <= MAX_L2_NORMALIZE_DEPTH:
        raise UnsupportedAttributeError(
            f"{_where(node)}: the normalized axis has length {depth}, but the int32 sum of "
            f"squares allows 1 to {MAX_L2_NORMALIZE_DEPTH}"
        )
    # A non-zero row has a norm of at least input_scale (one step), so an epsilon up to the
    # input scale never changes an output, and the kernel ignores it as TFLite's does.
    epsilon = _epsilon(node, 1e-12)
    if epsilon > float(q_in.scale[0]):
        raise UnsupportedAttributeError(
            f"{_where(node)}: epsilon {epsilon:g} is above the input scale "
            f"{float(q_in.scale[0]):g}. The integer kernel ignores epsilon, which is exact "
            "only up to one input step, so widen the input scale or lower epsilon"
        )
    return KernelParams({"input_offset": -int(q_in.zero_point[0])})


def _check_l2_output(node: Node, graph: Graph) -> None:
    out = graph.tensors[node.outputs[0]]
    quant = _per_tensor_quant(node, graph, out.name)
    if out.dtype != "int8" or quant.scale[0] != L2_NORMALIZE_OUTPUT_SCALE or (
        int(quant.zero_point[0]) != 0
    ):
        raise UnsupportedAttributeError(
            f"{_where(node)}: output '{out.name}' is {out.dtype} with scale "
            f"{float(quant.scale[0]):g} and zero point {int(quant.zero_point[0])}, but "
            "l2_normalize writes int8 with scale 1/128 and zero point 0"
        )
