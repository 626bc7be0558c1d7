"""Integer kernel parameters computed from a quantized IR node (the lowering step).

Every scale, zero point and activation range of a node becomes plain integers here: Q31
multipliers and shifts, input/output offsets and the clamp range. The reference interpreter
and the C code generator both read these parameters, so they cannot disagree about them.

Conventions follow CMSIS-NN and TFLite Micro: ``input_offset = -input_zero_point``,
``output_offset = output_zero_point``, ``shift`` positive means a left shift. To add an op,
register one function with ``@params_for("op")`` returning a ``KernelParams``.

A conv2d, depthwise_conv2d or fully_connected node with an int16 input is a 16x8 layer
(TFLite's 16x8 mode): int16 input and output with zero point 0, int8 symmetric weights, an
int64 (or int32) bias, and per-channel shifts in [-31, 7], the range of TFLite's int64
requantization (``fixed_point.multiply_by_quantized_multiplier_int64``). ``_check_16x8_layer``
rejects anything else, and an accumulator bound of 2**47 or more. A fully_connected node
with an int8 input and an int16 output (zero point 0) is an int8 layer whose clamp range is
int16's: it feeds the int16 residual stream of a transformer. An add of int16 tensors
(zero point 0, same shapes) follows TFLite's general int16 ADD, with a left shift of 15.

Per-group int4 weights (``Quant.group_multipliers``) add a factor 1/255 to the per-channel
multipliers, because their accumulator is ``sum_g m[c, g] * acc_g`` with m in [1, 255]; see
``edgec.quantize.params`` for the int4 spec.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edgec.errors import QuantizationError, UnsupportedAttributeError
from edgec.ir import Graph, Node, Quant
from edgec.ir.ops import FILTER_CHANNEL_AXIS
from edgec.quantize.fixed_point import (
    INT64_MULTIPLIER_SHIFT_MAX,
    quantize_multiplier,
    round_half_away,
)
from edgec.quantize.params import accumulator_weight_scales, grouped_weights, weight_rows

# The output channel axis of each weighted op's filter layout (edgec.ir.ops): conv2d OHWI,
# depthwise_conv2d 1HW(C*M), fully_connected (O, I).
# Largest |input + input_offset| of an int8 input: 127 - (-128).
MAX_CENTERED_INPUT = 255

QMIN = {"int8": -128, "int16": -32768}
QMAX = {"int8": 127, "int16": 32767}

# Add/Sub scale both inputs up by 2**20 before rescaling them to a common scale, as TFLite
# does for int8, so that the rescaled values keep 20 fractional bits of precision.
ADD_LEFT_SHIFT = 20
# TFLite's general int16 Add shifts by 15 instead: an int16 value times 2**15 fits in int32.
ADD_INT16_LEFT_SHIFT = 15
# Softmax represents input differences in Q5.26 (TFLite's kScaledDiffIntegerBits).
SOFTMAX_DIFF_INTEGER_BITS = 5


@dataclass
class KernelParams:
    """Integer parameters of one kernel call; ``values`` maps a C parameter name to a value."""

    values: dict[str, int] = field(default_factory=dict)
    multipliers: np.ndarray | None = None  # int32 per output channel
    shifts: np.ndarray | None = None  # int32 per output channel

    def __getitem__(self, key: str) -> int:
        return self.values[key]


ParamsFn = Callable[[Node, Graph], KernelParams]
PARAMS: dict[str, ParamsFn] = {}


def params_for(*ops: str) -> Callable[[ParamsFn], ParamsFn]:
    def wrap(fn: ParamsFn) -> ParamsFn:
        for op in ops:
            PARAMS[op] = fn
        return fn

    return wrap


def kernel_params(node: Node, graph: Graph) -> KernelParams:
    """Compute the integer parameters of ``node``; ops without parameters get an empty set."""
    fn = PARAMS.get(node.op)
    if fn is None:
        return KernelParams()
    return fn(node, graph)


def _quant(graph: Graph, name: str, node: Node) -> Quant:
    tensor = graph.tensors[name]
    if tensor.quant is None:
        raise QuantizationError(
            f"node '{node.name}' ({node.op}): tensor '{name}' has no quantization parameters"
        )
    return tensor.quant


def _dtype(graph: Graph, name: str) -> str:
    return graph.tensors[name].dtype


def activation_range(node: Node, graph: Graph) -> tuple[int, int]:
    """Return the fused activation as ``(activation_min, activation_max)`` in the output's domain.

    Bounds are quantized as TFLite's CalculateActivationRangeQuantized does it: float32
    division by the scale, rounded half away from zero, plus the zero point, then clamped
    to the output type's range.
    """
    out_name = node.outputs[0]
    dtype = _dtype(graph, out_name)
    qmin, qmax = QMIN[dtype], QMAX[dtype]
    activation = node.attrs.get("activation")
    if activation is None:
        return qmin, qmax
    quant = _quant(graph, out_name, node)
    scale, zero_point = np.float32(quant.scale[0]), int(quant.zero_point[0])
    lo, hi = activation

    def quantize(value: float) -> int:
        return zero_point + round_half_away(float(np.float32(value) / scale))

    act_min = qmin if math.isinf(lo) else max(qmin, quantize(lo))
    act_max = qmax if math.isinf(hi) else min(qmax, quantize(hi))
    return act_min, act_max


def _per_channel_multipliers(real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pairs = [quantize_multiplier(float(m)) for m in real]
    multipliers = np.array([p[0] for p in pairs], dtype=np.int64)
    shifts = np.array([p[1] for p in pairs], dtype=np.int64)
    return multipliers, shifts


@params_for("conv2d", "depthwise_conv2d", "fully_connected")
def _conv_params(node: Node, graph: Graph) -> KernelParams:
    q_in = _quant(graph, node.inputs[0], node)
    q_w = _quant(graph, node.inputs[1], node)
    q_out = _quant(graph, node.outputs[0], node)
    channels = _output_channels(node, graph)
    _check_filter(node, graph)
    weight_scales = np.broadcast_to(accumulator_weight_scales(q_w), (channels,))
    real = (
        np.float64(q_in.scale[0]) * weight_scales / np.float64(q_out.scale[0])
    )
    multipliers, shifts = _per_channel_multipliers(real)
    act_min, act_max = activation_range(node, graph)
    dtypes = (_dtype(graph, node.inputs[0]), _dtype(graph, node.outputs[0]))
    if node.op == "fully_connected" and dtypes == ("int8", "int16"):
        _check_int16_output_layer(node, graph)
        _check_accumulator_bound(node, graph)
    elif "int16" in dtypes:
        _check_16x8_layer(node, graph, multipliers, shifts)
    else:
        _check_accumulator_bound(node, graph)
    values = {
        "input_offset": -int(q_in.zero_point[0]),
        "filter_offset": -int(q_w.zero_point[0]),
        "output_offset": int(q_out.zero_point[0]),
        "activation_min": act_min,
        "activation_max": act_max,
    }
    return KernelParams(values, multipliers, shifts)


def _check_filter(node: Node, graph: Graph) -> None:
    """Reject per-group parameters on a filter that is not int4 or whose shape they miss."""
    filt = graph.tensors[node.inputs[1]]
    quant = filt.quant
    if quant is None or not quant.per_group:
        return
    channels = _output_channels(node, graph)
    reduction = filt.size // channels
    groups = -(-reduction // quant.group_size) if quant.group_size > 0 else 0
    if filt.dtype != "int4" or quant.group_multipliers.shape != (channels, groups):
        raise QuantizationError(
            f"node '{node.name}' ({node.op}): filter '{filt.name}' ({filt.dtype}) has group "
            f"multipliers of shape {quant.group_multipliers.shape} for group size "
            f"{quant.group_size}; expected int4 values and shape ({channels}, {groups})"
        )


def _check_int16_output_layer(node: Node, graph: Graph) -> None:
    """Reject an int8-input, int16-output fully_connected without an output zero point of 0
    or with a bias other than int32."""
    where = f"node '{node.name}' ({node.op})"
    zero_point = int(_quant(graph, node.outputs[0], node).zero_point[0])
    if zero_point != 0:
        raise QuantizationError(
            f"{where}: int16 output '{node.outputs[0]}' has zero point {zero_point}; int16 "
            "activations must be symmetric (zero point 0)"
        )
    bias = graph.tensors[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None
    if bias is not None and bias.dtype != "int32":
        raise UnsupportedAttributeError(
            f"{where}: bias '{bias.name}' is {bias.dtype}; a layer with an int8 input takes "
            "an int32 bias, also when its output is int16"
        )


def _check_accumulator_bound(node: Node, graph: Graph) -> None:
    """Reject a layer whose sum of products could overflow the C kernels' int32 accumulator.

    Each tap adds (input + input_offset) * (filter + filter_offset), at most 255 times the
    largest filter magnitude. Per-group int4 weights add m[c, g] * acc_g per group, at most
    255 * sum over the channel's k of m[c, g(k)] * |q[c, k]| (about K * 255 * 255 * 7); the
    partial sums of the kernels never exceed that bound either. The bias is added afterwards
    with a defined two's-complement wrap, as the reference interpreter does, so it is not
    part of the bound.
    """
    filt = graph.tensors[node.inputs[1]]
    taps = filt.size // _output_channels(node, graph)
    if node.op == "depthwise_conv2d":
        taps = filt.shape[1] * filt.shape[2]
    if filt.quant.per_group:
        axis = FILTER_CHANNEL_AXIS[node.op]
        weighted = np.abs(weight_rows(grouped_weights(filt.data, filt.quant, axis), axis))
        bound = MAX_CENTERED_INPUT * int(weighted.sum(axis=1).max(initial=0))
    else:
        centered = filt.data.astype(np.int64) - int(filt.quant.zero_point[0])
        bound = taps * MAX_CENTERED_INPUT * int(np.abs(centered).max(initial=0))
    if bound > 2**31 - 1:
        raise UnsupportedAttributeError(
            f"node '{node.name}' ({node.op}): {taps} taps can overflow the int32 accumulator "
            f"(bound {bound}); split the layer into smaller ones"
        )


# Largest |input| of an int16 input (zero point 0) and the accumulator bound of TFLite's
# int64 requantization: it multiplies the accumulator by a 16-bit multiplier in int64.
MAX_INT16_INPUT = 32768
INT16_ACCUMULATOR_LIMIT = 2**47


def _check_16x8_layer(
    node: Node, graph: Graph, multipliers: np.ndarray, shifts: np.ndarray
) -> None:
    """Reject a 16x8 layer that the int16 kernels cannot run as TFLite's 16x8 mode does."""
    _check_16x8_tensors(node, graph)
    bias = graph.tensors[node.inputs[2]] if len(node.inputs) > 2 and node.inputs[2] else None
    if bias is not None and bias.dtype not in ("int32", "int64"):
        raise UnsupportedAttributeError(
            f"node '{node.name}' ({node.op}): bias '{bias.name}' is {bias.dtype}; int16 "
            "layers take an int64 or int32 bias"
        )

    too_large = np.flatnonzero((shifts > INT64_MULTIPLIER_SHIFT_MAX) & (multipliers != 0))
    if too_large.size:
        channel = int(too_large[0])
        raise QuantizationError(
            f"node '{node.name}' ({node.op}): channel {channel} has requantization shift "
            f"{int(shifts[channel])}, above the {INT64_MULTIPLIER_SHIFT_MAX} that the int16 "
            "requantization supports (input scale x weight scale / output scale >= 128); "
            "widen the output's range"
        )
    _check_int16_accumulator_bound(node, graph, bias)


