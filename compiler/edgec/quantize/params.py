"""Integer quantization parameters and values: the arithmetic behind ``quantize_graph``.

Pipeline position: the quantizer calls these functions after calibration has produced a
float range for every activation. They follow the TFLite integer-only spec:

- Activations: int8 asymmetric. The range is widened to contain 0, then
  ``scale = (max - min) / 255`` and ``zero_point = round(-128 - min / scale)``, clamped to
  [-128, 127]. A range of zero width gets ``FALLBACK_SCALE`` and zero point -128.
- Weights: int8 symmetric per output channel, values in [-127, 127],
  ``scale[c] = max|w[c]| / 127`` (or one scale, the largest, for a per-tensor layer). An
  all-zero channel gets ``FALLBACK_SCALE`` and zeros.
  The caller may raise a channel's scale (``min_scales``) so that its bias fits in int32.
- Bias: int32, ``scale[c] = input_scale * weight_scale[c]``, zero point 0.
- int16 activations (16x8 layers, ``int16_activation_quant``): symmetric per tensor, zero
  point 0, values in [-32768, 32767], ``scale = max(|min|, |max|) / 32767`` over the observed
  range (``FALLBACK_SCALE`` for a range of zero width). The weights of such a layer stay
  int8 and its bias is int64 (``quantize_bias(..., bits=64)``) at the same scale as above.
- int4 weights (``quantize_weights_int4``): symmetric, values in [-7, 7]. Channel ``c``'s
  reduction values ``k`` are its weights in the memory order of the layout (``weight_rows``),
  K of them. Per channel: ``scale[c] = max|w[c]| / 7``. Per group of ``group_size`` (G)
  consecutive k, the last group possibly shorter: the channel keeps ``scale[c] = max|w[c]| / 7``
  and each group gets an 8-bit multiplier
  ``m[c, g] = clamp(ceil(255 * max|w[c, g]| / max|w[c]|), 1, 255)`` (255 for an all-zero
  channel), so the group's scale is ``scale[c] * m[c, g] / 255`` and
  ``q = clip(round(w / (scale[c] * m[c, g] / 255)), -7, 7)``. The integer kernel adds
  ``m[c, g] * sum over g of q * (x - input_zero_point)`` over the groups, so the bias and the
  accumulator have scale ``input_scale * scale[c] / 255`` (``accumulator_weight_scales``).
  A layer with K <= G gets per-channel parameters: its one group would have multiplier 255.
  ``pack_int4`` gives the C layout: each channel's K values two per byte, value 2j in the low
  nibble and 2j+1 in the high nibble (two's complement), each channel starting on a new byte.

Scales are stored as float32 (``Quant`` casts them), and every zero point or integer value is
computed from the stored float32 scale, so the stored pair always describes the stored
integers. Rounding is to nearest with ties away from zero, like C ``round()``.
"""

from __future__ import annotations

import numpy as np

from edgec.errors import QuantizationError
from edgec.ir import Quant

INT8_MIN, INT8_MAX = -128, 127
WEIGHT_MAX = 127
INT4_WEIGHT_MAX = 7
GROUP_MULTIPLIER_MAX = 255
INT16_MIN, INT16_MAX = -32768, 32767
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
BIAS_DTYPES = {32: ("int32", np.int32), 64: ("int64", np.int64)}

# Scale used when the data gives none: a zero-width activation range (the tensor was 0 on
# every calibration sample) or an all-zero weight channel. Any positive value represents 0
# exactly. 1.0 keeps the bias scale (input_scale * weight_scale) far from underflow and
# keeps requantization multipliers near the magnitude of the other channels' multipliers.
FALLBACK_SCALE = 1.0

# A computed scale below the smallest normal float32 would be stored as a denormal or as 0,
# so such a scale is replaced by FALLBACK_SCALE as if the range had zero width.
MIN_SCALE = float(np.finfo(np.float32).smallest_normal)

SOFTMAX_OUTPUT = (1.0 / 256.0, -128)
# l2_normalize output: scale 1/128 and zero point 0 (TFLite's L2_NORMALIZATION).
L2_NORMALIZE_OUTPUT = (1.0 / 128.0, 0)