def _check_16x8_tensors(node: Node, graph: Graph) -> None:
    """Reject a 16x8 layer without int16 input and output of zero point 0 and int8 weights
    of zero point 0."""
    where = f"node '{node.name}' ({node.op})"
    dtypes = (_dtype(graph, node.inputs[0]), _dtype(graph, node.outputs[0]))
    if dtypes != ("int16", "int16"):
        raise UnsupportedAttributeError(
            f"{where}: input and output are {dtypes[0]} and {dtypes[1]}; int16 layers need "
            "int16 on both sides, so convert the other side with a quantize node"
        )

    for name in (node.inputs[0], node.outputs[0]):
        zero_point = int(_quant(graph, name, node).zero_point[0])
        if zero_point != 0:
            raise QuantizationError(
                f"{where}: int16 tensor '{name}' has zero point {zero_point}; int16 "
                "activations must be symmetric (zero point 0)"
            )

    filt = graph.tensors[node.inputs[1]]
    if filt.dtype != "int8" or (filt.quant.zero_point != 0).any():
        raise UnsupportedAttributeError(
            f"{where}: filter '{filt.name}' is {filt.dtype} with zero points "
            f"{sorted(set(filt.quant.zero_point.tolist()))[:4]}; int16 layers need int8 "
            "weights with zero point 0"
        )


def _check_int16_accumulator_bound(node: Node, graph: Graph, bias) -> None:
    """Reject a 16x8 layer whose accumulator plus bias could reach 2**47 in magnitude."""
    filt = graph.tensors[node.inputs[1]]
    taps = filt.size // _output_channels(node, graph)
    if node.op == "depthwise_conv2d":
        taps = filt.shape[1] * filt.shape[2]
    # Python integers: the magnitude of an int64 bias of -2**63 does not fit in int64.
    largest_bias = 0 if bias is None else max((abs(int(v)) for v in bias.data.ravel()), default=0)
    bound = taps * MAX_INT16_INPUT * int(np.abs(filt.data.astype(np.int64)).max(initial=0))
    if bound + largest_bias >= INT16_ACCUMULATOR_LIMIT:
        raise UnsupportedAttributeError(
            f"node '{node.name}' ({node.op}): {taps} taps and bias up to {largest_bias} can "
            f"reach the int64 requantization limit 2**47 (bound {bound + largest_bias}); "
            "split the layer into smaller ones or check the bias"
        )


def _output_channels(node: Node, graph: Graph) -> int:
    filt = graph.tensors[node.inputs[1]]
    if node.op == "conv2d":
        return filt.shape[0]
    if node.op == "depthwise_conv2d":
        return filt.shape[3]
    return filt.shape[0]