def round_half_away(values: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, ties away from zero (C ``round``), in float64."""
    values = np.asarray(values, dtype=np.float64)
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def activation_quant(range_min: float, range_max: float, name: str = "") -> Quant:
    """Return int8 asymmetric per-tensor parameters covering ``[range_min, range_max]``.

    Raises QuantizationError naming ``name`` when a bound is not finite or min > max.
    """
    if not (np.isfinite(range_min) and np.isfinite(range_max)) or range_min > range_max:
        raise QuantizationError(
            f"tensor '{name}': invalid calibration range [{range_min}, {range_max}]; "
            "expected finite bounds with min <= max, so check the calibration data"
        )
    low = min(float(range_min), 0.0)
    high = max(float(range_max), 0.0)
    scale = float(np.float32((high - low) / (INT8_MAX - INT8_MIN)))
    if scale < MIN_SCALE:
        scale = FALLBACK_SCALE
    zero_point = round_half_away(INT8_MIN - low / scale)
    zero_point = int(np.clip(zero_point, INT8_MIN, INT8_MAX))
    return Quant(np.array([scale], dtype=np.float32), np.array([zero_point]))


def int16_activation_quant(range_min: float, range_max: float, name: str = "") -> Quant:
    """Return int16 symmetric per-tensor parameters (zero point 0) covering the range.

    ``scale = max(|range_min|, |range_max|) / 32767``. Raises QuantizationError naming
    ``name`` when a bound is not finite or min > max.
    """
    if not (np.isfinite(range_min) and np.isfinite(range_max)) or range_min > range_max:
        raise QuantizationError(
            f"tensor '{name}': invalid calibration range [{range_min}, {range_max}]; "
            "expected finite bounds with min <= max, so check the calibration data"
        )
    scale = float(np.float32(max(abs(float(range_min)), abs(float(range_max))) / INT16_MAX))
    if scale < MIN_SCALE:
        scale = FALLBACK_SCALE
    return Quant(np.array([scale], dtype=np.float32), np.array([0]))


def fixed_quant(scale: float, zero_point: int) -> Quant:
    """Return per-tensor parameters with a fixed scale and zero point."""
    return Quant(np.array([scale], dtype=np.float32), np.array([zero_point]))


def quantize_values(values: np.ndarray, quant: Quant, dtype=np.int8) -> np.ndarray:
    """Quantize float ``values`` to ``dtype`` (int8 or int16) with per-tensor ``quant``,
    saturating."""
    scale = float(quant.scale[0])
    zero_point = int(quant.zero_point[0])
    q = round_half_away(np.asarray(values, dtype=np.float64) / scale) + zero_point
    info = np.iinfo(dtype)
    return np.clip(q, info.min, info.max).astype(dtype)


def _check_finite_weights(weights: np.ndarray, name: str) -> None:
    if not np.isfinite(weights).all():
        count = int(np.size(weights) - np.count_nonzero(np.isfinite(weights)))
        raise QuantizationError(
            f"weights '{name}': {count} values are NaN or infinite; fix the model's weights"
        )


def quantize_weights(
    weights: np.ndarray,
    axis: int,
    name: str = "",
    min_scales: np.ndarray | None = None,
    per_tensor: bool = False,
) -> tuple[np.ndarray, Quant]:
    """Quantize ``weights`` to int8 symmetric per channel along ``axis``.

    ``min_scales`` (one per channel) raises a channel's scale, for example so that its
    bias still fits in int32 when the channel's weights are nearly all zero. With
    ``per_tensor``, every channel gets the largest channel scale: one scale for the whole
    tensor, still stored once per channel so that the kernels need no other form.

    Returns the int8 weights and their ``Quant`` (one scale per channel, zero points 0).
    Raises QuantizationError naming ``name`` when a weight is NaN or infinite.
    """
    weights = np.asarray(weights, dtype=np.float64)
    _check_finite_weights(weights, name)
    channels = np.moveaxis(weights, axis, 0).reshape(weights.shape[axis], -1)
    max_abs = np.abs(channels).max(axis=1, initial=0.0)
    scales = (max_abs / WEIGHT_MAX).astype(np.float32)
    scales[scales < MIN_SCALE] = FALLBACK_SCALE
    if min_scales is not None:
        scales = np.maximum(scales, np.asarray(min_scales, dtype=np.float32))
    if per_tensor and scales.size:
        scales = np.full_like(scales, scales.max())

    broadcast_shape = [1] * weights.ndim
    broadcast_shape[axis] = -1
    q = round_half_away(weights / scales.astype(np.float64).reshape(broadcast_shape))
    q = np.clip(q, -WEIGHT_MAX, WEIGHT_MAX).astype(np.int8)
    return q, Quant(scales, np.zeros(scales.shape, dtype=np.int64), axis=axis)


def quantize_bias(
    bias: np.ndarray, input_scale: float, weight_scales: np.ndarray, node_name: str = "",
    bits: int = 32,
) -> tuple[np.ndarray, Quant]:
    """Quantize ``bias`` to int32 (``bits`` 64: int64, for the 16x8 layers) with
    ``scale[c] = input_scale * weight_scales[c]``.

    Returns the integer bias and its ``Quant`` (axis 0, zero points 0). Raises
    QuantizationError naming ``node_name`` when a value does not fit in the integer type.
    """
    dtype_name, dtype = BIAS_DTYPES[bits]
    bias = np.asarray(bias, dtype=np.float64)
    if not np.isfinite(bias).all():
        raise QuantizationError(
            f"node '{node_name}': the bias contains NaN or infinite values; fix the model's weights"
        )
    scales = np.float64(input_scale) * np.asarray(weight_scales, dtype=np.float64)
    scales = scales.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = round_half_away(bias / scales.astype(np.float64))
    bad = ~np.isfinite(q) | (q < -(2.0 ** (bits - 1))) | (q >= 2.0 ** (bits - 1))
    if bad.any():
        channel = int(np.flatnonzero(bad)[0])
        raise QuantizationError(
            f"node '{node_name}': bias[{channel}] = {bias[channel]:g} overflows {dtype_name} at "
            f"scale {float(scales[channel]):g} (input scale {input_scale:g} x weight scale "
            f"{float(weight_scales[channel]):g}); widen the input's calibration range or "
            "check the model's weights"
        )
    return q.astype(dtype), Quant(scales, np.zeros(scales.shape, dtype=np.int64), axis=0)


def weight_rows(values: np.ndarray, axis: int) -> np.ndarray:
    """Return ``values`` as (channels, K): each channel's reduction values in memory order.

    ``axis`` is the output channel axis: 0 for conv2d OHWI (k over h, w, i) and
    fully_connected (O, I), 3 for depthwise_conv2d 1HW(C*M) (k over h, w).
    """
    values = np.asarray(values)
    return np.moveaxis(values, axis, 0).reshape(values.shape[axis], -1)


def _from_rows(rows: np.ndarray, shape: tuple[int, ...], axis: int) -> np.ndarray:
    moved = (shape[axis],) + tuple(d for i, d in enumerate(shape) if i != axis)
    return np.moveaxis(rows.reshape(moved), 0, axis)


def int4_group_size(shape: tuple[int, ...], axis: int, group_size: int | None) -> int | None:
    """Return the group size int4 weights of ``shape`` use, or None for per-channel scales.

    A layer with no more than ``group_size`` reduction values per channel is per channel.
    """
    channels = shape[axis]
    reduction = int(np.prod(shape, dtype=np.int64)) // channels if channels else 0
    if group_size is None or reduction <= group_size:
        return None
    return int(group_size)


def quantize_weights_int4(
    weights: np.ndarray,
    axis: int,
    name: str = "",
    min_scales: np.ndarray | None = None,
    per_tensor: bool = False,
    group_size: int | None = None,
) -> tuple[np.ndarray, Quant]:
    """Quantize ``weights`` to int4 symmetric, per channel along ``axis`` or per group.

    ``group_size`` None gives per-channel scales; otherwise ``int4_group_size`` decides, and
    groups add ``Quant.group_size`` and ``Quant.group_multipliers`` (see the module docstring).
    ``min_scales`` and ``per_tensor`` raise the channel scales as in ``quantize_weights``;
    ``per_tensor`` is for per-channel int4 only.

    Returns the int4 values (int8 array in [-7, 7], the shape of ``weights``) and their
    ``Quant``. Raises QuantizationError naming ``name`` when a weight is NaN or infinite.
    """
    weights = np.asarray(weights, dtype=np.float64)
    _check_finite_weights(weights, name)
    rows = weight_rows(weights, axis)
    max_abs = np.abs(rows).max(axis=1, initial=0.0)
    scales = (max_abs / INT4_WEIGHT_MAX).astype(np.float32)
    scales[scales < MIN_SCALE] = FALLBACK_SCALE
    if min_scales is not None:
        scales = np.maximum(scales, np.asarray(min_scales, dtype=np.float32))
    if per_tensor and scales.size:
        scales = np.full_like(scales, scales.max())

    zero_points = np.zeros(scales.shape, dtype=np.int64)
    group_size = int4_group_size(weights.shape, axis, group_size)
    if group_size is None:
        row_scales = np.broadcast_to(scales.astype(np.float64)[:, None], rows.shape)
        quant = Quant(scales, zero_points, axis=axis)
    else:
        multipliers = _group_multipliers(rows, max_abs, group_size)
        per_value = np.repeat(multipliers, group_size, axis=1)[:, : rows.shape[1]]
        row_scales = scales.astype(np.float64)[:, None] * per_value / GROUP_MULTIPLIER_MAX
        quant = Quant(scales, zero_points, axis=axis, group_size=group_size,
                      group_multipliers=multipliers)
    q = np.clip(round_half_away(rows / row_scales), -INT4_WEIGHT_MAX, INT4_WEIGHT_MAX)
    return _from_rows(q.astype(np.int8), weights.shape, axis), quant


def _group_multipliers(rows: np.ndarray, max_abs: np.ndarray, group_size: int) -> np.ndarray:
    """Return m[c, g] = clamp(ceil(255 * max|w[c, g]| / max|w[c]|), 1, 255) as uint8.

    An all-zero channel gets 255 in every group: its values are 0 whatever the scale.
    """
    channels, reduction = rows.shape
    groups = -(-reduction // group_size)
    padded = np.zeros((channels, groups * group_size))
    padded[:, :reduction] = np.abs(rows)
    group_max = padded.reshape(channels, groups, group_size).max(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(max_abs[:, None] > 0, group_max / max_abs[:, None], 1.0)
    multipliers = np.clip(np.ceil(GROUP_MULTIPLIER_MAX * ratio), 1, GROUP_MULTIPLIER_MAX)
    return multipliers.astype(np.uint8)


def accumulator_weight_scales(quant: Quant) -> np.ndarray:
    """Return each channel's weight factor of the int32 accumulator scale, in float64.

    That is ``quant.scale``, or ``quant.scale / 255`` for per-group int4 weights, whose
    accumulator carries the group multipliers. The bias is quantized with
    ``input_scale`` times this factor, and requantization divides by it.
    """
    scales = quant.scale.astype(np.float64)
    return scales / GROUP_MULTIPLIER_MAX if quant.per_group else scales


def grouped_weights(values: np.ndarray, quant: Quant, axis: int) -> np.ndarray:
    """Return the int64 weights that the accumulator effectively multiplies the inputs by.

    For per-group int4 weights that is ``m[c, k // group_size] * q[c, k]``: because the sum
    over groups is exact in the kernels (the accumulator bound is checked at compile time),
    ``sum_g m[c, g] * sum_{k in g} q * x`` equals ``sum_k (m[c, g(k)] * q) * x``. Other
    weights come back unchanged, as int64.
    """
    values = np.asarray(values, dtype=np.int64)
    if not quant.per_group:
        return values
    rows = weight_rows(values, axis)
    per_value = np.repeat(quant.group_multipliers.astype(np.int64), quant.group_size, axis=1)
    return _from_rows(rows * per_value[:, : rows.shape[1]], values.shape, axis)


def dequantize_weights(values: np.ndarray, quant: Quant, axis: int) -> np.ndarray:
    """Return the real values (float64) of integer weights with channel axis ``axis``.

    Handles int8 and int4 weights, per tensor, per channel or per group.
    """
    rows = weight_rows(np.asarray(values, dtype=np.float64), axis)
    scales = np.broadcast_to(accumulator_weight_scales(quant), (rows.shape[0],))
    zero_points = np.broadcast_to(quant.zero_point.astype(np.float64), (rows.shape[0],))
    centered = weight_rows(grouped_weights(values, quant, axis), axis) - zero_points[:, None]
    return _from_rows(centered * scales[:, None], np.shape(values), axis)


def pack_int4(values: np.ndarray, axis: int) -> np.ndarray:
    """Pack int4 ``values`` (int8 in [-8, 7]) for C: (channels, ceil(K / 2)) uint8.

    Value 2j of a channel goes in the low nibble of byte j and value 2j+1 in the high nibble,
    as 4-bit two's complement. An odd K leaves a zero high nibble at the end of each row.
    """
    rows = weight_rows(np.asarray(values, dtype=np.int64), axis)
    if rows.shape[1] % 2:
        rows = np.pad(rows, ((0, 0), (0, 1)))
    nibbles = (rows & 0x0F).astype(np.uint8)
    return nibbles[:, 0::2] | (nibbles[:, 1::2] << 4)


def unpack_int4(packed: np.ndarray, shape: tuple[int, ...], axis: int) -> np.ndarray:
    """Invert ``pack_int4``: return the int8 values of ``shape`` with channel axis ``axis``."""
    packed = np.asarray(packed, dtype=np.uint8)
    channels = shape[axis]
    reduction = int(np.prod(shape, dtype=np.int64)) // channels
    nibbles = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(channels, -1)
    nibbles = nibbles[:, :reduction].astype(np.int8)
    return _from_rows(np.where(nibbles >= 8, nibbles - 16, nibbles).astype(np.int8), shape, axis)


def round_trip_weights(
    weights: np.ndarray, axis: int, bits: int = 8, granularity: str = "per-channel",
    group_size: int | None = None,
) -> np.ndarray:
    """Return ``weights`` quantized as the quantizer would and dequantized (float64).

    ``granularity`` is per-channel, per-tensor or per-group (int4 only, ``group_size``
    values per group). Bias correction and the mixed-precision search use it to see the
    rounding a layer will get.
    """
    per_tensor = granularity == "per-tensor"
    if bits == 4:
        group = group_size if granularity == "per-group" else None
        values, quant = quantize_weights_int4(weights, axis, per_tensor=per_tensor, group_size=group)
    else:
        values, quant = quantize_weights(weights, axis, per_tensor=per_tensor)
    return dequantize_weights(values, quant, axis)