@params_for("add", "sub")
def _add_params(node: Node, graph: Graph) -> KernelParams:
    q1 = _quant(graph, node.inputs[0], node)
    q2 = _quant(graph, node.inputs[1], node)
    q_out = _quant(graph, node.outputs[0], node)
    int16 = _is_int16_add(node, graph)
    left_shift = ADD_INT16_LEFT_SHIFT if int16 else ADD_LEFT_SHIFT
    s1, s2, s_out = (float(q.scale[0]) for q in (q1, q2, q_out))
    twice_max_input_scale = 2.0 * max(s1, s2)
    m1, sh1 = quantize_multiplier(s1 / twice_max_input_scale)
    m2, sh2 = quantize_multiplier(s2 / twice_max_input_scale)
    m_out, sh_out = quantize_multiplier(
        twice_max_input_scale / ((1 << left_shift) * s_out)
    )
    if int16:
        _check_int16_add(node, graph, sh_out)
    act_min, act_max = activation_range(node, graph)
    values = {
        "left_shift": left_shift,
        "input1_offset": -int(q1.zero_point[0]),
        "input2_offset": -int(q2.zero_point[0]),
        "input1_multiplier": m1,
        "input1_shift": sh1,
        "input2_multiplier": m2,
        "input2_shift": sh2,
        "output_multiplier": m_out,
        "output_shift": sh_out,
        "output_offset": int(q_out.zero_point[0]),
        "activation_min": act_min,
        "activation_max": act_max,
    }
    return KernelParams(values)


def _is_int16_add(node: Node, graph: Graph) -> bool:
    names = [*node.inputs[:2], node.outputs[0]]
    return any(_dtype(graph, name) == "int16" for name in names)


def _check_int16_add(node: Node, graph: Graph, output_shift: int) -> None:
    """Reject an int16 add that edgec_add_s16 cannot compute as TFLite's general int16 ADD.

    The kernel needs int16 inputs and output of zero point 0 and one shape, and an output
    multiplier below 1 (TFLite rejects others too). With |input| <= 2**15, the left shift of
    15 and input multipliers of at most 1/2, every intermediate value stays below 2**31.
    """
    where = f"node '{node.name}' ({node.op})"
    names = [*node.inputs[:2], node.outputs[0]]
    dtypes = [_dtype(graph, name) for name in names]
    if node.op != "add" or dtypes != ["int16"] * 3:
        raise UnsupportedAttributeError(
            f"{where}: inputs and output are {', '.join(dtypes)}; int16 elementwise "
            "arithmetic is implemented for add with int16 inputs and output only, so "
            "convert the other tensors with quantize nodes"
        )
    for name in names:
        zero_point = int(_quant(graph, name, node).zero_point[0])
        if zero_point != 0:
            raise QuantizationError(
                f"{where}: int16 tensor '{name}' has zero point {zero_point}; int16 "
                "activations must be symmetric (zero point 0)"
            )
    shapes = [graph.tensors[name].shape for name in names]
    if shapes[0] != shapes[2] or shapes[1] != shapes[2]:
        raise UnsupportedAttributeError(
            f"{where}: int16 add needs inputs of the output's shape {shapes[2]}, got "
            f"{shapes[0]} and {shapes[1]}; broadcasting is implemented for int8 add only"
        )
    if output_shift > 0:
        scales = [float(_quant(graph, name, node).scale[0]) for name in names]
        raise QuantizationError(
            f"{where}: output scale {scales[2]:g} is below max(input scales) / 2**14 "
            f"(inputs {scales[0]:g} and {scales[1]:g}), so the int16 add's output "
            "multiplier is not below 1; widen the output's range"
        )


@params_for("mul")
def _mul_params(node: Node, graph: Graph) -> KernelParams:
    q1 = _quant(graph, node.inputs[0], node)
    q2 = _quant(graph, node.inputs[1], node)
    q_out = _quant(graph, node.outputs[0], node)
    real = float(q1.scale[0]) * float(q2.scale[0]) / float(q_out.scale[0])
    m_out, sh_out = quantize_multiplier(real)
    act_min, act_max = activation_range(node, graph)
    values = {
        "input1_offset": -int(q1.zero_point[0]),
        "input2_offset": -int(q2.zero_point[0]),
        "output_multiplier": m_out,
        "output_shift": sh_out,
        "output_offset": int(q_out.zero_point[0]),
        "activation_min": act_min,
        "activation_max": act_max,
    }
    return KernelParams(values)


def _require_same_quant(node: Node, graph: Graph) -> None:
    q_in = _quant(graph, node.inputs[0], node)
    q_out = _quant(graph, node.outputs[0], node)
    if not q_in.same_as(q_out):
        raise QuantizationError(
            f"node '{node.name}' ({node.op}): input and output quantization differ "
            f"(scale {q_in.scale[0]:g}/{q_out.scale[0]:g}, zero point "
            f"{q_in.zero_point[0]}/{q_out.zero_point[0]}); this op needs them equal"
        )


@params_for("average_pool2d", "max_pool2d")
def _pool_params(node: Node, graph: Graph) -> KernelParams:
    _require_same_quant(node, graph)
    kernel = node.attrs.get("kernel")
    pads = node.attrs.get("pads", (0, 0, 0, 0))
    too_much_padding = kernel is not None and (
        max(pads[0], pads[2]) >= kernel[0] or max(pads[1], pads[3]) >= kernel[1]
    )
    if node.op == "average_pool2d" and too_much_padding:
        # Some windows would have no input tap to average (TFLite rejects this too).
        raise UnsupportedAttributeError(
            f"node '{node.name}' ({node.op}): padding {tuple(pads)} is as large as the "
            f"{kernel[0]}x{kernel[1]} window, so some windows see no input; reduce the padding"
        )
    act_min, act_max = activation_range(node, graph)
    return KernelParams({"activation_min": act_min, "activation_max": act_max})


@params_for("softmax")
def _softmax_params(node: Node, graph: Graph) -> KernelParams:
    """TFLite's int8 Softmax parameters, also used for int16 inputs and masked rows.

    ``input_multiplier`` and ``input_left_shift`` scale an input difference to Q5.26
    (``beta * scale * 2**26``, capped at 2**31 - 1 for scales above 32), and
    ``diff_min = -radius`` keeps ``|diff| * 2**input_left_shift <= 31 * 2**26``, so the
    kernels' shift never wraps, also for the int16 differences down to -65535. A
    difference below ``diff_min`` is more than 31 * input_multiplier / 2**31 >= 15.5 below
    the row maximum in real units: its exp is below 2e-7 and the kernels count it as 0.
    """
    # Imported here: the attention module imports this one.
    from edgec.lower.params_attention import check_softmax_inputs

    check_softmax_inputs(node, graph)
    q_in = _quant(graph, node.inputs[0], node)
    beta = float(np.float32(node.attrs.get("beta", 1.0)))
    integer_bits = SOFTMAX_DIFF_INTEGER_BITS
    real = min(
        beta * float(q_in.scale[0]) * (1 << (31 - integer_bits)), float((1 << 31) - 1)
    )
    multiplier, left_shift = quantize_multiplier(real)
    if left_shift < 0:
        raise QuantizationError(
            f"node '{node.name}' (softmax): input scale {q_in.scale[0]:g} is too small "
            "for the integer softmax (beta * scale * 2**26 < 1)"
        )
    radius = math.floor(
        ((1 << integer_bits) - 1) * (1 << (31 - integer_bits)) / (1 << left_shift)
    )
    values = {
        "input_multiplier": multiplier,
        "input_left_shift": left_shift,
        "diff_min": -radius,
    }
    return KernelParams(values)


@params_for("quantize")
def _quantize_params(node: Node, graph: Graph) -> KernelParams:
    if _dtype(graph, node.inputs[0]) == "float32":
        return KernelParams()
    q_in = _quant(graph, node.inputs[0], node)
    q_out = _quant(graph, node.outputs[0], node)
    multiplier, shift = quantize_multiplier(float(q_in.scale[0]) / float(q_out.scale[0]))
    values = {
        "input_offset": -int(q_in.zero_point[0]),
        "output_multiplier": multiplier,
        "output_shift": shift,
        "output_offset": int(q_out.zero_point[0]),
        "activation_min": QMIN[_dtype(graph, node.outputs[0])],
        "activation_max": QMAX[_dtype(graph, node.outputs[0])],
    }
    return KernelParams(values)


@params_for("mean")
def _mean_params(node: Node, graph: Graph) -> KernelParams:
    """TFLite's int8 MEAN: the rescale s_in/s_out with the 1/count folded into it."""
    q_in = _quant(graph, node.inputs[0], node)
    q_out = _quant(graph, node.outputs[0], node)
    in_shape = graph.tensors[node.inputs[0]].shape
    axes = [a % len(in_shape) for a in node.attrs["axes"]]
    count = int(np.prod([in_shape[a] for a in axes], dtype=np.int64))
    multiplier, shift = quantize_multiplier(float(q_in.scale[0]) / float(q_out.scale[0]))
    # Divide the multiplier by count while keeping precision: pre-shift it left by up to
    # floor(log2(count)) bits (at most 32, and never past a total shift of -31).
    pre_shift = min(count.bit_length() - 1, 32, 31 + shift)
    values = {
        "input_offset": -int(q_in.zero_point[0]),
        "count": count,
        "output_multiplier": (multiplier << pre_shift) // count,
        "output_shift": shift - pre_shift,
        "output_offset": int(q_out.zero_point[0]),
        "activation_min": QMIN[_dtype(graph, node.outputs[0])],
        "activation_max": QMAX[_dtype(graph, node.outputs[0])],
    }
    return KernelParams(values)


@params_for("clip")
def _clip_params(node: Node, graph: Graph) -> KernelParams:
    """Compute a clamp, preceded by a requantization when the quantization changes.

    TFLite's RELU/RELU6 rescale the same way; with equal quantization the rescale is the
    identity, so only the clamp remains.
    """
    q_in = _quant(graph, node.inputs[0], node)
    q_out = _quant(graph, node.outputs[0], node)
    act_min, act_max = activation_range(node, graph)
    values = {"activation_min": act_min, "activation_max": act_max}
    if q_in.same_as(q_out):
        return KernelParams(values)
    multiplier, shift = quantize_multiplier(float(q_in.scale[0]) / float(q_out.scale[0]))
    values.update({
        "input_offset": -int(q_in.zero_point[0]),
        "output_multiplier": multiplier,
        "output_shift": shift,
        "output_offset": int(q_out.zero_point[0]),
    })
    return KernelParams(values)


# The transformer ops register themselves from their own modules.
import edgec.lower.params_attention
import edgec.lower.params_matmul
import edgec.lower.params_norm  # noqa: F401
